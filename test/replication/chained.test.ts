// Chained replication: a forkv replica serves replicas of its own. They get the stream the
// replica receives from its primary, byte for byte, so all of them share the top primary's
// replication ID and offsets; a full sync from the replica is made by its own fork (with
// `repl-stream-db` in the snapshot, so the stream that follows lands in the right
// database); a sub-replica whose link broke continues from the replica's backlog
// (PSYNC +CONTINUE); a promotion or a changed ID upstream reaches the sub-replicas by a
// reconnection that continues with the second ID, as in Valkey. Chains tested: forkv ->
// forkv -> forkv (-> forkv) and valkey-server 8.0.1 -> forkv -> valkey-server 8.0.1.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Redis from 'ioredis';

import { startServer, type RunningServer, VALKEY_SERVER } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { contents, info, sameContents, waitUntil } from '../persistence/util';
import { DBS, linkUp, sameOnBoth, writeAll } from './sync-check';

const t = suite('replication-chained');
const fleet = useFleet(t);

async function forkv(args: string[] = []): Promise<RunningServer> {
  const s = await startServer({ args: ['--repl-ping-replica-period', '1', '--repl-diskless-sync-delay', '0', ...args] });
  fleet.track(s);
  return s;
}

async function valkey(args: string[] = []): Promise<RunningServer> {
  const s = await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--repl-diskless-sync-delay', '0', ...args] });
  fleet.track(s);
  return s;
}

const of = (s: RunningServer): string[] => ['--replicaof', '127.0.0.1', String(s.port)];

/** INFO field `name` of `section`. */
async function field(io: Redis, section: string, name: string): Promise<string | undefined> {
  return (await info(io, section)).get(name);
}

/** INFO stats' full and successful partial syncs served. */
async function syncs(io: Redis): Promise<{ full: number; partial: number }> {
  const s = await info(io, 'stats');
  return { full: Number(s.get('sync_full')), partial: Number(s.get('sync_partial_ok')) };
}

/** Every server in `all` reports the same master_replid and master_repl_offset as `top`. */
async function sameHistory(top: RunningServer, all: RunningServer[], what: string): Promise<void> {
  const tio = fleet.connect(top.port);
  await waitUntil(`${what}: same replid and offset`, async () => {
    const want = await info(tio, 'replication');
    for (const s of all) {
      const got = await info(fleet.connect(s.port), 'replication');
      if (got.get('master_replid') !== want.get('master_replid') || got.get('master_repl_offset') !== want.get('master_repl_offset')) return false;
    }
    return true;
  }, 15000, 50);
}

/**
 * The write that follows a snapshot made while the stream is in db 3 carries no SELECT:
 * it must still land in db 3 on the sub-replica (the snapshot's `repl-stream-db`).
 */
async function writeInDb3(port: number, tag: string): Promise<void> {
  await fleet.connect(port, 3).set(`after-fork:${tag}`, tag);
}

for (const kind of ['forkv', 'valkey'] as const) {
  const start = kind === 'forkv' ? forkv : valkey;
  t(`${kind} -> forkv -> ${kind}: same stream, replid and offsets; full sync by the replica's fork; PSYNC +CONTINUE against the replica`, async () => {
    const top = await start();
    await writeAll(fleet, top.port, 'before');
    const mid = await forkv(of(top));
    const mio = fleet.connect(mid.port);
    await linkUp(mio);
    // The top's stream is put in db 3 (a SELECT 3 goes out once), and stays there until a
    // write elsewhere: the sub-replica's snapshot must say so.
    await writeInDb3(top.port, 'before-leaf');
    await sameHistory(top, [mid], `${kind} top and forkv middle`);
    const leaf = await start(of(mid));
    const lio = fleet.connect(leaf.port);
    await linkUp(lio);
    await writeInDb3(top.port, 'first');
    await writeAll(fleet, top.port, 'after');
    await sameHistory(top, [mid, leaf], `${kind} chain after live writes`);
    sameContents(await contents(leaf.port, DBS), await contents(top.port, DBS), `${kind} leaf after live writes`);
    assert.is(await fleet.connect(leaf.port, 3).get('after-fork:first'), 'first');
    assert.is(await fleet.connect(leaf.port, 0).get('after-fork:first'), null);
    assert.is((await field(mio, 'replication', 'connected_slaves')), '1');
    assert.match((await field(mio, 'replication', 'slave0')) ?? '', new RegExp(`port=${leaf.port},state=online,`));
    assert.equal(await syncs(mio), { full: 1, partial: 0 }, 'the leaf was synced by the middle');
    if (kind === 'forkv') assert.is(await lio.call('DEBUG', 'DIGEST'), await fleet.connect(top.port).call('DEBUG', 'DIGEST'));

    // The leaf's link breaks: it continues from the middle's backlog.
    assert.is(await lio.call('CLIENT', 'KILL', 'TYPE', 'master'), 1);
    await fleet.connect(top.port).set('during-outage', '1');
    await waitUntil('leaf continued', async () => (await syncs(mio)).partial === 1, 10000, 50);
    await linkUp(lio);
    await writeAll(fleet, top.port, 'resumed', true);
    await sameHistory(top, [mid, leaf], `${kind} chain after the leaf's partial resync`);
    sameContents(await contents(leaf.port, DBS), await contents(top.port, DBS), `${kind} leaf after partial resync`);
    assert.equal(await syncs(mio), { full: 1, partial: 1 });

    // The middle's own link breaks: it continues with the top, the leaf keeps its link.
    assert.is(await mio.call('CLIENT', 'KILL', 'TYPE', 'master'), 1);
    await writeAll(fleet, top.port, 'middle-resumed', true);
    await waitUntil('middle continued', async () => (await syncs(fleet.connect(top.port))).partial >= 1, 10000, 50);
    await sameHistory(top, [mid, leaf], `${kind} chain after the middle's partial resync`);
    sameContents(await contents(leaf.port, DBS), await contents(top.port, DBS), `${kind} leaf after the middle's partial resync`);
    assert.equal(await syncs(mio), { full: 1, partial: 1 }, 'the leaf was not disconnected');

    // The middle is promoted: the leaf reconnects and continues with the new ID.
    const oldId = await field(mio, 'replication', 'master_replid');
    assert.is(await mio.call('REPLICAOF', 'NO', 'ONE'), 'OK');
    const newId = await field(mio, 'replication', 'master_replid');
    assert.is.not(newId, oldId);
    assert.is(await field(mio, 'replication', 'master_replid2'), oldId);
    await waitUntil('leaf continued after the promotion', async () => (await syncs(mio)).partial === 2, 10000, 50);
    await linkUp(lio);
    await writeAll(fleet, mid.port, 'promoted', true);
    await sameHistory(mid, [leaf], `${kind} leaf of the promoted middle`);
    assert.is(await field(lio, 'replication', 'master_replid'), newId);
    sameContents(await contents(leaf.port, DBS), await contents(mid.port, DBS), `${kind} leaf after the promotion`);
    assert.equal(await syncs(mio), { full: 1, partial: 2 }, 'no full sync after the promotion');
  });
}

t('forkv -> forkv -> forkv -> forkv: a promotion upstream reaches the end of the chain by partial resyncs', async () => {
  const top = await forkv();
  await writeAll(fleet, top.port, 'before');
  const a = await forkv(of(top));
  await linkUp(fleet.connect(a.port));
  const b = await forkv(of(a));
  await linkUp(fleet.connect(b.port));
  const c = await forkv(of(b));
  await linkUp(fleet.connect(c.port));
  await writeAll(fleet, top.port, 'chain');
  await sameHistory(top, [a, b, c], 'four-server chain');
  const fullsBefore = [(await syncs(fleet.connect(a.port))).full, (await syncs(fleet.connect(b.port))).full];

  // `a` becomes a primary (as a failover would make it): b gets +CONTINUE with a's new
  // ID, drops c, which continues with b's second ID. No one needs a full sync.
  assert.is(await fleet.connect(a.port).call('REPLICAOF', 'NO', 'ONE'), 'OK');
  await writeAll(fleet, a.port, 'after-promotion');
  await sameHistory(a, [b, c], 'chain below the promoted server');
  await sameOnBoth(fleet, a.port, c.port, 'end of the chain', true);
  assert.equal([(await syncs(fleet.connect(a.port))).full, (await syncs(fleet.connect(b.port))).full], fullsBefore, 'no full sync below the promotion');
  assert.match(b.output(), /Primary replication ID changed to/);
  assert.is((await syncs(fleet.connect(b.port))).partial, 1);

  // A full sync of the middle (a new history above it) makes its own replicas sync again.
  await fleet.connect(a.port).call('DEBUG', 'CHANGE-REPL-ID');
  assert.is(await fleet.connect(b.port).call('CLIENT', 'KILL', 'TYPE', 'master'), 1);
  await waitUntil('b synced again', async () => (await syncs(fleet.connect(a.port))).full === fullsBefore[0]! + 1, 10000, 50);
  await waitUntil('c synced again', async () => (await syncs(fleet.connect(b.port))).full === fullsBefore[1]! + 1, 10000, 50);
  await writeAll(fleet, a.port, 'new-history');
  await sameHistory(a, [b, c], 'chain after a new history');
  await sameOnBoth(fleet, a.port, c.port, 'end of the chain after a new history', true);
});

t.run();
