// String commands through ioredis, node-redis (RESP2 and RESP3) and redis-cli.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from 'redis';
import Valkey from 'iovalkey';

import { redisCli } from '../helpers/cli';
import { errorOf } from '../helpers/errors';
import { useServer } from '../helpers/fixture';

const t = suite('strings');
const fx = useServer(t);


const err = errorOf;

t('SET options: NX XX GET EX PX EXAT PXAT KEEPTTL', async () => {
  assert.is(await fx.io.set('k', 'v1'), 'OK');
  assert.is(await fx.io.set('k', 'v2', 'NX'), null);
  assert.is(await fx.io.set('k', 'v2', 'XX'), 'OK');
  assert.is(await fx.io.set('nx', 'x', 'XX'), null);
  assert.is(await fx.io.set('k', 'v3', 'GET'), 'v2');
  assert.is(await fx.io.set('k', 'v4', 'NX', 'GET'), 'v3');
  assert.is(await fx.io.get('k'), 'v3');
  await fx.io.set('k', 'v', 'EX', 100);
  const ttl = await fx.io.pttl('k');
  assert.ok(ttl > 99_000 && ttl <= 100_000, String(ttl));
  await fx.io.set('k', 'w', 'KEEPTTL');
  assert.ok((await fx.io.pttl('k')) > 99_000);
  await fx.io.set('k', 'w');
  assert.is(await fx.io.ttl('k'), -1);
  await fx.io.set('k', 'v', 'PX', 5000);
  assert.ok((await fx.io.pttl('k')) > 4000);
  const at = Date.now() + 60_000;
  await fx.io.call('SET', 'k', 'v', 'PXAT', String(at));
  assert.is(await fx.io.call('PEXPIRETIME', 'k'), at);
  await fx.io.call('SET', 'k', 'v', 'EXAT', String(Math.floor(at / 1000)));
  assert.is(await fx.io.call('EXPIRETIME', 'k'), Math.floor(at / 1000));
  assert.is(await err(fx.io.call('SET', 'k', 'v', 'NX', 'XX')), 'ERR syntax error');
  assert.is(await err(fx.io.call('SET', 'k', 'v', 'EX', '10', 'PX', '10')), 'ERR syntax error');
  assert.is(await err(fx.io.call('SET', 'k', 'v', 'EX', 'abc')), 'ERR value is not an integer or out of range');
  assert.is(await err(fx.io.call('SET', 'k', 'v', 'EX', '-1')), "ERR invalid expire time in 'set' command");
  assert.is(await err(fx.io.call('SET', 'k', 'v', 'EX', '9223372036854775807')), "ERR invalid expire time in 'set' command");
});

t('SETNX SETEX PSETEX GETSET GETDEL GETEX', async () => {
  assert.is(await fx.io.setnx('a', '1'), 1);
  assert.is(await fx.io.setnx('a', '2'), 0);
  assert.is(await fx.io.setex('b', 10, 'x'), 'OK');
  assert.ok((await fx.io.ttl('b')) === 10);
  assert.is(await fx.io.psetex('c', 1500, 'y'), 'OK');
  assert.ok((await fx.io.pttl('c')) > 1000);
  assert.is(await err(fx.io.setex('b', 0, 'x')), "ERR invalid expire time in 'setex' command");
  assert.is(await fx.io.getset('a', '9'), '1');
  assert.is(await fx.io.getset('new', 'n'), null);
  assert.is(await fx.io.getdel('a'), '9');
  assert.is(await fx.io.exists('a'), 0);
  assert.is(await fx.io.getex('b', 'PERSIST'), 'x');
  assert.is(await fx.io.ttl('b'), -1);
  assert.is(await fx.io.getex('b', 'EX', 50), 'x');
  assert.is(await fx.io.ttl('b'), 50);
  assert.is(await fx.io.getex('missing'), null);
  assert.is(await err(fx.io.call('GETEX', 'b', 'EX', '1', 'PX', '1')), 'ERR syntax error');
});

t('MGET MSET MSETNX, WRONGTYPE, APPEND STRLEN GETRANGE SETRANGE', async () => {
  assert.is(await fx.io.mset('m1', 'a', 'm2', 'b'), 'OK');
  assert.equal(await fx.io.mget('m1', 'm2', 'm3'), ['a', 'b', null]);
  assert.is(await fx.io.msetnx('m3', 'c', 'm1', 'z'), 0);
  assert.is(await fx.io.msetnx('m3', 'c', 'm4', 'd'), 1);
  assert.is(await err(fx.io.call('MSET', 'a', 'b', 'c')), "ERR wrong number of arguments for 'mset' command");
  assert.is(await fx.io.append('s', 'Hello'), 5);
  assert.is(await fx.io.append('s', ' World'), 11);
  assert.is(await fx.io.strlen('s'), 11);
  assert.is(await fx.io.strlen('nothing'), 0);
  assert.is(await fx.io.getrange('s', 0, 4), 'Hello');
  assert.is(await fx.io.getrange('s', -5, -1), 'World');
  assert.is(await fx.io.getrange('s', 5, 2), '');
  assert.is(await fx.io.getrange('s', -1, -5), '');
  assert.is(await fx.io.getrange('s', 0, 100), 'Hello World');
  assert.is(await fx.io.setrange('s', 6, 'Redis'), 11);
  assert.is(await fx.io.get('s'), 'Hello Redis');
  assert.is(await fx.io.setrange('pad', 5, 'x'), 6);
  assert.is(await fx.io.getBuffer('pad').then((b) => b?.toString('hex')), '000000000078');
  assert.is(await fx.io.setrange('empty', 0, ''), 0);
  assert.is(await fx.io.exists('empty'), 0);
  assert.is(await err(fx.io.setrange('s', -1, 'x')), 'ERR offset is out of range');
  assert.is(await err(fx.io.setrange('s', 600_000_000, 'x')), 'ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  // Offsets whose sum with the value length overflows a 64-bit integer (this killed the
  // process once): the size error, and the key and the server are untouched.
  for (const off of ['9223372036854775807', '9223372036854775806']) {
    assert.is(await err(fx.io.setrange('s', off, 'x')), 'ERR string exceeds maximum allowed size (proto-max-bulk-len)');
    assert.is(await err(fx.io.setrange('fresh', off, 'xyz')), 'ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  }
  assert.is(await fx.io.get('s'), 'Hello Redis');
  assert.is(await fx.io.exists('fresh'), 0);
  assert.is(await fx.io.ping(), 'PONG');
  assert.is(await fx.io.strlen('12345'), 0);
  await fx.io.set('n', '12345');
  assert.is(await fx.io.strlen('n'), 5);
  assert.is(await fx.io.append('n', '6'), 6);
  assert.is(await fx.io.get('n'), '123456');
});

t('INCR family with overflow and type errors', async () => {
  assert.is(await fx.io.incr('i'), 1);
  assert.is(await fx.io.incrby('i', 10), 11);
  assert.is(await fx.io.decr('i'), 10);
  assert.is(await fx.io.decrby('i', 20), -10);
  await fx.io.set('i', '9223372036854775806');
  await fx.io.incr('i');
  assert.is(await fx.io.get('i'), '9223372036854775807');
  assert.is(await err(fx.io.incr('i')), 'ERR increment or decrement would overflow');
  assert.is(await err(fx.io.call('DECRBY', 'i', '-9223372036854775808')), 'ERR decrement would overflow');
  await fx.io.set('s', 'abc');
  assert.is(await err(fx.io.incr('s')), 'ERR value is not an integer or out of range');
  await fx.io.set('sp', ' 1');
  assert.is(await err(fx.io.incr('sp')), 'ERR value is not an integer or out of range');
  assert.is(await err(fx.io.call('INCRBY', 'i', '1.5')), 'ERR value is not an integer or out of range');
  assert.is(await fx.io.incrbyfloat('f', '10.5'), '10.5');
  assert.is(await fx.io.incrbyfloat('f', '0.1'), '10.6');
  assert.is(await fx.io.incrbyfloat('f', '-5'), '5.6');
  assert.is(await fx.io.incrbyfloat('f', '5.0e3'), '5005.6');
  assert.is(await err(fx.io.incrbyfloat('f', 'abc')), 'ERR value is not a valid float');
  assert.is(await err(fx.io.incrbyfloat('f', 'inf')), 'ERR increment would produce NaN or Infinity');
});

t('node-redis in RESP2 and RESP3', async () => {
  for (const RESP of [2, 3] as const) {
    const c = createClient({ socket: { port: fx.srv.port, host: '127.0.0.1' }, RESP });
    await c.connect();
    await c.set('nr', 'v', { EX: 30 });
    assert.is(await c.get('nr'), 'v');
    assert.is(await c.ttl('nr'), 30);
    assert.equal(await c.mGet(['nr', 'none']), ['v', null]);
    assert.is(await c.incrByFloat('nf', 1.25), RESP === 3 ? '1.25' : '1.25');
    await c.del(['nr', 'nf']);
    await c.close();
  }
});

t('iovalkey: commands, a pipeline and binary values', async () => {
  const v = new Valkey({ port: fx.srv.port });
  assert.is(await v.set('iv', 'x', 'EX', 20), 'OK');
  const bin = Buffer.from([0, 255, 10, 13]);
  await v.set(Buffer.from('ivb'), bin);
  assert.ok((await v.getBuffer('ivb'))?.equals(bin));
  const res = await v.pipeline().incr('ivc').incr('ivc').get('ivc').exec();
  assert.equal(res?.map(([e, r]) => [e, r]), [[null, 1], [null, 2], [null, '2']]);
  v.disconnect();
});

t('redis-cli: quoting, binary output, errors', async () => {
  assert.is((await redisCli(fx.srv.port, ['set', 'cli key', 'a b c'])).stdout.trim(), 'OK');
  assert.is((await redisCli(fx.srv.port, ['get', 'cli key'])).stdout.trim(), 'a b c');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'incr', 'cli key'])).stdout.trim(), '(error) ERR value is not an integer or out of range');
  await redisCli(fx.srv.port, ['-x', 'set', 'bin'], 'a\u0000b');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'get', 'bin'])).stdout.trim(), '"a\\x00b"');
  assert.is((await redisCli(fx.srv.port, ['--no-raw', 'mget', 'bin', 'none'])).stdout.trim(), '1) "a\\x00b"\n2) (nil)');
});

t.run();
