// AOF interop with Debian's redis-server 7.0: an appendonlydir forkv wrote (RDB-preamble
// base + incr with every type, several dbs, expiries, MULTI/EXEC) loads in redis-server with
// identical contents and passes redis-check-aof; one redis-server wrote (after BGREWRITEAOF
// and more writes) loads in forkv with identical contents.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Redis from 'ioredis';

import { startRedis, startServer, tempDir } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { checkAof, contents, sameContents, sleep, waitNoChild, waitUntil } from './util';

const t = suite('aof-interop');
const fleet = useFleet(t);
const DBS = [0, 2, 7];

function connect(port: number, db = 0): Redis {
  return fleet.connect(port, db);
}

/** The first half of the data: goes into the base at the rewrite. */
async function writeBase(port: number): Promise<void> {
  for (const db of DBS) {
    const c = connect(port, db);
    const p = c.pipeline();
    for (let i = 0; i < 300; i++) p.set(`s:${i}`, `v${i}`);
    p.set('n', '10');
    p.rpush('list', ...Array.from({ length: 200 }, (_, i) => `l${i}`));
    p.hset('hash', ...Array.from({ length: 300 }, (_, i) => [`f${i}`, `${i}`]).flat());
    p.sadd('iset', 1, 2, 3);
    p.sadd('set', ...Array.from({ length: 200 }, (_, i) => `m${i}`));
    p.zadd('zset', ...Array.from({ length: 200 }, (_, i) => [i / 7, `z${i}`]).flat());
    p.set('ttl', 'x', 'EX', 5000);
    p.set(Buffer.from([0, 0xff, 13, 10]), Buffer.from([1, 2, 0, 3]));
    for (let i = 1; i <= 150; i++) p.xadd('stream', `${i}-1`, 'f', `${i}`, ...(i % 5 === 0 ? ['extra', 'x'] : []));
    p.xdel('stream', '2-1');
    p.call('XGROUP', 'CREATE', 'stream', 'g', '0');
    p.call('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', '20', 'STREAMS', 'stream', '>');
    p.call('XGROUP', 'CREATECONSUMER', 'stream', 'g', 'lazy');
    p.call('XADD', 'stream:empty', 'MAXLEN', '0', '*', 'a', 'b');
    await p.exec();
  }
}

/** The second half: lands in the incr file after the rewrite. */
async function writeIncr(port: number): Promise<void> {
  for (const db of DBS) {
    const c = connect(port, db);
    await c.incrby('n', 5);
    await c.append('s:1', '-appended');
    await c.del('s:2');
    await c.lpush('list', 'head');
    await c.rpop('list');
    await c.hset('hash', 'f1', 'changed', 'new', 'field');
    await c.hdel('hash', 'f2');
    await c.srem('set', 'm1');
    await c.sadd('iset', 100000);
    await c.zincrby('zset', 2.5, 'z3');
    await c.zrem('zset', 'z4');
    await c.expire('s:3', 4000);
    await c.pexpireat('s:4', Date.now() + 3_000_000);
    await c.persist('ttl');
    await c.set('late', 'after-rewrite', 'PX', 6_000_000);
    await c.multi().set('tx:a', '1').incr('tx:n').lpush('tx:l', 'x').exec();
    await c.set(Buffer.from('bin\0key'), Buffer.alloc(70000, 0x41));
    // Streams: generated IDs, ~ trimming, group reads (logged as XCLAIM), NOACK, claims.
    await c.xadd('stream', '*', 'late', '1');
    await c.xadd('stream', 'MAXLEN', '~', '120', '*', 'late', '2');
    await c.call('XTRIM', 'stream', 'MINID', '~', '40-1');
    await c.call('XREADGROUP', 'GROUP', 'g', 'c2', 'COUNT', '5', 'STREAMS', 'stream', '>');
    await c.call('XREADGROUP', 'GROUP', 'g', 'c3', 'COUNT', '2', 'NOACK', 'STREAMS', 'stream', '>');
    await c.call('XACK', 'stream', 'g', '3-1', '4-1');
    await c.call('XCLAIM', 'stream', 'g', 'c2', '0', '5-1', '6-1');
    await c.call('XAUTOCLAIM', 'stream', 'g', 'c4', '0', '0', 'COUNT', '3');
    await c.call('XGROUP', 'CREATE', 'stream', 'g2', '$', 'MKSTREAM');
    await c.call('XGROUP', 'CREATE', 'stream:new', 'g', '$', 'MKSTREAM');
    await c.xdel('stream', '149-1');
  }
}

t('an appendonlydir forkv wrote (base + incr) loads in redis-server 7.0 and passes redis-check-aof', async () => {
  const fk = await startServer({ args: ['--appendonly', 'yes'] });
  fleet.track(fk);
  await writeBase(fk.port);
  const f = connect(fk.port);
  assert.is(await f.bgrewriteaof(), 'Background append only file rewriting started');
  await waitNoChild(f);
  await writeIncr(fk.port);
  await sleep(50);
  const want = await contents(fk.port, DBS);
  const manifest = fs.readFileSync(path.join(fk.dir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  assert.is(manifest, 'file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n');
  assert.ok(fs.statSync(path.join(fk.dir, 'appendonlydir', 'appendonly.aof.2.incr.aof')).size > 1000);

  const chk = await checkAof(path.join(fk.dir, 'appendonlydir', 'appendonly.aof.manifest'));
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
  assert.match(chk.stdout, /RDB preamble is OK, proceeding with AOF tail/);
  assert.match(chk.stdout, /BASE AOF appendonly\.aof\.2\.base\.rdb is valid/);
  assert.match(chk.stdout, /INCR AOF appendonly\.aof\.2\.incr\.aof is valid/);
  assert.match(chk.stdout, /All AOF files and manifest are valid/);

  const copy = tempDir('aof-to-redis-');
  fs.cpSync(path.join(fk.dir, 'appendonlydir'), path.join(copy, 'appendonlydir'), { recursive: true });
  const redis = await startRedis(['--appendonly', 'yes'], copy);
  fleet.track(redis);
  assert.match(redis.output(), /DB loaded from base file appendonly\.aof\.2\.base\.rdb/);
  assert.match(redis.output(), /DB loaded from incr file appendonly\.aof\.2\.incr\.aof/);
  sameContents(await contents(redis.port, DBS), want, 'redis-server loading forkv\'s AOF');
});

t('a rewrite as commands (aof-use-rdb-preamble no) loads in redis-server 7.0 with identical contents', async () => {
  const fk = await startServer({ args: ['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no'] });
  fleet.track(fk);
  await writeBase(fk.port);
  await writeIncr(fk.port);
  const f = connect(fk.port);
  assert.is(await f.bgrewriteaof(), 'Background append only file rewriting started');
  await waitNoChild(f);
  const want = await contents(fk.port, DBS);
  const base = fs.readFileSync(path.join(fk.dir, 'appendonlydir', 'appendonly.aof.2.base.aof'), 'utf8');
  assert.match(base, /XSETID/);
  assert.match(base, /XCLAIM/);
  const copy = tempDir('aofrw-to-redis-');
  fs.cpSync(path.join(fk.dir, 'appendonlydir'), path.join(copy, 'appendonlydir'), { recursive: true });
  const redis = await startRedis(['--appendonly', 'yes'], copy);
  fleet.track(redis);
  sameContents(await contents(redis.port, DBS), want, 'redis-server loading forkv\'s rewritten AOF');
  // And forkv itself, restarted on its own files.
  await fk.stop('SIGTERM');
  const again = await startServer({ dir: fk.dir, args: ['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no'] });
  fleet.track(again);
  sameContents(await contents(again.port, DBS), want, 'forkv restarted on its rewritten AOF');
});

t('an appendonlydir redis-server 7.0 wrote (after BGREWRITEAOF and more writes) loads in forkv', async () => {
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  fleet.track(redis);
  await writeBase(redis.port);
  const r = connect(redis.port);
  await r.bgrewriteaof();
  await waitUntil('redis rewrite', async () => /aof_rewrite_in_progress:0/.test(await r.info('persistence')) && /aof_rewrites:1/.test(await r.info('persistence')), 10000, 50);
  await writeIncr(redis.port);
  const want = await contents(redis.port, DBS);
  const m = fs.readFileSync(path.join(redis.dir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  assert.match(m, /type b\n.*type i\n$/s);

  const copy = tempDir('aof-from-redis-');
  fs.cpSync(path.join(redis.dir, 'appendonlydir'), path.join(copy, 'appendonlydir'), { recursive: true });
  const fk = await startServer({ dir: copy, args: ['--appendonly', 'yes', '--aof-load-truncated', 'no'] });
  fleet.track(fk);
  assert.match(fk.output(), /DB loaded from append only file/);
  sameContents(await contents(fk.port, DBS), want, 'forkv loading redis-server\'s AOF');
  // forkv keeps appending to redis-server's incr file, and a restart still agrees.
  const f = connect(fk.port);
  await f.set('forkv-was-here', '1');
  await sleep(50);
  await fk.stop('SIGTERM');
  const again = await startServer({ dir: copy, args: ['--appendonly', 'yes'] });
  fleet.track(again);
  assert.is(await connect(again.port).get('forkv-was-here'), '1');
});

t.run();
