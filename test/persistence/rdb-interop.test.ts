// RDB interop with Debian's redis-server 7.0 (the reference peer): dumps forkv writes load
// there with identical contents and pass redis-check-rdb; dumps redis-server writes (several
// dbs, TTLs, binary keys, a 1 MB value, small and large collections in every encoding) load
// in forkv with identical contents; DUMP/RESTORE payloads work both ways. HyperLogLogs
// and bitmaps ride along as strings and must arrive byte for byte.
//
// Contents are compared through commands on both servers (binary-safe, per type), plus
// the round trip redis dump -> forkv -> forkv BGSAVE -> redis-server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Redis from 'ioredis';

import { startRedis, startServer, tempDir } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { canonical, checkRdb, contents, sameContents, waitNoChild } from './util';

const t = suite('rdb-interop');
const fleet = useFleet(t);
/** Databases holding data in these tests; db 9 of a redis-server is the scratch db. */
const DBS = [0, 1, 5, 15];
const SCRATCH = 9;

function connect(port: number, db = 0): Redis {
  return fleet.connect(port, db);
}

/** Fills a server with every type, in every encoding redis 7.0 writes. Returns the key count. */
async function populate(port: number): Promise<number> {
  const big = crypto.randomBytes(1 << 20);
  let n = 0;
  for (const db of DBS) {
    const r = connect(port, db);
    const p = r.pipeline();
    p.set(`str:${db}`, `hello ${db}`);
    p.set(`int:${db}`, String(-123456789 * (db + 1)));
    p.set(Buffer.from([0, 1, 2, 0xff, 13, 10, db]), Buffer.from([0xfe, 0, 0x0d, 0x0a, 0]));
    p.set(`empty:${db}`, '');
    p.set(`ttl:${db}`, 'expiring', 'EX', 1000 + db);
    p.set(`pxat:${db}`, 'abs', 'PXAT', Date.now() + 500000);
    p.set(`compressible:${db}`, 'abcd'.repeat(50000));
    // Small collections: listpack (list quicklist node, hash, zset), intset.
    p.rpush(`list:small:${db}`, 'a', 'b', '3', Buffer.from([0, 255]));
    p.hset(`hash:small:${db}`, 'f1', 'v1', 'f2', '2', 'bin', Buffer.from([0, 1]));
    p.sadd(`set:int:${db}`, 1, 2, 3, -5, 1000000);
    p.sadd(`set:str:${db}`, 'x', 'y', 'z');
    p.zadd(`zset:small:${db}`, 1, 'one', 2.5, 'two.5', -3, 'minus', 1e20, 'huge');
    p.pexpire(`hash:small:${db}`, 800000);
    // Large collections: quicklist with many nodes, hashtable hash/set, skiplist zset.
    const items: string[] = [];
    for (let i = 0; i < 2000; i++) items.push(`item-${i}-${'y'.repeat(i % 70)}`);
    p.rpush(`list:big:${db}`, ...items);
    const h: string[] = [];
    for (let i = 0; i < 1000; i++) h.push(`field${i}`, `value${i}`);
    p.hset(`hash:big:${db}`, ...h);
    const ints: number[] = [];
    for (let i = 0; i < 1000; i++) ints.push(i * 7);
    p.sadd(`set:bigint:${db}`, ...ints);
    p.sadd(`set:big:${db}`, ...items.slice(0, 600));
    const z: Array<string | number> = [];
    for (let i = 0; i < 1000; i++) z.push(i / 3, `m${i}`);
    p.zadd(`zset:big:${db}`, ...z);
    p.hset(`hash:bigvalue:${db}`, 'long', 'q'.repeat(200));
    // Streams: several nodes, entries with and without the master fields, deletions,
    // consumer groups with pending entries, an idle consumer, an empty stream.
    const sk = `stream:${db}`;
    for (let i = 1; i <= 250; i++) {
      if (i % 7 === 0) p.xadd(sk, `${i}-${i % 3}`, 'other', `o${i}`, 'bin', Buffer.from([0, i % 256, 255]));
      else p.xadd(sk, `${i}-${i % 3}`, 'a', String(i * 1000), 'b', `v${i}${'z'.repeat(i % 40)}`);
    }
    p.xdel(sk, '3-0', '100-1', '250-1');
    p.call('XGROUP', 'CREATE', sk, 'g1', '0');
    p.call('XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', '10', 'STREAMS', sk, '>');
    p.call('XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', '3', 'STREAMS', sk, '>');
    p.call('XACK', sk, 'g1', '1-1', '4-1');
    p.call('XGROUP', 'CREATE', sk, 'g2', '$');
    p.call('XGROUP', 'CREATECONSUMER', sk, 'g2', 'idle');
    p.call('XADD', `stream:empty:${db}`, 'MAXLEN', '0', '5-5', 'x', 'y');
    // HyperLogLogs (sparse and dense, with a cached cardinality) and a bitmap: strings in
    // the HYLL format, which must load byte for byte on the other side.
    p.pfadd(`hll:sparse:${db}`, ...items.slice(0, 50));
    p.pfadd(`hll:dense:${db}`, ...items);
    p.pfcount(`hll:dense:${db}`);
    p.setbit(`bitmap:${db}`, 1000 + db, 1);
    p.bitfield(`bitmap:${db}`, 'SET', 'i16', '#3', -1234);
    if (db === 0) {
      p.set('one-megabyte', big);
      p.expire('list:big:0', 900000);
    }
    await p.exec();
    n += await r.dbsize();
  }
  return n;
}

t('a dump redis-server 7.0 writes loads in forkv with identical contents', async () => {
  const redis = await startRedis();
  fleet.track(redis);
  const n = await populate(redis.port);
  const r0 = connect(redis.port);
  // One key already expired in the file: loading skips it.
  await r0.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  await r0.set('already-expired', 'x', 'PX', 1);
  await new Promise((res) => setTimeout(res, 20));
  assert.is(await r0.save(), 'OK');
  const want = await contents(redis.port, DBS);
  assert.is(want.values.size, n);
  const kinds = new Set([...want.values.values()].map((v) => v.slice(0, v.indexOf(':'))));
  assert.equal([...kinds].sort(), ['hash', 'list', 'set', 'stream', 'string', 'zset']);

  const dir = tempDir('interop-from-redis-');
  fs.copyFileSync(path.join(redis.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
  const fk = await startServer({ dir });
  fleet.track(fk);
  assert.match(fk.output(), new RegExp(`Done loading RDB, keys loaded: ${n}, keys expired: 1\\.`));
  sameContents(await contents(fk.port, DBS), want, 'forkv after loading redis dump');

  // Round trip: forkv writes everything it loaded; a fresh redis-server reads it back.
  const f = connect(fk.port);
  await f.bgsave();
  await waitNoChild(f);
  const chk = await checkRdb(path.join(dir, 'dump.rdb'));
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
  assert.match(chk.stdout, new RegExp(`\\b${n} keys read\\b`));
  const dir2 = tempDir('interop-roundtrip-');
  fs.copyFileSync(path.join(dir, 'dump.rdb'), path.join(dir2, 'dump.rdb'));
  const redis2 = await startRedis([], dir2);
  fleet.track(redis2);
  sameContents(await contents(redis2.port, DBS), want, 'redis after forkv re-saved the redis dump');
});

t('a dump forkv writes (every type, ints, binary, 1 MB and compressible values, TTLs, dbs) loads in redis-server', async () => {
  const fk = await startServer();
  fleet.track(fk);
  const n = await populate(fk.port);
  for (const db of DBS) {
    const p = connect(fk.port, db).pipeline();
    for (const v of ['0', '-1', '1', '127', '128', '-32768', '65535', '2147483647', '-2147483648', '9223372036854775807', '-9223372036854775808', '007', '1.5', ' 1', '+1', '18446744073709551616']) p.set(`n:${v}`, v);
    p.set('', 'empty key');
    p.set(`lzf:${db}`, 'forkv '.repeat(20000));
    p.rpush(`ints:${db}`, '1', '-1', '9223372036854775807', 'x');
    await p.exec();
  }
  const f0 = connect(fk.port);
  const want = await contents(fk.port, DBS);
  assert.ok(want.values.size > n);
  assert.is(await f0.bgsave(), 'Background saving started');
  await waitNoChild(f0);
  const dump = path.join(fk.dir, 'dump.rdb');
  const chk = await checkRdb(dump);
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
  assert.match(chk.stdout, /RDB looks OK/);
  assert.match(chk.stdout, new RegExp(`\\b${want.values.size} keys read\\b`));
  const dir = tempDir('interop-from-forkv-');
  fs.copyFileSync(dump, path.join(dir, 'dump.rdb'));
  const redis = await startRedis([], dir);
  fleet.track(redis);
  assert.match(redis.output(), /DB loaded from disk/);
  sameContents(await contents(redis.port, DBS), want, 'redis-server loading the forkv dump');
});

t('DUMP/RESTORE payloads move every type both ways between forkv and redis-server', async () => {
  const fk = await startServer();
  const redis = await startRedis();
  fleet.track(fk);
  fleet.track(redis);
  const f = connect(fk.port);
  const r = connect(redis.port);
  const rs = connect(redis.port, SCRATCH);
  const fill = async (c: Redis): Promise<void> => {
    await c.rpush('list', ...Array.from({ length: 300 }, (_, i) => `e${i}`));
    await c.rpush('list:small', 'a', '1', Buffer.from([0, 255]));
    await c.hset('hash', ...Array.from({ length: 600 }, (_, i) => `f${i}`));
    await c.hset('hash:small', 'a', '1');
    await c.sadd('set', ...Array.from({ length: 700 }, (_, i) => i));
    await c.sadd('set:small', 1, 2, 3);
    await c.sadd('set:str', 'p', 'q');
    await c.zadd('zset', ...Array.from({ length: 400 }, (_, i) => [i * 1.25, `z${i}`]).flat());
    await c.zadd('zset:small', 1, 'a', -2.5, 'b');
    await c.set('str', Buffer.from([0, 1, 2, 3]));
    await c.set('int', '-42');
    await c.set('big', 'w'.repeat(100000));
    for (let i = 1; i <= 120; i++) await c.xadd('stream', `${i}-0`, 'f', String(i), 'g', `x${i}`);
    await c.xdel('stream', '5-0');
    await c.call('XGROUP', 'CREATE', 'stream', 'grp', '0');
    await c.call('XREADGROUP', 'GROUP', 'grp', 'c1', 'COUNT', '4', 'STREAMS', 'stream', '>');
  };
  const keys = ['list', 'list:small', 'hash', 'hash:small', 'set', 'set:small', 'set:str', 'zset', 'zset:small', 'str', 'int', 'big', 'stream'];
  // redis -> forkv, then forkv -> redis: the value survives both payload formats.
  await fill(r);
  for (const k of keys) {
    const payload = (await r.dumpBuffer(k)) as Buffer;
    assert.is(await f.call('RESTORE', k, '0', payload), 'OK', k);
    assert.is(await canonical(f, Buffer.from(k)), await canonical(r, Buffer.from(k)), `forkv RESTORE of ${k}`);
    const back = (await f.dumpBuffer(k)) as Buffer;
    assert.is(await rs.call('RESTORE', k, '0', back, 'REPLACE'), 'OK', k);
    assert.is(await canonical(rs, Buffer.from(k)), await canonical(r, Buffer.from(k)), `redis RESTORE of forkv's ${k}`);
  }
  // Values built by forkv's own commands -> redis.
  await f.flushall();
  await rs.flushdb();
  await fill(f);
  for (const k of keys) {
    const payload = (await f.dumpBuffer(k)) as Buffer;
    assert.is(await rs.call('RESTORE', k, '0', payload), 'OK', k);
    assert.is(await canonical(rs, Buffer.from(k)), await canonical(f, Buffer.from(k)), k);
  }
  // A corrupted payload is refused by forkv as by redis.
  const bad = Buffer.from((await r.dumpBuffer('list')) as Buffer);
  bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
  let msg = '';
  await f.call('RESTORE', 'bad', '0', bad).catch((e: Error) => (msg = e.message));
  assert.is(msg, 'ERR DUMP payload version or checksum are wrong');
});

t.run();
