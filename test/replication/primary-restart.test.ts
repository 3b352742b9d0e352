// A primary restarted from its own RDB keeps its history for its replicas (Valkey 8.0.1's
// rdbPopulateSaveInfo / loadDataFromDisk): a primary in a replication chain (it has a
// backlog) saves `repl-stream-db`, `repl-id` and `repl-offset`; loaded at start-up without
// `replicaof`, that ID becomes its second one, valid up to the saved offset, with a new
// current ID and a fresh backlog from there. Its replicas ask PSYNC <old id> <offset+1>
// and get +CONTINUE <new id>. Replicas: forkv and valkey-server 8.0.1; the same
// expectations run with a valkey-server primary. Keys that expired while the primary was
// down reach the replicas as DELs that follow the saved offset.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, tempDir, VALKEY_SERVER, type RunningServer } from '../helpers/server';
import { useFleet } from '../helpers/fixture';
import { info, waitUntil } from '../persistence/util';
import { linkUp, sameOnBoth, writeAll } from './sync-check';

const t = suite('replication-primary-restart');
const fleet = useFleet(t);

async function stats(port: number): Promise<{ full: number; partial: number }> {
  const s = await info(fleet.connect(port), 'stats');
  return { full: Number(s.get('sync_full')), partial: Number(s.get('sync_partial_ok')) };
}

/**
 * Starts (and restarts, on the same `port`) a primary of `kind` with its data in `dir`,
 * stopped after the test.
 */
function primaryStarter(kind: 'forkv' | 'valkey', args: string[], dir: string): (port?: number) => Promise<RunningServer> {
  return async (port) => fleet.track(kind === 'forkv'
    ? await startServer({ args, dir, port })
    : await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', ...args], dir, port }));
}

/** A forkv and a valkey-server replica of the primary on `port`, their links up. */
async function attachReplicas(port: number): Promise<[RunningServer, RunningServer]> {
  const fr = fleet.track(await startServer());
  const vr = fleet.track(await startServer({ command: [VALKEY_SERVER], args: ['--bind', '127.0.0.1', '--save', ''] }));
  for (const r of [fr, vr]) {
    const io = fleet.connect(r.port);
    assert.is(await io.call('REPLICAOF', '127.0.0.1', String(port)), 'OK');
    await linkUp(io);
  }
  return [fr, vr];
}

for (const kind of ['forkv', 'valkey'] as const) {
  t(`a ${kind} primary restarted by SHUTDOWN SAVE: its forkv and valkey replicas continue with +CONTINUE`, async () => {
    const start = primaryStarter(kind, ['--repl-diskless-sync-delay', '0', '--save', ''], tempDir());
    const p = await start();
    await writeAll(fleet, p.port, 'before');
    const [fr, vr] = await attachReplicas(p.port);
    await writeAll(fleet, p.port, 'linked');
    await sameOnBoth(fleet, p.port, fr.port, 'forkv replica before the restart');
    await sameOnBoth(fleet, p.port, vr.port, 'valkey replica before the restart');
    const before = await info(fleet.connect(p.port), 'replication');
    const oldId = before.get('master_replid') ?? '';
    const offset = Number(before.get('master_repl_offset'));
    assert.ok(offset > 0);

    await fleet.connect(p.port).call('SHUTDOWN', 'SAVE').catch(() => undefined);
    await p.exited;
    fleet.untrack(p);
    const again = await start(p.port);
    const pio = fleet.connect(again.port);
    const after = await info(pio, 'replication');
    assert.is.not(after.get('master_replid'), oldId, 'a new current ID');
    assert.is(after.get('master_replid2'), oldId, 'the saved ID is the second one');
    // The shutdown itself adds to the stream (REPLCONF GETACK * to the replicas), so the
    // saved offset is at least the one read before it.
    const saved = Number(after.get('master_repl_offset'));
    assert.ok(saved >= offset, `${saved} >= ${offset}`);
    assert.is(after.get('second_repl_offset'), String(saved + 1));

    await waitUntil('both replicas continued', async () => (await stats(again.port)).partial === 2, 15000);
    assert.equal(await stats(again.port), { full: 0, partial: 2 });
    for (const r of [fr, vr]) await linkUp(fleet.connect(r.port));
    assert.match(fr.output(), /Successful partial resynchronization with primary\./);
    await writeAll(fleet, again.port, 'after');
    await sameOnBoth(fleet, again.port, fr.port, 'forkv replica after the restart');
    await sameOnBoth(fleet, again.port, vr.port, 'valkey replica after the restart');
  });
}

/** DBSIZE of dbs 0 and 3: a replica counts the keys past their TTL it still holds. */
async function sizes(port: number): Promise<number[]> {
  return Promise.all([0, 3].map(async (db) => Number(await fleet.connect(port, db).call('DBSIZE'))));
}

// Keys that expired while the primary was down are skipped by its load; each goes to the
// backlog as a DEL after the saved offset (Valkey's RDBFLAGS_FEED_REPL), so the replicas
// delete them too: through +CONTINUE when the backlog holds them all, by a full sync when
// they overflowed it (`repl-backlog-size` 16384 against 2048 deletions).
for (const kind of ['forkv', 'valkey'] as const) {
  for (const many of [false, true]) {
    const how = many ? 'overflow the backlog: a full sync' : 'reach the replicas through +CONTINUE';
    t(`a ${kind} primary restarted after its keys expired: their DELs ${how}`, async () => {
      const start = primaryStarter(kind, ['--repl-diskless-sync-delay', '0', '--save', '', '--repl-backlog-size', many ? '16384' : '1mb'], tempDir());
      const p = await start();
      const [fr, vr] = await attachReplicas(p.port);
      const pio = fleet.connect(p.port);
      await pio.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
      const doomed = many ? 2048 : 300;
      const ttlMs = 2500;
      const writtenAt = Date.now();
      for (const db of [0, 3]) {
        const c = fleet.connect(p.port, db);
        const batch = c.pipeline();
        for (let i = 0; i < doomed / 2; i++) batch.set(`gone:${i}`, 'v', 'PX', ttlMs);
        batch.set('stays', 'v');
        await batch.exec();
      }
      // Offsets only: reading the keys could expire them here (and propagate their DELs).
      const offset = Number((await info(pio, 'replication')).get('master_repl_offset'));
      await waitUntil('the replicas have every key', async () => {
        const acked = await Promise.all([fr, vr].map(async (r) => (await info(fleet.connect(r.port), 'replication')).get('master_repl_offset')));
        return acked.every((o) => Number(o) >= offset);
      }, 15000, 20);
      await pio.call('SHUTDOWN', 'SAVE').catch(() => undefined);
      assert.ok(Date.now() < writtenAt + ttlMs, 'saved before the keys expired (a loaded machine: raise ttlMs)');
      await p.exited;
      fleet.untrack(p);
      await new Promise((r) => setTimeout(r, Math.max(0, writtenAt + ttlMs + 200 - Date.now())));
      const again = await start(p.port);
      const aio = fleet.connect(again.port);
      assert.is((await info(aio, 'persistence')).get('rdb_last_load_keys_expired'), String(doomed));
      const repl = await info(aio, 'replication');
      const saved = Number(repl.get('second_repl_offset')) - 1;
      assert.ok(saved >= offset, `${saved} >= ${offset}`);
      const histlen = Number(repl.get('repl_backlog_histlen'));
      if (many) {
        assert.ok(Number(repl.get('repl_backlog_first_byte_offset')) > saved + 1, 'the deletions overflowed the backlog');
      } else {
        assert.is(Number(repl.get('master_repl_offset')), saved + histlen, 'the deletions follow the saved offset');
      }
      await waitUntil('both replicas synced again', async () => {
        const s = await stats(again.port);
        return s.full + s.partial === 2;
      }, 20000);
      assert.equal(await stats(again.port), many ? { full: 2, partial: 0 } : { full: 0, partial: 2 });
      for (const r of [fr, vr]) {
        await linkUp(fleet.connect(r.port));
        await sameOnBoth(fleet, again.port, r.port, `${r === fr ? 'forkv' : 'valkey'} replica after the restart`);
        assert.equal(await sizes(r.port), [1, 1], 'the expired keys are deleted on the replica');
      }
    });
  }
}

t('a primary without replicas (no backlog) saves no replication info: restarted, it has no second ID', async () => {
  const dir = tempDir();
  const p = fleet.track(await startServer({ args: ['--save', ''], dir }));
  await writeAll(fleet, p.port, 'alone');
  await fleet.connect(p.port).call('SHUTDOWN', 'SAVE').catch(() => undefined);
  await p.exited;
  fleet.untrack(p);
  const again = fleet.track(await startServer({ args: ['--save', ''], dir, port: p.port }));
  const after = await info(fleet.connect(again.port), 'replication');
  assert.is(after.get('master_replid2'), '0000000000000000000000000000000000000000');
  assert.is(after.get('master_repl_offset'), '0');
});

t.run();
