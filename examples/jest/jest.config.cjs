// Jest with forkv: one in-memory server per worker, started before the workers and stopped
// after the run (run: npx jest --config examples/jest/jest.config.cjs).
module.exports = {
  rootDir: __dirname,
  testMatch: ['**/*.test.cjs'],
  globalSetup: 'forkv/jest-global-setup',
  globalTeardown: 'forkv/jest-global-teardown',
};
