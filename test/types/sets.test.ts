// Set commands through ioredis, node-redis (RESP2 and RESP3), redis-cli and raw RESP:
// replies (RESP3 sets), random commands, errors, intset/listpack/hashtable encodings.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from 'redis';
import { redisCli } from '../helpers/cli';
import { useServer } from '../helpers/fixture';
import { items, show, text } from '../helpers/client';

const t = suite('sets');
const fx = useServer(t);

const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));
const sorted = (xs: string[]): string[] => [...xs].sort();

t('SADD/SREM/SCARD/SISMEMBER/SMISMEMBER/SMEMBERS, emptied sets are deleted', async () => {
  assert.is(await fx.io.sadd('s', 'a', 'b', 'a', '1'), 3);
  assert.is(await fx.io.sadd('s', 'b', 'c'), 1);
  assert.is(await fx.io.scard('s'), 4);
  assert.is(await fx.io.sismember('s', 'a'), 1);
  assert.equal(await fx.io.smismember('s', 'a', 'zz', '1'), [1, 0, 1]);
  assert.equal(await fx.io.smismember('nokey', 'a'), [0]);
  assert.equal(sorted(await fx.io.smembers('s')), ['1', 'a', 'b', 'c']);
  assert.is(await fx.io.srem('s', 'a', 'zz'), 1);
  assert.is(await fx.io.srem('s', 'b', 'c', '1'), 3);
  assert.is(await fx.io.exists('s'), 0);
  assert.is(await r('SMEMBERS', 'nokey'), '*[]');
  await fx.raw.call('HELLO', '3');
  await fx.io.sadd('s', 'x');
  assert.is(await r('SMEMBERS', 's'), '~["x"]', 'RESP3 set type');
  assert.is(await r('SMEMBERS', 'nokey'), '~[]');
  await fx.raw.call('HELLO', '2');
});

t('SPOP and SRANDMEMBER: counts, negative counts, empty and missing keys', async () => {
  await fx.io.sadd('s', 'a', 'b', 'c', 'd');
  const one = await fx.io.spop('s');
  assert.ok(['a', 'b', 'c', 'd'].includes(String(one)));
  assert.is(await fx.io.sismember('s', String(one)), 0);
  const two = await fx.io.spop('s', 2);
  assert.is(two.length, 2);
  assert.is(await fx.io.scard('s'), 1);
  assert.equal((await fx.io.spop('s', 10)).length, 1);
  assert.is(await fx.io.exists('s'), 0);
  assert.is(await r('SPOP', 's'), '(nil)');
  assert.is(await r('SPOP', 's', '3'), '*[]');
  assert.is(await r('SPOP', 's', '-1'), '(error ERR value is out of range, must be positive)');
  assert.is(await r('SPOP', 's', '1', '2'), '(error ERR syntax error)');
  await fx.io.sadd('s', '1', '2', '3');
  assert.is(await r('SPOP', 's', '0'), '*[]');
  const rm = await fx.io.srandmember('s', 5);
  assert.equal(sorted(rm), ['1', '2', '3']);
  const rep = await fx.io.srandmember('s', -10);
  assert.is(rep.length, 10);
  assert.ok(rep.every((x) => ['1', '2', '3'].includes(x)));
  const dist = await fx.io.srandmember('s', 2);
  assert.is(new Set(dist).size, 2);
  assert.is(await r('SRANDMEMBER', 'nokey'), '(nil)');
  assert.is(await r('SRANDMEMBER', 'nokey', '5'), '*[]');
  assert.is(await r('SRANDMEMBER', 's', 'x'), '(error ERR value is not an integer or out of range)');
  await fx.raw.call('HELLO', '3');
  assert.is((await fx.raw.call('SPOP', 's', '1')).type, '~', 'SPOP with count replies with a set in RESP3');
  assert.is((await fx.raw.call('SRANDMEMBER', 's', '1')).type, '*', 'SRANDMEMBER replies with an array');
  await fx.raw.call('HELLO', '2');
});

t('SPOP over a big set stays fair and consistent', async () => {
  await fx.io.sadd('big', ...Array.from({ length: 3000 }, (_, i) => `m${i}`));
  assert.is(await fx.io.object('ENCODING', 'big'), 'hashtable');
  const popped = await fx.io.spop('big', 1000);
  assert.is(new Set(popped).size, 1000);
  assert.is(await fx.io.scard('big'), 2000);
  const left = await fx.io.smismember('big', ...popped.slice(0, 50));
  assert.ok(left.every((x) => x === 0));
  const sample = await fx.io.srandmember('big', -4000);
  assert.ok(new Set(sample).size > 1500, 'random members cover the set');
});

t('SMOVE, SINTER/SUNION/SDIFF and their STORE forms, SINTERCARD', async () => {
  await fx.io.sadd('a', '1', '2', '3', 'x');
  await fx.io.sadd('b', '2', '3', '4');
  await fx.io.sadd('c', '3', 'x');
  assert.equal(sorted(await fx.io.sinter('a', 'b')), ['2', '3']);
  assert.equal(await fx.io.sinter('a', 'b', 'c'), ['3']);
  assert.equal(await fx.io.sinter('a', 'nokey'), []);
  assert.equal(sorted(await fx.io.sunion('a', 'b', 'nokey')), ['1', '2', '3', '4', 'x']);
  assert.equal(sorted(await fx.io.sdiff('a', 'b')), ['1', 'x']);
  assert.equal(await fx.io.sdiff('a', 'a'), []);
  assert.equal(await fx.io.sdiff('nokey', 'a'), []);
  assert.is(await fx.io.sinterstore('dst', 'a', 'b'), 2);
  assert.is(await fx.io.object('ENCODING', 'dst'), 'intset');
  assert.is(await fx.io.sunionstore('dst', 'a', 'b'), 5);
  assert.is(await fx.io.object('ENCODING', 'dst'), 'listpack');
  assert.is(await fx.io.sdiffstore('dst', 'c', 'a'), 0);
  assert.is(await fx.io.exists('dst'), 0, 'an empty result deletes the destination');
  assert.is(await fx.io.sintercard(2, 'a', 'b'), 2);
  assert.is(await r('SINTERCARD', '2', 'a', 'b', 'LIMIT', '1'), '(int 1)');
  assert.is(await r('SINTERCARD', '0', 'a'), '(error ERR numkeys should be greater than 0)');
  assert.is(await r('SINTERCARD', '3', 'a', 'b'), "(error ERR Number of keys can't be greater than number of args)");
  assert.is(await r('SINTERCARD', '1', 'a', 'LIMIT', '-1'), "(error ERR LIMIT can't be negative)");
  assert.is(await fx.io.smove('a', 'b', 'x'), 1);
  assert.is(await fx.io.smove('a', 'b', 'nope'), 0);
  assert.is(await fx.io.smove('nokey', 'b', 'x'), 0);
  assert.is(await fx.io.smove('b', 'b', 'x'), 1);
  assert.is(await fx.io.sismember('b', 'x'), 1);
  await fx.io.set('str', 'v');
  assert.is(await r('SMOVE', 'a', 'str', '1'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  assert.is(await r('SINTER', 'nokey', 'str'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  assert.is(await r('SUNIONSTORE', 'd', 'a', 'str'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  await fx.raw.call('HELLO', '3');
  assert.is((await fx.raw.call('SINTER', 'a', 'b')).type, '~');
  assert.is((await fx.raw.call('SUNION', 'a')).type, '~');
  await fx.raw.call('HELLO', '2');
});

t('encodings: intset, listpack, hashtable thresholds', async () => {
  await fx.io.sadd('i', '1', '2', '-3');
  assert.is(await fx.io.object('ENCODING', 'i'), 'intset');
  assert.equal(await fx.io.smembers('i'), ['-3', '1', '2'], 'intsets iterate in numeric order');
  await fx.io.sadd('i', 'x');
  assert.is(await fx.io.object('ENCODING', 'i'), 'listpack');
  await fx.io.sadd('i', ...Array.from({ length: 130 }, (_, i) => `m${i}`));
  assert.is(await fx.io.object('ENCODING', 'i'), 'hashtable');
  await fx.io.sadd('n', ...Array.from({ length: 512 }, (_, i) => String(i)));
  assert.is(await fx.io.object('ENCODING', 'n'), 'intset');
  await fx.io.sadd('n', '100000');
  assert.is(await fx.io.object('ENCODING', 'n'), 'hashtable');
  await fx.io.sadd('l', 'a', 'y'.repeat(65));
  assert.is(await fx.io.object('ENCODING', 'l'), 'hashtable');
  await fx.io.sadd('s', '007');
  assert.is(await fx.io.object('ENCODING', 's'), 'listpack', 'non-canonical integers are strings');
  assert.is(await fx.io.type('s'), 'set');
});

t('SSCAN over compact and big sets, MATCH and errors', async () => {
  await fx.io.sadd('s', '1', '2', '10');
  assert.is(await r('SSCAN', 's', '0', 'MATCH', '1*'), '*["0", *["1", "10"]]');
  assert.is(await r('SSCAN', 'nokey', '0'), '*["0", *[]]');
  await fx.io.sadd('big', ...Array.from({ length: 800 }, (_, i) => `k${i}`));
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const reply = await fx.raw.call('SSCAN', 'big', cursor, 'COUNT', '20');
    const [c, list] = items(reply);
    cursor = text(c as never) ?? '0';
    for (const m of items(list as never)) seen.add(text(m) ?? '');
  } while (cursor !== '0');
  assert.is(seen.size, 800);
});

t('node-redis in RESP2 and RESP3, and redis-cli', async () => {
  for (const RESP of [2, 3] as const) {
    const c = createClient({ socket: { port: fx.srv.port, host: '127.0.0.1' }, RESP });
    await c.connect();
    assert.is(await c.sAdd('nr', ['a', 'b']), 2);
    assert.equal(sorted(await c.sMembers('nr')), ['a', 'b']);
    assert.equal(await c.smIsMember('nr', ['a', 'z']), [1, 0]);
    assert.equal(sorted(await c.sInter(['nr', 'nr'])), ['a', 'b']);
    assert.is((await c.sPopCount('nr', 5)).length, 2);
    await c.close();
  }
  assert.is((await redisCli(fx.srv.port, ['sadd', 'cli', '3', '1', '2'])).stdout.trim(), '3');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'smembers', 'cli'])).stdout.trim(), '1) "1"\n2) "2"\n3) "3"');
});

t.run();
