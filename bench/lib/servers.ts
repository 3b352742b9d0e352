// Starts forkv (node dist/cli.js) and redis-server side by side on free loopback ports with
// the same directives, and stops each by its own PID (never by name).
//
// Both get the same settings: bind 127.0.0.1, their own fresh --dir, save '' (no automatic
// snapshots), appendonly no, logging to stdout (captured here and copied to <dir>/server.log),
// plus whatever a harness overrides. Later settings replace earlier ones (a Map, not a list),
// so a directive is never given twice (redis appends repeated `save` lines).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FORKV_CLI = path.join(ROOT, 'dist', 'cli.js');

export type ServerKind = 'forkv' | 'redis';
export const KINDS: readonly ServerKind[] = ['forkv', 'redis'];

export interface Binaries {
  /** Path of forkv's dist/cli.js. */
  forkvCli: string;
  /** Path of the reference redis-server. */
  redisServer: string;
}

export const DEFAULT_BINARIES: Binaries = { forkvCli: FORKV_CLI, redisServer: '/usr/bin/redis-server' };

export interface StartOptions {
  kind: ServerKind;
  bin: Binaries;
  /** Data directory; created if missing. */
  dir: string;
  /** Fixed port (a restart on the same dir keeps its port); default a free one. */
  port?: number;
  /** Directives that replace or extend the common ones. */
  settings?: Record<string, string>;
  /** Run under `taskset -c <cpu>` (see --pin in the README). */
  cpu?: number | null;
  /** How long to wait for "Ready to accept connections" (ms). */
  readyTimeoutMs?: number;
}

/** The directives every harness starts both servers with. */
export function commonSettings(dir: string, port: number): Map<string, string> {
  return new Map<string, string>([
    ['port', String(port)],
    ['bind', '127.0.0.1'],
    ['dir', dir],
    ['dbfilename', 'dump.rdb'],
    ['save', ''],
    ['appendonly', 'no'],
    ['logfile', ''],
    ['loglevel', 'notice'],
    ['daemonize', 'no'],
  ]);
}

const live = new Set<BenchServer>();
const helpers = new Set<ChildProcess>();
let hooksInstalled = false;

/** A helper process (redis-benchmark) that must not outlive the harness; killed by its PID. */
export function trackHelper(p: ChildProcess): void {
  installExitHooks();
  helpers.add(p);
  p.once('exit', () => helpers.delete(p));
}

function killAll(): void {
  for (const s of live) s.killNow();
  for (const h of helpers) {
    if (h.pid !== undefined && h.exitCode === null && h.signalCode === null) {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** On any exit of the harness, no server or helper it started survives it. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping the servers this harness started (by PID)\n`);
      killAll();
      process.exit(130);
    });
  }
}

export class BenchServer {
  private out = '';
  private readonly watchers: Array<() => void> = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly logStream: fs.WriteStream;
  /** performance.now() when "Ready to accept connections" arrived (set by startServer). */
  readyAt = NaN;

  constructor(
    readonly kind: ServerKind,
    readonly port: number,
    readonly dir: string,
    readonly proc: ChildProcess,
    /** performance.now() at spawn. */
    readonly spawnedAt: number,
    readonly argv: string[],
  ) {
    this.logStream = fs.createWriteStream(path.join(dir, 'server.log'), { flags: 'a' });
    const onData = (d: Buffer): void => {
      const s = d.toString();
      this.out += s;
      this.logStream.write(s);
      for (const w of this.watchers.splice(0)) w();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        for (const w of this.watchers.splice(0)) w();
        resolve({ code, signal });
      });
    });
    live.add(this);
  }

  get pid(): number {
    const p = this.proc.pid;
    if (p === undefined) throw new Error(`${this.kind}: no pid`);
    return p;
  }

  get label(): string {
    return `${this.kind}:${this.port}`;
  }

  output(): string {
    return this.out;
  }

  /**
   * Resolves with the performance.now() time at which the output matched `re`: the moment
   * the chunk arrived if it was not there yet, else now. Rejects on timeout or exit.
   */
  waitFor(re: RegExp, ms = 30000): Promise<number> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`${this.label}: timeout waiting for ${re}; output:\n${this.tail()}`)), ms);
      const check = (): void => {
        if (re.test(this.out)) {
          clearTimeout(deadline);
          resolve(performance.now());
        } else if (this.exitInfo !== null) {
          clearTimeout(deadline);
          reject(new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) before ${re}; output:\n${this.tail()}`));
        } else this.watchers.push(check);
      };
      check();
    });
  }

  tail(lines = 30): string {
    return this.out.split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM by PID, wait; SIGKILL by PID after `graceMs`. */
  async stop(graceMs = 30000): Promise<void> {
    if (this.exitInfo !== null) return this.closeLog();
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const t = setTimeout(() => this.killNow(), graceMs);
    await this.exited;
    clearTimeout(t);
    await this.closeLog();
  }

  killNow(): void {
    if (this.exitInfo !== null || this.proc.pid === undefined) return;
    try {
      process.kill(this.proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private closeLog(): Promise<void> {
    return new Promise((r) => this.logStream.end(() => r()));
  }
}

function tryPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      const got = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(got));
    });
  });
}

/** `FORKV_BENCH_PORTS=lo-hi`: the range the harnesses take ports from (shared machines). */
function portRange(): [number, number] | null {
  const m = /^(\d+)-(\d+)$/.exec(process.env['FORKV_BENCH_PORTS'] ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

let nextInRange = 0;

/**
 * A free TCP port on 127.0.0.1 (bound then released): from FORKV_BENCH_PORTS (`lo-hi`,
 * taken in turn) when set, else one the kernel picks.
 */
export async function freePort(): Promise<number> {
  const range = portRange();
  if (range === null) return tryPort(0);
  const [lo, hi] = range;
  for (let i = 0; i <= hi - lo; i++) {
    const port = lo + ((nextInRange++) % (hi - lo + 1));
    try {
      return await tryPort(port);
    } catch {
      // taken: try the next one
    }
  }
  throw new Error(`FORKV_BENCH_PORTS=${lo}-${hi}: no free port`);
}

/** A fresh directory under the OS temp dir (or `base`). */
export function freshDir(prefix: string, base = os.tmpdir()): string {
  return fs.mkdtempSync(path.join(base, prefix));
}

/** Spawns a server and waits for "Ready to accept connections". */
export async function startServer(o: StartOptions): Promise<BenchServer> {
  installExitHooks();
  fs.mkdirSync(o.dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const settings = commonSettings(o.dir, port);
  for (const [k, v] of Object.entries(o.settings ?? {})) settings.set(k, v);
  const directives: string[] = [];
  for (const [k, v] of settings) directives.push(`--${k}`, v);
  let argv = o.kind === 'forkv' ? [process.execPath, o.bin.forkvCli, ...directives] : [o.bin.redisServer, ...directives];
  if (o.cpu !== undefined && o.cpu !== null) argv = ['taskset', '-c', String(o.cpu), ...argv];
  const t0 = performance.now();
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: o.dir });
  const s = new BenchServer(o.kind, port, o.dir, proc, t0, argv);
  s.readyAt = await s.waitFor(/Ready to accept connections/, o.readyTimeoutMs ?? 120000);
  return s;
}

/** Starts one server of each kind, each in its own fresh subdirectory of `base`. */
export async function startBoth(
  base: string,
  bin: Binaries,
  settings: Record<string, string>,
  cpu: number | null,
): Promise<Record<ServerKind, BenchServer>> {
  const forkv = await startServer({ kind: 'forkv', bin, dir: path.join(base, 'forkv'), settings, cpu });
  const redis = await startServer({ kind: 'redis', bin, dir: path.join(base, 'redis'), settings, cpu });
  return { forkv, redis };
}

/** Version strings and build facts of both servers, for the results file. */
export function serverVersions(bin: Binaries): Record<string, string> {
  const run = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  };
  const mtime = (p: string): string => {
    try {
      return fs.statSync(p).mtime.toISOString();
    } catch {
      return 'missing';
    }
  };
  const nativeDir = path.join(path.dirname(bin.forkvCli), 'native');
  const natives = fs.existsSync(nativeDir) ? fs.readdirSync(nativeDir).filter((f) => f.endsWith('.node')) : [];
  return {
    forkv: run(process.execPath, [bin.forkvCli, '--version']),
    forkvGitCommit: run('git', ['-C', ROOT, 'rev-parse', 'HEAD']),
    forkvGitDirty: run('git', ['-C', ROOT, 'status', '--porcelain', '--', 'ts', 'crates']) === '' ? 'no' : 'yes (uncommitted changes in ts/ or crates/)',
    forkvCliMtime: mtime(bin.forkvCli),
    forkvNativeMtime: natives.length > 0 ? mtime(path.join(nativeDir, natives[0] as string)) : 'missing',
    redis: run(bin.redisServer, ['--version']),
    node: process.version,
  };
}

/** Fails early with a clear message when forkv is not built. */
export function checkBinaries(bin: Binaries): void {
  if (!fs.existsSync(bin.forkvCli)) {
    throw new Error(`${bin.forkvCli} is missing: build forkv first (CARGO_TARGET_DIR=/tmp/target-bench npm run build)`);
  }
  if (!fs.existsSync(bin.redisServer)) throw new Error(`${bin.redisServer} is missing (apt-get install redis-server)`);
}

/** `name=value` items (the --server-args flag) to a settings record. */
export function settingsFromList(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`--server-args: expected name=value, got ${item}`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** Moves this harness process (all its threads) to one CPU, away from the servers (--pin). */
export function pinSelf(cpu: number): void {
  spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
}
