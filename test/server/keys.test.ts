// Generic key commands and expiry (lazy and active) through real clients.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { errorOf } from '../helpers/errors';
import { useServer } from '../helpers/fixture';

const t = suite('keys');
const fx = useServer(t, { args: ['--hz', '50'] });


const err = errorOf;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t('DEL UNLINK EXISTS TYPE TOUCH', async () => {
  await fx.io.mset('a', '1', 'b', '2', 'c', '3');
  assert.is(await fx.io.exists('a', 'a', 'zz'), 2);
  assert.is(await fx.io.type('a'), 'string');
  assert.is(await fx.io.type('zz'), 'none');
  assert.is(await fx.io.del('a', 'zz'), 1);
  assert.is(await fx.io.unlink('b', 'c'), 2);
  await fx.io.set('t', 'x');
  assert.is(await fx.io.touch('t', 'nope'), 1);
});

t('KEYS with glob patterns and SCAN covering every key', async () => {
  const keys: string[] = [];
  for (let i = 0; i < 1000; i++) keys.push(`user:${i}`, `x${i}`);
  const pipe = fx.io.pipeline();
  for (const k of keys) pipe.set(k, '1');
  await pipe.exec();
  assert.is((await fx.io.keys('user:*')).length, 1000);
  assert.equal((await fx.io.keys('user:1?')).sort(), ['user:10', 'user:11', 'user:12', 'user:13', 'user:14', 'user:15', 'user:16', 'user:17', 'user:18', 'user:19']);
  assert.equal((await fx.io.keys('x[12]0')).sort(), ['x10', 'x20']);
  assert.equal((await fx.io.keys('x[^0-8]')).sort(), ['x9']);
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await fx.io.scan(cursor, 'MATCH', 'user:*', 'COUNT', 50);
    for (const k of batch) seen.add(k);
    cursor = next;
    // Writes during the iteration must not hide keys that existed throughout.
    await fx.io.set(`extra:${cursor}`, '1');
  } while (cursor !== '0');
  assert.is(seen.size, 1000);
  const [, typed] = await fx.io.scan('0', 'COUNT', 10000, 'TYPE', 'hash');
  assert.equal(typed, []);
  assert.is(await err(fx.io.scan('abc')), 'ERR invalid cursor');
  assert.is(await err(fx.io.call('SCAN', '0', 'COUNT', '0')), 'ERR syntax error');
  assert.is(await err(fx.io.call('SCAN', '0', 'TYPE', 'bogus')), "ERR unknown type name 'bogus'");
});

t('RANDOMKEY RENAME RENAMENX COPY MOVE keep values and TTLs', async () => {
  assert.is(await fx.io.randomkey(), null);
  await fx.io.set('src', 'v', 'EX', 100);
  assert.is(await fx.io.randomkey(), 'src');
  assert.is(await fx.io.rename('src', 'dst'), 'OK');
  assert.ok((await fx.io.ttl('dst')) > 90);
  assert.is(await err(fx.io.rename('nope', 'x')), 'ERR no such key');
  await fx.io.set('other', 'o');
  assert.is(await fx.io.renamenx('dst', 'other'), 0);
  assert.is(await fx.io.renamenx('dst', 'dst2'), 1);
  assert.is(await fx.io.call('COPY', 'dst2', 'cp'), 1);
  assert.is(await fx.io.call('COPY', 'dst2', 'other'), 0);
  assert.is(await fx.io.call('COPY', 'dst2', 'other', 'REPLACE'), 1);
  assert.is(await fx.io.get('other'), 'v');
  assert.ok((await fx.io.ttl('other')) > 90);
  assert.is(await fx.io.call('COPY', 'dst2', 'indb3', 'DB', '3'), 1);
  assert.is(await err(fx.io.call('COPY', 'dst2', 'dst2')), 'ERR source and destination objects are the same');
  assert.is(await err(fx.io.call('COPY', 'dst2', 'x', 'DB', '16')), 'ERR DB index is out of range');
  assert.is(await fx.io.move('cp', 5), 1);
  assert.is(await fx.io.exists('cp'), 0);
  assert.is(await err(fx.io.move('dst2', 0)), 'ERR source and destination objects are the same');
  await fx.io.select(5);
  assert.is(await fx.io.get('cp'), 'v');
  await fx.io.select(3);
  assert.is(await fx.io.get('indb3'), 'v');
  await fx.io.select(0);
});

t('EXPIRE family with NX XX GT LT, TTL/PTTL/EXPIRETIME, PERSIST', async () => {
  await fx.io.set('k', 'v');
  assert.is(await fx.io.ttl('k'), -1);
  assert.is(await fx.io.ttl('none'), -2);
  assert.is(await fx.io.call('EXPIRE', 'k', '100', 'XX'), 0);
  assert.is(await fx.io.call('EXPIRE', 'k', '100', 'NX'), 1);
  assert.is(await fx.io.call('EXPIRE', 'k', '50', 'GT'), 0);
  assert.is(await fx.io.call('EXPIRE', 'k', '200', 'GT'), 1);
  assert.is(await fx.io.call('EXPIRE', 'k', '300', 'LT'), 0);
  assert.is(await fx.io.call('EXPIRE', 'k', '10', 'LT'), 1);
  assert.is(await fx.io.ttl('k'), 10);
  assert.is(await err(fx.io.call('EXPIRE', 'k', '10', 'NX', 'XX')), 'ERR NX and XX, GT or LT options at the same time are not compatible');
  assert.is(await err(fx.io.call('EXPIRE', 'k', '10', 'GT', 'LT')), 'ERR GT and LT options at the same time are not compatible');
  assert.is(await err(fx.io.call('EXPIRE', 'k', '10', 'FOO')), 'ERR Unsupported option FOO');
  assert.is(await fx.io.pexpire('k', 5000), 1);
  assert.ok((await fx.io.pttl('k')) <= 5000);
  const at = Math.floor(Date.now() / 1000) + 1000;
  assert.is(await fx.io.expireat('k', at), 1);
  assert.is(await fx.io.call('EXPIRETIME', 'k'), at);
  assert.is(await fx.io.pexpireat('k', at * 1000 + 123), 1);
  assert.is(await fx.io.call('PEXPIRETIME', 'k'), at * 1000 + 123);
  assert.is(await fx.io.persist('k'), 1);
  assert.is(await fx.io.persist('k'), 0);
  assert.is(await fx.io.call('EXPIRETIME', 'k'), -1);
  assert.is(await fx.io.expire('k', -1), 1);
  assert.is(await fx.io.exists('k'), 0);
  assert.is(await fx.io.expire('none', 10), 0);
});

t('lazy expiry on access', async () => {
  await fx.io.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  await fx.io.set('lazy', 'v', 'PX', 30);
  await sleep(60);
  assert.is(await fx.io.dbsize(), 1);
  assert.is(await fx.io.get('lazy'), null);
  assert.is(await fx.io.dbsize(), 0);
  await fx.io.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
});

t('active expiry reclaims keys nobody reads', async () => {
  await fx.io.call('CONFIG', 'RESETSTAT');
  const pipe = fx.io.pipeline();
  for (let i = 0; i < 2000; i++) pipe.set(`ttl:${i}`, 'v', 'PX', 50);
  for (let i = 0; i < 100; i++) pipe.set(`keep:${i}`, 'v');
  await pipe.exec();
  const deadline = Date.now() + 5000;
  while ((await fx.io.dbsize()) > 100 && Date.now() < deadline) await sleep(50);
  assert.is(await fx.io.dbsize(), 100);
  const stats = await fx.io.info('stats');
  assert.match(stats, /expired_keys:2000/);
});

t('DBSIZE FLUSHDB FLUSHALL SELECT SWAPDB', async () => {
  await fx.io.set('a', '1');
  await fx.io.select(1);
  await fx.io.set('b', '1');
  await fx.io.set('c', '1');
  assert.is(await fx.io.dbsize(), 2);
  assert.is(await fx.io.call('SWAPDB', '0', '1'), 'OK');
  assert.is(await fx.io.dbsize(), 1);
  assert.is(await fx.io.flushdb(), 'OK');
  assert.is(await fx.io.dbsize(), 0);
  await fx.io.select(0);
  assert.is(await fx.io.dbsize(), 2);
  assert.is(await err(fx.io.select(16)), 'ERR DB index is out of range');
  assert.is(await err(fx.io.call('FLUSHALL', 'LATER')), 'ERR syntax error');
  assert.is(await fx.io.flushall('ASYNC'), 'OK');
  assert.is(await fx.io.dbsize(), 0);
});

t('OBJECT ENCODING and DEBUG DIGEST / DIGEST-VALUE', async () => {
  await fx.io.set('n', '123');
  await fx.io.set('e', 'short');
  await fx.io.set('r', 'x'.repeat(100));
  assert.is(await fx.io.call('OBJECT', 'ENCODING', 'n'), 'int');
  assert.is(await fx.io.call('OBJECT', 'ENCODING', 'e'), 'embstr');
  assert.is(await fx.io.call('OBJECT', 'ENCODING', 'r'), 'raw');
  assert.is(await fx.io.call('OBJECT', 'ENCODING', 'nope'), null);
  const d1 = (await fx.io.call('DEBUG', 'DIGEST')) as string;
  assert.match(d1, /^[0-9a-f]{40}$/);
  await fx.io.set('e', 'changed');
  const d2 = (await fx.io.call('DEBUG', 'DIGEST')) as string;
  assert.is.not(d1, d2);
  await fx.io.set('e', 'short');
  assert.is(await fx.io.call('DEBUG', 'DIGEST'), d1);
  await fx.io.expire('e', 100);
  assert.is.not(await fx.io.call('DEBUG', 'DIGEST'), d1);
  const [v1, v2] = (await fx.io.call('DEBUG', 'DIGEST-VALUE', 'n', 'none')) as string[];
  assert.match(v1 ?? '', /^[0-9a-f]{40}$/);
  assert.is(v2, '0'.repeat(40));
  await fx.io.flushall();
  assert.is(await fx.io.call('DEBUG', 'DIGEST'), '0'.repeat(40));
});

t.run();
