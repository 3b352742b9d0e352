// WAIT with real acknowledgements (REPLCONF GETACK sent to the replicas, the client blocked
// until enough acknowledged or the timeout), and min-replicas-to-write/min-replicas-max-lag
// (NOREPLICAS), against forkv and redis-server 7.0 replicas.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startRedis, startServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { errOf, info, waitUntil } from '../persistence/util';

const t = suite('replication-wait');
const fleet = useFleet(t);

async function online(p: Redis, n: number): Promise<void> {
  await waitUntil(`${n} replicas online`, async () => {
    const i = await info(p, 'replication');
    return [...Array(n).keys()].every((k) => (i.get(`slave${k}`) ?? '').includes('state=online'));
  }, 20000, 50);
}

t('WAIT counts replicas that acknowledged the writes (forkv and redis 7.0 replicas)', async () => {
  const p = await startServer({ args: ['--repl-diskless-sync-delay', '0'] });
  fleet.track(p);
  const r1 = await startServer({ args: ['--replicaof', '127.0.0.1', String(p.port)] });
  fleet.track(r1);
  const r2 = await startRedis(['--replicaof', '127.0.0.1', String(p.port)]);
  fleet.track(r2);
  const io = fleet.connect(p.port);
  await online(io, 2);
  // WAIT 0 answers at once with the replicas that already acknowledged.
  assert.ok(((await io.call('WAIT', '0', '0')) as number) <= 2);
  for (let i = 0; i < 20; i++) {
    await io.set(`k${i}`, String(i));
    assert.is(await io.call('WAIT', '2', '5000'), 2);
  }
  // More replicas than there are: the timeout ends the wait with the count.
  await io.set('x', '1');
  const started = Date.now();
  assert.is(await io.call('WAIT', '3', '300'), 2);
  assert.ok(Date.now() - started >= 290);
  assert.is(await fleet.connect(r1.port).get('k19'), '19');
  assert.is(await fleet.connect(r2.port).get('k19'), '19');
  assert.match(await errOf(io.call('WAIT', '1', '-1')), /^ERR timeout is negative$/);
  assert.match(await errOf(io.call('WAIT', 'x', '1')), /^ERR value is not an integer or out of range$/);
  assert.match(await errOf(io.call('WAIT', '2', '18446744073709551616')), /^ERR timeout is not an integer or out of range$/);
  assert.match(await errOf(io.call('WAIT', '2', '9223372036854775807')), /^ERR timeout is out of range$/);
  assert.match(await errOf(fleet.connect(r1.port).call('WAIT', '1', '1')), /^ERR WAIT cannot be used with replica instances/);
});

t('WAIT without replicas times out with 0; a replica stopped from acknowledging is not counted', async () => {
  const p = await startServer({ args: ['--repl-diskless-sync-delay', '0'] });
  fleet.track(p);
  const io = fleet.connect(p.port);
  await io.set('a', '1');
  assert.is(await io.call('WAIT', '1', '100'), 0);
  const r = await startRedis(['--replicaof', '127.0.0.1', String(p.port)]);
  fleet.track(r);
  await online(io, 1);
  await io.set('b', '1');
  assert.is(await io.call('WAIT', '1', '5000'), 1);
  // A paused replica never acknowledges the next write.
  process.kill(r.pid, 'SIGSTOP');
  try {
    await io.set('c', '1');
    assert.is(await io.call('WAIT', '1', '500'), 0);
  } finally {
    process.kill(r.pid, 'SIGCONT');
  }
  assert.is(await io.call('WAIT', '1', '5000'), 1);
});

t('min-replicas-to-write and min-replicas-max-lag refuse writes with NOREPLICAS', async () => {
  const p = await startServer({ args: ['--repl-diskless-sync-delay', '0'] });
  fleet.track(p);
  const io = fleet.connect(p.port);
  await io.config('SET', 'min-replicas-to-write', '1');
  await io.config('SET', 'min-replicas-max-lag', '2');
  assert.match(await errOf(io.set('k', 'v')), /^NOREPLICAS Not enough good replicas to write\.$/);
  assert.is(await io.get('k'), null);
  const r = await startServer({ args: ['--replicaof', '127.0.0.1', String(p.port)] });
  fleet.track(r);
  await online(io, 1);
  await waitUntil('writes accepted', async () => (await io.set('k', 'v').catch(() => null)) === 'OK', 10000, 50);
  // A silent replica is no longer good once its last ACK is older than the lag.
  process.kill(r.pid, 'SIGSTOP');
  try {
    await waitUntil('writes refused again', async () => (await errOf(io.set('k', 'w')).catch(() => '')).startsWith('NOREPLICAS'), 10000, 100);
  } finally {
    process.kill(r.pid, 'SIGCONT');
  }
  await io.config('SET', 'min-replicas-to-write', '0');
  assert.is(await io.set('k', 'x'), 'OK');
});

t.run();
