// Bitmaps, HyperLogLog and LCS through real clients (ioredis, node-redis RESP3) and raw
// RESP: the replies applications rely on, the size limits that must answer with an error
// instead of allocating, and the HyperLogLog byte format (header, sparse opcodes, cache).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from 'redis';
import { useServer } from '../helpers/fixture';
import { show } from '../helpers/client';

const t = suite('bits');
const fx = useServer(t);

const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));

t('feature flags in a bitmap with ioredis: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP', async () => {
  for (const id of [1, 7, 42, 1000]) assert.is(await fx.io.setbit('flags', id, 1), 0);
  assert.is(await fx.io.setbit('flags', 7, 1), 1);
  assert.is(await fx.io.getbit('flags', 42), 1);
  assert.is(await fx.io.getbit('flags', 43), 0);
  assert.is(await fx.io.bitcount('flags'), 4);
  assert.is(await fx.io.call('BITCOUNT', 'flags', '0', '7', 'BIT'), 2);
  assert.is(await fx.io.bitpos('flags', 1), 1);
  assert.is(await fx.io.bitpos('flags', 1, 2, -1), 42);
  assert.is(await fx.io.strlen('flags'), 126);
  await fx.io.setbit('other', 42, 1);
  assert.is(await fx.io.bitop('AND', 'both', 'flags', 'other'), 126);
  assert.is(await fx.io.bitcount('both'), 1);
  assert.is(await fx.io.call('OBJECT', 'ENCODING', 'flags'), 'raw');
});

t('BITFIELD counters: # offsets, OVERFLOW SAT/FAIL, i64 and u63, BITFIELD_RO', async () => {
  assert.equal(await fx.io.call('BITFIELD', 'c', 'INCRBY', 'u8', '#0', '250', 'OVERFLOW', 'SAT', 'INCRBY', 'u8', '#0', '10', 'GET', 'u8', '#0'), [250, 255, 255]);
  assert.equal(await fx.io.call('BITFIELD', 'c', 'OVERFLOW', 'FAIL', 'INCRBY', 'u8', '#1', '300', 'GET', 'u8', '#1'), [null, 0]);
  assert.equal(await fx.io.call('BITFIELD', 'c', 'SET', 'i64', '#1', '-9223372036854775808', 'GET', 'i64', '#1'), [0, -9223372036854775808]);
  assert.is(await r('BITFIELD', 'c', 'SET', 'u63', '0', '9223372036854775807'), '*[(int 9187343239835811840)]'); // the old 63 bits, as Valkey 8.0.1 replies
  assert.is(await r('BITFIELD', 'c', 'GET', 'u64', '0'), '(error ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.)');
  assert.is(await r('BITFIELD_RO', 'c', 'GET', 'u63', '0'), '*[(int 9223372036854775807)]');
  assert.is(await r('BITFIELD_RO', 'c', 'SET', 'u8', '0', '1'), '(error ERR BITFIELD_RO only supports the GET subcommand)');
});

t('offsets beyond proto-max-bulk-len are errors, never allocations', async () => {
  const err = '(error ERR bit offset is not an integer or out of range)';
  assert.is(await r('SETBIT', 'k', '4294967296', '1'), err);
  assert.is(await r('BITFIELD', 'k', 'SET', 'u8', '#9223372036854775807', '1'), err);
  assert.is(await r('GETBIT', 'k', '-1'), err);
  await fx.io.config('SET', 'proto-max-bulk-len', String(1024 * 1024));
  try {
    assert.is(await r('SETBIT', 'k', String(8 * 1024 * 1024), '1'), err);
    assert.is(await r('SETBIT', 'k', String(8 * 1024 * 1024 - 1), '1'), '(int 0)');
    assert.is(await fx.io.strlen('k'), 1024 * 1024);
    assert.is(await r('SETRANGE', 'k', String(1024 * 1024), 'x'), '(error ERR string exceeds maximum allowed size (proto-max-bulk-len))');
  } finally {
    await fx.io.config('SET', 'proto-max-bulk-len', String(512 * 1024 * 1024));
  }
  assert.is(await fx.io.exists('k'), 1);
});

t('HyperLogLog: unique visitors with ioredis, merge, and Valkey\'s byte format', async () => {
  assert.is(await fx.io.pfadd('visitors:mon', 'alice', 'bob', 'carol'), 1);
  assert.is(await fx.io.pfadd('visitors:mon', 'alice'), 0);
  assert.is(await fx.io.pfadd('visitors:tue', 'bob', 'dave'), 1);
  assert.is(await fx.io.pfcount('visitors:mon'), 3);
  assert.is(await fx.io.pfcount('visitors:mon', 'visitors:tue'), 4);
  assert.is(await fx.io.pfmerge('visitors:week', 'visitors:mon', 'visitors:tue'), 'OK');
  assert.is(await fx.io.pfcount('visitors:week'), 4);
  const bytes = await fx.io.getBuffer('visitors:mon');
  assert.ok(bytes !== null);
  if (!bytes) return;
  assert.is(bytes.subarray(0, 5).toString('latin1'), 'HYLL\x01', 'magic and sparse encoding');
  // PFCOUNT cached the cardinality: 3, little endian, top bit clear.
  assert.equal([...bytes.subarray(8, 16)], [3, 0, 0, 0, 0, 0, 0, 0]);
  await fx.io.pfadd('visitors:mon', 'erin');
  const after = await fx.io.getBuffer('visitors:mon');
  assert.is(after?.[15], 0x80, 'a change marks the cache stale');
  assert.is(await r('PFDEBUG', 'ENCODING', 'visitors:mon'), '+sparse');
  assert.match(await r('PFDEBUG', 'DECODE', 'visitors:mon'), /^"(?:[zZ]:\d+|v:\d+,\d) /);
  assert.is(await r('PFDEBUG', 'TODENSE', 'visitors:mon'), '(int 1)');
  assert.is(await fx.io.strlen('visitors:mon'), 12304);
  assert.is(await fx.io.pfcount('visitors:mon'), 4);
});

t('HyperLogLog errors: wrong types, foreign strings, corrupted values', async () => {
  await fx.io.set('plain', 'hello');
  await fx.io.set('num', '12345');
  await fx.io.rpush('list', 'x');
  assert.is(await r('PFADD', 'plain', 'a'), '(error WRONGTYPE Key is not a valid HyperLogLog string value.)');
  assert.is(await r('PFCOUNT', 'num'), '(error WRONGTYPE Key is not a valid HyperLogLog string value.)');
  assert.is(await r('PFMERGE', 'dst', 'list'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  await fx.io.pfadd('h', 'a', 'b', 'c');
  await fx.io.append('h', '\x00');
  assert.is(await r('PFCOUNT', 'h'), '(error INVALIDOBJ Corrupted HLL object detected)');
  assert.is(await r('PFDEBUG', 'GETREG', 'nokey'), '(error ERR The specified key does not exist)');
});

t('LCS with node-redis over RESP3, and SUBSTR', async () => {
  const c = createClient({ socket: { port: fx.srv.port }, RESP: 3 });
  await c.connect();
  try {
    await c.mSet({ key1: 'ohmytext', key2: 'mynewtext' });
    assert.is(await c.sendCommand(['LCS', 'key1', 'key2']), 'mytext');
    assert.is(await c.sendCommand(['LCS', 'key1', 'key2', 'LEN']), 6);
    const idx = await c.sendCommand(['LCS', 'key1', 'key2', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN']);
    assert.ok(idx instanceof Map || typeof idx === 'object', 'a RESP3 map');
    assert.is(await r('LCS', 'key1', 'key2', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN'), '*["matches", *[*[*[(int 4), (int 7)], *[(int 5), (int 8)], (int 4)]], "len", (int 6)]');
    assert.is(await r('LCS', 'key1', 'key2', 'LEN', 'IDX'), '(error ERR If you want both the length and indexes, please just use IDX.)');
    await c.rPush('l', 'x');
    assert.is(await r('LCS', 'key1', 'l'), '(error ERR The specified keys must contain string values)');
    assert.is(await c.sendCommand(['SUBSTR', 'key1', '2', '3']), 'my');
  } finally {
    await c.quit();
  }
});

t.run();
