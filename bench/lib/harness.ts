// The frame every bench harness shares: flags parsed and echoed, binaries checked, the
// host described, a fresh work directory; at the end one JSON result file with the same
// provenance fields in every harness (options, defaults, reduced scale, host, versions),
// so that a smoke run can never pass for a full-scale one.
import * as path from 'node:path';

import { bool, changedFlags, defaultsOf, parseFlags, str, strList, type Flag, type FlagSpec, type Parsed } from './flags';
import { hostInfo, removeDir, warnIfBusy, writeResults } from './report';
import { checkBinaries, DEFAULT_BINARIES, freshDir, serverVersions, type Binaries } from './servers';

/** The flags every harness has (spread them into its spec). */
export function commonFlags(keepDirsHelp: string): {
  keepDirs: Flag<boolean>;
  serverArgs: Flag<string[]>;
  redisServer: Flag<string>;
  forkvCli: Flag<string>;
} {
  return {
    keepDirs: bool(false, keepDirsHelp),
    serverArgs: strList([], 'extra directives for both servers, as name=value,name=value'),
    redisServer: str(DEFAULT_BINARIES.redisServer, 'reference redis-server binary'),
    forkvCli: str(DEFAULT_BINARIES.forkvCli, "forkv's dist/cli.js"),
  };
}

type CommonSpec = FlagSpec & ReturnType<typeof commonFlags>;
type CommonOpts = Parsed<ReturnType<typeof commonFlags>>;

/** A started harness: its options and the facts recorded with its results. */
export interface Bench<S extends CommonSpec> {
  readonly name: string;
  readonly spec: S;
  readonly opts: Parsed<S> & CommonOpts;
  readonly startedAt: Date;
  readonly bin: Binaries;
  /** Flags changed from their defaults (a reduced-scale run). */
  readonly reduced: string[];
  readonly host: Record<string, string | number | number[]>;
  readonly versions: Record<string, string>;
  /** The run's temp directory (removed at the end unless --keep-dirs). */
  readonly base: string;
}

/** Parses the flags and prepares a run: `validate` may refuse option values before anything starts. */
export function beginBench<S extends CommonSpec>(name: string, title: string, spec: S, validate?: (opts: Parsed<S>) => void): Bench<S> {
  // TypeScript cannot resolve the conditional flag types of a generic spec; the common
  // flags are there by the constraint on S.
  const opts = parseFlags(title, spec) as Parsed<S> & CommonOpts;
  validate?.(opts);
  const startedAt = new Date();
  const bin: Binaries = { forkvCli: path.resolve(opts.forkvCli), redisServer: opts.redisServer };
  checkBinaries(bin);
  const reduced = changedFlags(spec, opts);
  process.stdout.write(`${title}\n`);
  if (reduced.length > 0) process.stdout.write(`non-default flags: ${reduced.join(' ')}\n`);
  warnIfBusy();
  const host = hostInfo();
  const versions = serverVersions(bin);
  const base = freshDir(`forkv-bench-${name}-`);
  return { name, spec, opts, startedAt, bin, reduced, host, versions, base };
}

/** Writes the results file (provenance fields first, then `data`) and cleans up. */
export function finishBench<S extends CommonSpec>(b: Bench<S>, data: Record<string, unknown>): void {
  const file = writeResults(b.name, b.startedAt, {
    bench: b.name,
    startedAt: b.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    reducedScale: b.reduced.length > 0,
    nonDefaultFlags: b.reduced,
    options: b.opts,
    defaults: defaultsOf(b.spec),
    host: b.host,
    hostLoadAvgAtEnd: hostInfo().loadAvg,
    versions: b.versions,
    ...data,
  });
  process.stdout.write(`\nresults: ${file}\n`);
  if (b.opts.keepDirs) process.stdout.write(`data directories kept under ${b.base}\n`);
  else removeDir(b.base);
}

/** Runs a harness's main, printing a failure and exiting non-zero. */
export function runBench(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
