// ForkvServer: the lifecycle (autoStart, start/stop/start on the same port and dir, getPort,
// getHost, url, instanceInfo, raw args, cleanup), in-process and as a child process, and the
// child's watchdog when the test process dies.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import Redis from 'ioredis';

import { ForkvServer, startWorkerServers, workerUrl, type ServerMode } from '../../ts/index';
import { ROOT } from '../helpers/server';
import { vitestWorkerCount } from '../../ts/vitest-global-setup';

const t = suite('ForkvServer');

const cleanup: ForkvServer[] = [];
t.after.each(async () => {
  for (const s of cleanup.splice(0)) await s.stop({ save: false, cleanup: true });
});

function track(s: ForkvServer): ForkvServer {
  cleanup.push(s);
  return s;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function client(url: string): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: null });
  r.on('error', () => undefined);
  return r;
}

t('autoStart: false does not start; start() does; instanceInfo, getPort, getHost, url', async () => {
  const s = track(new ForkvServer({ autoStart: false, config: { save: '' } }));
  assert.is(s.instanceInfo(), null);
  assert.throws(() => s.url, /not running/);
  await s.start();
  const info = s.instanceInfo();
  assert.ok(info);
  assert.is(info.mode, 'in-process');
  assert.is(info.pid, process.pid);
  assert.is(info.host, '127.0.0.1');
  assert.is(await s.getPort(), info.port);
  assert.is(await s.getHost(), '127.0.0.1');
  assert.is(await s.getUrl(), `redis://127.0.0.1:${info.port}`);
  assert.is(s.url, info.url);
  assert.ok(fs.statSync(info.dir).isDirectory());
  assert.ok(s.embedded);
  await s.start(); // running: a no-op
  assert.is(s.instanceInfo()?.port, info.port);
});

t('new ForkvServer() starts by itself; getPort() waits for it; ForkvServer.create()', async () => {
  const s = track(new ForkvServer({ config: { save: '' } }));
  const port = await s.getPort();
  const r = await client(`redis://127.0.0.1:${port}`);
  assert.is(await r.ping(), 'PONG');
  r.disconnect();
  const c = track(await ForkvServer.create({ config: { save: '' } }));
  assert.ok(c.instanceInfo());
});

for (const mode of ['in-process', 'child-process'] as ServerMode[]) {
  t(`${mode}: stop() then start() comes back on the same port and dir, with the saved data`, async () => {
    const s = track(await ForkvServer.create({ mode, config: { save: '' } }));
    const first = s.instanceInfo();
    assert.ok(first);
    assert.is(first.mode, mode);
    if (mode === 'child-process') assert.is.not(first.pid, process.pid);
    let r = await client(s.url);
    await r.set('kept', 'yes');
    r.disconnect();
    await s.stop({ save: true });
    assert.is(s.instanceInfo(), null);
    assert.ok(await canBind(first.port), 'port released');
    if (mode === 'child-process') await until(() => !alive(first.pid));
    assert.ok(fs.existsSync(path.join(first.dir, 'dump.rdb')));
    await s.stop(); // stopped: a no-op
    await s.start();
    const second = s.instanceInfo();
    assert.ok(second);
    assert.is(second.port, first.port);
    assert.is(second.dir, first.dir);
    r = await client(s.url);
    assert.is(await r.get('kept'), 'yes');
    r.disconnect();
    await s.stop({ cleanup: true });
    assert.not.ok(fs.existsSync(first.dir), 'cleanup removes the temp dir');
  });

  t(`${mode}: raw server args apply (after config), a bad one rejects start()`, async () => {
    const s = track(await ForkvServer.create({ mode, config: { save: '', 'maxmemory-policy': 'allkeys-lru' }, args: ['--maxmemory-policy', 'noeviction', '--databases', '4'] }));
    const r = await client(s.url);
    assert.equal(await r.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
    assert.equal(await r.config('GET', 'databases'), ['databases', '4']);
    r.disconnect();
    const bad = new ForkvServer({ mode, autoStart: false, args: ['--no-such-directive', 'x'] });
    try {
      await bad.start();
      assert.unreachable('start() should reject');
    } catch (e) {
      assert.match(String(e), /no-such-directive/);
    }
    assert.is(bad.instanceInfo(), null);
    await bad.stop({ cleanup: true });
  });
}

t('child-process: a child that dies on its own shows as stopped; start() brings it back on the same port', async () => {
  const s = track(await ForkvServer.create({ mode: 'child-process', config: { save: '' } }));
  const first = s.instanceInfo();
  assert.ok(first);
  process.kill(first.pid, 'SIGKILL');
  await until(() => s.instanceInfo() === null);
  await until(() => canBind(first.port));
  await s.start();
  const second = s.instanceInfo();
  assert.ok(second);
  assert.is(second.port, first.port);
  assert.is.not(second.pid, first.pid);
  await s.stop();
  assert.is(s.instanceInfo(), null);
});

t('args must be --options (a config file goes in configFile)', async () => {
  const s = new ForkvServer({ autoStart: false, args: ['valkey.conf'] });
  try {
    await s.start();
    assert.unreachable('start() should reject');
  } catch (e) {
    assert.match(String(e), /configFile/);
  }
  await s.stop({ cleanup: true });
});

t('startWorkerServers: one server per worker, URLs in process.env; workerUrl() picks this worker\'s', async () => {
  const saved = { jest: process.env.JEST_WORKER_ID, vitest: process.env.VITEST_POOL_ID };
  delete process.env.JEST_WORKER_ID;
  delete process.env.VITEST_POOL_ID;
  const run = await startWorkerServers({ workers: 2 });
  try {
    assert.is(run.urls.length, 2);
    assert.is.not(run.urls[0], run.urls[1]);
    assert.is(process.env.FORKV_URL, run.urls[0]);
    assert.is(process.env.FORKV_URL_2, run.urls[1]);
    assert.is(workerUrl(), run.urls[0]);
    process.env.JEST_WORKER_ID = '2';
    assert.is(workerUrl(), run.urls[1]);
    delete process.env.JEST_WORKER_ID;
    process.env.VITEST_POOL_ID = '2';
    assert.is(workerUrl(), run.urls[1]);
    const a = await client(run.urls[0] as string);
    const b = await client(run.urls[1] as string);
    await a.set('only', 'a');
    assert.is(await b.get('only'), null);
    a.disconnect();
    b.disconnect();
  } finally {
    await run.stop();
    process.env.JEST_WORKER_ID = saved.jest;
    process.env.VITEST_POOL_ID = saved.vitest;
    if (saved.jest === undefined) delete process.env.JEST_WORKER_ID;
    if (saved.vitest === undefined) delete process.env.VITEST_POOL_ID;
  }
  assert.is(process.env.FORKV_URL, undefined);
  assert.is(process.env.FORKV_URL_1, undefined);
  assert.throws(() => workerUrl(), /global setup/);
  for (const s of run.servers) assert.is(s.instanceInfo(), null);
  try {
    await startWorkerServers({ workers: 0 });
    assert.unreachable('workers: 0 should reject');
  } catch (e) {
    assert.match(String(e), /workers must be/);
  }
});

t('vitestWorkerCount: the pool limit, else maxWorkers, else the CPUs but one; 1 without file parallelism', () => {
  assert.is(vitestWorkerCount({ maxWorkers: 3 }), 3);
  assert.is(vitestWorkerCount({ maxWorkers: 3, poolOptions: { forks: { maxForks: 2 } } }), 2);
  assert.is(vitestWorkerCount({ pool: 'threads', maxWorkers: 3, poolOptions: { threads: { maxThreads: 5 } } }), 5);
  assert.is(vitestWorkerCount({ pool: 'threads', poolOptions: { threads: { singleThread: true } } }), 1);
  assert.is(vitestWorkerCount({ maxWorkers: 4, fileParallelism: false }), 1);
  assert.ok(vitestWorkerCount({}) >= 1);
});

function runCase(arg: string): { proc: ReturnType<typeof spawn>; ready: Promise<{ port: number; pid: number; dir: string }> } {
  const proc = spawn(process.execPath, [path.join(ROOT, 'test', 'embedded', 'watchdog-case.mjs'), arg], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<{ port: number; pid: number; dir: string }>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+) (\d+) (\S+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), pid: Number(m[2]), dir: m[3] as string });
    });
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before ready: ${out}`)));
  });
  return { proc, ready };
}

t('child-process: the watchdog stops the server when the test process is killed', async () => {
  const { proc, ready } = runCase('hang');
  const { port, pid } = await ready;
  assert.ok(alive(pid));
  assert.not.ok(await canBind(port));
  proc.kill('SIGKILL');
  await until(() => !alive(pid));
  assert.ok(await canBind(port));
});

t('child-process: a test process that never calls stop() still exits, and its server goes', async () => {
  const { proc, ready } = runCase('end');
  const { port, pid, dir } = await ready;
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  assert.is(code, 0);
  await until(() => !alive(pid));
  assert.ok(await canBind(port));
  assert.not.ok(fs.existsSync(dir), 'the temp dir goes at exit');
});

t.run();
