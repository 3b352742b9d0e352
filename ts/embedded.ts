// The embedded API: run a forkv server inside your own Node process.
//
//   const server = await createServer({ config: { save: '' } });
//   const client = new Redis(server.port);            // any Redis/Valkey client
//   ...
//   await server.close();
//
// Each server has its own keyspace (its own native Core), its own data directory and its own
// listening port; any number of them can live in one process. What they share is the process:
//
// - Only one fork child per process at a time: the fork machinery refuses a second child
//   while one is alive. Each server tracks only its own child, so when server A is in a
//   BGSAVE (or BGREWRITEAOF) and server B forks too, B's fork fails with EEXIST: B logs
//   "Can't save in background: EEXIST child <pid> already running", answers BGSAVE with
//   "-ERR", and counts it as a failed save (rdb_last_bgsave_status:err, and with save rules
//   and stop-writes-on-bgsave-error, MISCONF until a later save succeeds). SAVE and save()
//   do not fork and are unaffected.
// - Listeners and client sockets are unref'd: an embedded server never keeps the process
//   alive by itself. When the process exits without close(), a process 'exit' hook kills
//   this server's fork child (if any), writes pending AOF data, and removes the data
//   directory if createServer made it. The kernel closes the sockets. No shutdown save runs
//   then (it would need the event loop): call close() for that.
// - close() always settles: while it runs it holds the event loop open itself, and client
//   sockets are destroyed once their pending output is written (Server.stop), so an awaited
//   close() finishes even when nothing else is alive in the process.
// - Signals stay the host's: the embedded server installs no SIGINT/SIGTERM handlers.
//
// ForkvServer (./fixture) adds a start/stop lifecycle and a child-process mode on top.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadServerConfig, parseCommandLine, quoteArg } from './config';
import { renderInfo } from './info';
import { Logger, type LogLevel } from './log';
import { Server } from './server';
import { VERSION } from './version';

/** A directive's value: a string is one argument (quoted as needed), an array is several. */
export type ConfigValue = string | number | boolean | readonly string[];

/** What createServer takes. Every field is optional. */
export interface CreateServerOptions {
  /**
   * TCP port. 0 (the default) binds an ephemeral port: read it from `server.port`. `null`:
   * no TCP listener (then give `unixSocket`, or a `tls-port` in `config`). (In forkv-server's
   * command line, as in valkey-server's, `port 0` means "no TCP listener".)
   */
  port?: number | null;
  /**
   * A unix socket to listen on as well (Valkey's `unixsocket`): clients connect by path
   * (ioredis `{ path }`, node-redis `{ socket: { path } }`, `redis-cli -s`). With `port: null`
   * it is the only listener. The socket file is removed by close() and at process exit.
   */
  unixSocket?: string;
  /** Permissions of the unix socket file (`unixsocketperm`), e.g. `0o700`. Default: the umask's. */
  unixSocketPerm?: number;
  /** Address to bind (default `127.0.0.1`, or `config.bind` when given). */
  host?: string;
  /**
   * Data directory for dump.rdb and appendonlydir/. Created if missing. Default: a new
   * temporary directory, removed again by close() (and at process exit).
   */
  dir?: string;
  /**
   * valkey.conf directives, by name: `{ save: '', appendonly: 'yes', 'maxmemory-policy': 'noeviction' }`.
   * Booleans become yes/no. `port`, `bind` and `dir` come from the fields above when given.
   */
  config?: Readonly<Record<string, ConfigValue>>;
  /** A valkey.conf file to read first (`config` entries win over it); CONFIG REWRITE writes it. */
  configFile?: string;
  /**
   * Raw server arguments, as forkv-server (and valkey-server) take them after the config file:
   * `['--appendonly', 'yes', '--save', '']`. They apply after `config`; `port`, `host` and
   * `dir` above, when given, win over both.
   */
  args?: readonly string[];
}

/** How close() stops the server. */
export interface CloseOptions {
  /**
   * true: save the RDB even without save rules (SHUTDOWN SAVE); false: do not save
   * (SHUTDOWN NOSAVE). Default: save when save rules are configured, as SHUTDOWN does.
   */
  save?: boolean;
  /** Stop even if the final save fails (SHUTDOWN FORCE). */
  force?: boolean;
}

/** A running embedded server. */
export interface EmbeddedServer {
  /** The address it listens on (`127.0.0.1` unless told otherwise). */
  readonly host: string;
  /** The TCP port it listens on (the ephemeral one when port 0 was asked); 0 with `port: null`. */
  readonly port: number;
  /** The TLS port (`tls-port` in `config`), or 0 without TLS. */
  readonly tlsPort: number;
  /** The unix socket's path, or null without one. */
  readonly socketPath: string | null;
  /**
   * `redis://host:port`, for clients that take a URL; without a TCP listener,
   * `rediss://host:tlsPort`, or `unix://<path>` when the unix socket is the only listener.
   */
  readonly url: string;
  /** Its data directory (absolute). */
  readonly dir: string;
  /** The Server itself, for advanced use (its config store, its log, events). */
  readonly server: Server;
  /** INFO fields as name → value (`info('keyspace').db0`); no section = INFO's default sections. */
  info(section?: string): Promise<Record<string, string>>;
  /** SAVE: writes the RDB snapshot to `dir` synchronously (no fork). Rejects on failure. */
  save(): Promise<void>;
  /**
   * SHUTDOWN: saves if configured (see CloseOptions), closes clients, frees the port. Rejects
   * (and the server keeps running) if the final save fails without `force`, as SHUTDOWN does.
   * Calling it again after it resolved is a no-op.
   */
  close(opts?: CloseOptions): Promise<void>;
}

/** Servers still open, for the process 'exit' hook. */
const live = new Set<{ server: Server; cleanup: () => void }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const entry of live) {
      try {
        entry.cleanup();
      } catch {
        // Exiting anyway: a failure here must not hide the process's own exit status.
      }
    }
    live.clear();
  });
}

function configLine(name: string, value: ConfigValue): string {
  const args = typeof value === 'boolean' ? [value ? 'yes' : 'no']
    : typeof value === 'number' ? [String(value)]
    : typeof value === 'string' ? [value]
    : [...value];
  return `${name} ${args.map((a) => quoteArg(a)).join(' ')}`;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The config text of raw server arguments (`--name value ...`). A config file goes in
 * `configFile`, not here: a first argument that is not an option is refused.
 */
function rawArgsText(args: readonly string[]): string {
  if (args.length === 0) return '';
  if (!args[0]?.startsWith('--')) {
    throw new Error(`args must be --directive options (pass a config file as configFile): ${JSON.stringify(args[0])}`);
  }
  const cl = parseCommandLine(args);
  if (cl.kind !== 'run') throw new Error(cl.kind === 'unsupported' ? cl.message : `args: ${args[0]} is not a server option`);
  if (cl.configFromStdin) throw new Error('args: reading the configuration from stdin (-) is not possible here');
  return cl.text;
}

/** Parses INFO text into name → value. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/**
 * Starts a forkv server in this process and resolves once it accepts connections (after
 * loading dump.rdb or the AOF from `dir`, if there is one).
 *
 * Defaults differ from forkv-server's in three ways, all suited to a library: an ephemeral
 * port, a fresh temporary `dir`, and `loglevel nothing` (set `config.loglevel` and
 * `config.logfile` to see the log). Everything else is Valkey's default, including the
 * save rules (pass `save: ''` for a pure in-memory server).
 */
export async function createServer(opts: CreateServerOptions = {}): Promise<EmbeddedServer> {
  const config = opts.config ?? {};
  const argsText = rawArgsText(opts.args ?? []);
  // A temporary directory only when nobody names one (the field, `config.dir` or `--dir`).
  const dirNamed = opts.dir !== undefined || 'dir' in config || /^dir /im.test(argsText);
  const ownDir = !dirNamed;
  const explicitDir = opts.dir === undefined ? null : path.resolve(opts.dir);
  const tempDir = ownDir ? fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-')) : null;
  if (explicitDir !== null) fs.mkdirSync(explicitDir, { recursive: true });

  // Later lines win: the library defaults, then `config`, then `args`, then the fields.
  const lines: string[] = ['loglevel nothing', 'bind 127.0.0.1', 'port 0'];
  for (const [name, value] of Object.entries(config)) lines.push(configLine(name, value));
  if (argsText !== '') lines.push(argsText);
  if (opts.host !== undefined) lines.push(configLine('bind', opts.host));
  if (opts.port !== undefined) lines.push(configLine('port', String(opts.port ?? 0)));
  if (opts.unixSocket !== undefined) lines.push(configLine('unixsocket', path.resolve(opts.unixSocket)));
  if (opts.unixSocketPerm !== undefined) lines.push(configLine('unixsocketperm', opts.unixSocketPerm.toString(8)));
  const fieldDir = explicitDir ?? tempDir;
  if (fieldDir !== null) lines.push(configLine('dir', fieldDir));
  let dir = fieldDir ?? '';

  const removeOwnDir = (): void => {
    if (tempDir !== null) fs.rmSync(tempDir, { recursive: true, force: true });
  };
  let server: Server;
  try {
    const { store, configFile, warnings, users, renameCommands } = loadServerConfig({
      configFile: opts.configFile ?? null,
      stdinText: null,
      options: lines.join('\n'),
      version: VERSION.forkv,
    });
    const log = new Logger(store.getString('logfile'), store.getEnum('loglevel') as LogLevel);
    for (const w of warnings) log.warning(w.message);
    server = new Server(store, configFile, log, { ephemeralPort: opts.port !== null, unref: true, users, renameCommands });
    dir = server.dataDir();
  } catch (e) {
    removeOwnDir();
    throw e;
  }

  const entry = {
    server,
    cleanup: (): void => {
      // Synchronous only: this runs in process 'exit'.
      if (server.core.native.childProgress()) {
        server.core.native.killChild();
        server.core.native.waitChild(1000);
      }
      server.aof.flush(true);
      server.listening.removeUnixSocket();
      server.log.close();
      removeOwnDir();
    },
  };
  live.add(entry);
  installExitHook();
  try {
    await server.start();
  } catch (e) {
    live.delete(entry);
    await server.stop();
    server.log.close();
    removeOwnDir();
    throw e;
  }

  const host = server.boundAddresses[0] ?? '127.0.0.1';
  const port = server.port;
  const tlsPort = server.tlsPort;
  const socketPath = server.unixSocket;
  const url = port !== 0 ? `redis://${urlHost(host)}:${port}`
    : tlsPort !== 0 ? `rediss://${urlHost(host)}:${tlsPort}`
    : `unix://${socketPath ?? ''}`;
  let closed: Promise<void> | null = null;

  return {
    host,
    port,
    tlsPort,
    socketPath,
    url,
    dir,
    server,
    info(section?: string) {
      return Promise.resolve(parseInfo(renderInfo(server, section === undefined ? [] : [section])));
    },
    save() {
      const reply = server.rdb.saveCommand();
      if (reply.t === 'error') return Promise.reject(new Error(reply.v));
      return Promise.resolve();
    },
    close(closeOpts: CloseOptions = {}) {
      if (closed) return closed;
      const attempt = (async (): Promise<void> => {
        const err = await server.shutdown({
          ...(closeOpts.save !== undefined ? { save: closeOpts.save } : {}),
          ...(closeOpts.force !== undefined ? { force: closeOpts.force } : {}),
        });
        if (err !== null) throw new Error(err);
        live.delete(entry);
        server.log.close();
        removeOwnDir();
      })();
      closed = attempt;
      // A refused shutdown leaves the server running; a later close() may try again.
      attempt.catch(() => {
        if (closed === attempt) closed = null;
      });
      return attempt;
    },
  };
}
