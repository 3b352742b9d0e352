// bench/figures: collects the headline figures of issue 16 (bench/lib/figures.ts) from the
// latest full-scale results of bench/throughput, bench/memory, bench/snapshot and bench/aof
// into bench/figures.json, the one source of the README's benchmark table (`npm run readme`
// renders it).
//
//   npx tsx bench/figures.ts                      # latest full-scale result of each harness
//   npx tsx bench/figures.ts --files a.json,b.json # these results instead (one per harness)
//   npx tsx bench/figures.ts --allow-reduced      # accept smoke runs (never for the README)
//   npx tsx bench/figures.ts --missing aof='why'  # record a harness's figures as not measured
//
// A figure whose row is missing, or a result from a run with uncommitted changes in ts/ or
// crates/, is an error: the table must describe committed code, every figure of it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FIGURES, type BenchName, type FigureId } from './lib/figures';
import { bool, parseFlags, strList } from './lib/flags';
import { RESULTS_DIR, type Comparison } from './lib/report';
import { ROOT } from './lib/servers';

const SPEC = {
  files: strList([], 'results files to use (default: the newest full-scale one of each harness in bench/results/)'),
  allowReduced: bool(false, 'accept reduced-scale (smoke) results'),
  allowDirty: bool(false, 'accept results of a build with uncommitted changes in ts/ or crates/'),
  missing: strList([], "harnesses without a usable result, as name=reason: their figures are recorded as not measured, with the reason"),
};

const OUT = path.join(ROOT, 'bench', 'figures.json');
const BENCHES: BenchName[] = ['throughput', 'memory', 'snapshot', 'aof'];

/** The parts of a results file this collector reads (see bench/lib/harness.ts). */
interface ResultsFile {
  bench: string;
  startedAt: string;
  finishedAt: string;
  reducedScale: boolean;
  nonDefaultFlags: string[];
  options: Record<string, unknown>;
  host: Record<string, unknown>;
  hostLoadAvgAtEnd: number[];
  versions: Record<string, string>;
  table?: Comparison[];
  tables?: Record<string, Comparison[]>;
}

function readResults(file: string): ResultsFile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile;
}

function rowsOf(r: ResultsFile): Comparison[] {
  return [...(r.table ?? []), ...Object.values(r.tables ?? {}).flat()];
}

/** The newest result of a harness that the flags accept. */
function newest(bench: BenchName, allowReduced: boolean): string {
  const files = fs.existsSync(RESULTS_DIR)
    ? fs
        .readdirSync(RESULTS_DIR)
        .filter((f) => f.startsWith(`${bench}-`) && f.endsWith('.json'))
        .sort()
        .reverse()
    : [];
  for (const f of files) {
    const p = path.join(RESULTS_DIR, f);
    if (allowReduced || !readResults(p).reducedScale) return p;
  }
  throw new Error(`no ${allowReduced ? '' : 'full-scale '}result of bench/${bench} in ${RESULTS_DIR}: run npm run bench:${bench}`);
}

/** How many times a harness repeated what its medians are taken over. */
function repeats(r: ResultsFile): string {
  const o = r.options;
  switch (r.bench) {
    case 'throughput':
      return `median of ${String(o['rounds'])} interleaved rounds of ${String(o['requests'])} requests`;
    case 'snapshot':
      return `median of ${String(o['saves'])} BGSAVEs and ${String(o['saves'])} SAVEs per server`;
    case 'aof':
      return `median of ${String(o['rounds'])} SET runs per policy, ${String(o['rewrites'])} rewrites`;
    default:
      return 'one load per server';
  }
}

function main(): void {
  const opts = parseFlags('bench/figures: issue 16 headline figures from the latest results -> bench/figures.json', SPEC);
  const byBench = new Map<string, { file: string; r: ResultsFile }>();
  const missing = new Map<string, string>();
  for (const m of opts.missing) {
    const i = m.indexOf('=');
    const name = i < 0 ? m : m.slice(0, i);
    if (!(BENCHES as string[]).includes(name)) throw new Error(`--missing: unknown harness ${name}`);
    missing.set(name, i < 0 ? 'not run' : m.slice(i + 1));
  }
  const files =
    opts.files.length > 0 ? opts.files.map((f) => path.resolve(f)) : BENCHES.filter((b) => !missing.has(b)).map((b) => newest(b, opts.allowReduced));
  for (const file of files) {
    const r = readResults(file);
    if (byBench.has(r.bench)) throw new Error(`two results of bench/${r.bench}: ${byBench.get(r.bench)?.file} and ${file}`);
    if (r.reducedScale && !opts.allowReduced) throw new Error(`${file} is a reduced-scale run (${r.nonDefaultFlags.join(' ')})`);
    if (r.versions['forkvGitDirty'] !== 'no' && !opts.allowDirty) throw new Error(`${file} measured a build with uncommitted changes (${r.versions['forkvGitDirty']})`);
    byBench.set(r.bench, { file, r });
  }

  const figures = (Object.keys(FIGURES) as FigureId[]).map((id) => {
    const spec = FIGURES[id];
    const run = byBench.get(spec.bench);
    const why = missing.get(spec.bench);
    if (run === undefined && why !== undefined) {
      return { id, label: spec.label, bench: spec.bench, kind: spec.kind, unit: '', forkv: null, redis: null, ratio: null, higherIsBetter: false, target: '', missing: why };
    }
    if (run === undefined) throw new Error(`figure ${id}: no result of bench/${spec.bench}`);
    const row = rowsOf(run.r).find((x) => x.figure === id);
    if (row === undefined) throw new Error(`figure ${id}: ${run.file} has no row for it (a run of an older harness?)`);
    if (row.forkv === null || row.redis === null) throw new Error(`figure ${id}: ${run.file} lacks a value (forkv ${row.forkv}, redis ${row.redis})`);
    return { id, label: spec.label, bench: spec.bench, kind: spec.kind, unit: row.unit, forkv: row.forkv, redis: row.redis, ratio: row.ratio, higherIsBetter: row.higherIsBetter, target: row.target, missing: null };
  });

  const runs = BENCHES.flatMap((b): Array<Record<string, unknown>> => {
    const x = byBench.get(b);
    if (x === undefined) return [{ bench: b, missing: missing.get(b) ?? 'not run' }];
    const { r, file } = x;
    return [
      {
        bench: b,
        file: path.relative(ROOT, file),
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        reducedScale: r.reducedScale,
        repeats: repeats(r),
        loadAvgAtStart: r.host['loadAvg'],
        loadAvgAtEnd: r.hostLoadAvgAtEnd,
        forkvGitCommit: r.versions['forkvGitCommit'],
      },
    ];
  });
  const first = byBench.get(BENCHES.find((b) => byBench.has(b)) ?? 'throughput');
  if (first === undefined) throw new Error('no results');
  const h = first.r.host;
  const out = {
    generatedBy: 'npx tsx bench/figures.ts',
    machine: {
      cpuModel: h['cpuModel'],
      cpuCount: h['cpuCount'],
      memTotalGiB: h['memTotalGiB'],
      kernel: h['kernel'],
      transparentHugepage: h['transparentHugepage'],
      node: first.r.versions['node'],
      redis: first.r.versions['redis'],
    },
    runs,
    figures,
  };
  fs.writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
  for (const f of figures) {
    if (f.forkv === null || f.redis === null) {
      process.stdout.write(`${f.label.padEnd(62)} not measured: ${f.missing ?? '?'}\n`);
      continue;
    }
    const ratio = f.ratio === null ? '-' : `${f.ratio.toFixed(2)}x`;
    process.stdout.write(`${f.label.padEnd(62)} forkv ${String(Number(f.forkv.toPrecision(4))).padStart(10)}  redis ${String(Number(f.redis.toPrecision(4))).padStart(10)}  ${ratio.padStart(7)}  ${f.target}\n`);
  }
  process.stdout.write(`\nwrote ${path.relative(ROOT, OUT)}; run \`npm run readme\` to render it into README.md\n`);
}

main();
