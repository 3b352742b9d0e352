// RESTORE and RDB loading of damaged payloads, through a real server: Valkey's replies and
// log lines, DEBUG SET-SKIP-CHECKSUM-VALIDATION, DEBUG POPULATE, conversions to the
// configured encodings, and seeded fuzzing (mutated DUMP payloads and RDB files) in which
// nothing may crash the server.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { errorOf } from '../helpers/errors';
import { startServer, tempDir, type RunningServer } from '../helpers/server';

const t = suite('restore-corrupt');
let srv: RunningServer;
let io: Redis;

t.before(async () => {
  srv = await startServer({ args: ['--loglevel', 'verbose'] });
  io = new Redis({ port: srv.port });
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});
t.before.each(async () => {
  await io.flushall();
  await io.debug('set-skip-checksum-validation', '0');
  await io.config('SET', 'hash-max-listpack-entries', '128');
});

/** A DUMP payload written as Valkey's tests write them ("\x0D\x1B..."). */
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** xorshift32: the same mutations on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

t('a ziplist hash with a bad entry length: Bad data format, and the integrity line in the log', async () => {
  // From Valkey's corrupt-dump.tcl ("hash with valid zip list header, invalid entry len").
  const payload = bytes('\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x14\x63\x00\x04\x02\x64\x00\xFF\x09\x00\xD9\x10\x54\x92\x15\xF5\x5F\x52');
  assert.match(await errorOf(io.restore('key', 0, payload)), /^ERR Bad data format$/);
  // Written at verbose level ("-"), before the reply (it reaches our pipe a little later).
  await srv.waitFor(/ - Internal error in RDB reading offset \d+, function at forkv-rdb -> Hash ziplist integrity check failed/, 5000);
  assert.is(await io.exists('key'), 0);
});

t('a bad checksum: refused, then accepted after DEBUG SET-SKIP-CHECKSUM-VALIDATION 1', async () => {
  await io.set('s', 'hello');
  const good = await io.dumpBuffer('s');
  const bad = Buffer.from(good);
  bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
  assert.is(await errorOf(io.restore('t', 0, bad)), 'ERR DUMP payload version or checksum are wrong');
  assert.is(await io.debug('set-skip-checksum-validation', '1'), 'OK');
  assert.is(await io.restore('t', 0, bad), 'OK');
  assert.is(await io.get('t'), 'hello');
  // The version is still checked.
  const newer = Buffer.from(bad);
  newer.writeUInt16LE(200, newer.length - 10);
  assert.is(await errorOf(io.restore('u', 0, newer)), 'ERR DUMP payload version or checksum are wrong');
  assert.is(await io.debug('set-skip-checksum-validation', '0'), 'OK');
  assert.is(await errorOf(io.restore('v', 0, bad)), 'ERR DUMP payload version or checksum are wrong');
});

t('RESTORE builds the value under the configured limits (listpack hash past the entry limit: hashtable)', async () => {
  await io.hset('h', 'a', '1', 'b', '2', 'c', '3');
  assert.is(await io.object('ENCODING', 'h'), 'listpack');
  const payload = await io.dumpBuffer('h');
  await io.config('SET', 'hash-max-listpack-entries', '2');
  await io.restore('h2', 0, payload);
  assert.is(await io.object('ENCODING', 'h2'), 'hashtable');
  assert.equal(await io.hgetall('h2'), { a: '1', b: '2', c: '3' });
});

t('DEBUG POPULATE: count, prefix, size, existing keys kept, Valkey errors', async () => {
  await io.set('key:1', 'mine');
  assert.is(await io.debug('populate', '3'), 'OK');
  assert.is(await io.dbsize(), 3);
  assert.is(await io.get('key:0'), 'value:0');
  assert.is(await io.get('key:1'), 'mine');
  assert.is(await io.debug('populate', '2', 'p', '10'), 'OK');
  assert.equal(await io.getBuffer('p:1'), Buffer.from('value:1\0\0\0'));
  assert.is(await io.debug('populate', '1', 'q', '2'), 'OK');
  assert.is(await io.get('q:0'), 'va');
  assert.is(await io.debug('populate', '1', 'r', '0'), 'OK');
  assert.is(await io.get('r:0'), 'value:0');
  // Valkey formats the key into 128 bytes: at most 127 remain.
  assert.is(await io.debug('populate', '1', 'x'.repeat(200)), 'OK');
  assert.is((await io.keys('xxx*'))[0]?.length, 127);
  for (const bad of [['-1'], ['abc'], ['1', 'p', '-1']]) {
    assert.is(await errorOf(io.debug('populate', ...bad)), 'ERR value is out of range, must be positive');
  }
  // A count whose table cannot be allocated is refused up front, not key by key.
  assert.is(await errorOf(io.debug('populate', '9223372036854775807')), 'ERR OOM in dictTryExpand');
  assert.match(await errorOf(io.debug('populate', '1', 'p', '1', 'extra')), /^ERR unknown subcommand or wrong number of arguments for 'populate'/);
  // Not a change for save rules, as in Valkey.
  const before = (await io.info('persistence')).match(/rdb_changes_since_last_save:(\d+)/)?.[1];
  await io.debug('populate', '100', 'z');
  const after = (await io.info('persistence')).match(/rdb_changes_since_last_save:(\d+)/)?.[1];
  assert.is(after, before);
});

/** Keys of every type in their small and big encodings. */
async function fillSamples(c: Redis): Promise<string[]> {
  await c.rpush('list:small', 'a', '1', 'bb', '-7');
  await c.rpush('list:big', ...Array.from({ length: 300 }, (_, i) => `element-${i}-${'x'.repeat(i % 40)}`));
  await c.sadd('set:int', '1', '2', '3', '-100', '99999999999');
  await c.sadd('set:small', 'a', 'b', 'c');
  await c.sadd('set:big', ...Array.from({ length: 200 }, (_, i) => `m${i}`));
  await c.hset('hash:small', 'f1', 'v1', 'f2', '2');
  await c.hset('hash:big', ...Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]).flat());
  await c.zadd('zset:small', '1', 'one', '2.5', 'two', '-3', 'three');
  await c.zadd('zset:big', ...Array.from({ length: 200 }, (_, i) => [String(i / 3), `z${i}`]).flat());
  await c.set('str:int', '12345');
  await c.set('str:raw', 'y'.repeat(100));
  return ['list:small', 'list:big', 'set:int', 'set:small', 'set:big', 'hash:small', 'hash:big', 'zset:small', 'zset:big', 'str:int', 'str:raw'];
}

/** Reads a restored value every way its type allows; errors are fine, crashes are not. */
async function exercise(c: Redis, key: string): Promise<void> {
  const type = await c.type(key);
  const p = c.pipeline();
  p.object('ENCODING', key);
  p.dump(key);
  if (type === 'list') p.lrange(key, 0, -1).lindex(key, -1).lpop(key).rpush(key, 'x').linsert(key, 'BEFORE', 'x', 'y');
  if (type === 'set') p.smembers(key).scard(key).sismember(key, '1').sadd(key, 'new').srandmember(key, -5).sdiff(key, 'nokey');
  if (type === 'hash') p.hgetall(key).hlen(key).hget(key, 'f1').hset(key, 'f1', 'w').hscan(key, 0);
  if (type === 'zset') p.zrange(key, '0', '-1', 'WITHSCORES').zcard(key).zrangebyscore(key, '-inf', '+inf').zadd(key, '5', 'new').zrank(key, 'one');
  if (type === 'string') p.get(key).strlen(key).append(key, 'z');
  await p.exec();
}

t('fuzz: mutated DUMP payloads of every encoding never crash the server (fixed seeds, sanitize-dump-payload no/yes/clients)', async () => {
  const keys = await fillSamples(io);
  const payloads = await Promise.all(keys.map((k) => io.dumpBuffer(k)));
  await io.debug('set-skip-checksum-validation', '1');
  let accepted = 0;
  let refused = 0;
  // As Valkey's corrupt-dump-fuzzer, under each sanitize-dump-payload mode (forkv validates
  // every payload deeply in all three, so no mode may crash).
  for (const [mode, seed] of [['no', 1], ['yes', 7], ['clients', 4242], ['no', 4242], ['yes', 1], ['clients', 7]] as const) {
    await io.config('SET', 'sanitize-dump-payload', mode);
    const next = rng(seed);
    for (let i = 0; i < 150; i++) {
      const original = payloads[next() % payloads.length] as Buffer;
      const m = Buffer.from(original);
      const body = m.length - 10;
      const op = next() % 4;
      let mutated: Buffer;
      if (op === 0) {
        // A few random bytes changed.
        for (let n = 1 + (next() % 3); n > 0; n--) m[next() % body] = next() & 0xff;
        mutated = m;
      } else if (op === 1) {
        // One bit flipped.
        const at = next() % body;
        m[at] = (m[at] ?? 0) ^ (1 << (next() % 8));
        mutated = m;
      } else if (op === 2) {
        // The body cut short (footer kept).
        const cut = next() % body;
        mutated = Buffer.concat([m.subarray(0, cut), m.subarray(body)]);
      } else {
        // Junk inserted in the body.
        const at = next() % body;
        const junk = Buffer.from(Array.from({ length: 1 + (next() % 6) }, () => next() & 0xff));
        mutated = Buffer.concat([m.subarray(0, at), junk, m.subarray(at)]);
      }
      try {
        await io.restore('fuzz', 0, mutated, 'REPLACE');
        accepted++;
        await exercise(io, 'fuzz').catch(() => undefined);
      } catch (e) {
        refused++;
        assert.match(String(e), /Bad data format|DUMP payload version or checksum are wrong/);
      }
    }
  }
  await io.config('SET', 'sanitize-dump-payload', 'no');
  assert.ok(refused > 0 && accepted > 0, `accepted ${accepted}, refused ${refused}`);
  assert.is(await io.ping(), 'PONG');
  assert.not.match(srv.output(), /panicked|Internal error running/);
});

t('fuzz: mutated RDB files either load or are refused with an error, never a crash (fixed seed)', async () => {
  const dir = tempDir('forkv-rdbfuzz-');
  const maker = await startServer({ dir, args: ['--rdbchecksum', 'no'] });
  const c = new Redis({ port: maker.port });
  await fillSamples(c);
  await c.save();
  c.disconnect();
  await maker.stop();
  const original = fs.readFileSync(path.join(dir, 'dump.rdb'));
  const next = rng(99);
  let loaded = 0;
  let refused = 0;
  for (let i = 0; i < 10; i++) {
    const m = Buffer.from(original);
    // Skip the magic and keep the (zero) checksum: the loader itself must catch the damage.
    for (let n = 1 + (next() % 4); n > 0; n--) m[9 + (next() % (m.length - 17))] = next() & 0xff;
    const d = tempDir('forkv-rdbfuzz-');
    fs.writeFileSync(path.join(d, 'dump.rdb'), m);
    const s = await startServer({ dir: d, waitReady: false });
    const outcome = await Promise.race([
      s.waitFor(/Ready to accept connections/).then(() => 'ready' as const),
      s.exited.then(() => 'exited' as const),
    ]);
    if (outcome === 'ready') {
      loaded++;
      const r = new Redis({ port: s.port });
      for (const k of await r.keys('*')) await exercise(r, k).catch(() => undefined);
      assert.is(await r.ping(), 'PONG');
      r.disconnect();
      await s.stop();
    } else {
      refused++;
      const { code } = await s.exited;
      assert.is(code, 1, s.output());
      assert.match(s.output(), /Fatal error loading the DB/);
    }
    assert.not.match(s.output(), /panicked/);
  }
  assert.is(loaded + refused, 10);
});

t.run();
