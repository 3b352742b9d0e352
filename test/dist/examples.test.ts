// The examples in examples/ run as written (they import 'forkv' by name: the package's own
// exports, from dist/).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

import { ROOT } from '../helpers/server';

const t = suite('examples');

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(args[0] as string, args.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 30000 }, (err, stdout, stderr) => {
      // Test runners colour their summaries when the parent's FORCE_COLOR says so: strip it.
      // eslint-disable-next-line no-control-regex
      const out = (stdout + stderr).replace(/\x1b\[[0-9;]*m/g, '');
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out });
    });
  });
}

t('examples/embedded.mjs', async () => {
  const r = await run([process.execPath, 'examples/embedded.mjs']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /cache: hello \| durable: bonjour/);
  assert.match(r.out, /closed/);
});

t('examples/node-test-fixture.test.mjs (node --test)', async () => {
  const r = await run([process.execPath, '--test', 'examples/node-test-fixture.test.mjs']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /# pass 2/);
});

t('examples/uvu-fixture.test.ts (uvu -r tsx)', async () => {
  const r = await run([process.execPath, path.join(ROOT, 'node_modules', 'uvu', 'bin.js'), '-r', 'tsx', 'examples', 'uvu-fixture']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /Passed:\s+\S*2/);
});

t('examples/jest (globalSetup/globalTeardown, one server per worker)', async () => {
  const r = await run([process.execPath, path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', 'examples/jest/jest.config.cjs', '--maxWorkers=2']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /Tests:\s+4 passed, 4 total/);
  assert.not.match(r.out, /did not exit/);
});

t('examples/vitest (globalSetup, one server per worker)', async () => {
  const r = await run([process.execPath, path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'examples/vitest/vitest.config.mjs', '--maxWorkers=2', '--minWorkers=1']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /Tests\s+4 passed \(4\)/);
});

t('examples/mocha (global fixtures)', async () => {
  const r = await run([process.execPath, path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--config', 'examples/mocha/.mocharc.cjs']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /2 passing/);
});

t.run();
