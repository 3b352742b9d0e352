// Hash commands through ioredis, node-redis (RESP2 and RESP3), redis-cli and raw RESP:
// replies and their RESP3 shapes, edge cases, errors, listpack/hashtable encodings.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from 'redis';
import { redisCli } from '../helpers/cli';
import { useServer } from '../helpers/fixture';
import { items, show } from '../helpers/client';

const t = suite('hashes');
const fx = useServer(t);

const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));
const WRONG = '(error WRONGTYPE Operation against a key holding the wrong kind of value)';

t('HSET/HGET/HMGET/HDEL/HLEN/HEXISTS/HSTRLEN/HSETNX/HMSET', async () => {
  assert.is(await fx.io.hset('h', 'a', '1', 'b', '22'), 2);
  assert.is(await fx.io.hset('h', 'a', 'x', 'c', '3'), 1);
  assert.is(await r('HSET', 'h', 'a'), "(error ERR wrong number of arguments for 'hset' command)");
  assert.is(await r('HSET', 'h', 'a', '1', 'b'), "(error ERR wrong number of arguments for 'hset' command)");
  assert.is(await fx.io.hget('h', 'a'), 'x');
  assert.is(await fx.io.hget('h', 'zz'), null);
  assert.equal(await fx.io.hmget('h', 'a', 'zz', 'b'), ['x', null, '22']);
  assert.equal(await fx.io.hmget('nokey', 'a'), [null]);
  assert.is(await fx.io.hsetnx('h', 'a', 'no'), 0);
  assert.is(await fx.io.hsetnx('h', 'n', 'yes'), 1);
  assert.is(await fx.io.hmset('h', 'm1', '1', 'm2', '2'), 'OK');
  assert.is(await fx.io.hlen('h'), 6);
  assert.is(await fx.io.hexists('h', 'n'), 1);
  assert.is(await fx.io.hstrlen('h', 'b'), 2);
  assert.is(await fx.io.hstrlen('h', 'nope'), 0);
  assert.is(await fx.io.hdel('h', 'a', 'b', 'zz'), 2);
  assert.is(await fx.io.hdel('h', 'c', 'n', 'm1', 'm2'), 4);
  assert.is(await fx.io.exists('h'), 0, 'an emptied hash is deleted');
  assert.is(await fx.io.hlen('h'), 0);
});

t('HKEYS/HVALS/HGETALL in RESP2 and RESP3 (map), missing keys', async () => {
  await fx.io.hset('h', 'f1', 'v1', 'f2', 'v2');
  assert.is(await r('HGETALL', 'h'), '*["f1", "v1", "f2", "v2"]');
  assert.is(await r('HKEYS', 'h'), '*["f1", "f2"]');
  assert.is(await r('HVALS', 'nokey'), '*[]');
  await fx.raw.call('HELLO', '3');
  assert.is(await r('HGETALL', 'h'), '%{"f1": "v1", "f2": "v2"}');
  assert.is(await r('HGETALL', 'nokey'), '%{}');
  assert.is(await r('HGET', 'h', 'zz'), '_null');
  await fx.raw.call('HELLO', '2');
});

t('HINCRBY and HINCRBYFLOAT: results, overflow, bad values, AOF-safe propagation', async () => {
  assert.is(await fx.io.hincrby('h', 'n', 5), 5);
  assert.is(await fx.io.hincrby('h', 'n', -7), -2);
  await fx.io.hset('h', 'big', '9223372036854775800', 's', 'abc', 'f', '1.5');
  assert.is(await r('HINCRBY', 'h', 'big', '100'), '(error ERR increment or decrement would overflow)');
  assert.is(await r('HINCRBY', 'h', 's', '1'), '(error ERR hash value is not an integer)');
  assert.is(await r('HINCRBY', 'h', 'n', '1.5'), '(error ERR value is not an integer or out of range)');
  assert.is(await fx.io.hincrbyfloat('h', 'f', '0.25'), '1.75');
  assert.is(await fx.io.hincrbyfloat('h', 'new', '10'), '10');
  assert.is(await fx.io.hincrbyfloat('h', 'n', '2.5e2'), '248');
  assert.is(await r('HINCRBYFLOAT', 'h', 's', '1'), '(error ERR hash value is not a float)');
  assert.is(await r('HINCRBYFLOAT', 'h', 'f', 'abc'), '(error ERR value is not a valid float)');
  assert.is(await r('HINCRBYFLOAT', 'h', 'f', 'inf'), '(error ERR value is NaN or Infinity)');
  await fx.io.hset('h', 'max', '1.7e308');
  assert.is(await r('HINCRBYFLOAT', 'h', 'max', '1.7e308'), '(error ERR increment would produce NaN or Infinity)');
  assert.is(await r('HINCRBYFLOAT', 'nokey', 'f', 'x'), '(error ERR value is not a valid float)');
  assert.is(await fx.io.exists('nokey'), 0, 'a failed command leaves no empty key behind');
});

t('HRANDFIELD: counts, negative counts, WITHVALUES in RESP2 and RESP3', async () => {
  assert.is(await r('HRANDFIELD', 'nokey'), '(nil)');
  assert.is(await r('HRANDFIELD', 'nokey', '3'), '*[]');
  await fx.io.hset('h', 'a', '1', 'b', '2', 'c', '3');
  const one = await fx.io.hrandfield('h');
  assert.ok(['a', 'b', 'c'].includes(String(one)));
  const all = (await fx.io.hrandfield('h', 10)) as string[];
  assert.equal([...all].sort(), ['a', 'b', 'c']);
  const two = (await fx.io.hrandfield('h', 2)) as string[];
  assert.is(new Set(two).size, 2);
  const rep = (await fx.io.hrandfield('h', -7)) as string[];
  assert.is(rep.length, 7, 'negative count allows repetitions');
  const flat = items(await fx.raw.call('HRANDFIELD', 'h', '-4', 'WITHVALUES'));
  assert.is(flat.length, 8);
  await fx.raw.call('HELLO', '3');
  const nested = items(await fx.raw.call('HRANDFIELD', 'h', '2', 'WITHVALUES'));
  assert.is(nested.length, 2);
  for (const p of nested) assert.is(p.type, '*', 'RESP3 pairs are nested arrays');
  await fx.raw.call('HELLO', '2');
  assert.is(await r('HRANDFIELD', 'h', '0'), '*[]');
  assert.is(await r('HRANDFIELD', 'h', '1', 'WITHVALUE'), '(error ERR syntax error)');
  assert.is(await r('HRANDFIELD', 'h', 'x'), '(error ERR value is not an integer or out of range)');
  assert.is(await r('HRANDFIELD', 'h', '-9223372036854775807', 'WITHVALUES'), '(error ERR value is out of range)');
});

t('HSCAN: compact hashes in one call, big ones with a cursor, MATCH, NOVALUES', async () => {
  await fx.io.hset('h', 'f1', 'a', 'f2', 'b', 'x', 'c');
  assert.is(await r('HSCAN', 'h', '0'), '*["0", *["f1", "a", "f2", "b", "x", "c"]]');
  assert.is(await r('HSCAN', 'h', '0', 'MATCH', 'f*', 'NOVALUES'), '*["0", *["f1", "f2"]]');
  assert.is(await r('HSCAN', 'nokey', '0', 'COUNT', '0'), '*["0", *[]]');
  assert.is(await r('HSCAN', 'h', 'x'), '(error ERR invalid cursor)');
  assert.is(await r('HSCAN', 'h', '0', 'COUNT', '0'), '(error ERR syntax error)');
  const fields = Array.from({ length: 1000 }, (_, i) => [`k${i}`, String(i)]).flat();
  await fx.io.hset('big', ...fields);
  assert.is(await fx.io.object('ENCODING', 'big'), 'hashtable');
  const seen = new Map<string, string>();
  let cursor = '0';
  let calls = 0;
  do {
    const [next, list] = await fx.io.hscan('big', cursor, 'COUNT', 50);
    for (let i = 0; i < list.length; i += 2) seen.set(list[i] as string, list[i + 1] as string);
    cursor = next;
    calls++;
  } while (cursor !== '0');
  assert.ok(calls > 5, 'a big hash is iterated in steps');
  assert.is(seen.size, 1000);
  assert.is(seen.get('k999'), '999');
});

t('encodings: listpack until 512 fields or a 65-byte field/value, never back', async () => {
  await fx.io.hset('h', 'a', '1');
  assert.is(await fx.io.object('ENCODING', 'h'), 'listpack');
  await fx.io.hset('h', 'long', 'x'.repeat(65));
  assert.is(await fx.io.object('ENCODING', 'h'), 'hashtable');
  await fx.io.hdel('h', 'long');
  assert.is(await fx.io.object('ENCODING', 'h'), 'hashtable');
  await fx.io.hset('n', ...Array.from({ length: 512 }, (_, i) => [`f${i}`, 'v']).flat());
  assert.is(await fx.io.object('ENCODING', 'n'), 'listpack');
  await fx.io.hset('n', 'one-more', 'v');
  assert.is(await fx.io.object('ENCODING', 'n'), 'hashtable');
  assert.is(await fx.io.type('n'), 'hash');
  assert.equal((await fx.io.scan('0', 'TYPE', 'hash'))[1].sort(), ['h', 'n']);
});

t('WRONGTYPE on every hash command', async () => {
  await fx.io.rpush('l', 'x');
  for (const c of [['HSET', 'l', 'a', 'b'], ['HSETNX', 'l', 'a', 'b'], ['HGET', 'l', 'a'], ['HMGET', 'l', 'a'], ['HDEL', 'l', 'a'], ['HLEN', 'l'], ['HEXISTS', 'l', 'a'], ['HSTRLEN', 'l', 'a'], ['HKEYS', 'l'], ['HVALS', 'l'], ['HGETALL', 'l'], ['HINCRBY', 'l', 'a', '1'], ['HINCRBYFLOAT', 'l', 'a', '1'], ['HRANDFIELD', 'l'], ['HSCAN', 'l', '0']]) {
    assert.is(await r(...c), WRONG, c.join(' '));
  }
});

t('node-redis in RESP2 and RESP3, and redis-cli', async () => {
  for (const RESP of [2, 3] as const) {
    const c = createClient({ socket: { port: fx.srv.port, host: '127.0.0.1' }, RESP });
    await c.connect();
    await c.hSet('nr', { a: '1', b: '2' });
    assert.equal({ ...(await c.hGetAll('nr')) }, { a: '1', b: '2' });
    assert.is(await c.hIncrBy('nr', 'a', 10), 11);
    assert.equal(await c.hmGet('nr', ['a', 'zz']), ['11', null]);
    const pairs = await c.hRandFieldCountWithValues('nr', 5);
    assert.is(pairs.length, 2);
    await c.del('nr');
    await c.close();
  }
  assert.is((await redisCli(fx.srv.port, ['hset', 'cli', 'f', 'v w'])).stdout.trim(), '1');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'hgetall', 'cli'])).stdout.trim(), '1) "f"\n2) "v w"');
  assert.is((await redisCli(fx.srv.port, ['-3', '--no-raw', 'hgetall', 'cli'])).stdout.trim(), '1# "f" => "v w"');
});

t.run();
