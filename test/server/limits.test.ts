// maxmemory eviction and client output buffer limits, through real clients (issue 14).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { errorOf } from '../helpers/errors';
import { startServer, type RunningServer } from '../helpers/server';

const t = suite('limits');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  // The log lines checked below name their client (the default, yes, redacts names).
  srv = await startServer({ args: ['--hide-user-data-from-log', 'no'] });
  io = new Redis({ port: srv.port });
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});
t.before.each(async () => {
  await io.config('SET', 'maxmemory', '0');
  await io.config('SET', 'maxmemory-policy', 'noeviction');
  await io.flushall();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

async function info(field: string): Promise<number> {
  const text = await io.info();
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(text);
  if (!m) throw new Error(`INFO has no ${field}`);
  return Number(m[1]);
}

const value = 'v'.repeat(1000);

t('noeviction: denyoom commands get -OOM, reads and deletes still run', async () => {
  await io.set('a', '1');
  await io.config('SET', 'maxmemory', '1');
  assert.is(await errorOf(io.set('b', '2')), OOM);
  assert.is(await errorOf(io.lpush('l', 'x')), OOM);
  assert.is(await io.get('a'), '1');
  assert.is(await io.del('a'), 1);
  // Queued commands are refused too, and EXEC then aborts.
  const multi = await io.multi().get('a').exec().catch((e: unknown) => e);
  assert.ok(String(multi).includes('EXECABORT'), String(multi));
  assert.is(await info('evicted_keys'), 0);
  await io.config('SET', 'maxmemory', '0');
  assert.is(await io.set('b', '2'), 'OK');
});

t('allkeys-lru keeps the recently used keys', async () => {
  // 400 keys idle for an hour (RESTORE IDLETIME), then 400 fresh ones.
  await io.set('tmp', value);
  const dump = await io.dumpBuffer('tmp');
  await io.del('tmp');
  for (let i = 0; i < 400; i++) await io.restore(`old:${i}`, 0, dump, 'IDLETIME', 3600);
  for (let i = 0; i < 400; i++) await io.set(`new:${i}`, value);
  const used = await info('used_memory');
  // Room for about 600 of the 800 keys.
  await io.config('SET', 'maxmemory-policy', 'allkeys-lru');
  await io.config('SET', 'maxmemory', String(used - 200 * 1100));
  await io.set('trigger', 'x');
  const evicted = await info('evicted_keys');
  assert.ok(evicted >= 150, `evicted ${evicted}`);
  let newLeft = 0;
  for (let i = 0; i < 400; i++) newLeft += await io.exists(`new:${i}`);
  let oldLeft = 0;
  for (let i = 0; i < 400; i++) oldLeft += await io.exists(`old:${i}`);
  assert.ok(newLeft >= 390, `only ${newLeft} of the 400 recent keys are left`);
  assert.ok(oldLeft <= 400 - evicted + (400 - newLeft), `old ${oldLeft}, new ${newLeft}, evicted ${evicted}`);
  assert.ok((await info('used_memory')) - (await info('mem_not_counted_for_evict')) <= used - 200 * 1100);
});

t('volatile-ttl evicts the keys closest to expiring, and never keys without a TTL', async () => {
  for (let i = 0; i < 300; i++) {
    await io.set(`ttl:${i}`, value, 'EX', 1000 + i * 10);
    await io.set(`keep:${i}`, value);
  }
  const used = await info('used_memory');
  await io.config('SET', 'maxmemory-policy', 'volatile-ttl');
  await io.config('SET', 'maxmemory', String(used - 100 * 1100));
  await io.set('trigger', 'x');
  for (let i = 0; i < 300; i++) assert.is(await io.exists(`keep:${i}`), 1, `keep:${i} was evicted`);
  const gone: number[] = [];
  for (let i = 0; i < 300; i++) if ((await io.exists(`ttl:${i}`)) === 0) gone.push(i);
  assert.ok(gone.length >= 80, `evicted ${gone.length}`);
  // Sampling approximates the order: nearly all evicted keys expire soonest.
  const early = gone.filter((i) => i < 150).length;
  assert.ok(early >= gone.length * 0.9, `${early} of ${gone.length} evicted keys were among the soonest half`);
  // Once only keys without TTL are left, writes get -OOM.
  await io.config('SET', 'maxmemory', '1');
  assert.is(await errorOf(io.set('x', 'y')), OOM);
  assert.is(await io.exists('keep:0'), 1);
});

t('CONFIG SET maxmemory inside MULTI evicts only after EXEC', async () => {
  await io.config('SET', 'maxmemory-policy', 'allkeys-lru');
  const r = await io.multi().incr('x').config('SET', 'maxmemory', '1').incr('x').exec();
  assert.equal(r?.map(([, v]) => v), [1, 'OK', 2]);
  for (let i = 0; i < 100 && (await io.dbsize()) > 0; i++) await sleep(10);
  assert.is(await io.dbsize(), 0);
});

t('evicted keys raise the evicted keyspace event', async () => {
  await io.config('SET', 'notify-keyspace-events', 'Ee');
  const sub = new Redis({ port: srv.port });
  try {
    const got: string[] = [];
    sub.on('message', (_ch: string, key: string) => got.push(key));
    await sub.subscribe('__keyevent@0__:evicted');
    await io.set('ev', '1');
    await io.config('SET', 'maxmemory-policy', 'allkeys-random');
    await io.config('SET', 'maxmemory', '1');
    for (let i = 0; i < 100 && got.length === 0; i++) await sleep(10);
    assert.equal(got, ['ev']);
  } finally {
    sub.disconnect();
    await io.config('SET', 'maxmemory', '0');
    await io.config('SET', 'notify-keyspace-events', '');
  }
});

t('OBJECT FREQ follows lfu-log-factor, and the LFU clock of a new key starts at 5', async () => {
  await io.config('SET', 'maxmemory-policy', 'allkeys-lfu');
  await io.set('f', '1');
  assert.is(await io.object('FREQ', 'f'), 5);
  await io.config('SET', 'lfu-log-factor', '0');
  for (let i = 0; i < 20; i++) await io.get('f');
  assert.is(await io.object('FREQ', 'f'), 25);
  await io.config('SET', 'lfu-log-factor', '10');
});

/** A raw connection that subscribes and then stops reading. */
async function stalledSubscriber(port: number, channel: string): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.on('error', () => undefined);
  s.write(`CLIENT SETNAME stalled\r\nSUBSCRIBE ${channel}\r\n`);
  await new Promise<void>((resolve) => s.once('data', () => resolve()));
  s.pause();
  return s;
}

t('a stalled subscriber is disconnected at the pubsub limit and memory stays bounded', async () => {
  // The default limits (pubsub 32mb 8mb 60) apply.
  const sub = await stalledSubscriber(srv.port, 'news');
  const rssBefore = await info('used_memory_rss');
  const msg = 'm'.repeat(1024 * 1024);
  let sawOmem = 0;
  for (let i = 0; i < 400; i++) {
    await io.publish('news', msg);
    if (i % 10 === 0) {
      const list = await io.client('LIST') as string;
      const line = list.split('\n').find((l) => l.includes('name=stalled'));
      if (!line) break;
      const omem = Number(/omem=(\d+)/.exec(line)?.[1] ?? '0');
      const tot = Number(/tot-mem=(\d+)/.exec(line)?.[1] ?? '0');
      assert.ok(tot >= omem);
      sawOmem = Math.max(sawOmem, omem);
    }
  }
  assert.ok(sawOmem > 1024 * 1024, `omem never showed the pending output (max ${sawOmem})`);
  const list = await io.client('LIST') as string;
  assert.not.ok(list.includes('name=stalled'), 'the stalled subscriber is still connected');
  assert.is(await info('client_output_buffer_limit_disconnections'), 1);
  const rss = await info('used_memory_rss');
  assert.ok(rss - rssBefore < 200 * 1024 * 1024, `RSS grew by ${Math.round((rss - rssBefore) / 1e6)} MB`);
  assert.match(srv.output(), /Client id=\d+ .*name=stalled.* scheduled to be closed ASAP for overcoming of output buffer limits\./);
  // Its output no longer counts in used_memory once it is gone: what is left is this
  // client's own query buffer (16 KB kept after its big PUBLISH arguments, as Valkey keeps it).
  await sleep(300);
  const left = await info('mem_clients_normal');
  assert.ok(left <= 32 * 1024, `mem_clients_normal=${left}`);
  sub.destroy();
});

t('pipelining without reading: the server keeps reading; maxmemory-clients or the normal-class limit closes the client', async () => {
  await io.set('big', 'b'.repeat(100 * 1024));
  const pipeline = Buffer.from('GET big\r\n'.repeat(2000));
  // As Valkey: input is read while replies back up; client eviction bounds the memory.
  await io.client('NO-EVICT', 'ON');
  await io.config('SET', 'maxmemory-clients', '32mb');
  const evictedBefore = await info('evicted_clients');
  const rssBefore = await info('used_memory_rss');
  const s1 = net.connect(srv.port, '127.0.0.1');
  s1.on('error', () => undefined);
  const closed1 = new Promise<void>((resolve) => s1.once('close', () => resolve()));
  s1.pause();
  for (let i = 0; i < 5; i++) s1.write(pipeline);
  await sleep(500);
  s1.resume();
  await closed1;
  assert.is(await io.ping(), 'PONG');
  assert.is(await info('evicted_clients'), evictedBefore + 1);
  const rss = await info('used_memory_rss');
  assert.ok(rss - rssBefore < 150 * 1024 * 1024, `RSS grew by ${Math.round((rss - rssBefore) / 1e6)} MB for 1 GB of pending replies`);
  assert.match(srv.output(), /Evicting client: id=\d+ addr=/);
  await io.config('SET', 'maxmemory-clients', '0');
  await io.client('NO-EVICT', 'OFF');
  // With a normal hard limit the client is closed.
  await io.config('SET', 'client-output-buffer-limit', 'normal 1mb 0 0');
  const s2 = net.connect(srv.port, '127.0.0.1');
  s2.on('error', () => undefined);
  s2.pause();
  const closed = new Promise<void>((resolve) => s2.once('close', () => resolve()));
  s2.write(pipeline);
  await sleep(500);
  s2.resume();
  await closed;
  assert.equal(await io.config('GET', 'client-output-buffer-limit') as string[], ['client-output-buffer-limit', 'normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60']);
  assert.ok((await info('client_output_buffer_limit_disconnections')) >= 2);
  await io.config('SET', 'client-output-buffer-limit', 'normal 0 0 0');
});

t('evictions reach the AOF as UNLINK (DEL with lazyfree-lazy-eviction no)', async () => {
  const aofSrv = await startServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const a = new Redis({ port: aofSrv.port });
  try {
    await a.set('asdf1', '1');
    await a.set('asdf2', '2');
    await a.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await a.config('SET', 'maxmemory', '1');
    assert.is(await a.dbsize(), 0);
    await a.config('SET', 'maxmemory', '0');
    await a.config('SET', 'lazyfree-lazy-eviction', 'no');
    await a.set('asdf3', '3');
    await a.config('SET', 'maxmemory', '1');
    assert.is(await a.dbsize(), 0);
    await a.config('SET', 'maxmemory', '0');
    await a.set('after', 'x');
    await sleep(300);
    const dir = path.join(aofSrv.dir, 'appendonlydir');
    const incr = fs.readdirSync(dir).filter((f) => f.endsWith('.incr.aof'));
    const text = incr.map((f) => fs.readFileSync(path.join(dir, f), 'latin1')).join('');
    const cmds = text.split('*').filter((c) => c.length > 0).map((c) => c.split('\r\n').filter((_, i) => i % 2 === 0 && i > 0).join(' '));
    const evictions = cmds.filter((c) => /^(UNLINK|DEL) /.test(c));
    assert.equal(evictions.sort(), ['DEL asdf3', 'UNLINK asdf1', 'UNLINK asdf2']);
    assert.is(await a.get('after'), 'x');
  } finally {
    a.disconnect();
    await aofSrv.stop();
  }
});

t.run();
