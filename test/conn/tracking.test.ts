// Client-side caching through real clients: node-redis `clientSideCache` (a cached GET
// is invalidated by another client's SET), RESP3 pushes on a raw connection, RESP2 REDIRECT to a
// client subscribed to __redis__:invalidate, BCAST with prefixes, FLUSHALL, CLIENT LIST
// flags and INFO fields.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { BasicClientSideCache, createClient } from 'redis';

import { text } from '../helpers/client';
import { startServer, type RunningServer } from '../helpers/server';
import { arr, bulk, expect, infoField, push, raw, roundtrip, sleep } from './util';

const t = suite('tracking');
let srv: RunningServer;

t.before(async () => {
  srv = await startServer();
});
t.after(async () => {
  await srv.stop();
});

/** Polls `f` until it returns true (or `ms` passes). */
async function until(f: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await sleep(5);
  return f();
}

t('node-redis clientSideCache: a cached GET is invalidated by another client SET', async () => {
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0, evictPolicy: 'LRU' });
  const cached = createClient({ socket: { port: srv.port }, RESP: 3, clientSideCache: cache });
  const writer = createClient({ socket: { port: srv.port } });
  await cached.connect();
  await writer.connect();
  try {
    await writer.set('csc:k', 'one');
    assert.is(await cached.get('csc:k'), 'one');
    assert.is(await cached.get('csc:k'), 'one');
    assert.is(cache.stats().hitCount, 1, 'the second GET is served from the cache');
    assert.is(cache.size(), 1);
    await writer.set('csc:k', 'two');
    assert.ok(await until(() => cache.size() === 0), 'the invalidation emptied the cache');
    assert.is(await cached.get('csc:k'), 'two');
  } finally {
    await cached.quit();
    await writer.quit();
  }
});

t('RESP3 push: after the reply of the own write; NOLOOP hides it; TRACKINGINFO', async () => {
  const r = await raw(srv.port);
  const other = await raw(srv.port);
  await r.call('HELLO', '3');
  await roundtrip(r, [['CLIENT', 'TRACKING', 'on']], '+OK\r\n');
  await roundtrip(other, [['SET', 'p3', '1']], '+OK\r\n');
  await roundtrip(r, [['GET', 'p3']], bulk('1'));
  await roundtrip(other, [['SET', 'p3', '2']], '+OK\r\n');
  await expect(r, push(bulk('invalidate'), arr(bulk('p3'))));
  // Its own write: the push follows the reply.
  await roundtrip(r, [['GET', 'p3']], bulk('2'));
  await roundtrip(r, [['SET', 'p3', '3']], `+OK\r\n${push(bulk('invalidate'), arr(bulk('p3')))}`);
  await roundtrip(r, [['CLIENT', 'TRACKING', 'on', 'NOLOOP']], '+OK\r\n');
  await roundtrip(r, [['GET', 'p3'], ['SET', 'p3', '4'], ['PING']], `${bulk('3')}+OK\r\n+PONG\r\n`);
  await roundtrip(r, [['CLIENT', 'TRACKINGINFO']], `%3\r\n${bulk('flags')}~2\r\n${bulk('on')}${bulk('noloop')}${bulk('redirect')}:0\r\n${bulk('prefixes')}*0\r\n`);
  r.close();
  other.close();
});

t('RESP2 REDIRECT to a subscriber of __redis__:invalidate; flush sends a null; broken redirect', async () => {
  const sub = await raw(srv.port);
  const subId = Number((await sub.call('CLIENT', 'ID')).value);
  await roundtrip(sub, [['SUBSCRIBE', '__redis__:invalidate']], arr(bulk('subscribe'), bulk('__redis__:invalidate'), ':1\r\n'));
  const message = (keys: string): string => arr(bulk('message'), bulk('__redis__:invalidate'), keys);
  const r = await raw(srv.port);
  const w = await raw(srv.port);
  // Keys read by the clients of earlier tests stay in the table until they change (as in
  // Valkey, ids of gone clients are dropped lazily): start from an empty one.
  await roundtrip(w, [['FLUSHALL']], '+OK\r\n');
  await roundtrip(r, [['CLIENT', 'TRACKING', 'on', 'REDIRECT', String(subId)]], '+OK\r\n');
  await roundtrip(r, [['CLIENT', 'GETREDIR']], `:${subId}\r\n`);
  await roundtrip(r, [['MGET', 'ra', 'rb']], arr('$-1\r\n', '$-1\r\n'));
  await roundtrip(w, [['SET', 'rb', '1']], '+OK\r\n');
  await expect(sub, message(arr(bulk('rb'))));
  const io = new Redis({ port: srv.port });
  assert.is(infoField(await io.info('clients'), 'tracking_clients'), '1');
  assert.is(infoField(await io.info('stats'), 'tracking_total_keys'), '1');
  assert.is(infoField(await io.info('stats'), 'tracking_total_items'), '1');
  io.disconnect();
  await roundtrip(w, [['FLUSHALL']], '+OK\r\n');
  await expect(sub, message('$-1\r\n'));
  sub.close();
  await sleep(50);
  await roundtrip(r, [['GET', 'ra']], '$-1\r\n');
  await roundtrip(w, [['SET', 'ra', '1']], '+OK\r\n');
  await sleep(20);
  const line = text(await r.call('CLIENT', 'INFO')) ?? '';
  assert.match(line, / flags=tR /);
  assert.match(line, new RegExp(` redir=${subId} `));
  r.close();
  w.close();
});

t('BCAST with prefixes: one array per prefix, INFO counts, prefix overlap errors', async () => {
  const io = new Redis({ port: srv.port });
  const r = await raw(srv.port);
  await r.call('HELLO', '3');
  await roundtrip(r, [['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'user:', 'PREFIX', 'user']], "-ERR Prefix 'user:' overlaps with another provided prefix 'user'. Prefixes for a single client must not overlap.\r\n");
  await roundtrip(r, [['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'user:', 'PREFIX', 'item:']], '+OK\r\n');
  await io.mset('user:1', 'a', 'other', 'b', 'user:2', 'c');
  await expect(r, push(bulk('invalidate'), arr(bulk('user:1'), bulk('user:2'))));
  const stats = await io.info('stats');
  assert.is(infoField(stats, 'tracking_total_prefixes'), '2');
  await roundtrip(r, [['CLIENT', 'TRACKING', 'off']], '+OK\r\n');
  assert.is(infoField(await io.info('stats'), 'tracking_total_prefixes'), '0');
  io.disconnect();
  r.close();
});

t.run();
