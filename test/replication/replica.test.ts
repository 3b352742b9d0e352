// forkv as a replica of valkey-server 8.0.1 (diskless `$EOF:` and disk-based `$<len>`
// full syncs), of Debian redis-server 7.0 and of forkv: data of every type arrives by the
// full sync, later writes through the stream, a killed link continues with a partial
// resync, writes are refused (READONLY), INFO/ROLE report the replica, REPLCONF ACK
// reaches the primary, and REPLICAOF NO ONE keeps the data and makes it writable.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startRedis, startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { contents, errOf, info, sameContents, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth, writeAll } from './sync-check';

const t = suite('replication-replica');
const fleet = useFleet(t);

type PrimaryKind = 'valkey-diskless' | 'valkey-disk' | 'redis' | 'forkv';

async function startPrimary(kind: PrimaryKind): Promise<RunningServer> {
  let s: RunningServer;
  if (kind === 'forkv') s = await startServer({ args: ['--repl-ping-replica-period', '1', '--repl-diskless-sync-delay', '0'] });
  else if (kind === 'redis') s = await startRedis(['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--enable-debug-command', 'yes']);
  else {
    const diskless = kind === 'valkey-diskless' ? 'yes' : 'no';
    s = await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--repl-diskless-sync', diskless, '--repl-diskless-sync-delay', '0'] });
  }
  fleet.track(s);
  return s;
}

async function startReplica(primaryPort: number, extra: string[] = []): Promise<RunningServer> {
  const r = await startServer({ args: ['--replicaof', '127.0.0.1', String(primaryPort), ...extra] });
  fleet.track(r);
  return r;
}

for (const kind of ["valkey-diskless", "valkey-disk", "redis", "forkv"] as const) {
  t(`replica of ${kind}: full sync, stream, partial resync after a killed link, REPLICAOF NO ONE`, async () => {
    const p = await startPrimary(kind);
    await writeAll(fleet, p.port, 'before');
    const rep = await startReplica(p.port);
    const rio = fleet.connect(rep.port);
    await linkUp(rio);
    // forkv as a primary syncs diskless by default ($EOF:<mark>), as valkey does.
    const diskBased = kind === 'valkey-disk';
    await rep.waitFor(diskBased ? /receiving \d+ bytes from primary to disk/ : /receiving streamed RDB from primary with EOF to disk/);
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after full sync`, kind === 'forkv');
    await writeAll(fleet, p.port, 'after', kind !== 'redis');
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after live writes`, kind === 'forkv');

    // The replica is read-only; ROLE and INFO describe it.
    assert.match(await errOf(rio.set('x', '1')), /^READONLY You can't write against a read only replica\.$/);
    const role = (await rio.call('ROLE')) as [string, string, number, string, number];
    assert.equal(role.slice(0, 4), ['slave', '127.0.0.1', p.port, 'connected']);
    const ri = await info(rio, 'replication');
    assert.is(ri.get('role'), 'slave');
    assert.is(ri.get('master_port'), String(p.port));
    assert.is(ri.get('master_sync_in_progress'), '0');
    assert.is(ri.get('slave_repl_offset'), ri.get('master_repl_offset'));
    assert.is(ri.get('slave_read_only'), '1');
    assert.is(role[4], Number(ri.get('slave_repl_offset')));

    // The primary sees the replica's acknowledgements reach its offset.
    const pio = fleet.connect(p.port);
    await waitUntil('primary sees the ACK', async () => {
      const i = await info(pio, 'replication');
      return (i.get('slave0') ?? '').includes(`offset=${i.get('master_repl_offset')},`);
    }, 10000, 100);

    // A killed link: the replica continues from the primary's backlog.
    await pio.call('CLIENT', 'KILL', 'TYPE', 'replica');
    await pio.set('during-outage', '1');
    await rep.waitFor(/Successful partial resynchronization with primary/);
    await linkUp(rio);
    await writeAll(fleet, p.port, 'resumed', kind !== 'redis');
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after partial resync`, kind === 'forkv');
    // The same from the replica's side (CLIENT KILL TYPE master).
    assert.is(await rio.call('CLIENT', 'KILL', 'TYPE', 'master'), 1);
    await pio.set('after-master-kill', '1');
    await waitUntil('second partial resync', () => rep.output().split('Successful partial resynchronization').length === 3, 10000, 50);
    await sameOnBoth(fleet, p.port, rep.port, `${kind} after CLIENT KILL TYPE master`, kind === 'forkv');
    assert.not.match(rep.output(), /Full resync from primary: [0-9a-f]+:\d+[\s\S]*Full resync from primary/);

    // Promotion keeps the data; the primary's history becomes the second ID.
    const before = await contents(rep.port, [0, 3]);
    const replid = (await info(rio, 'replication')).get('master_replid');
    assert.is(await rio.call('REPLICAOF', 'NO', 'ONE'), 'OK');
    const pi = await info(rio, 'replication');
    assert.is(pi.get('role'), 'master');
    assert.is(pi.get('master_replid2'), replid);
    assert.is(Number(pi.get('second_repl_offset')), Number(pi.get('master_repl_offset')) + 1);
    assert.is(await rio.set('x', 'now-writable'), 'OK');
    await pio.set('not-replicated', '1');
    await new Promise((r) => setTimeout(r, 200));
    assert.is(await rio.get('not-replicated'), null);
    await rio.del('x');
    sameContents(await contents(rep.port, [0, 3]), before, `${kind} after promotion`);
  });
}

t('REPLICAOF errors and idempotence, SLAVEOF, replica-serve-stale-data no', async () => {
  const p = await startPrimary('forkv');
  const rep = await startServer({ args: ['--replica-serve-stale-data', 'no'] });
  fleet.track(rep);
  const io = fleet.connect(rep.port);
  assert.match(await errOf(io.call('REPLICAOF', '127.0.0.1', '70000')), /ERR Invalid master port/);
  assert.match(await errOf(io.call('REPLICAOF', 'x')), /wrong number of arguments/);
  assert.is(await io.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.is(await io.call('SLAVEOF', '127.0.0.1', String(p.port)), 'OK');
  assert.is(await io.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK Already connected to specified master');
  await linkUp(io);
  await fleet.connect(p.port).set('k', 'v');
  await waitUntil('key replicated', async () => (await io.get('k')) === 'v', 5000, 20);
  // The primary goes away: with replica-serve-stale-data no, data commands are refused.
  await p.stop('SIGKILL');
  fleet.untrack(p);
  await waitUntil('link down', async () => (await info(io, 'replication')).get('master_link_status') === 'down', 5000, 20);
  assert.match(await errOf(io.get('k')), /^MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'\.$/);
  assert.is((await info(io, 'replication')).get('role'), 'slave');
  assert.is(await io.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.is(await io.get('k'), 'v');
});

t('a primary with AUTH: the replica authenticates with primaryuser/primaryauth', async () => {
  const p = await startPrimary('forkv');
  const pio = fleet.connect(p.port);
  await pio.call('ACL', 'SETUSER', 'repl', 'on', '>s3cret', '+@all', '~*', '&*');
  // pio stays authenticated as default once a password is required.
  await pio.config('SET', 'requirepass', 'other');
  const rep = await startReplica(p.port, ['--masteruser', 'repl', '--masterauth', 's3cret']);
  const rio = fleet.connect(rep.port);
  await linkUp(rio);
  await pio.set('secret', 'data');
  await waitUntil('replicated', async () => (await rio.get('secret')) === 'data', 5000, 20);
});

t('a replica whose link is down refuses SYNC and PSYNC with NOMASTERLINK', async () => {
  const p = await startPrimary('forkv');
  const rep = await startReplica(p.port);
  const rio = fleet.connect(rep.port);
  await linkUp(rio);
  await p.stop('SIGKILL');
  fleet.untrack(p);
  await waitUntil('link down', async () => (await info(rio, 'replication')).get('master_link_status') === 'down', 5000, 20);
  assert.is(await errOf(fleet.connect(rep.port).call('SYNC')), "NOMASTERLINK Can't SYNC while not connected with my master");
  assert.is(await errOf(fleet.connect(rep.port).call('PSYNC', '?', '-1')), "NOMASTERLINK Can't SYNC while not connected with my master");
});

t('REPLICAOF releases blocked clients with -UNBLOCKED; GETSET reaches a replica as SET', async () => {
  const p = await startPrimary('forkv');
  const rep = await startServer({ args: [] });
  fleet.track(rep);
  const blocked = fleet.connect(rep.port);
  const popped = errOf(blocked.blpop('foo', 0));
  const rio = fleet.connect(rep.port);
  await waitUntil('client blocked', async () => (await info(rio, 'clients')).get('blocked_clients') === '1', 5000, 20);
  assert.is(await rio.call('REPLICAOF', '127.0.0.1', String(p.port)), 'OK');
  assert.is(await popped, 'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)');
  await linkUp(rio);
  const pio = fleet.connect(p.port);
  await pio.rpush('foo', 'a', 'b', 'c');
  await waitUntil('list replicated whole', async () => (await rio.lrange('foo', 0, -1)).join() === 'a,b,c', 5000, 20);
  await rio.call('CONFIG', 'RESETSTAT');
  assert.is(await pio.getset('k', 'v'), null);
  await waitUntil('GETSET replicated', async () => (await rio.get('k')) === 'v', 5000, 20);
  const stats = await info(rio, 'commandstats');
  assert.match(stats.get('cmdstat_set') ?? '', /^calls=1,/);
  assert.is(stats.get('cmdstat_getset'), undefined);
});

t('bind-source-addr: the replica connects to its primary from that address', async () => {
  const p = await startPrimary('forkv');
  const rep = await startReplica(p.port, ['--bind-source-addr', '127.0.0.2']);
  await linkUp(fleet.connect(rep.port));
  const slave0 = (await info(fleet.connect(p.port), 'replication')).get('slave0') ?? '';
  assert.match(slave0, /^ip=127\.0\.0\.2,/);
});

// Valkey's suite breaks the link with `CLIENT KILL <primary ip:port>` on the replica
// (integration/replication-psync): the primary client carries the primary's address.
t('CLIENT KILL <ip:port> and CLIENT KILL ADDR <ip:port> of the primary drop the link; PSYNC continues', async () => {
  const p = await startPrimary('valkey-diskless');
  const r = await startReplica(p.port);
  const rio = fleet.connect(r.port);
  await linkUp(rio);
  const addr = `127.0.0.1:${p.port}`;
  assert.is(await rio.call('CLIENT', 'KILL', addr), 'OK');
  await waitUntil('first partial resync', async () => (await info(fleet.connect(p.port), 'stats')).get('sync_partial_ok') === '1', 15000, 20);
  await linkUp(rio);
  assert.is(await rio.call('CLIENT', 'KILL', 'ADDR', addr), 1);
  await waitUntil('second partial resync', async () => (await info(fleet.connect(p.port), 'stats')).get('sync_partial_ok') === '2', 15000, 20);
  await linkUp(rio);
  assert.is(await errOf(rio.call('CLIENT', 'KILL', '127.0.0.1:1')), 'ERR No such client');
  await fleet.connect(p.port).set('after', 'kills');
  await sameOnBoth(fleet, p.port, r.port, 'after the kills');
});

t.run();
