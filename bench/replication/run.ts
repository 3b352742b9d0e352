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
// master_link_status:up with master_sync_in_progress:0, polled every --poll-ms. The
// replica's DBSIZE must then equal the keys loaded. Each mode runs --runs times (median
// reported); the replica is stopped by its PID after each run.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { int } from '../lib/flags';
import { loadKeys } from '../lib/load';
import { compare, printTable, progress } from '../lib/report';
import { RawClient, sleep, callOk, dbsize as dbsizeOf, info as infoOf } from '../lib/client';
import { KINDS, settingsFromList, startServer, type BenchServer, type ServerKind } from '../lib/servers';
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

const TITLE = 'bench/replication: full sync time of a redis-server replica, forkv vs redis-server primary, disk and diskless';

type Mode = 'disk' | 'diskless';
const MODES: readonly Mode[] = ['disk', 'diskless'];

interface SyncRecord {
  ms: number;
  replicaDbsize: number;
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
            const done = await waitLinkUp(rc, opts.pollMs, opts.timeoutSec * 1000);
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
      c.close();
    } finally {
      await primary.stop();
    }
  }
  const med = (k: ServerKind, m: Mode): number => median(results[k][m].map((r) => r.ms));
  const rows = MODES.map((m) => compare(`full sync, ${m} (${opts.keys} keys)`, 'ms', med('forkv', m), med('redis', m), false));
  printTable('full sync of a redis-server 7.0 replica (REPLICAOF -> link up, median)', rows);
  finishBench(b, { results, comparisons: rows });
}

runBench(main);
