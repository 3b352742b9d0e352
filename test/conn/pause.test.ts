// CLIENT PAUSE / UNPAUSE, CLIENT NO-TOUCH and the `timeout` config through real clients
// (ioredis): a WRITE pause holds writes (not refused) and serves reads, UNPAUSE releases
// the held commands in order, a pause ends at its deadline, expiry waits for the pause,
// NO-TOUCH keeps OBJECT IDLETIME, and an idle client is closed by the cron.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { quiet, useServer } from '../helpers/fixture';

const t = suite('client-pause');
const fx = useServer(t, {}, false);
const extra: Redis[] = [];
t.after.each(() => {
  for (const c of extra.splice(0)) c.disconnect();
});

/** A fresh connection, closed after the test. */
async function client(): Promise<Redis> {
  const c = quiet(fx.srv.port);
  extra.push(c);
  await c.ping();
  return c;
}

/** INFO clients' blocked_clients (CLIENT PAUSE counts the clients it holds). */
async function blockedClients(): Promise<number> {
  const info = await fx.io.info('clients');
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? -1);
}

async function waitFor(cond: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met in time');
}

t('PAUSE WRITE holds a SET but serves GET; UNPAUSE releases the held commands in order', async () => {
  await fx.io.set('k', 'old');
  const a = await client();
  const b = await client();
  assert.is(await fx.io.client('PAUSE', 60000, 'WRITE'), 'OK');
  const order: string[] = [];
  const setA = a.set('k', 'from-a').then((r) => order.push(`a:${r}`));
  await waitFor(async () => (await blockedClients()) === 1);
  const setB = b.incr('counter').then((r) => order.push(`b:${r}`));
  await waitFor(async () => (await blockedClients()) === 2);
  // Reads are served meanwhile, and see nothing of the held writes.
  assert.is(await (await client()).get('k'), 'old');
  assert.is(await fx.io.get('k'), 'old');
  const list = (await fx.io.client('LIST')) as string;
  assert.is(list.split('\n').filter((l) => / flags=b /.test(l)).length, 2);
  assert.equal(order, []);
  assert.is(await fx.io.client('UNPAUSE'), 'OK');
  await Promise.all([setA, setB]);
  assert.equal(order, ['a:OK', 'b:1']);
  assert.is(await fx.io.get('k'), 'from-a');
  assert.is(await blockedClients(), 0);
});

t('a pause ends by itself at its deadline', async () => {
  const a = await client();
  const start = Date.now();
  await fx.io.client('PAUSE', 300, 'WRITE');
  assert.is(await a.set('p', '1'), 'OK');
  const waited = Date.now() - start;
  assert.ok(waited >= 280, `released after ${waited} ms`);
  assert.ok(waited < 3000, `released after ${waited} ms`);
});

t('PAUSE ALL holds reads too; errors answer at once; no-writes scripts pass a WRITE pause', async () => {
  const a = await client();
  await fx.io.client('PAUSE', 60000, 'WRITE');
  assert.match(String(await a.call('CLIENT', 'PAUSE', 'abc').catch((e: unknown) => e)), /timeout is not an integer or out of range/);
  assert.match(String(await a.call('CLIENT', 'PAUSE', '10', 'maybe').catch((e: unknown) => e)), /CLIENT PAUSE mode must be WRITE or ALL/);
  assert.match(String(await a.call('SET', 'x').catch((e: unknown) => e)), /wrong number of arguments for 'set' command/);
  assert.is(await a.eval('#!lua flags=no-writes\nreturn 7', 0), 7);
  const held = a.eval('return 8', 0);
  await waitFor(async () => (await blockedClients()) === 1);
  await fx.io.client('UNPAUSE');
  assert.is(await held, 8);
  await fx.io.client('PAUSE', 250, 'ALL');
  const start = Date.now();
  assert.is(await a.get('k'), 'from-a');
  assert.ok(Date.now() - start >= 200, 'a GET waits for a PAUSE ALL');
});

t('expiry waits for the pause: the key reads as absent but is not deleted', async () => {
  const before = Number(/expired_keys:(\d+)/.exec(await fx.io.info('stats'))?.[1]);
  await fx.io.set('ttl-key', 'v', 'PX', 20);
  await fx.io.client('PAUSE', 60000, 'WRITE');
  await new Promise((r) => setTimeout(r, 250));
  assert.is(await fx.io.get('ttl-key'), null);
  assert.is(await fx.io.exists('ttl-key'), 0);
  assert.is(Number(/expired_keys:(\d+)/.exec(await fx.io.info('stats'))?.[1]), before);
  await fx.io.client('UNPAUSE');
  assert.is(await fx.io.get('ttl-key'), null);
  assert.is(Number(/expired_keys:(\d+)/.exec(await fx.io.info('stats'))?.[1]), before + 1);
});

t('CLIENT NO-TOUCH keeps OBJECT IDLETIME; TOUCH still touches; flags T and e', async () => {
  const a = await client();
  await a.set('lru', 'v');
  assert.is(await a.client('NO-TOUCH', 'ON'), 'OK');
  assert.is(await a.client('NO-EVICT', 'ON'), 'OK');
  assert.match(String(await a.call('CLIENT', 'NO-TOUCH', 'maybe').catch((e: unknown) => e)), /ERR syntax error/);
  await new Promise((r) => setTimeout(r, 2100));
  await a.get('lru');
  assert.ok(Number(await fx.io.object('IDLETIME', 'lru')) >= 2, 'a no-touch GET leaves the clock');
  assert.match((await a.client('INFO')) as string, /flags=eT /);
  await a.touch('lru');
  assert.ok(Number(await fx.io.object('IDLETIME', 'lru')) < 2, 'TOUCH updates the clock even in no-touch mode');
  await a.client('NO-TOUCH', 'OFF');
  assert.match((await a.client('INFO')) as string, /flags=e /);
});

t('CLIENT INFO has the fields of Valkey 8.0 in its order', async () => {
  const line = (await fx.io.client('INFO')) as string;
  const keys = line.trim().split(' ').map((kv) => kv.split('=')[0]);
  assert.equal(keys, [
    'id', 'addr', 'laddr', 'fd', 'name', 'age', 'idle', 'flags', 'db', 'sub', 'psub', 'ssub', 'multi', 'watch', 'qbuf',
    'qbuf-free', 'argv-mem', 'multi-mem', 'rbs', 'rbp', 'obl', 'oll', 'omem', 'tot-mem', 'events', 'cmd', 'user', 'redir',
    'resp', 'lib-name', 'lib-ver', 'tot-net-in', 'tot-net-out', 'tot-cmds',
  ]);
  assert.match(line, / argv-mem=10 multi-mem=0 .* events=r cmd=client\|info /);
});

t('timeout: the cron closes an idle client, not a subscriber', async () => {
  await fx.io.config('SET', 'timeout', '1');
  try {
    const idle = await client();
    const sub = await client();
    await sub.subscribe('ch');
    let closed = false;
    idle.once('close', () => (closed = true));
    await idle.ping();
    // The admin connection stays busy meanwhile, so only `idle` goes idle.
    for (let i = 0; i < 60 && !closed; i++) {
      await fx.io.ping();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(closed, 'the idle client was closed');
    assert.is(sub.status, 'ready');
  } finally {
    await fx.io.config('SET', 'timeout', '0');
  }
});

t.run();
