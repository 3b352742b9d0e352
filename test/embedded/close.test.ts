// close() settles in every case (issue 17), each case alone in a child Node process whose
// event loop holds nothing else (test/embedded/close-case.mjs): clients connected or not, an
// unref'd raw socket (the exit-13 reproduction: `await close()` used to leave the process with
// "unsettled top-level await"), ioredis without retries, close() twice, during a BGSAVE and a
// BGREWRITEAOF, with a blocked client, during a slow command. Each case also checks that the
// port is free, the temporary dir removed and the fork child gone.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

import { ROOT } from '../helpers/server';

const CASES = ['no-clients', 'raw-socket', 'ioredis-no-retry', 'twice', 'bgsave', 'bgrewriteaof', 'blocked-client', 'slow-command'];

interface Run {
  code: number;
  out: string;
}

function runCase(name: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'test', 'embedded', 'close-case.mjs'), name], { cwd: ROOT, encoding: 'utf8', timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

const t = suite('embedded close()');
const runs = new Map<string, Promise<Run>>();

t.before(() => {
  // All at once: each is a separate process, mostly waiting.
  for (const c of CASES) runs.set(c, runCase(c));
});

for (const c of CASES) {
  t(`close() settles: ${c}`, async () => {
    const r = await runs.get(c);
    assert.ok(r);
    assert.is(r.code, 0, `exit code ${r.code} (13 = close() never settled):\n${r.out}`);
    assert.match(r.out, 'settled {"portFree":true,"dirRemoved":true,"childGone":true}', r.out);
  });
}

t.run();
