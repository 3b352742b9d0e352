// ForkvServer: a server object with a lifecycle, for test fixtures (what redis-memory-server
// users know, in forkv's words).
//
//   const server = await ForkvServer.create();            // started; or new ForkvServer({ autoStart: false })
//   const redis = new Redis(await server.getPort());
//   await server.stop();                                    // keeps port and dir ...
//   await server.start();                                   // ... so this comes back on both
//   await server.stop({ cleanup: true });                   // and removes the temp dir it made
//
// Two modes:
// - 'in-process' (default): createServer() in this process; starts in about a millisecond.
// - 'child-process': forkv runs in a child Node process (ts/fixture-child.ts), for runners
//   that isolate tests in worker threads or processes, or when the test process must not share
//   its event loop with the server. A watchdog in the child stops the server when this process
//   dies (its IPC channel closes), so a crashed test never leaves a server behind.
//
// Neither mode keeps the Node process alive by itself; a start() or stop() in flight does,
// so an awaited one always settles.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createServer, type CloseOptions, type CreateServerOptions, type EmbeddedServer } from './embedded';

/** Where the server runs. */
export type ServerMode = 'in-process' | 'child-process';

/** What ForkvServer takes: createServer's options, plus the lifecycle's. */
export interface ForkvServerOptions extends CreateServerOptions {
  /** `new ForkvServer()` starts at once unless this is false (default true). */
  autoStart?: boolean;
  /** 'in-process' (default) or 'child-process'. */
  mode?: ServerMode;
}

/** How stop() stops. */
export interface StopServerOptions extends CloseOptions {
  /** Also remove the temporary directory made for `dir` (start() then makes a new one). */
  cleanup?: boolean;
}

/** A running server's facts. */
export interface InstanceInfo {
  readonly host: string;
  readonly port: number;
  /** The unix socket's path (the `unixSocket` option), or null. */
  readonly socketPath: string | null;
  /** `redis://host:port` (see EmbeddedServer.url without a TCP listener). */
  readonly url: string;
  /** The data directory (absolute). */
  readonly dir: string;
  /** The process the server runs in: this one ('in-process') or the child. */
  readonly pid: number;
  readonly mode: ServerMode;
}

/** Messages between ForkvServer and ts/fixture-child.ts. */
export type ChildRequest =
  | { t: 'start'; opts: CreateServerOptions; removeDirOnOrphan: boolean }
  | { t: 'stop'; save?: boolean; force?: boolean };
export type ChildReply =
  | { t: 'ready'; host: string; port: number; socketPath: string | null; url: string; dir: string }
  | { t: 'start-failed'; message: string }
  | { t: 'stopped' }
  | { t: 'stop-failed'; message: string };

/** Temporary directories still owned by a ForkvServer, removed at process exit. */
const ownedDirs = new Set<string>();
/** Children still running, killed at process exit when their directory is removed. */
const liveChildren = new Set<{ child: ChildProcess; dir: string | null }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // A child whose temporary dir goes away is killed now; any other child stops through its
    // watchdog (with its shutdown save) once this process is gone.
    for (const c of liveChildren) {
      if (c.dir !== null && ownedDirs.has(c.dir)) c.child.kill('SIGKILL');
    }
    for (const d of ownedDirs) fs.rmSync(d, { recursive: true, force: true });
    ownedDirs.clear();
  });
}

/** Holds the event loop open while a promise is pending (lifecycle steps must settle). */
async function keepingAlive<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => undefined, 1 << 30);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

/** The running state of one mode. */
interface Running {
  info: InstanceInfo;
  stop(opts: CloseOptions): Promise<void>;
  /** False once a child process has died on its own (crashed, killed). */
  alive(): boolean;
  /** The in-process server, for advanced use. */
  embedded: EmbeddedServer | null;
}

/** A forkv server with a start/stop lifecycle. */
export class ForkvServer {
  private readonly opts: ForkvServerOptions;
  private readonly mode: ServerMode;
  /** Port and dir stick after the first start, so start() after stop() comes back on both. */
  private port: number | null | undefined;
  private dir: string | undefined;
  private tempDir: string | null = null;
  private running: Running | null = null;
  /** The lifecycle step in flight; steps run one after another. */
  private step: Promise<unknown> = Promise.resolve();
  private starting: Promise<void> | null = null;

  /** Creates a server and waits until it accepts connections (unless `autoStart: false`). */
  static async create(opts: ForkvServerOptions = {}): Promise<ForkvServer> {
    const s = new ForkvServer({ ...opts, autoStart: false });
    if (opts.autoStart !== false) await s.start();
    return s;
  }

  constructor(opts: ForkvServerOptions = {}) {
    if (opts.mode !== undefined && opts.mode !== 'in-process' && opts.mode !== 'child-process') {
      throw new Error(`mode must be 'in-process' or 'child-process', not ${JSON.stringify(opts.mode)}`);
    }
    this.opts = opts;
    this.mode = opts.mode ?? 'in-process';
    this.port = opts.port;
    this.dir = opts.dir === undefined ? undefined : path.resolve(opts.dir);
    if (opts.autoStart !== false) {
      // Started in the background; getPort()/getHost()/start() wait for it and report its error.
      this.start().catch(() => undefined);
    }
  }

  /** Starts the server (a no-op when running; waits when a start is in flight). */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    const p = this.enqueue(async () => {
      if (this.running?.alive()) return;
      this.running = this.mode === 'in-process' ? await this.startInProcess() : await this.startChild();
      if (this.port !== null) this.port = this.running.info.port;
    });
    this.starting = p;
    const clear = (): void => {
      if (this.starting === p) this.starting = null;
    };
    p.then(clear, clear);
    return p;
  }

  /**
   * Stops the server: SHUTDOWN's save rules unless `save` says otherwise (see CloseOptions).
   * The port and dir are kept for the next start(); `cleanup: true` removes the temp dir.
   * A no-op when not running.
   */
  stop(opts: StopServerOptions = {}): Promise<void> {
    return this.enqueue(async () => {
      const r = this.running;
      if (r) {
        await r.stop({
          ...(opts.save !== undefined ? { save: opts.save } : {}),
          ...(opts.force !== undefined ? { force: opts.force } : {}),
        });
        this.running = null;
      }
      if (opts.cleanup && this.tempDir !== null) {
        fs.rmSync(this.tempDir, { recursive: true, force: true });
        ownedDirs.delete(this.tempDir);
        this.tempDir = null;
        this.dir = undefined;
      }
    });
  }

  /** The TCP port, once started (waits for a start in flight). */
  async getPort(): Promise<number> {
    return (await this.runningInfo()).port;
  }

  /** The unix socket's path (the `unixSocket` option), once started; null without one. */
  async getSocketPath(): Promise<string | null> {
    return (await this.runningInfo()).socketPath;
  }

  /** The bound address, once started (waits for a start in flight). */
  async getHost(): Promise<string> {
    return (await this.runningInfo()).host;
  }

  /** `redis://host:port`, once started (waits for a start in flight). */
  async getUrl(): Promise<string> {
    return (await this.runningInfo()).url;
  }

  /** `redis://host:port` of the running server; throws when it is not running. */
  get url(): string {
    const info = this.instanceInfo();
    if (!info) throw new Error('the forkv server is not running: await start() first');
    return info.url;
  }

  /** Port, host, url, dir, pid and mode of the running server, or null when it is not running. */
  instanceInfo(): InstanceInfo | null {
    return this.running?.alive() ? this.running.info : null;
  }

  /** The in-process EmbeddedServer (info(), save(), the Server), or null (not running, or child mode). */
  get embedded(): EmbeddedServer | null {
    return this.running?.embedded ?? null;
  }

  private async runningInfo(): Promise<InstanceInfo> {
    if (this.starting) await this.starting;
    const info = this.instanceInfo();
    if (!info) throw new Error('the forkv server is not running: await start() first');
    return info;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.step.then(fn, fn);
    this.step = p.catch(() => undefined);
    return keepingAlive(p);
  }

  /** The dir to use: the given or sticky one, else a new temporary one this object owns. */
  private dataDir(): string | undefined {
    const named = this.dir !== undefined || 'dir' in (this.opts.config ?? {}) || (this.opts.args ?? []).some((a) => /^--dir(\s|$)/i.test(a));
    if (named) return this.dir;
    this.tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-'));
    ownedDirs.add(this.tempDir);
    installExitHook();
    this.dir = this.tempDir;
    return this.dir;
  }

  private serverOptions(): CreateServerOptions {
    const o = this.opts;
    const dir = this.dataDir();
    return {
      ...(this.port !== undefined ? { port: this.port } : {}),
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.unixSocket !== undefined ? { unixSocket: o.unixSocket } : {}),
      ...(o.unixSocketPerm !== undefined ? { unixSocketPerm: o.unixSocketPerm } : {}),
      ...(dir !== undefined ? { dir } : {}),
      ...(o.config !== undefined ? { config: o.config } : {}),
      ...(o.configFile !== undefined ? { configFile: o.configFile } : {}),
      ...(o.args !== undefined ? { args: o.args } : {}),
    };
  }

  private async startInProcess(): Promise<Running> {
    const s = await createServer(this.serverOptions());
    return {
      info: { host: s.host, port: s.port, socketPath: s.socketPath, url: s.url, dir: s.dir, pid: process.pid, mode: 'in-process' },
      stop: (o) => s.close(o),
      alive: () => true,
      embedded: s,
    };
  }

  private async startChild(): Promise<Running> {
    const opts = this.serverOptions();
    const entry = childEntry();
    const child = fork(entry.file, [], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const tracked = { child, dir: this.tempDir };
    liveChildren.add(tracked);
    installExitHook();
    child.once('exit', () => liveChildren.delete(tracked));
    const replies = new ChildReplies(child);
    try {
      send(child, { t: 'start', opts, removeDirOnOrphan: this.tempDir !== null });
      const r = await replies.next();
      if (r.t !== 'ready') throw new Error(r.t === 'start-failed' ? r.message : `unexpected reply from the forkv child: ${r.t}`);
      // From here on the child must not keep this process alive; the watchdog covers a crash.
      child.unref();
      child.channel?.unref();
      const pid = child.pid ?? 0;
      return {
        info: { host: r.host, port: r.port, socketPath: r.socketPath, url: r.url, dir: r.dir, pid, mode: 'child-process' },
        embedded: null,
        alive: () => child.exitCode === null && child.signalCode === null,
        stop: async (o) => {
          // A child that died on its own has nothing left to stop.
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.channel?.ref();
          const exited = new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
          });
          send(child, { t: 'stop', ...o });
          // The exit can be seen before the last message: a clean exit (0) is the child's
          // answer to 'stop' too.
          const reply = await replies.next().catch((e: unknown) => {
            if (child.exitCode === 0) return { t: 'stopped' } as const;
            throw e;
          });
          if (reply.t === 'stop-failed') {
            child.channel?.unref();
            throw new Error(reply.message);
          }
          await exited;
        },
      };
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }
}

/** The child entry point: the compiled file, or the TypeScript source under tsx. */
function childEntry(): { file: string; execArgv: string[] } {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `fixture-child${ext}`);
  return { file, execArgv: ext === '.ts' ? ['--import', 'tsx'] : [] };
}

function send(child: ChildProcess, m: ChildRequest): void {
  if (!child.connected) throw new Error('the forkv child process is gone');
  child.send(m);
}

/** Replies from the child in order; a child that exits fails the one awaited. */
class ChildReplies {
  private readonly queue: ChildReply[] = [];
  private waiter: { resolve: (r: ChildReply) => void; reject: (e: Error) => void } | null = null;
  private gone: Error | null = null;

  constructor(child: ChildProcess) {
    child.on('message', (m: ChildReply) => {
      if (this.waiter) {
        this.waiter.resolve(m);
        this.waiter = null;
      } else {
        this.queue.push(m);
      }
    });
    child.once('exit', (code, signal) => {
      this.gone = new Error(`the forkv child process exited (${signal ?? `code ${code}`})`);
      this.waiter?.reject(this.gone);
      this.waiter = null;
    });
  }

  next(): Promise<ChildReply> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}
