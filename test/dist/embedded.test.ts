// The embedded API (createServer): several servers in one process, isolation, port release,
// save(), config pass-through, the one-fork-per-process rule, and process exit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import Redis from 'ioredis';

import { createServer, type EmbeddedServer } from '../../ts/index';
import { ROOT, tempDir } from '../helpers/server';

const t = suite('embedded');

const open: Array<{ s: EmbeddedServer; c: Redis[] }> = [];

async function start(opts: Parameters<typeof createServer>[0] = {}): Promise<{ s: EmbeddedServer; c: Redis }> {
  const s = await createServer(opts);
  const c = new Redis({ port: s.port, host: s.host, lazyConnect: false, maxRetriesPerRequest: 0 });
  open.push({ s, c: [c] });
  return { s, c };
}

t.after.each(async () => {
  for (const { s, c } of open.splice(0)) {
    for (const x of c) x.disconnect();
    await s.close({ save: false }).catch(() => undefined);
  }
});

function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

async function rejects(fn: () => Promise<unknown>, re?: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (re) assert.match(e instanceof Error ? e.message : String(e), re);
    return;
  }
  assert.unreachable('expected a rejection');
}

async function until(cond: () => Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

t('two servers in one process: own ports, own keyspaces, own directories', async () => {
  const a = await start({ config: { save: '' } });
  const b = await start({ config: { save: '' } });
  assert.is.not(a.s.port, b.s.port);
  assert.is.not(a.s.dir, b.s.dir);
  assert.is(a.s.url, `redis://127.0.0.1:${a.s.port}`);
  await a.c.set('k', 'from-a');
  await b.c.set('only-b', '1');
  assert.is(await b.c.get('k'), null);
  assert.is(await a.c.get('k'), 'from-a');
  assert.is(await a.c.dbsize(), 1);
  assert.is(await b.c.dbsize(), 1);
  assert.is((await a.s.info('keyspace')).db0?.startsWith('keys=1,'), true);
  assert.is((await a.s.info()).tcp_port, String(a.s.port));
});

t('close() frees the port: it can be bound again at once, by anyone', async () => {
  const { s, c } = await start({ config: { save: '' } });
  const port = s.port;
  assert.is(await canBind(port), false);
  c.disconnect();
  await s.close();
  assert.is(await canBind(port), true);
  // and a new embedded server can take that exact port
  const again = await start({ port, config: { save: '' } });
  assert.is(again.s.port, port);
  assert.is(await again.c.ping(), 'PONG');
  // close() twice is harmless
  again.c.disconnect();
  await again.s.close();
  await again.s.close();
});

t('save() writes dump.rdb into dir; a new server on that dir loads it', async () => {
  const dir = tempDir('forkv-emb-');
  const a = await start({ dir, config: { save: '' } });
  await a.c.set('persisted', 'yes');
  await a.c.rpush('list', 'x', 'y');
  await a.s.save();
  assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));
  assert.is((await a.s.info('persistence')).rdb_changes_since_last_save, '0');
  a.c.disconnect();
  await a.s.close();
  assert.ok(fs.existsSync(dir), 'a dir given by the caller is kept');
  const b = await start({ dir, config: { save: '' } });
  assert.is(await b.c.get('persisted'), 'yes');
  assert.equal(await b.c.lrange('list', 0, -1), ['x', 'y']);
});

t('close() runs the shutdown save when save rules are configured; the default temp dir is removed', async () => {
  const dir = tempDir('forkv-emb-');
  const a = await start({ dir, config: { save: '3600 1' } });
  await a.c.set('k', 'v');
  a.c.disconnect();
  await a.s.close();
  assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));

  const tmp = await start({ config: { save: '' } });
  const own = tmp.s.dir;
  assert.ok(fs.existsSync(own));
  tmp.c.disconnect();
  await tmp.s.close();
  assert.is(fs.existsSync(own), false);
});

t('config is passed through (CONFIG GET, INFO, files on disk)', async () => {
  const { s, c } = await start({
    config: { save: '', appendonly: 'yes', appendfsync: 'always', databases: 4, 'maxmemory-policy': 'allkeys-lru', 'protected-mode': false },
  });
  assert.equal(await c.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
  assert.equal(await c.config('GET', 'databases'), ['databases', '4']);
  assert.equal(await c.config('GET', 'appendfsync'), ['appendfsync', 'always']);
  assert.equal(await c.config('GET', 'protected-mode'), ['protected-mode', 'no']);
  assert.equal(await c.config('GET', 'dir'), ['dir', s.dir]);
  assert.is((await s.info('persistence')).aof_enabled, '1');
  await c.set('a', '1');
  assert.ok(fs.existsSync(path.join(s.dir, 'appendonlydir')));
  await rejects(() => c.select(4));
});

t('a bad directive rejects createServer with Valkey\'s error text', async () => {
  try {
    await createServer({ config: { 'no-such-directive': 'x' } });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match(String(e), /Bad directive or wrong number of arguments/);
  }
});

t('one fork per process: a second server\'s BGSAVE during the first\'s is refused (EEXIST), SAVE is not', async () => {
  const a = await start({ config: { save: '', 'rdb-key-save-delay': 20000 } });
  const b = await start({ config: { save: '' } });
  const pipe = a.c.pipeline();
  for (let i = 0; i < 50; i++) pipe.set(`k${i}`, 'v');
  await pipe.exec();
  await b.c.set('b', '1');
  assert.is(await a.c.bgsave(), 'Background saving started');
  // a's child runs ~1 s (50 keys x 20 ms)
  await rejects(() => b.c.bgsave(), /^ERR$/);
  assert.is((await b.s.info('persistence')).rdb_last_bgsave_status, 'err');
  await b.s.save(); // SAVE does not fork
  assert.ok(fs.existsSync(path.join(b.s.dir, 'dump.rdb')));
  await until(async () => (await a.s.info('persistence')).rdb_bgsave_in_progress === '0');
  assert.is((await a.s.info('persistence')).rdb_last_bgsave_status, 'ok');
  assert.is(await b.c.bgsave(), 'Background saving started');
  await until(async () => (await b.s.info('persistence')).rdb_bgsave_in_progress === '0');
  assert.is((await b.s.info('persistence')).rdb_last_bgsave_status, 'ok');
});

t('an embedded server does not keep the process alive; at exit its temp dir goes and the port is free', async () => {
  const script = `
    const { createServer } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
    createServer({ config: { save: '' } }).then((s) => { console.log(JSON.stringify({ port: s.port, dir: s.dir })); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.is(code, 0, 'the process exited by itself');
  const { port, dir } = JSON.parse(out) as { port: number; dir: string };
  assert.ok(port > 0);
  assert.is(fs.existsSync(dir), false);
  assert.is(await canBind(port), true);
});

t.run();
