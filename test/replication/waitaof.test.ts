// WAITAOF: the local AOF fsync (appendfsync everysec, always, no) and a forkv replica's
// AOF acknowledged through REPLCONF ACK .. FACK, with Valkey's errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { errOf, info, waitUntil } from '../persistence/util';

const t = suite('replication-waitaof');
const fleet = useFleet(t);

function connect(port: number): Redis {
  return fleet.connect(port);
}

t('WAITAOF waits for the local fsync per appendfsync', async () => {
  const p = await startServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--repl-diskless-sync-delay', '0'] });
  fleet.track(p);
  const io = connect(p.port);
  await io.incr('foo');
  assert.equal(await io.call('WAITAOF', '1', '0', '0'), [1, 0]);
  await io.config('SET', 'appendfsync', 'no');
  await io.incr('foo');
  assert.equal(await io.call('WAITAOF', '1', '0', '50'), [0, 0], 'never fsynced under no: the timeout answers');
  await io.config('SET', 'appendfsync', 'always');
  await io.incr('foo');
  assert.equal(await io.call('WAITAOF', '1', '0', '0'), [1, 0]);
  assert.match(await errOf(io.call('WAITAOF', '2', '0', '0')), /^ERR value is out of range, value must between 0 and 1$/);
  assert.match(await errOf(io.call('WAITAOF', '0', '-1', '0')), /^ERR value is out of range, must be positive$/);
  assert.match(await errOf(io.call('WAITAOF', '0', '0', '-1')), /^ERR timeout is negative$/);
  await io.config('SET', 'appendonly', 'no');
  assert.match(await errOf(io.call('WAITAOF', '1', '0', '0')), /^ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled\.$/);
});

t('WAITAOF counts a forkv replica whose AOF is fsynced', async () => {
  const p = await startServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always', '--repl-diskless-sync-delay', '0'] });
  fleet.track(p);
  const r = await startServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--replicaof', '127.0.0.1', String(p.port)] });
  fleet.track(r);
  const io = connect(p.port);
  await waitUntil('replica online', async () => ((await info(io, 'replication')).get('slave0') ?? '').includes('state=online'), 20000, 50);
  await io.incr('foo');
  assert.equal(await io.call('WAITAOF', '1', '1', '5000'), [1, 1]);
  assert.equal(await io.call('WAITAOF', '0', '2', '200'), [1, 1], 'one replica only: the timeout answers');
  assert.match(await errOf(connect(r.port).call('WAITAOF', '0', '0', '0')), /^ERR WAITAOF cannot be used with replica instances/);
  // With the replica's AOF never fsynced its acknowledgement stays behind.
  await connect(r.port).config('SET', 'appendfsync', 'no');
  await new Promise((res) => setTimeout(res, 1100));
  await io.incr('foo');
  assert.equal(await io.call('WAITAOF', '0', '1', '300'), [1, 0]);
});

t.run();
