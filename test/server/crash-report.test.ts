// The crash report (Valkey's sigsegvHandler / sigalrmSignalHandler): a fatal signal writes
// "crashed by signal" and the stack trace to the log, then the process dies of that signal;
// SIGALRM writes a stack trace and the server goes on. V8's WebAssembly trap handling,
// which also rides on SIGSEGV, keeps working with the handlers installed.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { useFleet } from '../helpers/fixture';
import { ROOT, startServer, tempDir } from '../helpers/server';

const t = suite('crash-report');
const fleet = useFleet(t);

t('DEBUG SEGFAULT: the report is logged, then the process dies of SIGSEGV', async () => {
  const { srv, io } = await fleet.forkv();
  await io.call('DEBUG', 'SEGFAULT').catch(() => undefined);
  assert.equal(await srv.exited, { code: null, signal: 'SIGSEGV' });
  const out = srv.output();
  assert.match(out, /=== FORKV BUG REPORT START: Cut & paste starting from here ===/);
  assert.match(out, new RegExp(`${srv.pid}:signal-handler \\(\\d+\\) # forkv \\S+ crashed by signal: 11, si_code: \\d+`));
  assert.match(out, /# Accessing address: 0x[0-9a-f]+/);
  assert.match(out, /------ STACK TRACE ------\n[^]*forkv\.linux[^]*\n------ STACK TRACE DONE ------/);
  assert.match(out, /=== FORKV BUG REPORT END\. Make sure to include from START to END\. ===/);
});

t('SIGABRT from outside during DEBUG SLEEP: the report names the sender; it goes to the logfile', async () => {
  const dir = tempDir();
  const logfile = path.join(dir, 'server.log');
  const srv = fleet.track(await startServer({ dir, args: ['--logfile', logfile], waitReady: false }));
  const io = fleet.connect(srv.port);
  await waitForFile(logfile, /Ready to accept connections/);
  void io.call('DEBUG', 'SLEEP', '10').catch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  process.kill(srv.pid, 'SIGABRT');
  assert.equal(await srv.exited, { code: null, signal: 'SIGABRT' });
  const log = fs.readFileSync(logfile, 'utf8');
  assert.match(log, /crashed by signal: 6, si_code: 0/);
  assert.match(log, new RegExp(`# Killed by PID: ${process.pid}, UID: \\d+`));
  assert.match(log, /------ STACK TRACE DONE ------/);
});

t('SIGALRM during DEBUG SLEEP: a stack trace, and the server goes on', async () => {
  const { srv, io } = await fleet.forkv();
  const sleep = io.call('DEBUG', 'SLEEP', '1');
  await new Promise((r) => setTimeout(r, 200));
  process.kill(srv.pid, 'SIGALRM');
  assert.is(await sleep, 'OK');
  assert.is(await io.ping(), 'PONG');
  await srv.waitFor(/signal-handler \(\d+\) \nReceived SIGALRM\n\n------ STACK TRACE ------\n[^]*------ STACK TRACE DONE ------\n\d+:signal-handler \(\d+\) --------/);
  assert.not.match(srv.output(), /crashed by signal/);
});

t('crash-log-enabled no: no report, the signal acts as it would', async () => {
  const { srv, io } = await fleet.forkv({ args: ['--crash-log-enabled', 'no'] });
  await io.call('DEBUG', 'SEGFAULT').catch(() => undefined);
  assert.equal(await srv.exited, { code: null, signal: 'SIGSEGV' });
  assert.not.match(srv.output(), /crashed by signal|BUG REPORT/);
});

t('WebAssembly out-of-bounds accesses are still JavaScript errors with the handlers installed', async () => {
  // (module (memory 1) (func (export "f") (param i32) (result i32) local.get 0 i32.load))
  const wasm = [0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 127, 1, 127, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 102, 0, 0, 10, 9, 1, 7, 0, 32, 0, 40, 2, 0, 11];
  const script = `
    const b = require(${JSON.stringify(path.join(ROOT, 'dist', 'native', 'binding.cjs'))});
    if (b.installCrashReport(2, 'forkv test', true) != null) process.exit(3);
    const m = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify(wasm)})));
    for (let i = 0; i < 3; i++) {
      try { m.exports.f(1 << 30); process.exit(4); } catch (e) { if (!(e instanceof WebAssembly.RuntimeError)) process.exit(5); }
    }
    process.stdout.write('trapped');`;
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = execFile(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 }, (_e, out, err) => resolve({ code: child.exitCode, out, err }));
  });
  assert.equal(r, { code: 0, out: 'trapped', err: '' });
});

async function waitForFile(file: string, re: RegExp): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!(fs.existsSync(file) && re.test(fs.readFileSync(file, 'utf8')))) {
    if (Date.now() > deadline) throw new Error(`${file} never matched ${re}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.run();
