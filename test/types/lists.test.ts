// List commands through ioredis, node-redis (RESP2 and RESP3), redis-cli and raw RESP:
// replies, edge cases, errors and the listpack/quicklist encodings.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { redisCli } from '../helpers/cli';
import { useServer } from '../helpers/fixture';
import { show } from '../helpers/client';

const t = suite('lists');
const fx = useServer(t);

const err = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
};
const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));

t('push, pop, range, index with negative indexes and huge counts', async () => {
  assert.is(await fx.io.rpush('l', 'a', 'b', 'c'), 3);
  assert.is(await fx.io.lpush('l', 'z', 'y'), 5);
  assert.equal(await fx.io.lrange('l', 0, -1), ['y', 'z', 'a', 'b', 'c']);
  assert.equal(await fx.io.lrange('l', -2, 100), ['b', 'c']);
  assert.equal(await fx.io.lrange('l', 3, 1), []);
  assert.equal(await fx.io.lrange('l', -100, 0), ['y']);
  assert.is(await fx.io.lindex('l', -1), 'c');
  assert.is(await fx.io.lindex('l', 5), null);
  assert.is(await fx.io.lpop('l'), 'y');
  assert.equal(await fx.io.rpop('l', 2), ['c', 'b']);
  assert.equal(await fx.io.lpop('l', 9999999), ['z', 'a']);
  assert.is(await fx.io.exists('l'), 0, 'an emptied list is deleted');
  assert.is(await fx.io.lpop('l'), null);
  assert.is(await r('LPOP', 'l', '2'), '*(nil)');
  assert.is(await r('LLEN', 'l'), '(int 0)');
  assert.is(await fx.io.rpushx('l', 'x'), 0);
  await fx.io.rpush('l', 'a');
  assert.is(await fx.io.lpushx('l', 'x', 'y'), 3);
  assert.is(await r('LPOP', 'l', '0'), '*[]');
  assert.is(await r('LPOP', 'l', '-1'), '(error ERR value is out of range, must be positive)');
  assert.is(await r('LPOP', 'l', '1', '2'), "(error ERR wrong number of arguments for 'lpop' command)");
  assert.is(await r('LRANGE', 'l', 'a', '1'), '(error ERR value is not an integer or out of range)');
  assert.is(await r('LINDEX', 'l', '1.5'), '(error ERR value is not an integer or out of range)');
});

t('LSET, LINSERT, LREM, LTRIM', async () => {
  await fx.io.rpush('l', 'a', 'b', 'a', 'c', 'a');
  assert.is(await fx.io.lset('l', -1, 'A'), 'OK');
  assert.is(await err(fx.io.lset('l', 10, 'x')), 'ERR index out of range');
  assert.is(await err(fx.io.lset('nokey', 0, 'x')), 'ERR no such key');
  assert.is(await fx.io.linsert('l', 'BEFORE', 'c', 'pre'), 6);
  assert.is(await fx.io.linsert('l', 'AFTER', 'nope', 'x'), -1);
  assert.is(await fx.io.linsert('nokey', 'AFTER', 'a', 'x'), 0);
  assert.is(await r('LINSERT', 'l', 'MIDDLE', 'a', 'x'), '(error ERR syntax error)');
  assert.equal(await fx.io.lrange('l', 0, -1), ['a', 'b', 'a', 'pre', 'c', 'A']);
  assert.is(await fx.io.lrem('l', -1, 'a'), 1);
  assert.equal(await fx.io.lrange('l', 0, -1), ['a', 'b', 'pre', 'c', 'A']);
  assert.is(await fx.io.lrem('l', 0, 'zz'), 0);
  assert.is(await fx.io.ltrim('l', 1, -2), 'OK');
  assert.equal(await fx.io.lrange('l', 0, -1), ['b', 'pre', 'c']);
  assert.is(await fx.io.ltrim('l', 5, 10), 'OK');
  assert.is(await fx.io.exists('l'), 0);
  assert.is(await fx.io.ltrim('nokey', 0, 1), 'OK');
});

t('LPOS with RANK, COUNT, MAXLEN', async () => {
  await fx.io.rpush('l', 'a', 'b', 'c', 'b', 'b', 'd');
  assert.is(await fx.io.lpos('l', 'b'), 1);
  assert.is(await fx.io.lpos('l', 'b', 'RANK', -1), 4);
  assert.equal(await fx.io.lpos('l', 'b', 'COUNT', 0), [1, 3, 4]);
  assert.equal(await fx.io.lpos('l', 'b', 'RANK', 2, 'COUNT', 2), [3, 4]);
  assert.equal(await fx.io.lpos('l', 'b', 'COUNT', 0, 'MAXLEN', 2), [1]);
  assert.is(await fx.io.lpos('l', 'zz'), null);
  assert.equal(await fx.io.lpos('nokey', 'a', 'COUNT', 1), []);
  assert.is(await r('LPOS', 'l', 'b', 'RANK', '0'), '(error ERR RANK can\'t be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list)');
  assert.is(await r('LPOS', 'l', 'b', 'COUNT', '-1'), "(error ERR COUNT can't be negative)");
  assert.is(await r('LPOS', 'l', 'b', 'MAXLEN', 'x'), "(error ERR MAXLEN can't be negative)");
  assert.is(await r('LPOS', 'l', 'b', 'FOO', '1'), '(error ERR syntax error)');
});

t('LMOVE, RPOPLPUSH and LMPOP', async () => {
  await fx.io.rpush('src', '1', '2', '3');
  assert.is(await fx.io.lmove('src', 'dst', 'LEFT', 'RIGHT'), '1');
  assert.is(await fx.io.rpoplpush('src', 'dst'), '3');
  assert.equal(await fx.io.lrange('dst', 0, -1), ['3', '1']);
  assert.is(await fx.io.lmove('src', 'src', 'RIGHT', 'LEFT'), '2', 'rotation of a one-element list');
  assert.is(await fx.io.lmove('nokey', 'dst', 'LEFT', 'LEFT'), null);
  await fx.io.set('str', 'x');
  assert.is(await err(fx.io.lmove('src', 'str', 'LEFT', 'LEFT')), 'WRONGTYPE Operation against a key holding the wrong kind of value');
  assert.equal(await fx.io.lrange('src', 0, -1), ['2'], 'nothing moved on WRONGTYPE');
  assert.is(await r('LMOVE', 'src', 'dst', 'UP', 'LEFT'), '(error ERR syntax error)');
  assert.is(await r('LMPOP', '2', 'nokey', 'dst', 'RIGHT', 'COUNT', '5'), '*["dst", *["1", "3"]]');
  assert.is(await r('LMPOP', '1', 'nokey', 'LEFT'), '*(nil)');
  assert.is(await r('LMPOP', '0', 'a', 'LEFT'), '(error ERR numkeys should be greater than 0)');
  assert.is(await r('LMPOP', '1', 'src', 'LEFT', 'COUNT', '0'), '(error ERR count should be greater than 0)');
  assert.is(await r('LMPOP', '5', 'src', 'LEFT'), '(error ERR syntax error)');
});

t('WRONGTYPE everywhere a key holds another type', async () => {
  await fx.io.set('s', 'v');
  for (const c of [['LPUSH', 's', 'x'], ['RPUSHX', 's', 'x'], ['LPOP', 's'], ['LLEN', 's'], ['LRANGE', 's', '0', '1'], ['LINDEX', 's', '0'], ['LSET', 's', '0', 'x'], ['LINSERT', 's', 'BEFORE', 'a', 'b'], ['LREM', 's', '0', 'x'], ['LTRIM', 's', '0', '1'], ['LPOS', 's', 'x'], ['RPOPLPUSH', 's', 'd'], ['LMPOP', '1', 's', 'LEFT']]) {
    assert.is(await r(...c), '(error WRONGTYPE Operation against a key holding the wrong kind of value)', c.join(' '));
  }
});

t('encodings: listpack until a node exceeds 8 KB, back after shrinking below half', async () => {
  await fx.io.rpush('l', 'a', 'b');
  assert.is(await fx.io.object('ENCODING', 'l'), 'listpack');
  assert.is(await fx.io.type('l'), 'list');
  await fx.io.rpush('l', ...Array.from({ length: 90 }, () => 'x'.repeat(100)));
  assert.is(await fx.io.object('ENCODING', 'l'), 'quicklist');
  await fx.io.ltrim('l', 0, 9);
  assert.is(await fx.io.object('ENCODING', 'l'), 'listpack');
  assert.is(await fx.io.llen('l'), 10);
  const big = Array.from({ length: 20000 }, (_, i) => `e${i}`);
  await fx.io.rpush('big', ...big);
  assert.is(await fx.io.object('ENCODING', 'big'), 'quicklist');
  assert.is(await fx.io.lindex('big', 12345), 'e12345');
  assert.is(await fx.io.lindex('big', -2), 'e19998');
  assert.equal(await fx.io.lrange('big', 9998, 10001), ['e9998', 'e9999', 'e10000', 'e10001']);
  assert.is(await fx.io.lset('big', 15000, 'changed'), 'OK');
  assert.is(await fx.io.lpos('big', 'changed'), 15000);
  assert.is(await fx.io.lrem('big', 0, 'e2'), 1);
  assert.is(await fx.io.llen('big'), 19999);
  const scan = await fx.io.scan('0', 'COUNT', '100', 'TYPE', 'list');
  assert.equal(scan[1].sort(), ['big', 'l']);
});

t('node-redis in RESP2 and RESP3, and redis-cli', async () => {
  for (const RESP of [2, 3] as const) {
    const c = createClient({ socket: { port: fx.srv.port, host: '127.0.0.1' }, RESP });
    await c.connect();
    assert.is(await c.rPush('nr', ['a', 'b', 'c']), 3);
    assert.equal(await c.lRange('nr', 0, -1), ['a', 'b', 'c']);
    assert.equal(await c.lPopCount('nr', 2), ['a', 'b']);
    assert.equal(await c.lmPop(['nr'], 'RIGHT'), ['nr', ['c']]);
    assert.is(await c.exists('nr'), 0);
    await c.close();
  }
  assert.is((await redisCli(fx.srv.port, ['rpush', 'cli', 'x y', 'z'])).stdout.trim(), '2');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'lrange', 'cli', '0', '-1'])).stdout.trim(), '1) "x y"\n2) "z"');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'lpop', 'cli', '5'])).stdout.trim(), '1) "x y"\n2) "z"');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'lpop', 'cli', '5'])).stdout.trim(), '(nil)');
});

/** rdb_changes_since_last_save from INFO persistence. */
const dirty = async (): Promise<number> => Number(/rdb_changes_since_last_save:(\d+)/.exec(await fx.io.info('persistence'))?.[1]);

t('LMOVE and a served BLMOVE count one change each, as in Valkey', async () => {
  await fx.io.rpush('src', 'a', 'b');
  const before = await dirty();
  await fx.io.lmove('src', 'dst', 'LEFT', 'LEFT');
  assert.is(await dirty(), before + 1);
  // The move that empties the source and creates the destination is one change too.
  await fx.io.lmove('src', 'dst2', 'LEFT', 'LEFT');
  assert.is(await dirty(), before + 2);
  const waiter = new Redis({ port: fx.srv.port });
  try {
    const moved = waiter.blmove('empty', 'dst3', 'LEFT', 'LEFT', 0);
    await new Promise((res) => setTimeout(res, 100));
    const mark = await dirty();
    await fx.io.lpush('empty', 'x');
    assert.is(await moved, 'x');
    assert.is(await dirty(), mark + 2, 'the LPUSH and the move');
  } finally {
    waiter.disconnect();
  }
});

t('a blocked BLPOP readied by an EXEC whose key expired meanwhile blocks again', async () => {
  await fx.io.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  const waiter = new Redis({ port: fx.srv.port });
  try {
    const start = Date.now();
    const popped = waiter.blpop('mylist', 1);
    await new Promise((res) => setTimeout(res, 100));
    const tx = fx.io.multi();
    tx.rpush('mylist', 'a');
    tx.pexpire('mylist', 100);
    tx.call('DEBUG', 'SLEEP', '0.2');
    await tx.exec();
    assert.is(await popped, null);
    const took = Date.now() - start;
    assert.ok(took >= 950 && took < 1500, `kept the first deadline (${took} ms)`);
  } finally {
    waiter.disconnect();
    await fx.io.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
  }
});

t('timeouts and scores take C hexadecimal floats; out of range timeouts say so', async () => {
  assert.is(await err(fx.io.blpop('nolist', '0x7FFFFFFFFFFFFF')), 'ERR timeout is out of range');
  assert.is(await err(fx.io.blpop('nolist', 'abc')), 'ERR timeout is not a float or out of range');
  assert.is(await fx.io.blpop('nolist', '0x.1p-4'), null);
  await fx.io.zadd('z', '0x1.8p1', 'm');
  assert.is(await fx.io.zscore('z', 'm'), '3');
  assert.is(await fx.io.incrbyfloat('f', '0x10'), '16');
  assert.is(await err(fx.io.zadd('z', '0x', 'm')), 'ERR value is not a valid float');
});

t('list-compress-depth compresses interior quicklist nodes and every command still sees them', async () => {
  await fx.io.config('SET', 'list-max-listpack-size', '4');
  await fx.io.config('SET', 'list-compress-depth', '1');
  try {
    const items = Array.from({ length: 40 }, (_, i) => `${i}`.padStart(30, 'x'));
    await fx.io.rpush('cl', ...items);
    const obj = (await fx.io.call('DEBUG', 'OBJECT', 'cl')) as string;
    assert.match(obj, /ql_nodes:10 .*ql_listpack_max:4 ql_compressed:1/);
    assert.equal(await fx.io.lrange('cl', 0, -1), items);
    assert.is(await fx.io.lindex('cl', 17), items[17]);
    await fx.io.lset('cl', 20, 'changed');
    await fx.io.linsert('cl', 'BEFORE', items[25], 'inserted');
    assert.is(await fx.io.lrem('cl', 0, items[30]), 1);
    const want = [...items];
    want[20] = 'changed';
    want.splice(25, 0, 'inserted');
    want.splice(want.indexOf(items[30]), 1);
    assert.equal(await fx.io.lrange('cl', 0, -1), want);
    assert.equal(await fx.io.call('SORT', 'cl', 'ALPHA', 'LIMIT', '0', '2'), [...want].sort().slice(0, 2));
    // A reload writes the list and reads it back the same.
    await fx.io.call('DEBUG', 'RELOAD');
    assert.equal(await fx.io.lrange('cl', 0, -1), want);
    // A list keeps the depth it was created with; new lists take the new one.
    await fx.io.config('SET', 'list-compress-depth', '0');
    await fx.io.rpush('plain', ...items);
    assert.match((await fx.io.call('DEBUG', 'OBJECT', 'plain')) as string, /ql_compressed:0/);
  } finally {
    await fx.io.config('SET', 'list-max-listpack-size', '-2');
    await fx.io.config('SET', 'list-compress-depth', '0');
  }
});

t.run();
