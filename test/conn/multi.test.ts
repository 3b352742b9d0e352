// MULTI/EXEC/DISCARD/WATCH/UNWATCH through the real server: exact RESP bytes with a raw
// client, ioredis and node-redis transactions, redis-cli, WATCH conflicts between
// clients, host commands queued inside MULTI, and the AOF form of a transaction.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { createClient } from 'redis';

import { redisCli } from '../helpers/cli';
import type { RawClient } from '../helpers/client';
import { startServer, type RunningServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { arr, bulk, raw, roundtrip, send, sleep } from './util';

const t = suite('multi');
let srv: RunningServer;
let io: Redis;
let other: Redis;
const raws: RawClient[] = [];

const client = async (): Promise<RawClient> => {
  const c = await raw(srv.port);
  raws.push(c);
  return c;
};

t.before(async () => {
  srv = await startServer({ args: ['--appendonly', 'yes'] });
  io = new Redis({ port: srv.port, lazyConnect: true });
  other = new Redis({ port: srv.port, lazyConnect: true });
  await Promise.all([io.connect(), other.connect()]);
});
t.after(async () => {
  for (const c of raws) c.close();
  io.disconnect();
  other.disconnect();
  await srv.stop();
});
t.before.each(async () => {
  await io.flushall();
});

t('queued commands reply +QUEUED; EXEC runs them in order, errors inside do not abort', async () => {
  const c = await client();
  await roundtrip(
    c,
    [['MULTI'], ['SET', 'a', 'x'], ['INCR', 'a'], ['GET', 'a'], ['EXEC']],
    '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n' + arr('+OK\r\n', '-ERR value is not an integer or out of range\r\n', bulk('x')),
  );
  await roundtrip(c, [['MULTI'], ['EXEC']], '+OK\r\n*0\r\n');
});

t('queuing errors make EXEC answer EXECABORT; transaction misuse has Valkey errors', async () => {
  const c = await client();
  await roundtrip(
    c,
    [['MULTI'], ['SET', 'a', '1'], ['SET', 'a'], ['NOSUCH', 'x'], ['EXEC'], ['EXISTS', 'a']],
    "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'set' command\r\n" +
      "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n" +
      '-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n',
  );
  await roundtrip(
    c,
    [['EXEC'], ['DISCARD'], ['MULTI'], ['MULTI'], ['WATCH', 'k'], ['SET', 'k', 'v'], ['EXEC']],
    // Valkey 8 refuses MULTI and WATCH inside a transaction as no_multi commands, which
    // aborts it (Redis 7.0 answered "MULTI calls can not be nested" and let EXEC run).
    '-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n-ERR Command not allowed inside a transaction\r\n' +
      '-ERR Command not allowed inside a transaction\r\n+QUEUED\r\n' +
      '-EXECABORT Transaction discarded because of previous errors.\r\n',
  );
  // no_multi commands are refused (and flag the transaction); EXEC with bad arity aborts.
  await roundtrip(
    c,
    [['MULTI'], ['SAVE'], ['EXEC'], ['MULTI'], ['EXEC', 'extra'], ['EXEC']],
    '+OK\r\n-ERR Command not allowed inside a transaction\r\n-EXECABORT Transaction discarded because of previous errors.\r\n' +
      "+OK\r\n-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n-ERR EXEC without MULTI\r\n",
  );
  // DISCARD drops the queue.
  await roundtrip(c, [['MULTI'], ['SET', 'd', '1'], ['DISCARD'], ['EXISTS', 'd']], '+OK\r\n+QUEUED\r\n+OK\r\n:0\r\n');
});

t('WATCH: a touch by another client or by the same client fails EXEC with a null array', async () => {
  const c = await client();
  await roundtrip(c, [['SET', 'k', '1'], ['WATCH', 'k'], ['MULTI'], ['INCR', 'k']], '+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n');
  await other.set('k', '10');
  await roundtrip(c, [['EXEC'], ['GET', 'k']], '*-1\r\n' + bulk('10'));
  // Its own write counts too, and RESP3 gets a null.
  send(c, ['HELLO', '3']);
  await c.readUntil('modules\r\n*0\r\n');
  await roundtrip(c, [['WATCH', 'k'], ['SET', 'k', '2'], ['MULTI'], ['PING'], ['EXEC']], '+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n_\r\n');
  // UNWATCH forgets; watches end with EXEC either way.
  await roundtrip(c, [['WATCH', 'k'], ['SET', 'k', '3'], ['UNWATCH'], ['MULTI'], ['PING'], ['EXEC']], '+OK\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n');
  await roundtrip(c, [['SET', 'k', '4'], ['MULTI'], ['PING'], ['EXEC']], '+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n');
});

t('WATCH: expiry, FLUSHDB, FLUSHALL and SWAPDB touch watched keys as in Valkey', async () => {
  const c = await client();
  const execAfter = async (setup: string[][], between: () => Promise<unknown>, want: string): Promise<void> => {
    await io.flushall();
    send(c, ...setup);
    await c.readUntil('WATCHED\r\n');
    await between();
    await roundtrip(c, [['MULTI'], ['PING'], ['EXEC']], '+OK\r\n+QUEUED\r\n' + want);
  };
  const watched = ['ECHO', 'WATCHED'];
  const fails = '*-1\r\n';
  const runs = '*1\r\n+PONG\r\n';
  // A watched key that expires fails the transaction.
  await execAfter([['SET', 'x', 'v', 'PX', '30'], ['WATCH', 'x'], watched], () => sleep(60), fails);
  // FLUSHALL/FLUSHDB touch existing keys only.
  await execAfter([['SET', 'x', 'v'], ['WATCH', 'x'], watched], () => other.flushall(), fails);
  await execAfter([['WATCH', 'x'], watched], () => other.flushall(), runs);
  await execAfter([['SET', 'x', 'v'], ['WATCH', 'x'], watched], () => other.flushdb(), fails);
  // SWAPDB touches keys that exist on either side.
  await execAfter([['SET', 'x', 'v'], ['WATCH', 'x'], watched], () => other.swapdb(0, 1), fails);
  await execAfter([['WATCH', 'x'], watched], async () => {
    await other.select(1);
    await other.set('x', 'v');
    await other.swapdb(0, 1);
    await other.select(0);
  }, fails);
  await execAfter([['WATCH', 'nothing'], watched], () => other.swapdb(0, 1), runs);
  // The watch remembers its database.
  await execAfter([['SET', 'x', 'v'], ['WATCH', 'x'], watched], async () => {
    await other.select(3);
    await other.set('x', 'elsewhere');
    await other.select(0);
  }, runs);
});

t('host commands queued in MULTI (INFO, CONFIG GET, CLIENT ID, ECHO) run in order inside EXEC', async () => {
  const c = await client();
  send(c, ['CLIENT', 'ID']);
  const id = (await c.readUntil('\r\n')).slice(1, -2);
  await roundtrip(
    c,
    [['MULTI'], ['SET', 'a', '1'], ['CONFIG', 'GET', 'maxclients'], ['CLIENT', 'ID'], ['INCR', 'a'], ['CLIENT', 'SETNAME', 'tx'], ['GET', 'a'], ['EXEC'], ['CLIENT', 'GETNAME']],
    '+OK\r\n' + '+QUEUED\r\n'.repeat(6) +
      arr('+OK\r\n', arr(bulk('maxclients'), bulk('10000')), `:${id}\r\n`, ':2\r\n', '+OK\r\n', bulk('2')) + bulk('tx'),
  );
  const res = await io.multi().set('b', '1').info('server').incr('b').call('CONFIG', 'GET', 'databases').exec();
  assert.equal(res?.[0], [null, 'OK']);
  assert.match(String(res?.[1]?.[1]), /redis_version:/);
  assert.equal(res?.[2], [null, 2]);
  assert.equal(res?.[3], [null, ['databases', '16']]);
});

t('ioredis: MULTI/EXEC pipelines, queuing errors and WATCH conflicts', async () => {
  const res = await io.multi().set('k', 'v').get('k').incr('n').incrby('n', 5).lpush('l', 'a', 'b').lrange('l', 0, -1).exec();
  assert.equal(res, [[null, 'OK'], [null, 'v'], [null, 1], [null, 6], [null, 2], [null, ['b', 'a']]]);
  // An error inside EXEC is one result, the rest still runs.
  const mixed = await io.multi().set('s', 'str').incr('s').set('t', '1').exec();
  assert.is(mixed?.[1]?.[0]?.message, 'ERR value is not an integer or out of range');
  assert.is(await io.get('t'), '1');
  // A queuing error makes exec() reject with EXECABORT.
  const aborted = await errorOf(io.multi().set('u', '1').call('NOPE').exec());
  assert.match(aborted, /EXECABORT Transaction discarded because of previous errors/);
  assert.is(await io.exists('u'), 0);
  // WATCH: a concurrent write turns EXEC into null.
  await io.set('balance', '100');
  await io.watch('balance');
  const bal = Number(await io.get('balance'));
  await other.set('balance', '50');
  assert.is(await io.multi().set('balance', String(bal - 10)).exec(), null);
  assert.is(await io.get('balance'), '50');
  // Without interference it commits (optimistic lock retry).
  await io.watch('balance');
  const bal2 = Number(await io.get('balance'));
  assert.equal(await io.multi().set('balance', String(bal2 - 10)).exec(), [[null, 'OK']]);
  assert.is(await io.get('balance'), '40');
});

t('node-redis v6: multi().exec(), WatchError on a touched key, RESP3 transactions', async () => {
  for (const RESP of [2, 3] as const) {
    const c = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP });
    await c.connect();
    try {
      assert.equal(await c.multi().set('nk', 'v').get('nk').incr('ctr').lPush('nl', 'x').exec(), ['OK', 'v', RESP === 2 ? 1 : 2, RESP === 2 ? 1 : 2]);
      await c.watch('nk');
      await other.set('nk', 'changed');
      const err = await c
        .multi()
        .set('nk', 'mine')
        .exec()
        .then(() => null, (e: unknown) => e as Error);
      // A null EXEC reply is node-redis's WatchError.
      assert.is(err?.message, 'One (or more) of the watched keys has been changed');
      assert.is(await c.get('nk'), 'changed');
    } finally {
      c.destroy();
    }
  }
});

t('redis-cli: a transaction typed on stdin', async () => {
  const r = await redisCli(srv.port, [], 'MULTI\nSET a 1\nINCR a\nEXEC\nMULTI\nFOO\nEXEC\n');
  // redis-cli prints an error reply followed by an empty line.
  assert.is(
    r.stdout,
    "OK\nQUEUED\nQUEUED\nOK\n2\nOK\nERR unknown command 'FOO', with args beginning with: \n\nEXECABORT Transaction discarded because of previous errors.\n\n",
  );
});

/** The AOF incr file's text. */
function aofText(): string {
  const dir = join(srv.dir, 'appendonlydir');
  const incr = readdirSync(dir).filter((f) => f.endsWith('.incr.aof')).sort();
  return incr.map((f) => readFileSync(join(dir, f), 'latin1')).join('');
}

t('AOF: several writes are wrapped in MULTI/EXEC, one write or reads only are not; a served BLPOP is logged as LPOP', async () => {
  const before = aofText().length;
  await io.multi().set('p1', 'a').get('p1').set('p2', 'b').exec();
  await io.multi().set('p3', 'c').exec();
  await io.multi().get('p3').exec();
  const blocked = new Redis({ port: srv.port });
  const served = blocked.blpop('bq', 0);
  await sleep(30);
  await io.rpush('bq', 'job');
  assert.equal(await served, ['bq', 'job']);
  blocked.disconnect();
  let text = '';
  for (let i = 0; i < 50 && !text.includes('LPOP'); i++) {
    await sleep(20);
    text = aofText().slice(before);
  }
  const lines = text.split('\r\n').filter((l) => /^[A-Za-z]/.test(l));
  assert.equal(lines.slice(lines.indexOf('MULTI')), ['MULTI', 'set', 'p1', 'a', 'set', 'p2', 'b', 'EXEC', 'set', 'p3', 'c', 'rpush', 'bq', 'job', 'LPOP', 'bq']);
});

t.run();
