// Tables on stdout and JSON results in bench/results/<name>-<date>.json, with the facts
// about the machine that decide how far a figure can be trusted (cores, load, THP...).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { FigureId } from './figures';
import { ROOT } from './servers';

export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

/** One row of a comparison: a figure for forkv and redis and whether higher is better. */
export interface Comparison {
  metric: string;
  unit: string;
  forkv: number | null;
  redis: number | null;
  /** forkv / redis (null when either is missing or redis is 0). */
  ratio: number | null;
  higherIsBetter: boolean;
  /** The target for the ratio, printed, never asserted. */
  target: string;
  /** The headline figure this row measures (bench/lib/figures.ts), if any. */
  figure?: FigureId;
}

export function compare(
  metric: string,
  unit: string,
  forkv: number | null,
  redis: number | null,
  higherIsBetter: boolean,
  target = '',
  figure?: FigureId,
): Comparison {
  const ratio = forkv !== null && redis !== null && redis !== 0 ? forkv / redis : null;
  const row: Comparison = { metric, unit, forkv, redis, ratio, higherIsBetter, target };
  if (figure !== undefined) row.figure = figure;
  return row;
}

function fmt(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toFixed(3);
}

/**
 * Prints a comparison table: metric | forkv | redis | forkv/redis | target. `names` relabels
 * the two columns (a baseline table compares forkv with an earlier forkv build).
 */
export function printTable(title: string, rows: Comparison[], names: readonly [string, string] = ['forkv', 'redis']): void {
  const head = ['metric', 'unit', names[0], names[1], `${names[0]}/${names[1]}`, 'better', 'target'];
  const body = rows.map((r) => [
    r.metric,
    r.unit,
    fmt(r.forkv),
    fmt(r.redis),
    r.ratio === null ? '-' : `${r.ratio.toFixed(3)}x`,
    r.higherIsBetter ? 'higher' : 'lower',
    r.target,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const b of body) process.stdout.write(`${line(b)}\n`);
}

/** Facts about this machine at the time of the run. */
export function hostInfo(): Record<string, string | number | number[]> {
  const read = (p: string): string => {
    try {
      return fs.readFileSync(p, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  };
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    kernel: `${os.type()} ${os.release()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    memTotalGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    transparentHugepage: read('/sys/kernel/mm/transparent_hugepage/enabled'),
    overcommitMemory: read('/proc/sys/vm/overcommit_memory'),
  };
}

/** Warns when the machine is busy: every figure of this run is then noise. */
export function warnIfBusy(): void {
  const [l1] = os.loadavg();
  const n = os.cpus().length;
  if (l1 !== undefined && l1 > 0.5) {
    process.stdout.write(
      `WARNING: 1-minute load average is ${l1.toFixed(2)} on ${n} cores before the run: other processes compete for CPU, figures will be noisy.\n`,
    );
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
}

/** Writes bench/results/<name>-<date>.json and returns its path. */
export function writeResults(name: string, startedAt: Date, data: Record<string, unknown>): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}-${stamp(startedAt)}.json`);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Prints a line prefixed with the elapsed time (progress on long runs). */
export function progress(msg: string): void {
  const t = process.uptime().toFixed(1).padStart(6);
  process.stdout.write(`[${t}s] ${msg}\n`);
}

/** Removes a harness's temp directory tree (dumps and AOFs of 1M keys are large). */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Bytes as decimal megabytes for progress lines. */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
