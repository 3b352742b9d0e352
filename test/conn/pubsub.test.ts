// Pub/sub through the real server: exact RESP2 arrays and RESP3 pushes with raw clients,
// the RESP2 subscribed-mode restrictions, patterns, shard channels, introspection
// (PUBSUB, CLIENT LIST, INFO), cleanup on RESET and close, and real clients: ioredis
// subscriber connections, node-redis v6 in RESP3 (pushes on a shared connection) and
// redis-cli.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { redisCli } from '../helpers/cli';
import { errorOf } from '../helpers/errors';
import type { RawClient } from '../helpers/client';
import { startServer, type RunningServer } from '../helpers/server';
import { arr, bulk, expect, infoField, int, push, raw, roundtrip, send, sleep } from './util';

const t = suite('pubsub');
let srv: RunningServer;
let io: Redis;
const raws: RawClient[] = [];

const client = async (): Promise<RawClient> => {
  const c = await raw(srv.port);
  raws.push(c);
  return c;
};

/** Waits until `cond` holds (subscriptions are registered by another connection). */
async function until(cond: () => Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

t.before(async () => {
  srv = await startServer();
  io = new Redis({ port: srv.port, lazyConnect: true });
  await io.connect();
});
t.after(async () => {
  io.disconnect();
  await srv.stop();
});
// Each test starts with no subscriptions.
t.after.each(async () => {
  for (const c of raws.splice(0)) c.close();
  await until(async () => (await io.call('PUBSUB', 'NUMPAT')) === 0 && ((await io.call('PUBSUB', 'CHANNELS')) as string[]).length === 0);
});

t('RESP2: subscribe confirmations, messages, pattern messages and unsubscribe replies, byte for byte', async () => {
  const sub = await client();
  const pub = await client();
  await roundtrip(sub, [['SUBSCRIBE', 'news', 'sport']], arr(bulk('subscribe'), bulk('news'), int(1)) + arr(bulk('subscribe'), bulk('sport'), int(2)));
  await roundtrip(sub, [['PSUBSCRIBE', 'n*s']], arr(bulk('psubscribe'), bulk('n*s'), int(3)));
  // One delivery to the channel subscriber, one to the matching pattern.
  await roundtrip(pub, [['PUBLISH', 'news', 'hello']], int(2));
  await expect(sub, arr(bulk('message'), bulk('news'), bulk('hello')) + arr(bulk('pmessage'), bulk('n*s'), bulk('news'), bulk('hello')));
  await roundtrip(pub, [['PUBLISH', 'nobody', 'x']], int(0));
  await roundtrip(sub, [['UNSUBSCRIBE', 'news']], arr(bulk('unsubscribe'), bulk('news'), int(2)));
  await roundtrip(sub, [['UNSUBSCRIBE']], arr(bulk('unsubscribe'), bulk('sport'), int(1)));
  await roundtrip(sub, [['PUNSUBSCRIBE']], arr(bulk('punsubscribe'), bulk('n*s'), int(0)));
  // Nothing left: out of subscribed mode, Valkey 8 refuses the unsubscribe commands (NOSUB).
  const nosub = (cmd: string): string => `-NOSUB '${cmd}' command executed not in subscribed mode\r\n`;
  await roundtrip(sub, [['UNSUBSCRIBE'], ['PUNSUBSCRIBE']], nosub('unsubscribe') + nosub('punsubscribe'));
  // Out of subscribed mode, every command works again.
  await roundtrip(sub, [['PING'], ['GET', 'nokey']], '+PONG\r\n$-1\r\n');
});

t('RESP2 subscribed mode: other commands refused, PING answers ["pong", msg], QUIT and RESET allowed', async () => {
  const sub = await client();
  await roundtrip(sub, [['SUBSCRIBE', 'c']], arr(bulk('subscribe'), bulk('c'), int(1)));
  const only = 'only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context';
  await roundtrip(
    sub,
    [['GET', 'k'], ['CLIENT', 'ID'], ['MULTI'], ['PING'], ['PING', 'hi']],
    `-ERR Can't execute 'get': ${only}\r\n-ERR Can't execute 'client|id': ${only}\r\n-ERR Can't execute 'multi': ${only}\r\n` +
      arr(bulk('pong'), bulk('')) + arr(bulk('pong'), bulk('hi')),
  );
  // RESET leaves subscribed mode silently.
  await roundtrip(sub, [['RESET'], ['GET', 'k']], '+RESET\r\n$-1\r\n');
  assert.is(await io.call('PUBLISH', 'c', 'm'), 0);
  await roundtrip(sub, [['SUBSCRIBE', 'c'], ['QUIT']], arr(bulk('subscribe'), bulk('c'), int(1)) + '+OK\r\n');
  await sub.readToClose();
  await until(async () => (await io.call('PUBLISH', 'c', 'm')) === 0);
});

t('RESP3: pushes (>), commands allowed while subscribed, a message to oneself comes after the PUBLISH reply', async () => {
  const c = await client();
  send(c, ['HELLO', '3']);
  await c.readUntil('modules\r\n*0\r\n');
  await roundtrip(c, [['SUBSCRIBE', 'r3']], push(bulk('subscribe'), bulk('r3'), int(1)));
  await roundtrip(c, [['SET', 'k', 'v'], ['GET', 'k']], '+OK\r\n' + bulk('v'));
  await roundtrip(c, [['PUBLISH', 'r3', 'self']], int(1) + push(bulk('message'), bulk('r3'), bulk('self')));
  await roundtrip(c, [['PSUBSCRIBE', 'r*']], push(bulk('psubscribe'), bulk('r*'), int(2)));
  assert.is(await io.publish('r3', 'both'), 2);
  await expect(c, push(bulk('message'), bulk('r3'), bulk('both')) + push(bulk('pmessage'), bulk('r*'), bulk('r3'), bulk('both')));
  await roundtrip(c, [['SSUBSCRIBE', 's1'], ['SPUBLISH', 's1', 'sharded']], push(bulk('ssubscribe'), bulk('s1'), int(1)) + int(1) + push(bulk('smessage'), bulk('s1'), bulk('sharded')));
  await roundtrip(
    c,
    [['UNSUBSCRIBE'], ['PUNSUBSCRIBE'], ['SUNSUBSCRIBE'], ['SUNSUBSCRIBE']],
    push(bulk('unsubscribe'), bulk('r3'), int(1)) + push(bulk('punsubscribe'), bulk('r*'), int(0)) +
      push(bulk('sunsubscribe'), bulk('s1'), int(0)) + "-NOSUB 'sunsubscribe' command executed not in subscribed mode\r\n",
  );
});

t('RESP3: messages to oneself from inside MULTI and a script follow the EXEC / EVAL reply, before the next reply (as valkey-server 8.0.1)', async () => {
  const c = await client();
  send(c, ['HELLO', '3']);
  await c.readUntil('modules\r\n*0\r\n');
  await roundtrip(c, [['SUBSCRIBE', 'foo'], ['SSUBSCRIBE', 's1']], push(bulk('subscribe'), bulk('foo'), int(1)) + push(bulk('ssubscribe'), bulk('s1'), int(1)));
  const msg = (ch: string, m: string) => push(bulk('message'), bulk(ch), bulk(m));
  await roundtrip(
    c,
    [['MULTI'], ['PING', 'abc'], ['PUBLISH', 'foo', 'bar'], ['SPUBLISH', 's1', 'vaz'], ['PING', 'def'], ['EXEC'], ['PING', 'next']],
    '+OK\r\n' + '+QUEUED\r\n'.repeat(4) + arr(bulk('abc'), int(1), int(1), bulk('def')) + msg('foo', 'bar') +
      push(bulk('smessage'), bulk('s1'), bulk('vaz')) + bulk('next'),
  );
  const script = 'redis.call("ping","abc") redis.call("publish","foo","bar") redis.call("publish","foo","vaz") return "bla"';
  await roundtrip(c, [['EVAL', script, '0'], ['PING', 'next']], bulk('bla') + msg('foo', 'bar') + msg('foo', 'vaz') + bulk('next'));
});

t('glob patterns (?, [set], escapes) and binary channel names', async () => {
  const c = await client();
  await roundtrip(c, [['PSUBSCRIBE', 'h?llo', 'x[ab]y', 'lit\\*']], arr(bulk('psubscribe'), bulk('h?llo'), int(1)) + arr(bulk('psubscribe'), bulk('x[ab]y'), int(2)) + arr(bulk('psubscribe'), bulk('lit\\*'), int(3)));
  for (const [ch, n] of [['hello', 1], ['hallo', 1], ['hllo', 0], ['xay', 1], ['xcy', 0], ['lit*', 1], ['litx', 0]] as const) {
    assert.is(await io.publish(ch, 'm'), n, ch);
  }
  await expect(
    c,
    arr(bulk('pmessage'), bulk('h?llo'), bulk('hello'), bulk('m')) + arr(bulk('pmessage'), bulk('h?llo'), bulk('hallo'), bulk('m')) +
      arr(bulk('pmessage'), bulk('x[ab]y'), bulk('xay'), bulk('m')) + arr(bulk('pmessage'), bulk('lit\\*'), bulk('lit*'), bulk('m')),
  );
  const bin = Buffer.from([0xff, 0x00, 0x61, 0xe9]);
  const sub = new Redis({ port: srv.port });
  const got = new Promise<[Buffer, Buffer]>((resolve) => sub.on('messageBuffer', (ch: Buffer, msg: Buffer) => resolve([ch, msg])));
  await sub.subscribe(bin.toString('latin1'));
  await sub.subscribe(bin as unknown as string);
  assert.is(await io.publish(bin as unknown as string, bin as unknown as string), 1);
  const [ch, msg] = await got;
  assert.ok(ch.equals(bin) && msg.equals(bin));
  sub.disconnect();
});

t('PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARD*, CLIENT LIST sub=/psub=/flags=P, INFO; close cleans up', async () => {
  const a = await client();
  const b = await client();
  await roundtrip(a, [['SUBSCRIBE', 'ch1', 'ch2'], ['PSUBSCRIBE', 'p*']], arr(bulk('subscribe'), bulk('ch1'), int(1)) + arr(bulk('subscribe'), bulk('ch2'), int(2)) + arr(bulk('psubscribe'), bulk('p*'), int(3)));
  await roundtrip(b, [['SUBSCRIBE', 'ch1'], ['PSUBSCRIBE', 'p*'], ['SSUBSCRIBE', 'sh']], arr(bulk('subscribe'), bulk('ch1'), int(1)) + arr(bulk('psubscribe'), bulk('p*'), int(2)) + arr(bulk('ssubscribe'), bulk('sh'), int(1)));
  assert.equal(((await io.call('PUBSUB', 'CHANNELS')) as string[]).sort(), ['ch1', 'ch2']);
  assert.equal(await io.call('PUBSUB', 'CHANNELS', '*2'), ['ch2']);
  assert.equal(await io.call('PUBSUB', 'NUMSUB', 'ch1', 'ch2', 'none'), ['ch1', 2, 'ch2', 1, 'none', 0]);
  assert.is(await io.call('PUBSUB', 'NUMPAT'), 1);
  assert.equal(await io.call('PUBSUB', 'SHARDCHANNELS'), ['sh']);
  assert.equal(await io.call('PUBSUB', 'SHARDNUMSUB', 'sh'), ['sh', 1]);
  const list = (await io.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  assert.is(list.trim().split('\n').length, 2);
  assert.match(list, /flags=P db=0 sub=2 psub=1 ssub=0 multi=-1/);
  assert.match(list, /flags=P db=0 sub=1 psub=1 ssub=1 multi=-1/);
  assert.not.match((await io.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string, /flags=P/);
  const info = (await io.info('everything')) as string;
  assert.is(infoField(info, 'pubsub_clients'), '2');
  assert.is(infoField(info, 'pubsub_channels'), '2');
  assert.is(infoField(info, 'pubsub_patterns'), '1');
  assert.is(infoField(info, 'pubsubshard_channels'), '1');
  assert.equal(await io.call('PUBSUB', 'NUMSUB'), []);
  assert.is(await errorOf(io.call('PUBSUB', 'CHANNELS', 'a', 'b')), "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.");
  a.close();
  b.close();
  await until(async () => (await io.call('PUBSUB', 'NUMPAT')) === 0);
  assert.equal(await io.call('PUBSUB', 'CHANNELS'), []);
  assert.equal(await io.call('PUBSUB', 'SHARDCHANNELS'), []);
  assert.is(infoField((await io.info('clients')) as string, 'pubsub_clients'), '0');
});

t('ioredis: a subscriber connection receives messages and pattern messages', async () => {
  const sub = new Redis({ port: srv.port });
  const got: string[] = [];
  sub.on('message', (ch: string, m: string) => got.push(`${ch}:${m}`));
  sub.on('pmessage', (p: string, ch: string, m: string) => got.push(`${p}|${ch}:${m}`));
  assert.is(await sub.subscribe('orders', 'alerts'), 2);
  assert.is(await sub.psubscribe('order*'), 3);
  assert.is(await io.publish('orders', 'o1'), 2);
  assert.is(await io.publish('alerts', 'a1'), 1);
  assert.is(await io.publish('orderbook', 'b1'), 1);
  await until(async () => got.length === 4);
  assert.equal(got, ['orders:o1', 'order*|orders:o1', 'alerts:a1', 'order*|orderbook:b1']);
  // (ioredis resolves an argument-less UNSUBSCRIBE only once the count reaches 0, which a
  // pattern subscription prevents, with Valkey as with forkv: name them.)
  assert.is(await sub.unsubscribe('orders', 'alerts'), 1);
  assert.is(await sub.punsubscribe('order*'), 0);
  assert.is(await sub.get('x'), null);
  sub.disconnect();
});

t('deliveries of one PUBLISH beyond the reply buffer (many subscribers, a 200 KB message) arrive whole and in order, to a paused subscriber too', async () => {
  // 40 subscribers x 3 KB: more than one batch of the core's delivery records (64 KB);
  // 200 KB: one delivery longer than the buffer, taken as a Buffer of its own.
  const subs = await Promise.all(Array.from({ length: 40 }, async () => {
    const sub = new Redis({ port: srv.port });
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe('wide');
    return { sub, got };
  }));
  // One subscriber does not read for a while: its deliveries wait in its socket's stream,
  // while the next PUBLISHes reuse the buffers they came from.
  const slow = await client();
  await roundtrip(slow, [['SUBSCRIBE', 'wide']], arr(bulk('subscribe'), bulk('wide'), int(1)));
  slow.socket.pause();
  const messages = ['a', 'b', 'c', 'd'].map((c, i) => c.repeat(i === 2 ? 200 * 1024 : 3000) + String(i));
  for (const m of messages) assert.is(await io.publish('wide', m), 41);
  await until(async () => subs.every((s) => s.got.length === messages.length), 10000);
  for (const { sub, got } of subs) {
    assert.equal(got, messages);
    sub.disconnect();
  }
  slow.socket.resume();
  await expect(slow, messages.map((m) => arr(bulk('message'), bulk('wide'), bulk(m))).join(''), 10000);
});

t('node-redis v6: RESP3 subscriber keeps running commands on the same connection; RESP2 subscriber', async () => {
  const c = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP: 3 });
  await c.connect();
  const got: string[] = [];
  await c.subscribe('r3chan', (m, ch) => got.push(`${ch}:${m}`));
  await c.pSubscribe('r3*', (m, ch) => got.push(`p ${ch}:${m}`));
  assert.is(await c.set('same-conn', '1'), 'OK');
  assert.is(await c.publish('r3chan', 'hello'), 2);
  await until(async () => got.length === 2);
  assert.equal(got.sort(), ['p r3chan:hello', 'r3chan:hello']);
  await c.unsubscribe('r3chan');
  await c.pUnsubscribe();
  assert.is(await c.get('same-conn'), '1');
  c.destroy();
  const r2 = createClient({ socket: { port: srv.port, host: '127.0.0.1' } });
  await r2.connect();
  const sub = r2.duplicate();
  await sub.connect();
  const msgs: string[] = [];
  await sub.subscribe('r2chan', (m) => msgs.push(m));
  assert.is(await r2.publish('r2chan', 'x'), 1);
  await until(async () => msgs.length === 1);
  assert.equal(msgs, ['x']);
  sub.destroy();
  r2.destroy();
});

t('redis-cli: PUBLISH and PUBSUB from the command line', async () => {
  const sub = await client();
  await roundtrip(sub, [['SUBSCRIBE', 'cli']], arr(bulk('subscribe'), bulk('cli'), int(1)));
  assert.is((await redisCli(srv.port, ['PUBLISH', 'cli', 'from redis-cli'])).stdout, '1\n');
  await expect(sub, arr(bulk('message'), bulk('cli'), bulk('from redis-cli')));
  assert.is((await redisCli(srv.port, ['PUBSUB', 'NUMSUB', 'cli'])).stdout, 'cli\n1\n');
});

t.run();
