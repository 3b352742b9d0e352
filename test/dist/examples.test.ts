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
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
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

t.run();
