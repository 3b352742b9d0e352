// SHUTDOWN with replicas attached, as Valkey's prepareForShutdown: the primary waits up to
// `shutdown-timeout` seconds for every replica to acknowledge its offset (INFO
// shutdown_in_milliseconds counts down), logs each lagging replica and how many are in
// sync, and exits; SHUTDOWN NOW does not wait; SHUTDOWN ABORT ends the wait and every
// SHUTDOWN waiting gets an error; writes are paused meanwhile. The replica is a raw connection that speaks PSYNC and
// acknowledges only when the test says so.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { RawClient } from '../helpers/client';
import { useFleet } from '../helpers/fixture';
import { startServer, type RunningServer } from '../helpers/server';
import { errOf, info, infoNum, waitUntil } from '../persistence/util';

const t = suite('shutdown-wait');
const fleet = useFleet(t);

/** A primary with one raw replica that has synced and acknowledged nothing since. */
async function primaryWithReplica(timeoutSec: number): Promise<{ srv: RunningServer; replica: RawClient; ack: () => Promise<void> }> {
  const srv = fleet.track(await startServer({ args: ['--shutdown-timeout', String(timeoutSec)] }));
  const replica = await RawClient.connect(srv.port);
  replica.write('REPLCONF listening-port 7777\r\n');
  assert.is(await replica.readUntil('\r\n'), '+OK\r\n');
  replica.write('PSYNC ? -1\r\n');
  assert.match(await replica.readUntil('\r\n', 10000), /^\+FULLRESYNC /);
  const header = (await replica.readUntil('\r\n', 10000)).replace(/^\n+/, '');
  await replica.readBytes(Number(/^\$(\d+)\r\n$/.exec(header)?.[1]), 10000);
  const io = fleet.connect(srv.port);
  // Acknowledges whatever offset the primary is at now.
  const ack = async (): Promise<void> => {
    const offset = Number((await info(io, 'replication')).get('master_repl_offset'));
    replica.write(`REPLCONF ACK ${offset}\r\n`);
  };
  await ack();
  await waitUntil('the replica online', async () => (await info(io, 'replication')).get('slave0')?.includes('state=online') === true, 5000);
  return { srv, replica, ack };
}

t('SHUTDOWN waits for a lagging replica up to shutdown-timeout, then exits and logs it', async () => {
  const { srv, replica } = await primaryWithReplica(1);
  const io = fleet.connect(srv.port);
  await io.incr('k');
  const started = Date.now();
  void io.shutdown().catch(() => undefined);
  const watcher = fleet.connect(srv.port);
  await waitUntil('shutdown_in_milliseconds > 0', async () => (await infoNum(watcher, 'shutdown_in_milliseconds')) > 0, 2000, 10);
  await srv.waitFor(/Waiting for replicas before shutting down\./, 2000);
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  assert.ok(Date.now() - started >= 900, `exited after ${Date.now() - started} ms`);
  await srv.waitFor(/0 of 1 replicas are in sync when shutting down\./, 2000);
  assert.match(srv.output(), /Lagging replica 127\.0\.0\.1:7777 reported offset \d+ behind master, lag=\d+, state=online\./);
  replica.socket.destroy();
});

t('SHUTDOWN exits as soon as the replica acknowledges; SHUTDOWN NOW does not wait', async () => {
  const { srv, replica, ack } = await primaryWithReplica(300);
  const io = fleet.connect(srv.port);
  await io.incr('k');
  void io.shutdown().catch(() => undefined);
  await srv.waitFor(/Waiting for replicas before shutting down\./, 2000);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(srv.proc.exitCode, null);
  await ack();
  const exit = await srv.exited;
  assert.is(exit.code, 0);
  await srv.waitFor(/1 of 1 replicas are in sync when shutting down\./, 2000);
  assert.not.match(srv.output(), /Lagging replica/);
  replica.socket.destroy();

  const second = await primaryWithReplica(300);
  const io2 = fleet.connect(second.srv.port);
  await io2.incr('k');
  await io2.call('SHUTDOWN', 'NOW').catch(() => undefined);
  assert.is((await second.srv.exited).code, 0);
  assert.not.match(second.srv.output(), /Waiting for replicas/);
  second.replica.socket.destroy();
});

t('SHUTDOWN ABORT ends the wait: every waiting SHUTDOWN gets an error and the server stays up', async () => {
  const { srv, replica } = await primaryWithReplica(300);
  const io = fleet.connect(srv.port);
  await io.incr('k');
  const a = errOf(fleet.connect(srv.port).shutdown());
  const b = errOf(fleet.connect(srv.port).shutdown());
  await srv.waitFor(/Waiting for replicas before shutting down\./, 2000);
  // Writes are paused while the shutdown waits (Valkey's PAUSE_DURING_SHUTDOWN); reads are
  // served. The waiting SHUTDOWNs count as blocked clients, the replica not as a client.
  const writer = fleet.connect(srv.port);
  let written = false;
  const write = writer.set('paused', '1').then((r) => {
    written = true;
    return r;
  });
  assert.is(await io.get('k'), '1');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(written, false);
  assert.is(await io.call('CLIENT', 'UNPAUSE'), 'OK');
  await new Promise((r) => setTimeout(r, 100));
  assert.is(written, false, 'CLIENT UNPAUSE leaves the shutdown pause');
  const clients = await info(io, 'clients');
  assert.is(clients.get('blocked_clients'), '3');
  assert.is(clients.get('connected_clients'), '5', 'five clients, the replica not counted');
  assert.is(await io.call('SHUTDOWN', 'ABORT'), 'OK');
  assert.is(await write, 'OK');
  assert.match(await a, /Errors trying to SHUTDOWN\. Check logs\./);
  assert.match(await b, /Errors trying to SHUTDOWN\. Check logs\./);
  await srv.waitFor(/Shutdown manually aborted\./, 2000);
  assert.is(await io.ping(), 'PONG');
  assert.is(await infoNum(io, 'shutdown_in_milliseconds'), 0);
  replica.socket.destroy();
});

t.run();
