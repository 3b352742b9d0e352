// Keyspace notifications through the real server and ioredis subscribers: the channel
// forms, class masking, the event names of each family, `new`, `keymiss`, expiry seen
// by the active cycle (no access), events from MULTI, and CLIENT REPLY OFF/SKIP/ON.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';

import { useServer } from '../helpers/fixture';
import { bulk, raw, roundtrip } from './util';

const t = suite('keyspace-events');
const fx = useServer(t);

/** A pattern subscriber on `*` collecting "channel message" lines. */
async function subscriber(): Promise<{ lines: string[]; sub: Redis; next: (n: number, ms?: number) => Promise<string[]> }> {
  const sub = new Redis({ port: fx.srv.port, lazyConnect: true });
  await sub.connect();
  const lines: string[] = [];
  sub.on('pmessage', (_p: string, channel: string, message: string) => lines.push(`${channel} ${message}`));
  await sub.psubscribe('*');
  const next = async (n: number, ms = 2000): Promise<string[]> => {
    const end = Date.now() + ms;
    while (lines.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    return lines.splice(0, n);
  };
  return { lines, sub, next };
}


t('KEA: keyspace then keyevent channel for SET; nothing when off', async () => {
  const { sub, next, lines } = await subscriber();
  await fx.io.config('SET', 'notify-keyspace-events', '');
  await fx.io.set('quiet', '1');
  await fx.io.config('SET', 'notify-keyspace-events', 'KEA');
  await fx.io.set('foo', 'bar');
  assert.equal(await next(2), ['__keyspace@0__:foo set', '__keyevent@0__:set foo']);
  assert.equal(lines, []);
  sub.disconnect();
});

t('event names of each family, masked by class', async () => {
  const { sub, next } = await subscriber();
  await fx.io.config('SET', 'notify-keyspace-events', 'Eglshz$t');
  await fx.io.set('s', '1');
  await fx.io.incr('s');
  await fx.io.incrbyfloat('s', '1.5');
  await fx.io.append('s', 'x');
  await fx.io.expire('s', 100);
  await fx.io.persist('s');
  await fx.io.rename('s', 's2');
  await fx.io.del('s2', 'missing');
  await fx.io.rpush('l', 'a', 'b');
  await fx.io.lmove('l', 'l2', 'LEFT', 'RIGHT');
  await fx.io.rpop('l');
  await fx.io.hset('h', 'f', '1');
  await fx.io.hincrby('h', 'f', 2);
  await fx.io.sadd('st', 'a');
  await fx.io.smove('st', 'st2', 'a');
  await fx.io.zadd('z', 1, 'a');
  await fx.io.zincrby('z', 1, 'a');
  await fx.io.zpopmin('z');
  await fx.io.xadd('x', '*', 'f', 'v');
  const keyevents = (await next(25)).map((l) => l.replace('__keyevent@0__:', ''));
  assert.equal(keyevents, [
    'set s', 'incrby s', 'incrbyfloat s', 'append s', 'expire s', 'persist s', 'rename_from s', 'rename_to s2', 'del s2',
    'rpush l', 'lpop l', 'rpush l2', 'rpop l', 'del l',
    'hset h', 'hincrby h',
    'sadd st', 'srem st', 'del st', 'sadd st2',
    'zadd z', 'zincr z', 'zpopmin z', 'del z',
    'xadd x',
  ]);
  sub.disconnect();
});

t('bitmaps, HyperLogLog, geo and SORT STORE raise Valkey\'s events', async () => {
  const { sub, next } = await subscriber();
  await fx.io.config('SET', 'notify-keyspace-events', 'E$glz');
  await fx.io.setbit('b', 3, 1);
  await fx.io.bitfield('b', 'SET', 'u8', 0, 255);
  await fx.io.call('BITFIELD', 'b', 'GET', 'u8', 0); // a read: no event
  await fx.io.bitop('OR', 'b2', 'b');
  await fx.io.bitop('AND', 'b2', 'nothing');
  await fx.io.pfadd('h', 'a');
  await fx.io.pfadd('h', 'a'); // unchanged: no event
  await fx.io.pfmerge('h2', 'h');
  await fx.io.geoadd('g', 13.361389, 38.115556, 'Palermo');
  await fx.io.call('GEOSEARCHSTORE', 'g2', 'g', 'FROMLONLAT', 13, 38, 'BYRADIUS', 200, 'km');
  await fx.io.call('GEORADIUS', 'g', 13, 38, 200, 'km', 'STORE', 'g3');
  await fx.io.call('GEOSEARCHSTORE', 'g2', 'g', 'FROMLONLAT', 0, 0, 'BYRADIUS', 1, 'km');
  await fx.io.rpush('l', '2', '1');
  await fx.io.sort('l', 'STORE', 'sorted');
  const keyevents = (await next(12)).map((l) => l.replace('__keyevent@0__:', ''));
  assert.equal(keyevents, [
    'setbit b', 'setbit b', 'set b2', 'del b2', 'pfadd h', 'pfadd h2', 'zadd g',
    'geosearchstore g2', 'georadiusstore g3', 'del g2', 'rpush l', 'sortstore sorted',
  ]);
  sub.disconnect();
});

t('new and keymiss are opt-in classes', async () => {
  const { sub, next } = await subscriber();
  await fx.io.config('SET', 'notify-keyspace-events', 'Enm');
  assert.is(await fx.io.config('GET', 'notify-keyspace-events').then((r) => (r as string[])[1]), 'nEm');
  await fx.io.set('k', '1');
  await fx.io.set('k', '2');
  await fx.io.get('nothing');
  assert.equal(await next(2), ['__keyevent@0__:new k', '__keyevent@0__:keymiss nothing']);
  sub.disconnect();
});

t('expired: raised by the active cycle for a key nobody reads', async () => {
  const { sub, next } = await subscriber();
  await fx.io.config('SET', 'notify-keyspace-events', 'Ex');
  await fx.io.psetex('gone', 50, 'v');
  assert.equal(await next(1, 3000), ['__keyevent@0__:expired gone']);
  sub.disconnect();
});

t('events of a transaction are delivered too', async () => {
  const { sub, next } = await subscriber();
  await fx.io.config('SET', 'notify-keyspace-events', 'KA');
  await fx.io.multi().set('a', '1').lpush('b', 'x').exec();
  assert.equal(await next(2), ['__keyspace@0__:a set', '__keyspace@0__:b lpush']);
  sub.disconnect();
});

t('CLIENT REPLY OFF, SKIP, ON: byte for byte', async () => {
  const c = await raw(fx.srv.port);
  // SKIP silences itself and the next command's reply.
  await roundtrip(c, [['CLIENT', 'REPLY', 'SKIP'], ['SET', 'skipped', '1'], ['PING', 'after']], bulk('after'));
  // OFF silences everything until ON, which answers.
  await roundtrip(c, [['CLIENT', 'REPLY', 'OFF'], ['SET', 'off', '1'], ['GET', 'off'], ['CLIENT', 'REPLY', 'ON'], ['GET', 'off']], '+OK\r\n' + bulk('1'));
  assert.is(await fx.io.get('skipped'), '1');
  await roundtrip(c, [['CLIENT', 'REPLY', 'MAYBE']], '-ERR syntax error\r\n');
  c.close();
});

t.run();
