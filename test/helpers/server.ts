// Starts a real forkv-server process (dist/cli.js) on a free loopback port for a test,
// and stops it by its own PID. Every suite uses this; nothing is killed by name.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
/** Valkey 8.0.1's server, the reference the replication tests replicate with (override: VALKEY_SERVER). */
export const VALKEY_SERVER = process.env.VALKEY_SERVER ?? '/work/shared/valkey/bin/valkey-server';

export interface RunningServer {
  port: number;
  pid: number;
  dir: string;
  proc: ChildProcess;
  /** Everything the server printed so far (stdout + stderr). */
  output(): string;
  /** Resolves when the output matches `re` (or rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  /** SIGTERM (or `signal`) and wait for exit; returns the exit code/signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'forkv-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface StartOptions {
  /** Extra command-line arguments (after the config file, if any). */
  args?: string[];
  /** A config file path passed as the first argument. */
  configFile?: string;
  /** Data directory (default: a new temp dir). */
  dir?: string;
  /** Fixed port (default: a free one). */
  port?: number;
  /** Wait for readiness (default true). */
  waitReady?: boolean;
  /** Command to run instead of forkv (e.g. redis-server for reference tests). */
  command?: string[];
  env?: NodeJS.ProcessEnv;
  /** Pass exactly `args` (plus --port): no --dir, --save "" or --enable-debug-command. */
  bare?: boolean;
  /** Working directory of the process. */
  cwd?: string;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const dir = opts.dir ?? tempDir();
  const port = opts.port ?? (await freePort());
  const base = opts.command ?? [process.execPath, CLI];
  const args = opts.bare
    ? [...base.slice(1), ...(opts.args ?? []), '--port', String(port)]
    : [
        ...base.slice(1),
        ...(opts.configFile ? [opts.configFile] : []),
        '--port', String(port),
        '--dir', dir,
        '--save', '',
        '--enable-debug-command', 'yes',
        ...(opts.args ?? []),
      ];
  const proc = spawn(base[0] as string, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const waitFor = (re: RegExp, ms = 10000): Promise<void> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timeout waiting for ${re}; output:\n${out}`)), ms);
      const check = (): void => {
        if (re.test(out)) {
          clearTimeout(deadline);
          resolve();
        } else if (done) {
          clearTimeout(deadline);
          reject(new Error(`server exited before ${re}; output:\n${out}`));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  const server: RunningServer = {
    port,
    pid: proc.pid ?? -1,
    dir,
    proc,
    output: () => out,
    waitFor,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) proc.kill(signal);
      const t = setTimeout(() => {
        if (!done) proc.kill('SIGKILL');
      }, 10000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  if (opts.waitReady ?? true) await waitFor(/Ready to accept connections/);
  return server;
}

/** Starts Debian's redis-server as a reference peer (fails clearly if missing). */
export async function startRedis(args: string[] = [], dir?: string): Promise<RunningServer> {
  const bin = '/usr/bin/redis-server';
  if (!fs.existsSync(bin)) throw new Error('redis-server is not installed (apt-get install redis-server): reference tests need it');
  return startServer({ command: [bin], args: ['--bind', '127.0.0.1', ...args], dir });
}
