// Vitest with forkv: one in-memory server per worker, started before the workers and stopped
// after the run (run: npx vitest run --config examples/vitest/vitest.config.mjs).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['**/*.test.mjs'],
    globalSetup: ['forkv/vitest-global-setup'],
    // Only inside forkv's own repository, where 'forkv' is this working tree rather than a
    // package in node_modules (which Vitest loads with Node as it is): load it the same way.
    server: { deps: { external: [/\/dist\/[^/]+\.m?js$/] } },
  },
});
