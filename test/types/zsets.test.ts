// Sorted set commands through ioredis, node-redis (RESP2 and RESP3), redis-cli and raw
// RESP: scores as RESP3 doubles, ranges (exclusive, infinite, lex), NaN and inf, errors,
// listpack/skiplist encodings, and O(log n) range queries on a big sorted set.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from 'redis';
import { redisCli } from '../helpers/cli';
import { useServer } from '../helpers/fixture';
import { show } from '../helpers/client';

const t = suite('zsets');
const fx = useServer(t);

const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));
const resp3 = async <T>(f: () => Promise<T>): Promise<T> => {
  await fx.raw.call('HELLO', '3');
  try {
    return await f();
  } finally {
    await fx.raw.call('HELLO', '2');
  }
};

t('ZADD options NX/XX/GT/LT/CH/INCR and their errors', async () => {
  assert.is(await fx.io.zadd('z', 1, 'a', 2, 'b'), 2);
  assert.is(await fx.io.zadd('z', 'NX', 5, 'a', 3, 'c'), 1);
  assert.is(await fx.io.zscore('z', 'a'), '1');
  assert.is(await fx.io.zadd('z', 'XX', 'CH', 7, 'a', 9, 'new'), 1);
  assert.is(await fx.io.zscore('z', 'new'), null);
  assert.is(await fx.io.zadd('z', 'GT', 'CH', 5, 'a', 4, 'b'), 1);
  assert.is(await fx.io.zscore('z', 'a'), '7');
  assert.is(await fx.io.zadd('z', 'LT', 'CH', 1, 'a'), 1);
  assert.is(await fx.io.zadd('z', 'INCR', 2.5, 'a'), '3.5');
  assert.is(await r('ZADD', 'z', 'NX', 'INCR', '1', 'a'), '(nil)');
  assert.is(await r('ZADD', 'nokey', 'XX', '1', 'a'), '(int 0)');
  assert.is(await fx.io.exists('nokey'), 0);
  assert.is(await r('ZADD', 'z', 'NX', 'XX', '1', 'a'), '(error ERR XX and NX options at the same time are not compatible)');
  assert.is(await r('ZADD', 'z', 'GT', 'LT', '1', 'a'), '(error ERR GT, LT, and/or NX options at the same time are not compatible)');
  assert.is(await r('ZADD', 'z', 'INCR', '1', 'a', '2', 'b'), '(error ERR INCR option supports a single increment-element pair)');
  assert.is(await r('ZADD', 'z', '1', 'a', '2'), '(error ERR syntax error)');
  assert.is(await r('ZADD', 'z', 'nan', 'a'), '(error ERR value is not a valid float)');
  assert.is(await r('ZADD', 'z', '1e400', 'a'), '(error ERR value is not a valid float)');
  assert.is(await r('ZADD', 'z', 'abc', 'a'), '(error ERR value is not a valid float)');
  await fx.io.zadd('z', '+inf', 'top');
  assert.is(await r('ZINCRBY', 'z', '-inf', 'top'), '(error ERR resulting score is not a number (NaN))');
  assert.is(await fx.io.zscore('z', 'top'), 'inf');
  assert.is(await fx.io.zincrby('z', '-0.5', 'fresh'), '-0.5');
});

t('scores: shortest round-trip formatting, RESP3 doubles, ZMSCORE, ZCARD', async () => {
  await fx.io.zadd('z', '0.1', 'a', '1e20', 'b', '-inf', 'c', '3', 'd');
  assert.is(await fx.io.zscore('z', 'a'), '0.1');
  assert.is(await fx.io.zscore('z', 'b'), '1e+20');
  assert.is(await fx.io.zscore('z', 'c'), '-inf');
  assert.is(await r('ZMSCORE', 'z', 'a', 'zz', 'd'), '*["0.1", (nil), "3"]');
  assert.is(await r('ZMSCORE', 'nokey', 'a'), '*[(nil)]');
  assert.is(await resp3(() => r('ZMSCORE', 'z', 'a', 'zz')), '*[,0.1, _null]');
  assert.is(await resp3(() => r('ZSCORE', 'z', 'c')), ',-inf');
  assert.is(await resp3(() => r('ZINCRBY', 'z', '1', 'd')), ',4');
  assert.is(await fx.io.zcard('z'), 4);
});

t('ZRANGE family: ranks, BYSCORE with ( and inf, BYLEX, REV, LIMIT, WITHSCORES shapes', async () => {
  await fx.io.zadd('z', 1, 'a', 2, 'b', 3, 'c', 4, 'd', 5, 'e');
  assert.equal(await fx.io.zrange('z', '1', '-2'), ['b', 'c', 'd']);
  assert.equal(await fx.io.zrange('z', '-100', '100'), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(await fx.io.zrange('z', '3', '1'), []);
  assert.equal(await fx.io.zrange('z', '0', '1', 'REV'), ['e', 'd']);
  assert.equal(await fx.io.zrevrange('z', '0', '0', 'WITHSCORES'), ['e', '5']);
  assert.equal(await fx.io.zrange('z', '(1', '3', 'BYSCORE'), ['b', 'c']);
  assert.equal(await fx.io.zrange('z', '+inf', '(3', 'BYSCORE', 'REV', 'LIMIT', '0', '1'), ['e']);
  assert.equal(await fx.io.zrangebyscore('z', '-inf', '+inf', 'LIMIT', 1, 2), ['b', 'c']);
  assert.equal(await fx.io.zrangebyscore('z', '-inf', '+inf', 'LIMIT', -1, 2), []);
  assert.equal(await fx.io.zrevrangebyscore('z', 4, 2, 'WITHSCORES'), ['d', '4', 'c', '3', 'b', '2']);
  assert.is(await r('ZRANGE', 'z', '0', '0', 'WITHSCORES'), '*["a", "1"]');
  assert.is(await resp3(() => r('ZRANGE', 'z', '0', '1', 'WITHSCORES')), '*[*["a", ,1], *["b", ,2]]');
  assert.is(await r('ZRANGE', 'z', '0', '1', 'LIMIT', '0', '1'), '(error ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX)');
  assert.is(await r('ZRANGE', 'z', '[a', '[b', 'BYLEX', 'WITHSCORES'), '(error ERR syntax error, WITHSCORES not supported in combination with BYLEX)');
  assert.is(await r('ZRANGEBYSCORE', 'z', 'x', '1'), '(error ERR min or max is not a float)');
  assert.is(await r('ZRANGE', 'z', '0', '1', 'BYSCORE', 'BYLEX'), '(error ERR syntax error)');
  assert.is(await r('ZRANGE', 'nokey', '0', '-1'), '*[]');
  await fx.io.zadd('lex', 0, 'a', 0, 'b', 0, 'c', 0, 'd');
  assert.equal(await fx.io.zrangebylex('lex', '[b', '(d'), ['b', 'c']);
  assert.equal(await fx.io.zrevrangebylex('lex', '+', '-', 'LIMIT', 1, 2), ['c', 'b']);
  assert.equal(await fx.io.zrange('lex', '-', '[a', 'BYLEX'), ['a']);
  assert.is(await fx.io.zlexcount('lex', '(a', '+'), 3);
  assert.is(await r('ZRANGEBYLEX', 'lex', 'a', '+'), '(error ERR min or max not valid string range item)');
  assert.is(await fx.io.zcount('z', '(1', '+inf'), 4);
  assert.is(await fx.io.zcount('z', '5', '(5'), 0);
});

t('ZRANK/ZREVRANK with WITHSCORE, ZRANGESTORE, ZREMRANGEBY*', async () => {
  await fx.io.zadd('z', 1, 'a', 2, 'b', 3, 'c');
  assert.is(await fx.io.zrank('z', 'c'), 2);
  assert.is(await fx.io.zrevrank('z', 'c'), 0);
  assert.is(await r('ZRANK', 'z', 'b', 'WITHSCORE'), '*[(int 1), "2"]');
  assert.is(await resp3(() => r('ZREVRANK', 'z', 'b', 'WITHSCORE')), '*[(int 1), ,2]');
  assert.is(await r('ZRANK', 'z', 'zz', 'WITHSCORE'), '*(nil)');
  assert.is(await r('ZRANK', 'z', 'zz'), '(nil)');
  assert.is(await r('ZRANK', 'z', 'a', 'WITHSCORES'), '(error ERR syntax error)');
  assert.is(await r('ZRANK', 'z', 'a', 'WITHSCORE', 'x'), "(error ERR wrong number of arguments for 'zrank' command)");
  assert.is(await fx.io.zrangestore('dst', 'z', 1, -1), 2);
  assert.equal(await fx.io.zrange('dst', '0', '-1', 'WITHSCORES'), ['b', '2', 'c', '3']);
  assert.is(await fx.io.zrangestore('dst', 'z', '(3', '+inf', 'BYSCORE'), 0);
  assert.is(await fx.io.exists('dst'), 0);
  await fx.io.zadd('z', 4, 'd', 5, 'e');
  assert.is(await fx.io.zremrangebyrank('z', 0, 1), 2);
  assert.is(await fx.io.zremrangebyscore('z', '(3', 4), 1);
  assert.is(await fx.io.zremrangebylex('z', '-', '+'), 2);
  assert.is(await fx.io.exists('z'), 0, 'an emptied sorted set is deleted');
});

t('ZPOPMIN/ZPOPMAX/ZMPOP/ZRANDMEMBER shapes in RESP2 and RESP3', async () => {
  await fx.io.zadd('z', 1, 'a', 2, 'b', 3, 'c', 4, 'd');
  assert.equal(await fx.io.zpopmin('z'), ['a', '1']);
  assert.equal(await fx.io.zpopmax('z', 2), ['d', '4', 'c', '3']);
  assert.is(await resp3(() => r('ZPOPMIN', 'z')), '*["b", ,2]');
  assert.is(await r('ZPOPMIN', 'z'), '*[]');
  assert.is(await r('ZPOPMIN', 'z', '-1'), '(error ERR value is out of range, must be positive)');
  await fx.io.zadd('z', 1, 'a', 2, 'b');
  assert.is(await resp3(() => r('ZPOPMAX', 'z', '1')), '*[*["b", ,2]]');
  assert.is(await r('ZMPOP', '2', 'nokey', 'z', 'MIN', 'COUNT', '5'), '*["z", *[*["a", "1"]]]');
  assert.is(await r('ZMPOP', '1', 'z', 'MIN'), '*(nil)');
  assert.is(await r('ZMPOP', '1', 'z', 'LOW'), '(error ERR syntax error)');
  assert.is(await r('ZMPOP', '1', 'z', 'MIN', 'COUNT', '0'), '(error ERR count should be greater than 0)');
  await fx.io.zadd('z', 1, 'a', 2, 'b', 3, 'c');
  assert.ok(['a', 'b', 'c'].includes(String(await fx.io.zrandmember('z'))));
  assert.is((await fx.io.zrandmember('z', -7)).length, 7);
  assert.is(new Set(await fx.io.zrandmember('z', 2)).size, 2);
  assert.is((await fx.io.zrandmember('z', 10, 'WITHSCORES')).length, 6);
  assert.is(await r('ZRANDMEMBER', 'nokey'), '(nil)');
  assert.is(await r('ZRANDMEMBER', 'nokey', '2'), '*[]');
  assert.is(await r('ZRANDMEMBER', 'z', '1', 'WITHSCORE'), '(error ERR syntax error)');
});

t('ZUNION/ZINTER/ZDIFF (+STORE) with WEIGHTS and AGGREGATE, sets as inputs, ZINTERCARD', async () => {
  await fx.io.zadd('a', 1, 'x', 2, 'y', 3, 'z');
  await fx.io.zadd('b', 10, 'y', 20, 'z', 30, 'w');
  await fx.io.sadd('s', 'y', 'q');
  assert.equal(await fx.io.zunion(2, 'a', 'b', 'WITHSCORES'), ['x', '1', 'y', '12', 'z', '23', 'w', '30']);
  assert.equal(await fx.io.zinter(2, 'a', 'b', 'WEIGHTS', 2, 1, 'AGGREGATE', 'MAX', 'WITHSCORES'), ['y', '10', 'z', '20']);
  assert.equal(await fx.io.zinter(2, 'a', 's', 'WITHSCORES'), ['y', '3']);
  assert.equal(await fx.io.zdiff(2, 'a', 'b'), ['x']);
  assert.is(await fx.io.zunionstore('d', 3, 'a', 'b', 's', 'AGGREGATE', 'MIN'), 5);
  assert.is(await fx.io.object('ENCODING', 'd'), 'listpack');
  assert.is(await fx.io.zinterstore('d', 2, 'a', 'nokey'), 0);
  assert.is(await fx.io.exists('d'), 0);
  assert.is(await fx.io.zdiffstore('d', 1, 'b'), 3);
  assert.is(await fx.io.zintercard(2, 'a', 'b'), 2);
  assert.is(await r('ZINTERCARD', '2', 'a', 'b', 'LIMIT', '1'), '(int 1)');
  assert.is(await r('ZUNION', '0', 'a'), "(error ERR at least 1 input key is needed for 'zunion' command)");
  assert.is(await r('ZUNIONSTORE', 'd', '0', 'a'), "(error ERR at least 1 input key is needed for 'zunionstore' command)");
  assert.is(await r('ZUNION', '3', 'a', 'b'), '(error ERR syntax error)');
  assert.is(await r('ZINTER', '2', 'a', 'b', 'WEIGHTS', '1', 'x'), '(error ERR weight value is not a float)');
  assert.is(await r('ZDIFF', '2', 'a', 'b', 'WEIGHTS', '1', '1'), '(error ERR syntax error)');
  // ZINTERCARD shares ZUNION's numkeys check (unlike SINTERCARD).
  assert.is(await r('ZINTERCARD', '0', 'a'), "(error ERR at least 1 input key is needed for 'zintercard' command)");
  assert.is(await r('ZINTERCARD', '-1', 'a'), "(error ERR at least 1 input key is needed for 'zintercard' command)");
  assert.is(await r('ZINTERCARD', 'x', 'a'), '(error ERR value is not an integer or out of range)');
  assert.is(await r('SINTERCARD', '0', 'a'), '(error ERR numkeys should be greater than 0)');
  await fx.io.zadd('p', '+inf', 'm');
  await fx.io.zadd('n', '-inf', 'm');
  assert.equal(await fx.io.zunion(2, 'p', 'n', 'WITHSCORES'), ['m', '0'], 'inf + -inf aggregates to 0');
  await fx.io.set('str', 'v');
  assert.is(await r('ZUNION', '2', 'a', 'str'), '(error WRONGTYPE Operation against a key holding the wrong kind of value)');
  assert.is(await resp3(() => r('ZUNION', '1', 'a', 'WITHSCORES')), '*[*["x", ,1], *["y", ,2], *["z", ,3]]');
});

t('encodings and a big sorted set: skiplist past 128 members, O(log n) ranges', async () => {
  await fx.io.zadd('z', 1, 'a');
  assert.is(await fx.io.object('ENCODING', 'z'), 'listpack');
  await fx.io.zadd('z', 2, 'm'.repeat(65));
  assert.is(await fx.io.object('ENCODING', 'z'), 'skiplist');
  const N = 100_000;
  for (let base = 0; base < N; base += 10_000) {
    const args: Array<string | number> = [];
    for (let i = base; i < base + 10_000; i++) args.push(i, `m${String(i).padStart(6, '0')}`);
    await fx.io.zadd('big', ...args);
  }
  assert.is(await fx.io.object('ENCODING', 'big'), 'skiplist');
  assert.is(await fx.io.zcard('big'), N);
  assert.is(await fx.io.zrank('big', 'm054321'), 54321);
  assert.is(await fx.io.zrevrank('big', 'm054321'), N - 1 - 54321);
  assert.equal(await fx.io.zrange('big', '70000', '70002'), ['m070000', 'm070001', 'm070002']);
  assert.equal(await fx.io.zrangebyscore('big', '(99997', '+inf'), ['m099998', 'm099999']);
  assert.is(await fx.io.zcount('big', 1000, '(2000'), 1000);
  assert.equal(await fx.io.zrevrange('big', '0', '0'), ['m099999']);
  // Range queries deep in the set find the right member (their speed is bench/'s concern).
  for (let i = 0; i < 200; i++) {
    const rank = 90000 + ((i * 37) % 10000);
    assert.equal(await fx.io.zrange('big', String(rank), String(rank)), [`m${String(rank).padStart(6, '0')}`], `rank ${rank}`);
  }
  assert.is(await fx.io.zremrangebyrank('big', 0, 49999), 50000);
  assert.is(await fx.io.zrank('big', 'm054321'), 4321);
  const scanned = new Set<string>();
  let cursor = '0';
  do {
    const [next, list] = await fx.io.zscan('big', cursor, 'COUNT', 500);
    for (let i = 0; i < list.length; i += 2) scanned.add(list[i] as string);
    cursor = next;
  } while (cursor !== '0');
  assert.is(scanned.size, 50000);
});

/** ZSCAN through ioredis's generic call (its typings predate NOSCORES). */
const zscan = async (...args: string[]): Promise<[string, string[]]> =>
  (await fx.io.call('ZSCAN', ...args)) as [string, string[]];

t('ZSCAN NOSCORES returns members only (listpack and skiplist); NOVALUES/NOSCORES elsewhere are errors', async () => {
  await fx.io.zadd('small', 1, 'foo', 2, 'fab', 3, 'fiz', 10, 'foobar');
  assert.is(await fx.io.object('ENCODING', 'small'), 'listpack');
  const [c1, l1] = await zscan('small', '0', 'NOSCORES');
  assert.is(c1, '0');
  assert.equal([...l1].sort(), ['fab', 'fiz', 'foo', 'foobar']);
  const [, l2] = await zscan('small', '0', 'MATCH', 'foo*', 'NOSCORES', 'COUNT', '5');
  assert.equal([...l2].sort(), ['foo', 'foobar']);
  const args: Array<string | number> = [];
  for (let i = 0; i < 300; i++) args.push(i, `m${i}`);
  await fx.io.zadd('big', ...args);
  assert.is(await fx.io.object('ENCODING', 'big'), 'skiplist');
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, list] = await zscan('big', cursor, 'NOSCORES');
    for (const m of list) {
      assert.ok(m.startsWith('m'), `member expected, got ${m}`);
      seen.add(m);
    }
    cursor = next;
  } while (cursor !== '0');
  assert.is(seen.size, 300);
  await fx.io.sadd('s', 'x');
  await fx.io.hset('h', 'f', 'v');
  assert.is(await r('ZSCAN', 'small', '0', 'NOVALUES'), '(error ERR NOVALUES option can only be used in HSCAN)');
  assert.is(await r('SSCAN', 's', '0', 'NOSCORES'), '(error ERR NOSCORES option can only be used in ZSCAN)');
  assert.is(await r('SSCAN', 's', '0', 'NOVALUES'), '(error ERR NOVALUES option can only be used in HSCAN)');
  assert.is(await r('HSCAN', 'h', '0', 'NOSCORES'), '(error ERR NOSCORES option can only be used in ZSCAN)');
  assert.is(await r('SCAN', '0', 'NOSCORES'), '(error ERR NOSCORES option can only be used in ZSCAN)');
  assert.is(await r('SCAN', '0', 'NOVALUES'), '(error ERR NOVALUES option can only be used in HSCAN)');
  assert.is(await r('ZSCAN', 'small', '0', 'NOSCORE'), '(error ERR syntax error)');
});

t('WRONGTYPE on sorted set commands', async () => {
  await fx.io.sadd('s', 'x');
  for (const c of [['ZADD', 's', '1', 'a'], ['ZINCRBY', 's', '1', 'a'], ['ZREM', 's', 'a'], ['ZSCORE', 's', 'a'], ['ZMSCORE', 's', 'a'], ['ZCARD', 's'], ['ZCOUNT', 's', '0', '1'], ['ZLEXCOUNT', 's', '-', '+'], ['ZRANK', 's', 'a'], ['ZRANGE', 's', '0', '1'], ['ZRANGESTORE', 'd', 's', '0', '1'], ['ZREMRANGEBYRANK', 's', '0', '1'], ['ZPOPMIN', 's'], ['ZMPOP', '1', 's', 'MIN'], ['ZRANDMEMBER', 's'], ['ZSCAN', 's', '0']]) {
    assert.is(await r(...c), '(error WRONGTYPE Operation against a key holding the wrong kind of value)', c.join(' '));
  }
});

t('node-redis in RESP2 and RESP3, and redis-cli', async () => {
  for (const RESP of [2, 3] as const) {
    const c = createClient({ socket: { port: fx.srv.port, host: '127.0.0.1' }, RESP });
    await c.connect();
    await c.zAdd('nr', [{ score: 1, value: 'a' }, { score: 2.5, value: 'b' }]);
    assert.equal(await c.zRangeWithScores('nr', 0, -1), [{ value: 'a', score: 1 }, { value: 'b', score: 2.5 }]);
    assert.is(await c.zScore('nr', 'b'), 2.5);
    assert.equal(await c.zPopMin('nr'), { value: 'a', score: 1 });
    assert.equal(await c.zmPop(['nr'], 'MAX'), { key: 'nr', members: [{ value: 'b', score: 2.5 }] });
    await c.close();
  }
  assert.is((await redisCli(fx.srv.port, ['zadd', 'cli', '1.5', 'a', '2', 'b'])).stdout.trim(), '2');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'zrange', 'cli', '0', '-1', 'withscores'])).stdout.trim(), '1) "a"\n2) "1.5"\n3) "b"\n4) "2"');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'zscore', 'cli', 'a'])).stdout.trim(), '"1.5"');
});

t.run();
