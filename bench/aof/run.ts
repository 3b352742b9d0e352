// bench/aof: append-only file costs on forkv vs redis-server, side by side.
//
//   npx tsx bench/aof/run.ts                                   # full scale
//   npx tsx bench/aof/run.ts --requests 20000 --keys 100000    # smoke run
//
// 1. SET throughput per appendfsync policy: for each policy, each server starts in a fresh dir
//    with appendonly yes, appendfsync <policy>, auto-aof-rewrite-percentage 0 (no automatic
//    rewrite in the middle), and gets
//      redis-benchmark -t set -n <requests> -r <keyspace> -c <clients> -d <data-size> -P 1 --csv
//    (--rounds times, interleaved: the server order alternates per policy and round; medians
//    reported), after an unmeasured GET warm-up (--warmup; GETs write nothing to the AOF).
//    Figures: ops/s, p50, p99, server CPU, AOF size.
// 2. BGREWRITEAOF on --keys keys: each server (appendonly yes, appendfsync everysec, fresh dir)
//    is loaded with SET key:<i> <value> (pipelined), then BGREWRITEAOF x --rewrites, each timed
//    from the command to INFO aof_rewrite_in_progress:0 and aof_rewrite_scheduled:0 (polled every
//    --poll-ms) with aof_last_bgrewrite_status:ok, while an open-loop GET probe measures latency.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { fsyncFigure, type FigureId } from '../lib/figures';
import { bool, int, str, strList } from '../lib/flags';
import { keyName, loadKeys, PacedProbe } from '../lib/load';
import { dirSize, waitForChild } from '../lib/persist';
import { cpuSeconds, rssBytes } from '../lib/proc';
import { runRedisBenchmark, type BenchmarkRow } from '../lib/redis-benchmark';
import { compare, printTable, progress, type Comparison, mb } from '../lib/report';
import { cmd, RawClient, sleep, callOk, dbsize as dbsizeOf, infoField } from '../lib/client';
import {
  KINDS,
  pinSelf,
  settingsFromList,
  startServer,
  type ServerKind,
} from '../lib/servers';
import { median, summarize, type LatencySummary } from '../lib/stats';
import { beginBench, commonFlags, finishBench, runBench } from '../lib/harness';

const SPEC = {
  policies: strList(['always', 'everysec', 'no'], 'appendfsync policies for the SET throughput runs'),
  requests: int(200_000, 'redis-benchmark -n for the SET runs'),
  keyspace: int(1_000_000, 'redis-benchmark -r'),
  clients: int(50, 'redis-benchmark -c'),
  dataSize: int(100, 'redis-benchmark -d'),
  pipeline: int(1, 'redis-benchmark -P'),
  rounds: int(3, 'SET runs per policy and server (the median is reported); each in a fresh server'),
  warmup: int(50_000, 'unmeasured GETs (which write nothing to the AOF) before each SET run: JIT, connections; 0 = none'),
  keys: int(1_000_000, 'distinct keys loaded before BGREWRITEAOF'),
  valueSize: int(100, 'value size of the loaded keys, bytes (pseudo-random text)'),
  rewrites: int(3, 'BGREWRITEAOFs measured per server (median reported)'),
  pollMs: int(10, 'INFO polling interval while the rewrite child runs, ms'),
  gapMs: int(500, 'idle time between two rewrites, ms'),
  hz: int(100, 'hz for both servers in the rewrite phase (the child is reaped from the cron)'),
  probeRate: int(2000, 'latency probe during the rewrites: GETs per second (open loop)'),
  skipThroughput: bool(false, 'skip the appendfsync SET runs'),
  skipRewrite: bool(false, 'skip the BGREWRITEAOF runs'),
  pin: bool(false, 'taskset: servers on CPU 0, redis-benchmark and the harness on CPU 1'),
  seed: int(1, 'PRNG seed for values'),
  redisBenchmark: str('/usr/bin/redis-benchmark', 'redis-benchmark binary'),
  ...commonFlags('keep the servers\' data directories (dumps, AOFs, server.log) after the run'),
};

const TITLE = 'bench/aof: SET throughput per appendfsync policy and BGREWRITEAOF duration, forkv vs redis-server';

interface FsyncRun {
  round: number;
  policy: string;
  server: ServerKind;
  row: BenchmarkRow;
  serverCpuSec: number;
  aofDirBytes: number;
  wallMs: number;
}

interface RewriteRecord {
  durationMs: number;
  forkUsec: number;
  status: string;
  cowBytes: number;
  aofDirBytesAfter: number;
  probe: LatencySummary;
  /** The slowest probe requests of this rewrite, scheduled `atMs` after BGREWRITEAOF was sent. */
  worst: Array<{ atMs: number; latencyMs: number }>;
}

interface RewriteResult {
  load: { ms: number; opsPerSec: number; dbsize: number; aofDirBytes: number; rssBytes: number };
  rewrites: RewriteRecord[];
  probeDuringRewrites: LatencySummary;
  probeDuringRewritesScheduled: LatencySummary;
}

async function main(): Promise<void> {
  const b = beginBench('aof', TITLE, SPEC);
  const { opts, bin, base } = b;
  const serverCpu = opts.pin ? 0 : null;
  const clientCpu = opts.pin ? 1 : null;
  if (opts.pin) pinSelf(1);
  const extra = settingsFromList(opts.serverArgs);
  progress(`dirs under ${base}`);

  // 1. appendfsync policies
  const fsyncRuns: FsyncRun[] = [];
  if (!opts.skipThroughput) {
    let turn = 0;
    for (let round = 0; round < opts.rounds; round++) for (const policy of opts.policies) {
      const order: ServerKind[] = turn++ % 2 === 0 ? [...KINDS] : [...KINDS].reverse();
      for (const kind of order) {
        const dir = path.join(base, `fsync-${policy}-${kind}-${round}`);
        const settings = { appendonly: 'yes', appendfsync: policy, 'auto-aof-rewrite-percentage': '0', ...extra };
        const s = await startServer({ kind, bin, dir, settings, cpu: serverCpu });
        try {
          if (opts.warmup > 0) {
            await runRedisBenchmark(opts.redisBenchmark, s.port, ['-t', 'get', '-n', String(opts.warmup), '-r', String(opts.keyspace), '-c', String(opts.clients), '-P', String(opts.pipeline)], clientCpu);
          }
          const args = ['-t', 'set', '-n', String(opts.requests), '-r', String(opts.keyspace), '-c', String(opts.clients), '-d', String(opts.dataSize), '-P', String(opts.pipeline)];
          const cpu0 = cpuSeconds(s.pid);
          const r = await runRedisBenchmark(opts.redisBenchmark, s.port, args, clientCpu);
          const cpu = cpuSeconds(s.pid) - cpu0;
          const row = r.rows.find((x) => x.test === 'SET');
          if (row === undefined) throw new Error(`${kind}: no SET row from redis-benchmark`);
          const aofDir = path.join(dir, 'appendonlydir');
          const run: FsyncRun = { round, policy, server: kind, row, serverCpuSec: cpu, aofDirBytes: dirSize(aofDir), wallMs: r.wallMs };
          fsyncRuns.push(run);
          progress(`round ${round + 1}/${opts.rounds} appendfsync ${policy} ${kind}: ${Math.round(row.rps)} SET/s p50 ${row.p50Ms} p99 ${row.p99Ms} ms, server CPU ${cpu.toFixed(2)} s, AOF ${mb(run.aofDirBytes)}`);
        } finally {
          await s.stop();
        }
      }
    }
  }

  // 2. BGREWRITEAOF
  const rewrite: Partial<Record<ServerKind, RewriteResult>> = {};
  if (!opts.skipRewrite) {
    for (const kind of KINDS) {
      const dir = path.join(base, `rewrite-${kind}`);
      const settings = { appendonly: 'yes', appendfsync: 'everysec', 'auto-aof-rewrite-percentage': '0', hz: String(opts.hz), ...extra };
      const s = await startServer({ kind, bin, dir, settings, cpu: serverCpu });
      try {
        const c = await RawClient.connect(s.port);
        const poll = await RawClient.connect(s.port);
        const pc = await RawClient.connect(s.port);
        progress(`${kind}: loading ${opts.keys} keys x ${opts.valueSize} bytes with appendonly yes`);
        const lr = await loadKeys(c, { keys: opts.keys, valueSize: opts.valueSize, prefix: 'key:', batch: 1000, window: 8, seed: opts.seed });
        const dbsize = await dbsizeOf(c);
        if (dbsize !== opts.keys) throw new Error(`${kind}: DBSIZE ${dbsize} after loading ${opts.keys} keys`);
        await sleep(1100); // let everysec flush what the load wrote
        const aofDir = path.join(dir, 'appendonlydir');
        const load = { ms: lr.ms, opsPerSec: lr.opsPerSec, dbsize, aofDirBytes: dirSize(aofDir), rssBytes: rssBytes(s.pid) };
        progress(`${kind}: loaded in ${(lr.ms / 1000).toFixed(2)} s (${Math.round(lr.opsPerSec)} SET/s), AOF ${mb(load.aofDirBytes)}`);
        let x = (opts.seed + 17) >>> 0 || 1;
        const probe = new PacedProbe(pc, opts.probeRate, () => {
          x ^= x << 13;
          x >>>= 0;
          x ^= x >>> 17;
          x ^= x << 5;
          x >>>= 0;
          return cmd('GET', keyName('key:', x % opts.keys));
        });
        probe.start();
        await sleep(200);
        const recs: RewriteRecord[] = [];
        const windows: Array<[number, number]> = [];
        for (let i = 0; i < opts.rewrites; i++) {
          const t0 = performance.now();
          await callOk(c, 'BGREWRITEAOF');
          const w = await waitForChild(poll, 'persistence', { aof_rewrite_in_progress: '0', aof_rewrite_scheduled: '0' }, { pollMs: opts.pollMs, timeoutMs: 600000 });
          windows.push([t0, w.doneAt]);
          const forkUsec = Number(await infoField(poll, 'stats', 'latest_fork_usec'));
          const rec: RewriteRecord = {
            durationMs: w.doneAt - t0,
            forkUsec,
            status: w.last.get('aof_last_bgrewrite_status') ?? '?',
            cowBytes: Number(w.last.get('aof_last_cow_size')),
            aofDirBytesAfter: dirSize(aofDir),
            probe: summarize(probe.latencies(t0, w.doneAt)),
            worst: probe.worst(t0, w.doneAt, 10),
          };
          recs.push(rec);
          progress(
            `${kind}: BGREWRITEAOF ${i + 1}/${opts.rewrites} ${rec.status} in ${rec.durationMs.toFixed(0)} ms, fork ${forkUsec} us, ` +
              `AOF dir ${mb(rec.aofDirBytesAfter)}, probe p99 ${rec.probe.p99.toFixed(3)} max ${rec.probe.max.toFixed(3)} ms (slowest at ${rec.worst[0]?.atMs.toFixed(0) ?? '?'} ms)`,
          );
          if (rec.status !== 'ok') throw new Error(`${kind}: BGREWRITEAOF failed (aof_last_bgrewrite_status ${rec.status})\n${s.tail()}`);
          await sleep(opts.gapMs);
        }
        await probe.stop();
        if (probe.errors > 0) throw new Error(`${kind}: ${probe.errors} probe errors`);
        const pooled: number[] = [];
        const pooledSched: number[] = [];
        for (const [a, b] of windows) {
          pooled.push(...probe.latencies(a, b));
          pooledSched.push(...probe.latencies(a, b, 'scheduled'));
        }
        rewrite[kind] = { load, rewrites: recs, probeDuringRewrites: summarize(pooled), probeDuringRewritesScheduled: summarize(pooledSched) };
        c.close();
        poll.close();
        pc.close();
      } finally {
        await s.stop();
      }
    }
  }

  const tables: Record<string, Comparison[]> = {};
  if (fsyncRuns.length > 0) {
    const rows: Comparison[] = [];
    const pick = (policy: string, kind: ServerKind, f: (r: FsyncRun) => number): number | null => {
      const xs = fsyncRuns.filter((r) => r.policy === policy && r.server === kind).map(f);
      return xs.length > 0 ? median(xs) : null;
    };
    for (const policy of opts.policies) {
      rows.push(compare(`appendfsync ${policy}: SET ops/s`, 'ops/s', pick(policy, 'forkv', (r) => r.row.rps), pick(policy, 'redis', (r) => r.row.rps), true, '>= 1.0', fsyncFigure(policy)));
      rows.push(compare(`appendfsync ${policy}: SET p50`, 'ms', pick(policy, 'forkv', (r) => r.row.p50Ms), pick(policy, 'redis', (r) => r.row.p50Ms), false));
      rows.push(compare(`appendfsync ${policy}: SET p99`, 'ms', pick(policy, 'forkv', (r) => r.row.p99Ms), pick(policy, 'redis', (r) => r.row.p99Ms), false));
      rows.push(
        compare(
          `appendfsync ${policy}: server CPU per 1M SETs`,
          's',
          pick(policy, 'forkv', (r) => (r.serverCpuSec / opts.requests) * 1e6),
          pick(policy, 'redis', (r) => (r.serverCpuSec / opts.requests) * 1e6),
          false,
        ),
      );
      rows.push(compare(`appendfsync ${policy}: AOF dir size`, 'MB', pick(policy, 'forkv', (r) => r.aofDirBytes / 1e6), pick(policy, 'redis', (r) => r.aofDirBytes / 1e6), false));
    }
    tables['fsync'] = rows;
    printTable(`SET with appendonly yes: -n ${opts.requests} -r ${opts.keyspace} -c ${opts.clients} -d ${opts.dataSize} -P ${opts.pipeline} (median of ${opts.rounds})`, rows);
  }
  const rf = rewrite.forkv;
  const rr = rewrite.redis;
  if (rf !== undefined && rr !== undefined) {
    const both = (metric: string, unit: string, f: (r: RewriteResult) => number, higher: boolean, target = '', figure?: FigureId): Comparison =>
      compare(metric, unit, f(rf), f(rr), higher, target, figure);
    const med = (xs: number[]): number => median(xs.filter((v) => Number.isFinite(v)));
    const rows: Comparison[] = [
      both('BGREWRITEAOF -> aof_rewrite_in_progress:0 (median)', 'ms', (r) => med(r.rewrites.map((x) => x.durationMs)), false, '<= 0.7', 'bgrewriteaof-ms'),
      both('latest_fork_usec (median)', 'us', (r) => med(r.rewrites.map((x) => x.forkUsec)), false, '<= 1.0'),
      both('AOF dir size after rewrite', 'MB', (r) => (r.rewrites[r.rewrites.length - 1]?.aofDirBytesAfter ?? NaN) / 1e6, false, '<= 1.0'),
      both('AOF dir size before rewrite (after load)', 'MB', (r) => r.load.aofDirBytes / 1e6, false),
      both('aof_last_cow_size (median)', 'MB', (r) => med(r.rewrites.map((x) => x.cowBytes)) / 1e6, false),
      both('probe GET p99 during rewrites', 'ms', (r) => r.probeDuringRewrites.p99, false, '<= 1.0'),
      both('probe GET max during rewrites', 'ms', (r) => r.probeDuringRewrites.max, false),
      both('pipelined loader with appendonly (1 connection)', 'SET/s', (r) => r.load.opsPerSec, true),
    ];
    tables['rewrite'] = rows;
    printTable(`BGREWRITEAOF: ${opts.keys} keys x ${opts.valueSize} bytes, ${opts.rewrites} rewrites, hz ${opts.hz}`, rows);
  }
  finishBench(b, {
    tables,
    fsyncRuns,
    rewrite,
  });
}

runBench(main);
