// forkv as a primary with `repl-diskless-sync yes` (Valkey 8's default): the forked child
// writes `$EOF:<mark>`, the snapshot and the mark into a pipe the primary copies to the
// replica sockets; the stream buffered since the fork starts with the replica's first
// REPLCONF ACK. Real replicas (Debian redis-server 7.0, Valkey 8.0.1, forkv) sync this
// way; `repl-diskless-sync-delay` and `repl-diskless-sync-max-replicas` decide when the
// child starts and several replicas share it; a replica without `capa eof` gets the disk
// sync; a transfer whose last replica goes away stops its child.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { RawClient } from '../helpers/client';
import { startRedis, startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info } from '../persistence/util';
import { linkUp, sameOnBoth, writeSome } from './sync-check';

const t = suite('replication-diskless');
const fleet = useFleet(t);

async function primary(...extra: string[]): Promise<RunningServer> {
  return fleet.track(await startServer({ args: ['--repl-ping-replica-period', '1', '--repl-diskless-sync', 'yes', ...extra] }));
}

async function replicaOf(kind: 'redis' | 'valkey' | 'forkv', port: number): Promise<RunningServer> {
  const args = ['--replicaof', '127.0.0.1', String(port)];
  let r: RunningServer;
  if (kind === 'redis') r = await startRedis([...args, '--repl-diskless-load', 'disabled']);
  else if (kind === 'valkey') r = await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...args, '--repl-diskless-load', 'disabled'] });
  else r = await startServer({ args });
  return fleet.track(r);
}

function count(text: string, re: RegExp): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

for (const kind of ['redis', 'valkey', 'forkv'] as const) {
  t(`${kind} replica: diskless full sync with writes during the transfer, then the stream`, async () => {
    const p = await primary('--repl-diskless-sync-delay', '0');
    const a = fleet.connect(p.port);
    await writeSome(fleet, p.port, 'before', 200);
    // Slow the child down so that writes land while the transfer runs.
    await a.config('SET', 'rdb-key-save-delay', '2000');
    const rep = await replicaOf(kind, p.port);
    await p.waitFor(/Starting BGSAVE for SYNC with target: replicas sockets/);
    await p.waitFor(/Background RDB transfer started by pid \d+/);
    await writeSome(fleet, p.port, 'during', 200);
    await a.config('SET', 'rdb-key-save-delay', '0');
    const rio = fleet.connect(rep.port);
    await linkUp(rio);
    await p.waitFor(/Streamed RDB transfer with replica 127\.0\.0\.1:\d+ succeeded \(socket\)\. Waiting for REPLCONF ACK from replica to enable streaming/);
    await p.waitFor(/Synchronization with replica 127\.0\.0\.1:\d+ succeeded/);
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after the diskless sync`);
    assert.is(await rio.get('m2:during'), '2');
    await writeSome(fleet, p.port, 'after', 200);
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after live writes`);
    assert.match((await info(a, 'replication')).get('slave0') ?? '', /state=online/);
    assert.ok(!/target: disk/.test(p.output()), 'no disk sync');
  });
}

t('repl-diskless-sync-max-replicas: two replicas share one child started before the delay', async () => {
  const p = await primary('--repl-diskless-sync-delay', '60', '--repl-diskless-sync-max-replicas', '2');
  await writeSome(fleet, p.port, 'x', 200);
  const r1 = await replicaOf('redis', p.port);
  await p.waitFor(/Delay next BGSAVE for diskless SYNC/);
  const r2 = await replicaOf('valkey', p.port);
  const io1 = fleet.connect(r1.port);
  const io2 = fleet.connect(r2.port);
  await linkUp(io1);
  await linkUp(io2);
  await sameOnBoth(fleet, p.port, r1.port, 'redis replica');
  await sameOnBoth(fleet, p.port, r2.port, 'valkey replica');
  const out = p.output();
  assert.is(count(out, /Background RDB transfer started by pid/), 1, out);
  assert.is(count(out, /Streamed RDB transfer with replica/), 2, out);
  assert.match(out, /Diskless rdb transfer, done reading from pipe, 2 replicas still up\./);
});

t('repl-diskless-sync-delay: the child starts once the first replica waited the delay (keepalive newlines meanwhile)', async () => {
  const p = await primary('--repl-diskless-sync-delay', '2');
  await writeSome(fleet, p.port, 'x', 200);
  const started = Date.now();
  const r = await replicaOf('forkv', p.port);
  await p.waitFor(/Delay next BGSAVE for diskless SYNC/);
  await p.waitFor(/Starting BGSAVE for SYNC with target: replicas sockets/);
  assert.ok(Date.now() - started >= 1900, `started after ${Date.now() - started} ms`);
  await linkUp(fleet.connect(r.port));
  await sameOnBoth(fleet, p.port, r.port, 'forkv replica');
  // The newlines sent while the PSYNC reply waited are not taken for the reply.
  assert.not.match(r.output(), /Unexpected reply to PSYNC/);
  assert.is(count(p.output(), /Full resync requested by replica/), 1, p.output());
});

t('raw protocol: $EOF framing, the stream waits for the first ACK; SYNC without capa eof gets the disk sync', async () => {
  const p = await primary('--repl-diskless-sync-delay', '0');
  const a = fleet.connect(p.port);
  await a.set('x', '1');
  const c = await RawClient.connect(p.port);
  c.write('REPLCONF capa eof capa psync2\r\n');
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  c.write('PSYNC ? -1\r\n');
  const line = await c.readUntil('\r\n', 10000);
  const m = /^\+FULLRESYNC ([0-9a-f]{40}) (\d+)\r\n$/.exec(line);
  assert.ok(m, line);
  const header = await c.readUntil('\r\n', 10000);
  const mark = /^\$EOF:([0-9a-f]{40})\r\n$/.exec(header)?.[1];
  assert.ok(mark, JSON.stringify(header));
  const body = await c.readUntil(mark as string, 10000);
  assert.is(body.slice(0, 5), 'REDIS');
  await a.set('y', '2');
  // Nothing follows the mark before the replica acknowledges.
  await new Promise((r) => setTimeout(r, 300));
  const early = await c.readBytes(1, 200).then((b) => b.toString('latin1'), () => null);
  assert.is(early, null, 'no byte before the ACK');
  c.write(`REPLCONF ACK ${m?.[2]}\r\n`);
  const stream = await c.readUntil('$1\r\n2\r\n', 5000);
  assert.match(stream, /\*3\r\n\$3\r\nSET\r\n\$1\r\ny\r\n\$1\r\n2\r\n$/i, JSON.stringify(stream));
  await p.waitFor(/Synchronization with replica 127\.0\.0\.1:<unknown-replica-port> succeeded/);
  // SYNC from a client that did not announce capa eof: the length-prefixed disk sync.
  const d = await RawClient.connect(p.port);
  d.write('SYNC\r\n');
  const len = (await d.readUntil('\r\n', 10000)).replace(/^\n+/, '');
  assert.match(len, /^\$\d+\r\n$/);
  await p.waitFor(/Starting BGSAVE for SYNC with target: disk/);
  c.close();
  d.close();
});

t('the last replica of a transfer going away stops the child; the next replica gets a new one', async () => {
  const p = await primary('--repl-diskless-sync-delay', '0');
  const a = fleet.connect(p.port);
  for (let i = 0; i < 50; i++) await a.set(`k${i}`, String(i));
  await a.config('SET', 'rdb-key-save-delay', '100000');
  const c = await RawClient.connect(p.port);
  c.write('REPLCONF capa eof\r\n');
  assert.is(await c.readUntil('\r\n'), '+OK\r\n');
  c.write('PSYNC ? -1\r\n');
  await c.readUntil('$EOF:', 10000);
  c.close();
  await p.waitFor(/Diskless rdb transfer, last replica dropped, killing fork child\./);
  await p.waitFor(/Background transfer terminated by signal 10/);
  await a.config('SET', 'rdb-key-save-delay', '0');
  assert.is((await info(a, 'persistence')).get('rdb_last_bgsave_status'), 'ok');
  const r = await replicaOf('forkv', p.port);
  await linkUp(fleet.connect(r.port));
  await sameOnBoth(fleet, p.port, r.port, 'replica after the stopped transfer');
});

t('DEBUG CHANGE-REPL-ID: a new replication ID, no second one; PSYNC of the old ID needs a full sync', async () => {
  const p = await primary('--repl-diskless-sync', 'no');
  const a = fleet.connect(p.port);
  const r = await replicaOf('forkv', p.port);
  await linkUp(fleet.connect(r.port));
  const before = await info(a, 'replication');
  assert.is(await a.call('DEBUG', 'CHANGE-REPL-ID'), 'OK');
  const after = await info(a, 'replication');
  assert.not.equal(after.get('master_replid'), before.get('master_replid'));
  assert.is(after.get('master_replid2'), '0000000000000000000000000000000000000000');
  assert.is(after.get('second_repl_offset'), '-1');
  await p.waitFor(/Changing replication IDs after receiving DEBUG change-repl-id/);
  const c = await RawClient.connect(p.port);
  c.write(`PSYNC ${before.get('master_replid')} ${before.get('master_repl_offset')}\r\n`);
  assert.match(await c.readUntil('\r\n', 10000), new RegExp(`^\\+FULLRESYNC ${after.get('master_replid')} \\d+\\r\\n$`));
  c.close();
});

t.run();
