// bench/throughput: redis-benchmark SET/GET against forkv and redis-server side by side.
//
//   npx tsx bench/throughput/run.ts                       # full scale (see bench/README.md)
//   npx tsx bench/throughput/run.ts --requests 100000     # smoke run
//
// For each pipeline depth (-P), each server first gets an unmeasured warm-up run (--warmup
// requests). Then for each round, each server gets a FLUSHALL and then, one test at a time
// (so the server CPU is known per test),
//   redis-benchmark -t <test> -n <requests> -r <keyspace> -c <clients> -d <data-size> -P <p> --csv
// with the server order alternating per round (interleaved: forkv, redis, redis, forkv, ...).
// Figures (median over rounds): ops/s, p50 and p99 (ms) per test, from redis-benchmark's CSV,
// and the server's own CPU per request (/proc/<pid>/stat) as k ops per server core-second,
// which does not depend on how the two cores are shared with redis-benchmark.
//
// --baseline <dist/cli.js of another forkv build> adds that build as a third server in the
// same rounds (same alternation) and a second table per -P: this build against it, the
// before/after comparison of a change measured under the same conditions.

import * as path from 'node:path';

import { throughputFigure } from '../lib/figures';
import { bool, int, intList, str } from '../lib/flags';
import { runRedisBenchmark, type BenchmarkRow } from '../lib/redis-benchmark';
import { compare, printTable, progress, type Comparison } from '../lib/report';
import { RawClient, callOk } from '../lib/client';
import { cpuSeconds } from '../lib/proc';
import { KINDS, settingsFromList, startBoth, startServer, type BenchServer } from '../lib/servers';
import { median } from '../lib/stats';
import { beginBench, commonFlags, finishBench, runBench } from '../lib/harness';

const SPEC = {
  requests: int(1_000_000, 'redis-benchmark -n: requests per test'),
  keyspace: int(1_000_000, 'redis-benchmark -r: random keys in [0, keyspace)'),
  clients: int(50, 'redis-benchmark -c: parallel connections'),
  dataSize: int(100, 'redis-benchmark -d: value size in bytes'),
  pipelines: intList([1, 16], 'redis-benchmark -P values, one run each'),
  tests: str('set,get', 'redis-benchmark -t'),
  warmup: int(100_000, 'requests per test of an unmeasured warm-up run per server and -P (JIT, allocator), 0 = none'),
  rounds: int(3, 'runs per server and -P (the median is reported); order alternates per round'),
  baseline: str('', "another forkv build's dist/cli.js, run in the same rounds and compared with this one (before/after)"),
  threads: int(0, 'redis-benchmark --threads (0: not passed, single-threaded client)'),
  pin: bool(false, 'taskset: servers on CPU 0, redis-benchmark on CPU 1'),
  redisBenchmark: str('/usr/bin/redis-benchmark', 'redis-benchmark binary'),
  ...commonFlags('keep the servers\' data directories (dumps, AOFs, server.log) after the run'),
};

const TITLE = 'bench/throughput: redis-benchmark SET/GET ops/s and latency, forkv vs redis-server';

/** The servers of a run: forkv and redis, and the baseline forkv build when asked for. */
type Label = 'forkv' | 'redis' | 'baseline';

interface RunRecord {
  round: number;
  pipeline: number;
  server: Label;
  row: BenchmarkRow;
  /** Server CPU seconds (user+sys, all threads) over this test's redis-benchmark run. */
  serverCpuSec: number;
  /** Requests of this test's run. */
  requests: number;
  wallMs: number;
}

/** Requests per second of server CPU (user+sys), in thousands. */
function kOpsPerCoreSec(r: RunRecord): number {
  return r.requests / r.serverCpuSec / 1000;
}

async function main(): Promise<void> {
  const b = beginBench('throughput', TITLE, SPEC);
  const { opts, bin, base } = b;
  const serverCpu = opts.pin ? 0 : null;
  const clientCpu = opts.pin ? 1 : null;

  const settings = settingsFromList(opts.serverArgs);
  const servers: Partial<Record<Label, BenchServer>> = await startBoth(base, bin, settings, serverCpu);
  const labels: Label[] = [...KINDS];
  if (opts.baseline !== '') {
    const baselineBin = { ...bin, forkvCli: path.resolve(opts.baseline) };
    servers.baseline = await startServer({ kind: 'forkv', bin: baselineBin, dir: path.join(base, 'baseline'), settings, cpu: serverCpu });
    labels.push('baseline');
  }
  for (const l of labels) progress(`${l} pid ${servers[l]?.pid} port ${servers[l]?.port}`);
  progress(`dirs under ${base}`);
  const tests = opts.tests.split(',').filter((t) => t !== '');

  const runs: RunRecord[] = [];
  try {
    for (const p of opts.pipelines) {
      for (let round = 0; round < opts.rounds; round++) {
        const order: Label[] = round % 2 === 0 ? [...labels] : [...labels].reverse();
        for (const kind of order) {
          const s = servers[kind];
          if (s === undefined) continue;
          const argsFor = (test: string, n: number): string[] => {
            const a = ['-t', test, '-n', String(n), '-r', String(opts.keyspace), '-c', String(opts.clients), '-d', String(opts.dataSize), '-P', String(p)];
            if (opts.threads > 0) a.push('--threads', String(opts.threads));
            return a;
          };
          if (opts.warmup > 0 && round === 0) await runRedisBenchmark(opts.redisBenchmark, s.port, argsFor(opts.tests, opts.warmup), clientCpu);
          const c = await RawClient.connect(s.port);
          await callOk(c, 'FLUSHALL');
          c.close();
          const parts: string[] = [];
          for (const test of tests) {
            const cpu0 = cpuSeconds(s.pid);
            const r = await runRedisBenchmark(opts.redisBenchmark, s.port, argsFor(test, opts.requests), clientCpu);
            const cpu = cpuSeconds(s.pid) - cpu0;
            for (const row of r.rows) {
              runs.push({ round, pipeline: p, server: kind, row, serverCpuSec: cpu, requests: opts.requests, wallMs: r.wallMs });
              parts.push(`${row.test} ${Math.round(row.rps)} ops/s p50 ${row.p50Ms} p99 ${row.p99Ms} CPU ${cpu.toFixed(2)} s`);
            }
          }
          progress(`-P ${p} round ${round + 1}/${opts.rounds} ${kind}: ${parts.join('; ')}`);
        }
      }
    }
  } finally {
    await Promise.all(labels.map((l) => servers[l]?.stop()));
  }

  // Summaries: median over rounds of each figure.
  const tables: Record<string, Comparison[]> = {};
  const baselineTables: Record<string, Comparison[]> = {};
  const testNames = [...new Set(runs.map((r) => r.row.test))];
  for (const p of opts.pipelines) {
    const rows: Comparison[] = [];
    const pick = (kind: Label, test: string, f: (r: RunRecord) => number): number | null => {
      const xs = runs.filter((r) => r.pipeline === p && r.server === kind && r.row.test === test).map(f);
      return xs.length > 0 ? median(xs) : null;
    };
    for (const t of testNames) {
      rows.push(compare(`${t} ops/s`, 'ops/s', pick('forkv', t, (r) => r.row.rps), pick('redis', t, (r) => r.row.rps), true, '>= 1.0', throughputFigure(t, 'ops', p)));
      rows.push(compare(`${t} p50`, 'ms', pick('forkv', t, (r) => r.row.p50Ms), pick('redis', t, (r) => r.row.p50Ms), false));
      rows.push(compare(`${t} p99`, 'ms', pick('forkv', t, (r) => r.row.p99Ms), pick('redis', t, (r) => r.row.p99Ms), false, p === 1 ? '<= 1.2' : '', throughputFigure(t, 'p99', p)));
      rows.push(compare(`${t} k ops per server core-second`, 'k ops/s', pick('forkv', t, kOpsPerCoreSec), pick('redis', t, kOpsPerCoreSec), true, '', throughputFigure(t, 'kops-core', p)));
    }
    const key = `P${p}`;
    tables[key] = rows;
    printTable(
      `-P ${p}: -n ${opts.requests} -r ${opts.keyspace} -c ${opts.clients} -d ${opts.dataSize}${opts.rounds > 1 ? ` (median of ${opts.rounds} rounds)` : ''}`,
      rows,
    );
    if (labels.includes('baseline')) {
      // The same figures, this build against the baseline build (no targets: a change is
      // judged by whether its ratios stay at 1.0 or above within the noise of the rounds).
      const vs: Comparison[] = [];
      for (const t of testNames) {
        vs.push(compare(`${t} ops/s`, 'ops/s', pick('forkv', t, (r) => r.row.rps), pick('baseline', t, (r) => r.row.rps), true));
        vs.push(compare(`${t} p99`, 'ms', pick('forkv', t, (r) => r.row.p99Ms), pick('baseline', t, (r) => r.row.p99Ms), false));
        vs.push(compare(`${t} k ops per server core-second`, 'k ops/s', pick('forkv', t, kOpsPerCoreSec), pick('baseline', t, kOpsPerCoreSec), true));
      }
      baselineTables[key] = vs;
      printTable(`-P ${p}: this build against the baseline ${opts.baseline}`, vs, ['forkv', 'baseline']);
    }
  }
  finishBench(b, {
    tables,
    ...(labels.includes('baseline') ? { baselineTables } : {}),
    runs,
  });
}

runBench(main);
