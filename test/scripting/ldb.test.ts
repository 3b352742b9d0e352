// The Lua debugger through SCRIPT DEBUG YES|SYNC, driven by Valkey 8.0.1's own client
// (`valkey-cli --ldb` / `--ldb-sync-mode`, debugger commands on stdin) against forkv and
// against valkey-server 8.0.1: the transcripts must be the same, byte for byte. A forked
// session (YES) rolls its changes back and leaves the server serving others (a BGSAVE
// included); a synchronous one (SYNC) keeps them.
import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';


import { RawClient, text, type Resp } from '../helpers/client';
import { freePort, startServer, tempDir, VALKEY_SERVER, type RunningServer } from '../helpers/server';
import { testCerts, tlsArgs } from '../helpers/tls-certs';

const VALKEY_CLI = process.env.VALKEY_CLI ?? path.join(path.dirname(VALKEY_SERVER), 'valkey-cli');

const SCRIPT = [
  "local a = redis.call('incr', KEYS[1])",
  "redis.call('set', 'other', ARGV[1])",
  "local t = {1, 2, 'x', {nested = true}}",
  'redis.debug(a, t)',
  'for i = 1, 3 do',
  '  a = a + i',
  'end',
  'return {a, ARGV[1]}',
].join('\n');

const t = suite('lua debugger (SCRIPT DEBUG)');
let forkv: RunningServer;
let valkey: RunningServer;
let dir: string;
let scriptPath: string;

t.before(async () => {
  dir = tempDir('forkv-ldb-');
  scriptPath = path.join(dir, 'debug.lua');
  fs.writeFileSync(scriptPath, SCRIPT + '\n');
  [forkv, valkey] = await Promise.all([startServer(), startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1'] })]);
});
t.after(async () => {
  await Promise.all([forkv.stop(), valkey.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs valkey-cli's debugger on `scriptPath` with `stdin` as the user's typing: what it
 * printed, its stderr and its exit status.
 */
function ldb(port: number, mode: '--ldb' | '--ldb-sync-mode', stdin: string, file = scriptPath): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(VALKEY_CLI, ['-p', String(port), mode, '--eval', file, 'k', ',', 'hello'], { encoding: 'utf8', timeout: 20000 }, (err, stdout, stderr) => {
      const status = err ? `failed: ${String((err as NodeJS.ErrnoException).code ?? err.message)}` : 'exit 0';
      resolve(`${stdout}\n--- stderr\n${stderr}\n--- ${status}`);
    });
    child.stdin?.end(stdin);
  });
}

async function call(port: number, ...args: string[]): Promise<Resp> {
  const c = await RawClient.connect(port);
  try {
    return await c.call(...args);
  } finally {
    c.close();
  }
}

async function both(...args: string[]): Promise<[Resp, Resp]> {
  return [await call(forkv.port, ...args), await call(valkey.port, ...args)];
}

async function reset(): Promise<void> {
  await both('FLUSHALL');
  await both('SET', 'k', '10');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t('YES: the forked session answers as Valkey does, and its changes are rolled back', async () => {
  await reset();
  const input = ['s', 's', 'print', 'n', 'p t', 'b 8', 'b', 'c', 'list', 'whole', 'trace', 'p a', 'e a * 2', 'r get k', 'maxlen 80', 'help', 'c', ''].join('\n');
  const [mine, theirs] = [await ldb(forkv.port, '--ldb', input), await ldb(valkey.port, '--ldb', input)];
  assert.match(mine, /dataset changes rolled back/);
  assert.match(mine, /<debug> line 4: 11, \{1; 2; "x"; \{\["nested"\]=true\}\}/);
  assert.is(mine, theirs);
  const [k, other] = await both('GET', 'k');
  assert.is(text(k), '10');
  assert.is(text(other), '10');
  assert.is(text(await call(forkv.port, 'EXISTS', 'other')), '0');
  assert.is(text(await call(valkey.port, 'EXISTS', 'other')), '0');
  // The child is reaped by the cron and logs as Valkey's does.
  await forkv.waitFor(/Lua debugging session child exiting/);
});

t('SYNC: the blocking session answers as Valkey does, and its changes are kept', async () => {
  await reset();
  const input = ['s', 'p', 's', 'r incr k', 'c', ''].join('\n');
  const [mine, theirs] = [await ldb(forkv.port, '--ldb-sync-mode', input), await ldb(valkey.port, '--ldb-sync-mode', input)];
  assert.match(mine, /\(Lua debugging session ended\)/);
  assert.is(mine, theirs);
  for (const port of [forkv.port, valkey.port]) {
    assert.is(text(await call(port, 'GET', 'k')), '12');
    assert.is(text(await call(port, 'GET', 'other')), 'hello');
  }
  assert.match(forkv.output(), /synchronous debugging eval session started[\s\S]*synchronous debugging eval session ended/);
});

t('abort and a script that does not compile end the session as in Valkey', async () => {
  await reset();
  const bad = path.join(dir, 'bad.lua');
  fs.writeFileSync(bad, 'return +\n');
  for (const mode of ['--ldb', '--ldb-sync-mode'] as const) {
    assert.is(await ldb(forkv.port, mode, 's\na\n'), await ldb(valkey.port, mode, 's\na\n'), `abort ${mode}`);
    assert.is(await ldb(forkv.port, mode, 'c\n', bad), await ldb(valkey.port, mode, 'c\n', bad), `compile error ${mode}`);
  }
  assert.is(text(await call(forkv.port, 'GET', 'k')), '11', 'SYNC keeps what ran before the abort');
});

t('during a YES session other clients are served and a BGSAVE runs', async () => {
  await reset();
  const cli = spawn(VALKEY_CLI, ['-p', String(forkv.port), '--ldb', '--eval', scriptPath, 'k', ',', 'hello'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 200 && !out.includes('Stopped at 1'); i++) await sleep(25);
    assert.match(out, /Stopped at 1/);
    cli.stdin.write('s\n');
    for (let i = 0; i < 200 && !out.includes('Stopped at 2'); i++) await sleep(25);
    assert.match(out, /<reply> 11/);
    // The session's incr lives in the child only.
    assert.is(text(await call(forkv.port, 'GET', 'k')), '10');
    assert.is(text(await call(forkv.port, 'SET', 'during', 'yes')), 'OK');
    assert.is(text(await call(forkv.port, 'BGSAVE')), 'Background saving started');
    await forkv.waitFor(/Background saving terminated with success/);
    cli.stdin.end('c\n');
    assert.is(await exited, 0);
    assert.match(out, /dataset changes rolled back/);
    assert.is(text(await call(forkv.port, 'GET', 'during')), 'yes');
    assert.is(text(await call(forkv.port, 'GET', 'k')), '10');
  } finally {
    if (cli.exitCode === null) cli.kill();
  }
});

t('SCRIPT DEBUG replies and refusals as Valkey words them', async () => {
  assert.equal(...(await both('SCRIPT', 'DEBUG', 'maybe')));
  assert.is(text(await call(forkv.port, 'SCRIPT', 'DEBUG', 'maybe')), 'ERR Use SCRIPT DEBUG YES/SYNC/NO');
  assert.equal(...(await both('SCRIPT', 'DEBUG', 'no')));
  for (const port of [forkv.port, valkey.port]) {
    const c = await RawClient.connect(port);
    try {
      // In a pipeline (and so inside EXEC) the session could not write first.
      const [pong, refused] = await c.pipeline([['PING'], ['SCRIPT', 'DEBUG', 'YES']]);
      assert.is(text(pong), 'PONG');
      assert.is(text(refused), 'ERR SCRIPT DEBUG must be called outside a pipeline');
      assert.is(text(await c.call('SCRIPT', 'DEBUG', 'YES')), 'OK');
      assert.is(text(await c.call('EVALSHA', 'a'.repeat(40), '0')), 'ERR Please use EVAL instead of EVALSHA for debugging');
      // Valkey 8.0.1's wording, byte for byte (Redis adds " Please use EVAL.").
      assert.is(text(await c.call('EVALSHA', 'short', '0')), 'NOSCRIPT No matching script.');
      assert.is(text(await c.call('SCRIPT', 'DEBUG', 'NO')), 'OK');
      // Debugging is off again: the script runs, answered on the same connection.
      assert.is(text(await c.call('EVAL', 'return 7', '0')), '7');
    } finally {
      c.close();
    }
  }
  const [mine, theirs] = await both('COMMAND', 'INFO', 'script|debug');
  assert.equal(mine, theirs);
});

t('over TLS the debugger runs as over TCP (redis-cli --tls --ldb / --ldb-sync-mode: same transcript)', async () => {
  const certs = testCerts();
  const tlsPort = await freePort();
  const srv = await startServer({ args: [...tlsArgs(certs, tlsPort), '--bind', '127.0.0.1'] });
  const cli = (port: number, tlsOn: boolean, mode: string): Promise<string> => new Promise((resolve) => {
    const flags = tlsOn ? ['--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey] : [];
    const child = execFile('/usr/bin/redis-cli', ['-p', String(port), ...flags, mode, '--eval', scriptPath, 'k', ',', 'hello'], { encoding: 'utf8', timeout: 20000 }, (err, stdout, stderr) => {
      resolve(`${stdout}\n--- stderr\n${stderr}\n--- ${err ? 'failed' : 'exit 0'}`);
    });
    child.stdin?.end('s\nprint\nc\n');
  });
  try {
    for (const mode of ['--ldb', '--ldb-sync-mode']) {
      await call(srv.port, 'SET', 'k', '10');
      const plain = await cli(srv.port, false, mode);
      await call(srv.port, 'SET', 'k', '10');
      const overTls = await cli(tlsPort, true, mode);
      assert.match(plain, /Stopped at 1/);
      assert.match(plain, /--- exit 0$/);
      assert.is(overTls, plain);
    }
  } finally {
    await srv.stop();
  }
});

t('MONITOR shows the EVAL of a YES session, not the commands its script runs in the child (as Valkey)', async () => {
  const watch = async (port: number): Promise<string[]> => {
    const mon = await RawClient.connect(port);
    const lines: string[] = [];
    mon.socket.on('data', (d: Buffer) => lines.push(...d.toString().split('\r\n').filter((l) => l !== '')));
    mon.socket.write('MONITOR\r\n');
    await sleep(200);
    await ldb(port, '--ldb', 'c\n');
    await call(port, 'PING');
    await sleep(300);
    mon.close();
    // Timestamps and client addresses differ between the two servers.
    return lines.map((l) => l.replace(/^\+\d+\.\d+ \[0 [^\]]*\]/, '+TS [0 ADDR]'));
  };
  await reset();
  const mine = await watch(forkv.port);
  const theirs = await watch(valkey.port);
  assert.equal(mine, theirs);
  assert.ok(mine.some((l) => l.includes('"EVAL"')), mine.join('\n'));
  assert.not.ok(mine.some((l) => l.includes('"incr"')), mine.join('\n'));
});

t.run();
