// Blocking list and sorted-set pops through the real server: exact timeout replies in
// RESP2 and RESP3, Valkey's timeout errors, FIFO between clients blocked on one key, the
// server serving others while a client waits, wake-up by another client and by
// MULTI/EXEC, CLIENT UNBLOCK, pipelined input after a blocking command, INFO and CLIENT
// LIST, and ioredis / node-redis / redis-cli as clients.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { redisCli } from '../helpers/cli';
import { errorOf } from '../helpers/errors';
import type { RawClient } from '../helpers/client';
import { useServer } from '../helpers/fixture';
import { arr, bulk, expect, infoField, int, raw, roundtrip, send, silent, sleep } from './util';

const t = suite('blocking');
const fx = useServer(t);
const raws: RawClient[] = [];

const client = async (): Promise<RawClient> => {
  const c = await raw(fx.srv.port);
  raws.push(c);
  return c;
};

/** The id of a raw client (CLIENT ID). */
async function idOf(c: RawClient): Promise<number> {
  send(c, ['CLIENT', 'ID']);
  return Number((await c.readUntil('\r\n')).slice(1, -2));
}

/** Waits until INFO reports `n` blocked clients (blocking happens on another socket). */
async function blocked(n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (infoField((await fx.io.info('clients')) as string, 'blocked_clients') === String(n)) return;
    await sleep(5);
  }
  throw new Error(`blocked_clients never reached ${n}`);
}

t.after.each(async () => {
  for (const c of raws.splice(0)) c.close();
  await blocked(0);
});

t('timeouts answer a null array: *-1 in RESP2, _ in RESP3, for every blocking command', async () => {
  const c = await client();
  const started = Date.now();
  await roundtrip(
    c,
    [['BLPOP', 'l', '0.05'], ['BRPOP', 'l', 'l2', '0.05'], ['BLMOVE', 'l', 'd', 'LEFT', 'RIGHT', '0.05'], ['BRPOPLPUSH', 'l', 'd', '0.05'], ['BLMPOP', '0.05', '1', 'l', 'LEFT'], ['BZPOPMIN', 'z', '0.05'], ['BZPOPMAX', 'z', '0.05'], ['BZMPOP', '0.05', '1', 'z', 'MAX']],
    '*-1\r\n'.repeat(8),
  );
  const took = Date.now() - started;
  assert.ok(took >= 8 * 50 - 10 && took < 2000, `took ${took} ms`);
  send(c, ['HELLO', '3']);
  await c.readUntil('modules\r\n*0\r\n');
  await roundtrip(c, [['BLPOP', 'l', '0.02'], ['BZMPOP', '0.02', '2', 'z', 'y', 'MIN']], '_\r\n_\r\n');
});

t("Valkey's timeout and syntax errors", async () => {
  const c = await client();
  await roundtrip(
    c,
    [['BLPOP', 'l', 'abc'], ['BLPOP', 'l', '-1'], ['BLPOP', 'l', 'inf'], ['BRPOP', 'l', '1e30'], ['BZPOPMIN', 'z', 'nan'], ['BLMOVE', 'l', 'd', 'UP', 'LEFT', '1'], ['BLMOVE', 'l', 'd', 'LEFT', 'LEFT', 'x'], ['BLMPOP', '1', '0', 'l', 'LEFT'], ['BLMPOP', '1', '2', 'l', 'LEFT'], ['BLMPOP', '1', '1', 'l', 'LEFT', 'COUNT', '0'], ['BZMPOP', '1', '1', 'z', 'LEFT'], ['BLMPOP', 'x', '1', 'l', 'LEFT'], ['BLPOP', 'l']],
    '-ERR timeout is not a float or out of range\r\n-ERR timeout is negative\r\n-ERR timeout is out of range\r\n-ERR timeout is out of range\r\n' +
      '-ERR timeout is not a float or out of range\r\n-ERR syntax error\r\n-ERR timeout is not a float or out of range\r\n' +
      '-ERR numkeys should be greater than 0\r\n-ERR syntax error\r\n-ERR count should be greater than 0\r\n-ERR syntax error\r\n' +
      "-ERR timeout is not a float or out of range\r\n-ERR wrong number of arguments for 'blpop' command\r\n",
  );
  await fx.io.set('str', 'x');
  await roundtrip(c, [['BLPOP', 'nokey', 'str', '0'], ['BZPOPMIN', 'str', '0']], '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'.repeat(2));
});

t('FIFO: three clients blocked on one key are served in the order they blocked', async () => {
  const [a, b, c] = [await client(), await client(), await client()];
  send(a, ['BLPOP', 'q', '0']);
  await blocked(1);
  send(b, ['BRPOP', 'q', '0']);
  await blocked(2);
  send(c, ['BLPOP', 'other', 'q', '0']);
  await blocked(3);
  assert.is(await fx.io.rpush('q', 'first'), 1);
  await expect(a, arr(bulk('q'), bulk('first')));
  assert.ok(await silent(b, 30));
  // Two elements at once: the next two waiters, in order.
  assert.is(await fx.io.rpush('q', 'second', 'third'), 2);
  await expect(b, arr(bulk('q'), bulk('third')));
  await expect(c, arr(bulk('q'), bulk('second')));
  assert.is(await fx.io.exists('q'), 0);
});

t('a blocked client does not block the server: others are answered while it waits', async () => {
  const waiter = await client();
  send(waiter, ['BLPOP', 'never', '0']);
  await blocked(1);
  const other = await client();
  // BLPOP with timeout 0 never returns on its own: these replies came while it waited.
  await roundtrip(other, [['PING'], ['SET', 'k', 'v'], ['GET', 'k']], '+PONG\r\n+OK\r\n' + bulk('v'));
  assert.ok(await silent(waiter, 20));
  const list = (await fx.io.call('CLIENT', 'LIST')) as string;
  assert.match(list, /flags=b db=0 .*cmd=blpop/);
  const info = (await fx.io.info('clients')) as string;
  assert.is(infoField(info, 'blocked_clients'), '1');
  assert.is(infoField(info, 'total_blocking_keys'), '1');
  assert.is(infoField(info, 'clients_in_timeout_table'), '0');
});

t('commands pipelined behind a blocking command wait for it, then run in order', async () => {
  const c = await client();
  send(c, ['BLPOP', 'p', '0'], ['RPUSH', 'p2', 'x'], ['LLEN', 'p2']);
  await blocked(1);
  assert.is(await fx.io.exists('p2'), 0);
  await fx.io.lpush('p', 'go');
  await expect(c, arr(bulk('p'), bulk('go')) + int(1) + int(1));
});

t('MULTI/EXEC wakes blocked clients after the transaction completes', async () => {
  const w = await client();
  send(w, ['BLMOVE', 'src', 'dst', 'RIGHT', 'LEFT', '0']);
  await blocked(1);
  const res = await fx.io.multi().rpush('src', 'a', 'b').llen('src').lrange('dst', 0, -1).exec();
  // Inside the transaction nothing was taken yet.
  assert.equal(res, [[null, 2], [null, 2], [null, []]]);
  await expect(w, bulk('b'));
  assert.equal(await fx.io.lrange('dst', 0, -1), ['b']);
  assert.equal(await fx.io.lrange('src', 0, -1), ['a']);
});

t('blocking commands inside MULTI behave as their non-blocking form', async () => {
  const c = await client();
  await roundtrip(
    c,
    [['MULTI'], ['BLPOP', 'e', '0'], ['BLMOVE', 'e', 'd', 'LEFT', 'LEFT', '0'], ['BZPOPMIN', 'e', '0'], ['RPUSH', 'e', 'v'], ['BLPOP', 'e', '0'], ['EXEC']],
    '+OK\r\n' + '+QUEUED\r\n'.repeat(5) + arr('*-1\r\n', '$-1\r\n', '*-1\r\n', int(1), arr(bulk('e'), bulk('v'))),
  );
});

t('CLIENT UNBLOCK: TIMEOUT answers a null array, ERROR answers -UNBLOCKED; 0 when not blocked', async () => {
  const c = await client();
  const id = await idOf(c);
  send(c, ['BZPOPMIN', 'z', '0']);
  await blocked(1);
  assert.is(await fx.io.call('CLIENT', 'UNBLOCK', String(id)), 1);
  await expect(c, '*-1\r\n');
  send(c, ['BLMPOP', '0', '1', 'l', 'LEFT'], ['PING']);
  await blocked(1);
  assert.is(await fx.io.call('CLIENT', 'UNBLOCK', String(id), 'ERROR'), 1);
  await expect(c, '-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n+PONG\r\n');
  assert.is(await fx.io.call('CLIENT', 'UNBLOCK', String(id)), 0);
  assert.is(await fx.io.call('CLIENT', 'UNBLOCK', '999999'), 0);
  assert.is(await errorOf(fx.io.call('CLIENT', 'UNBLOCK', String(id), 'LATER')), 'ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
  assert.is(await errorOf(fx.io.call('CLIENT', 'UNBLOCK', 'abc')), 'ERR value is not an integer or out of range');
});

t('a waiter of the wrong type stays blocked; BLMOVE chains serve the next waiter; a timeout keeps its deadline', async () => {
  const [lw, zw, chained] = [await client(), await client(), await client()];
  send(lw, ['BLPOP', 'k', '1']);
  send(zw, ['BZPOPMAX', 'k', '0']);
  await blocked(2);
  await fx.io.zadd('k', 1, 'm1', 2, 'm2');
  await expect(zw, arr(bulk('k'), bulk('m2'), bulk('2')));
  assert.ok(await silent(lw, 30));
  // The list waiter still times out at its deadline.
  await expect(lw, '*-1\r\n', 2000);
  // BLMOVE pushes to a key another client waits on: both are served.
  send(chained, ['BLPOP', 'stage2', '0']);
  const mover = await client();
  send(mover, ['BLMOVE', 'stage1', 'stage2', 'LEFT', 'RIGHT', '0']);
  await blocked(2);
  await fx.io.rpush('stage1', 'job');
  await expect(mover, bulk('job'));
  await expect(chained, arr(bulk('stage2'), bulk('job')));
});

t('ioredis and node-redis: BLPOP/BRPOP/BZPOPMIN/BLMPOP woken by another connection', async () => {
  const blocker = new Redis({ port: fx.srv.port });
  const p1 = blocker.blpop('jobs', 0);
  await blocked(1);
  await fx.io.rpush('jobs', 'j1');
  assert.equal(await p1, ['jobs', 'j1']);
  const p2 = blocker.bzpopmin('scores', 0);
  await blocked(1);
  await fx.io.zadd('scores', 5, 'five', 3, 'three');
  assert.equal(await p2, ['scores', 'three', '3']);
  assert.is(await blocker.brpop('empty', 0.05), null);
  const p3 = blocker.call('BLMPOP', '0', '2', 'l1', 'l2', 'RIGHT', 'COUNT', '2');
  await blocked(1);
  await fx.io.rpush('l2', 'a', 'b', 'c');
  assert.equal(await p3, ['l2', ['c', 'b']]);
  blocker.disconnect();
  const nr = createClient({ socket: { port: fx.srv.port, host: '127.0.0.1' }, RESP: 3 });
  await nr.connect();
  const p4 = nr.blPop('nrq', 0);
  await blocked(1);
  await fx.io.lpush('nrq', 'x');
  assert.equal(await p4, { key: 'nrq', element: 'x' });
  assert.is(await nr.blPop('nrq', 0.05), null);
  nr.destroy();
});

t('closing a blocked connection forgets it; redis-cli BLPOP', async () => {
  const c = await client();
  send(c, ['BLPOP', 'gone', '0']);
  await blocked(1);
  c.close();
  await blocked(0);
  await fx.io.rpush('gone', 'kept');
  assert.equal(await fx.io.lrange('gone', 0, -1), ['kept']);
  assert.is((await redisCli(fx.srv.port, ['BLPOP', 'gone', '1'])).stdout, 'gone\nkept\n');
  assert.is((await redisCli(fx.srv.port, ['BLPOP', 'gone', '0.05'])).stdout, '\n');
});

t.run();
