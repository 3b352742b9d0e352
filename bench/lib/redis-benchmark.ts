// Runs Debian's redis-benchmark (7.0) against one server and parses its --csv output:
//   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
// (7.0 prints the same percentiles in its non-quiet "Latency by percentile" block; the CSV
// carries them all on one line per test, so that is what is parsed).
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

import { trackHelper } from './servers';

export interface BenchmarkRow {
  test: string;
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BenchmarkRun {
  argv: string[];
  rows: BenchmarkRow[];
  wallMs: number;
  stderr: string;
}

const CSV_HEADER = '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"';

export function parseBenchmarkCsv(stdout: string): BenchmarkRow[] {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const h = lines.indexOf(CSV_HEADER);
  if (h < 0) throw new Error(`redis-benchmark: no CSV header in output:\n${stdout}`);
  const rows: BenchmarkRow[] = [];
  for (const line of lines.slice(h + 1)) {
    const cells = line.split(',').map((c) => c.replace(/^"|"$/g, ''));
    if (cells.length !== 8) continue;
    const n = cells.slice(1).map(Number);
    if (n.some((x) => !Number.isFinite(x))) throw new Error(`redis-benchmark: bad CSV line: ${line}`);
    rows.push({
      test: cells[0] as string,
      rps: n[0] as number,
      avgMs: n[1] as number,
      minMs: n[2] as number,
      p50Ms: n[3] as number,
      p95Ms: n[4] as number,
      p99Ms: n[5] as number,
      maxMs: n[6] as number,
    });
  }
  return rows;
}

/**
 * `redis-benchmark -h 127.0.0.1 -p <port> <args> --csv`, optionally under `taskset -c <cpu>`.
 * Rejects when it exits non-zero or prints "Error" (e.g. an error reply from the server).
 */
export function runRedisBenchmark(binary: string, port: number, args: string[], cpu: number | null): Promise<BenchmarkRun> {
  let argv = [binary, '-h', '127.0.0.1', '-p', String(port), ...args, '--csv'];
  if (cpu !== null) argv = ['taskset', '-c', String(cpu), ...argv];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    trackHelper(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('exit', (code, signal) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) {
        reject(new Error(`${argv.join(' ')} exited ${code ?? signal}:\n${out}\n${err}`));
        return;
      }
      if (/error/i.test(out.replace(CSV_HEADER, ''))) {
        reject(new Error(`${argv.join(' ')} reported an error:\n${out}\n${err}`));
        return;
      }
      try {
        resolve({ argv, rows: parseBenchmarkCsv(out), wallMs, stderr: err });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
