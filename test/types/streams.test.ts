// Streams through real clients: node-redis' stream API with a consumer group (XADD,
// XGROUP CREATE, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO), blocking XREAD and
// XREADGROUP served by XADD and by timeouts, RESP3 shapes, node sizes following
// stream-node-max-entries, and TYPE / OBJECT ENCODING.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { useServer } from '../helpers/fixture';
import { show } from '../helpers/client';

const t = suite('streams');
const fx = useServer(t);

const r = async (...args: string[]): Promise<string> => show(await fx.raw.call(...args));
/** An entry as `show` prints it. */
const E = (id: string, ...fv: string[]): string => `*[${JSON.stringify(id)}, *[${fv.map((x) => JSON.stringify(x)).join(', ')}]]`;
const A = (...xs: string[]): string => `*[${xs.join(', ')}]`;

t('node-redis: XADD, XGROUP CREATE, XREADGROUP, XACK, XPENDING with a consumer group', async () => {
  const c = createClient({ socket: { port: fx.srv.port } });
  await c.connect();
  try {
    const id1 = await c.xAdd('jobs', '*', { task: 'build', n: '1' });
    const id2 = await c.xAdd('jobs', '*', { task: 'test', n: '2' });
    assert.match(id1, /^\d+-0$/);
    assert.ok(id2 > id1 || id2.split('-')[0] === id1.split('-')[0]);
    assert.is(await c.xGroupCreate('jobs', 'workers', '0'), 'OK');
    const got = await c.xReadGroup('workers', 'w1', { key: 'jobs', id: '>' }, { COUNT: 10 });
    assert.ok(got);
    const batch = got as Array<{ name: string; messages: Array<{ id: string; message: Record<string, string> }> }>;
    assert.is(batch.length, 1);
    assert.is(batch[0]?.name, 'jobs');
    assert.equal(batch[0]?.messages.map((m) => m.id), [id1, id2]);
    assert.equal(batch[0]?.messages[0]?.message, { task: 'build', n: '1' });
    const pending = await c.xPending('jobs', 'workers');
    assert.is(pending.pending, 2);
    assert.is(pending.firstId, id1);
    assert.is(pending.lastId, id2);
    assert.equal(pending.consumers, [{ name: 'w1', deliveriesCounter: 2 }]);
    assert.is(await c.xAck('jobs', 'workers', id1), 1);
    assert.is(await c.xAck('jobs', 'workers', id1), 0);
    const range = await c.xPendingRange('jobs', 'workers', '-', '+', 10);
    assert.equal(range.map((p) => [p.id, p.consumer, p.deliveriesCounter]), [[id2, 'w1', 1]]);
    // Nothing new for another consumer; its history is empty.
    assert.is(await c.xReadGroup('workers', 'w2', { key: 'jobs', id: '>' }), null);
    const claimed = await c.xClaim('jobs', 'workers', 'w2', 0, id2);
    assert.equal(claimed.map((m) => m?.id), [id2]);
    const auto = await c.xAutoClaim('jobs', 'workers', 'w3', 0, '0-0');
    assert.is(auto.nextId, '0-0');
    assert.equal(auto.messages.map((m) => m?.id), [id2]);
    const groups = await c.xInfoGroups('jobs');
    assert.is(groups.length, 1);
    assert.is(groups[0]?.name, 'workers');
    assert.is(groups[0]?.pending, 1);
    assert.is(groups[0]?.['last-delivered-id'], id2);
    const consumers = await c.xInfoConsumers('jobs', 'workers');
    assert.equal(consumers.map((x) => [x.name, x.pending]), [['w1', 0], ['w2', 0], ['w3', 1]]);
    assert.is(await c.xLen('jobs'), 2);
    assert.is(await c.type('jobs'), 'stream');
  } finally {
    await c.quit();
  }
});

t('blocking XREAD is served by XADD on $ and times out with a null reply', async () => {
  const waiter = new Redis({ port: fx.srv.port });
  try {
    await fx.io.xadd('s', '1-1', 'a', '1');
    const pending = waiter.xread('BLOCK', 5000, 'STREAMS', 's', '$');
    await waitBlocked(1);
    await fx.io.xadd('s', '2-1', 'b', '2');
    assert.equal(await pending, [['s', [['2-1', ['b', '2']]]]]);
    const started = Date.now();
    assert.is(await waiter.xread('BLOCK', 100, 'STREAMS', 's', '$'), null);
    assert.ok(Date.now() - started >= 90);
  } finally {
    waiter.disconnect();
  }
});

t('blocking XREADGROUP is served by XADD, and answers -NOGROUP when the group goes', async () => {
  const waiter = new Redis({ port: fx.srv.port });
  try {
    await fx.io.call('XGROUP', 'CREATE', 'q', 'g', '$', 'MKSTREAM');
    const pending = waiter.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 'q', '>');
    await waitBlocked(1);
    await fx.io.xadd('q', '5-5', 'k', 'v');
    // (ioredis unwraps the one-stream reply of a blocked XREADGROUP, for Valkey too.)
    assert.equal(await pending, ['q', [['5-5', ['k', 'v']]]]);
    assert.equal(await fx.io.call('XPENDING', 'q', 'g'), [1, '5-5', '5-5', [['c', '1']]]);
    const gone = waiter.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 'q', '>').catch((e: Error) => e.message);
    await waitBlocked(1);
    await fx.io.call('XGROUP', 'DESTROY', 'q', 'g');
    assert.match(String(await gone), /^NOGROUP No such key 'q' or consumer group 'g'/);
  } finally {
    waiter.disconnect();
  }
});

t('XRANGE, XREVRANGE, XDEL, XTRIM, XINFO and their RESP2/RESP3 shapes and errors', async () => {
  for (let i = 1; i <= 5; i++) await fx.io.xadd('s', `${i}-0`, 'f', `${i}`);
  assert.is(await r('XRANGE', 's', '(2-0', '4'), A(E('3-0', 'f', '3'), E('4-0', 'f', '4')));
  assert.is(await r('XREVRANGE', 's', '+', '-', 'COUNT', '2'), A(E('5-0', 'f', '5'), E('4-0', 'f', '4')));
  assert.is(await r('XDEL', 's', '1-0', '9-0'), '(int 1)');
  assert.is(await r('XTRIM', 's', 'MAXLEN', '2'), '(int 2)');
  assert.is(await r('XRANGE', 's', '-', '+'), A(E('4-0', 'f', '4'), E('5-0', 'f', '5')));
  assert.is(await r('XADD', 's', '3-0', 'x', 'y'), '(error ERR The ID specified in XADD is equal or smaller than the target stream top item)');
  assert.is(await r('XADD', 's', 'NOMKSTREAM', 'MAXLEN', '1', '*'), '(error ERR wrong number of arguments for \'xadd\' command)');
  assert.is(await r('XADD', 'nokey', 'NOMKSTREAM', '*', 'a', 'b'), '(nil)');
  assert.is(await r('XTRIM', 's', 'MAXLEN', '1', 'LIMIT', '5'), '(error ERR syntax error, LIMIT cannot be used without the special ~ option)');
  assert.is(await r('XRANGE', 's', '(-', '+'), '(error ERR Invalid stream ID specified as stream command argument)');
  assert.is(await r('XREAD', 'STREAMS', 's', 't', '0'), '(error ERR Unbalanced \'xread\' list of streams: for each stream key an ID or \'$\' must be specified.)');
  await fx.raw.call('HELLO', '3');
  try {
    assert.is(await r('XREAD', 'STREAMS', 's', '4-0'), `%{"s": ${A(E('5-0', 'f', '5'))}}`);
    assert.is(await r('XREAD', 'STREAMS', 's', '+'), `%{"s": ${A(E('5-0', 'f', '5'))}}`);
    assert.match(await r('XREAD', 'STREAMS', 's', '5-0'), /^_/);
  } finally {
    await fx.raw.call('HELLO', '2');
  }
  assert.is(await r('OBJECT', 'ENCODING', 's'), '"stream"');
  assert.is(await r('TYPE', 's'), '+stream');
});

t('nodes follow stream-node-max-entries: MAXLEN ~ drops whole nodes and is logged exact', async () => {
  await fx.io.config('SET', 'stream-node-max-entries', '10');
  try {
    for (let i = 1; i <= 100; i++) await fx.io.xadd('s', `${i}-0`, 'f', 'v');
    const info = (await fx.io.call('XINFO', 'STREAM', 's')) as unknown[];
    assert.is(info[info.indexOf('radix-tree-keys') + 1], 10);
    assert.is(await fx.io.xtrim('s', 'MAXLEN', '~', 55), 40);
    assert.is(await fx.io.xlen('s'), 60);
    assert.is(await fx.io.xtrim('s', 'MAXLEN', '~', 55), 0);
    assert.is(await fx.io.xtrim('s', 'MAXLEN', 55), 5);
  } finally {
    await fx.io.config('SET', 'stream-node-max-entries', '100');
  }
});

async function waitBlocked(n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const m = /blocked_clients:(\d+)/.exec(await fx.io.info('clients'));
    if (m && Number(m[1]) >= n) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('client did not block');
}

t.run();
