// bench/replication: the full synchronisation of a replica, forkv vs redis-server as the
// primary, disk-based and diskless, in the same run.
//
//   npx tsx bench/replication/run.ts                  # full scale: 1M keys x 100-byte values
//   npx tsx bench/replication/run.ts --keys 100000    # smoke run
//
// For each primary (forkv, then redis) the keys are loaded once; then for each mode
// (repl-diskless-sync no / yes, delay 0) a fresh, empty redis-server replica (the same
// binary for both primaries, so only the primary differs) is started and told
// `REPLICAOF`; the figure is the time from that command to the replica's INFO showing
// master_link_status:up with master_sync_in_progress:0 AND the primary's INFO listing it
// `state=online` (for a diskless sync, forkv puts it online with its first REPLCONF ACK;
// redis 7.0 when it reaps the child), polled every --poll-ms. The replica's DBSIZE must
// then equal the keys loaded. Each mode runs --runs times (median reported); the replica
// is stopped by its PID after each run.
//
// Then the FAILOVER figure: a replica of the primary's own kind syncs (diskless), and
// `FAILOVER` (to any replica) is timed from the command to the old primary reporting
// role:slave with master_failover_state:no-failover and the replica role:master.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { int } from '../lib/flags';
import { loadKeys } from '../lib/load';
import { compare, printTable, progress } from '../lib/report';
import { RawClient, sleep, callOk, dbsize as dbsizeOf, info as infoOf } from '../lib/client';
import { KINDS, settingsFromList, startServer, type BenchServer, type Binaries, type ServerKind } from '../lib/servers';
import { median } from '../lib/stats';
import { beginBench, commonFlags, finishBench, runBench } from '../lib/harness';

const SPEC = {
  keys: int(1_000_000, 'distinct keys loaded on the primary (key:0 .. key:<keys-1>)'),
  valueSize: int(100, 'value size in bytes (pseudo-random text)'),
  loadBatch: int(1000, 'SETs per pipelined write while loading'),
  loadWindow: int(8, 'pipelined batches in flight while loading'),
  runs: int(1, 'full syncs measured per primary and mode (median reported)'),
  pollMs: int(10, 'replica INFO polling interval, ms'),
  timeoutSec: int(600, 'give up on one full sync after this many seconds'),
  hz: int(100, 'hz for every server (the disk sync waits for the cron to reap the child)'),
  seed: int(1, 'PRNG seed for values'),
  ...commonFlags("keep the servers' data directories after the run"),
};

const TITLE = 'bench/replication: full sync time of a redis-server replica, forkv vs redis-server primary, disk and diskless; FAILOVER time';

type Mode = 'disk' | 'diskless';
const MODES: readonly Mode[] = ['disk', 'diskless'];

interface SyncRecord {
  ms: number;
  replicaDbsize: number;
}

/** Polls until `ok` holds (checked every `pollMs`); returns when it did. */
async function until(what: string, ok: () => Promise<boolean>, pollMs: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await ok()) return performance.now();
    if (performance.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/** The primary lists a replica, and every replica it lists is online. */
async function replicasOnline(c: RawClient): Promise<boolean> {
  const i = await infoOf(c, 'replication');
  const rows = [...i.entries()].filter(([k]) => /^slave\d+$/.test(k));
  return rows.length > 0 && rows.every(([, v]) => v.includes('state=online'));
}

/**
 * A replica of `kind` syncs from `primary` (diskless); then FAILOVER, timed from the
 * command to both sides reporting their new roles (the primary no longer failing over).
 */
async function timeFailover(kind: ServerKind, bin: Binaries, primary: BenchServer, c: RawClient, dir: string, pollMs: number, timeoutMs: number, hz: string): Promise<number> {
  const replica = await startServer({ kind, bin, dir, settings: { hz, 'repl-diskless-load': 'disabled' } });
  try {
    const rc = await RawClient.connect(replica.port);
    await callOk(rc, 'REPLICAOF', '127.0.0.1', String(primary.port));
    await waitLinkUp(rc, pollMs, timeoutMs);
    await until('replica online on the primary', () => replicasOnline(c), pollMs, timeoutMs);
    const t0 = performance.now();
    await callOk(c, 'FAILOVER');
    const done = await until(
      'failover',
      async () => {
        const p = await infoOf(c, 'replication');
        const r = await infoOf(rc, 'replication');
        return p.get('role') === 'slave' && p.get('master_failover_state') === 'no-failover' && r.get('role') === 'master';
      },
      pollMs,
      timeoutMs,
    );
    // The old primary serves again as a primary for the next measurement.
    await callOk(c, 'REPLICAOF', 'NO', 'ONE');
    rc.close();
    return done - t0;
  } finally {
    await replica.stop();
  }
}

async function waitLinkUp(c: RawClient, pollMs: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const i = await infoOf(c, 'replication');
    if (i.get('master_link_status') === 'up' && i.get('master_sync_in_progress') === '0') return performance.now();
    if (performance.now() > deadline) throw new Error(`replica not in sync after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

async function main(): Promise<void> {
  const b = beginBench('replication', TITLE, SPEC);
  const { opts, bin, base } = b;
  const settings = { hz: String(opts.hz), 'repl-diskless-sync-delay': '0', ...settingsFromList(opts.serverArgs) };
  const results: Record<ServerKind, Record<Mode, SyncRecord[]>> = { forkv: { disk: [], diskless: [] }, redis: { disk: [], diskless: [] } };
  const failovers: Record<ServerKind, number[]> = { forkv: [], redis: [] };
  let replicaNo = 0;
  for (const kind of KINDS) {
    const primary: BenchServer = await startServer({ kind, bin, dir: path.join(base, kind), settings });
    try {
      const c = await RawClient.connect(primary.port);
      progress(`${kind} primary pid ${primary.pid}: loading ${opts.keys} keys x ${opts.valueSize} bytes`);
      await loadKeys(c, { keys: opts.keys, valueSize: opts.valueSize, prefix: 'key:', batch: opts.loadBatch, window: opts.loadWindow, seed: opts.seed });
      const dbsize = await dbsizeOf(c);
      if (dbsize !== opts.keys) throw new Error(`${kind}: DBSIZE ${dbsize} after loading ${opts.keys} keys`);
      for (const mode of MODES) {
        await callOk(c, 'CONFIG', 'SET', 'repl-diskless-sync', mode === 'diskless' ? 'yes' : 'no');
        for (let run = 0; run < opts.runs; run++) {
          const replica = await startServer({ kind: 'redis', bin, dir: path.join(base, `replica-${replicaNo++}`), settings: { hz: String(opts.hz), 'repl-diskless-load': 'disabled' } });
          try {
            const rc = await RawClient.connect(replica.port);
            const t0 = performance.now();
            await callOk(rc, 'REPLICAOF', '127.0.0.1', String(primary.port));
            const linked = await waitLinkUp(rc, opts.pollMs, opts.timeoutSec * 1000);
            const online = await until('replica online on the primary', () => replicasOnline(c), opts.pollMs, opts.timeoutSec * 1000);
            const done = Math.max(linked, online);
            const replicaDbsize = await dbsizeOf(rc);
            if (replicaDbsize !== opts.keys) throw new Error(`${kind} ${mode}: replica DBSIZE ${replicaDbsize}, expected ${opts.keys}`);
            const rec = { ms: done - t0, replicaDbsize };
            results[kind][mode].push(rec);
            progress(`${kind} primary, ${mode}: full sync of ${replicaDbsize} keys in ${rec.ms.toFixed(0)} ms`);
            rc.close();
          } finally {
            await replica.stop();
          }
          // The primary forgets the replica before the next run starts.
          await sleep(200);
        }
      }
      await callOk(c, 'CONFIG', 'SET', 'repl-diskless-sync', 'yes');
      for (let run = 0; run < opts.runs; run++) {
        const ms = await timeFailover(kind, bin, primary, c, path.join(base, `replica-${replicaNo++}`), opts.pollMs, opts.timeoutSec * 1000, String(opts.hz));
        failovers[kind].push(ms);
        progress(`${kind}: FAILOVER to a ${kind} replica in ${ms.toFixed(0)} ms`);
        await sleep(200);
      }
      c.close();
    } finally {
      await primary.stop();
    }
  }
  const med = (k: ServerKind, m: Mode): number => median(results[k][m].map((r) => r.ms));
  const rows = MODES.map((m) => compare(`full sync, ${m} (${opts.keys} keys)`, 'ms', med('forkv', m), med('redis', m), false));
  rows.push(compare(`FAILOVER, one replica of the same kind (${opts.keys} keys)`, 'ms', median(failovers.forkv), median(failovers.redis), false));
  printTable('full sync of a redis-server 7.0 replica (REPLICAOF -> link up and online on the primary, median); FAILOVER', rows);
  finishBench(b, { results, failovers, comparisons: rows });
}

runBench(main);
