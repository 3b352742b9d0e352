// The server: listening sockets, the per-connection data path into the core, host
// command dispatch, and the cron (Valkey's serverCron). One Server owns one Core, so
// several servers can live in one process, each with its own keyspace.
import * as net from 'node:net';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';

import { ConfigStore } from './config/store';
import { Core, Step, globMatch, type FeedResult } from './native/core';
import { Connection } from './net/connection';
import { Logger, type LogLevel } from './log';
import { encode, error, type Reply } from './resp/encode';
import { runHostCommand } from './commands';
import { loadUsersAtStartup } from './commands/acl';
import { VERSION } from './version';
import { RdbPersistence } from './persistence/rdb';
import { AofPersistence } from './persistence/aof';

/** Counters kept by the host for INFO stats. */
export interface HostStats {
  totalConnections: number;
  rejectedConnections: number;
  totalNetOutputBytes: number;
  /** Ring of (time, commands) samples for instantaneous_ops_per_sec. */
  opsSamples: Array<[number, number]>;
  peakMemory: number;
}

/** How a Server runs, beyond its configuration. */
export interface ServerOptions {
  /**
   * `port 0` binds an ephemeral port (the embedded API). Without it, port 0 means "no TCP
   * listener", as in valkey-server, and forkv (which has no unix socket) refuses to start.
   */
  ephemeralPort?: boolean;
  /** Listeners and client sockets do not keep the Node process alive (the embedded API). */
  unref?: boolean;
  /** `user` directives of the config file (words after `user`), applied at start. */
  users?: ReadonlyArray<readonly string[]>;
}

/** How a server stops. */
export interface StopOptions {
  reason?: string;
}

/** SHUTDOWN's options: save overrides the save rules; force ignores save errors. */
export interface ShutdownOptions {
  save?: boolean;
  force?: boolean;
  now?: boolean;
}

export class Server extends EventEmitter {
  readonly core: Core;
  readonly log: Logger;
  readonly clients = new Map<number, Connection>();
  readonly startedAt = Date.now();
  readonly runId: string;
  readonly rdb: RdbPersistence;
  readonly aof: AofPersistence;
  readonly stats: HostStats = { totalConnections: 0, rejectedConnections: 0, totalNetOutputBytes: 0, opsSamples: [], peakMemory: 0 };
  /** Port actually bound (differs from config when port 0 was asked). */
  port = 0;
  /** Addresses actually bound. */
  boundAddresses: string[] = [];
  private netServers: net.Server[] = [];
  private cronTimer: NodeJS.Timeout | null = null;
  /** Deadline timers of blocked clients, by client id. */
  private readonly blockTimers = new Map<number, NodeJS.Timeout>();
  private servingWoken = false;
  private stopping: Promise<void> | null = null;
  private statsProviders: Array<() => Array<[string, string | number]>> = [];
  private shutdownHooks: Array<(opts: ShutdownOptions) => Promise<string | null>> = [];
  private reloadHandler: ((flags: string[]) => Promise<Reply>) | null = null;

  constructor(
    readonly config: ConfigStore,
    readonly configFile: string | null = null,
    log?: Logger,
    readonly options: ServerOptions = {},
  ) {
    super();
    this.log = log ?? new Logger(config.getString('logfile'), config.getEnum('loglevel') as LogLevel);
    this.core = new Core(config.getInt('databases'));
    this.core.onLog = (level, message) => this.log.log(level, message);
    this.runId = randomHex(40);
    this.applyEngineSettings();
    this.applyRequirepass();
    this.applyEncodingLimits();
    this.registerConfigHooks();
    this.rdb = new RdbPersistence(this);
    this.aof = new AofPersistence(this);
    this.updateWriteGate();
    this.addStatsProvider(() => {
      const f = this.core.native.forkStats();
      return [
        ['latest_fork_usec', f.latestForkUsec],
        ['total_forks', f.totalForks],
      ];
    });
  }

  /** INFO persistence fields. */
  persistenceInfo(): Array<[string, string | number]> {
    return [...this.rdb.infoFields(), ...this.aof.infoFields()];
  }

  /** Refuses writes while RDB saves fail (MISCONF) or the AOF cannot be written. */
  updateWriteGate(): void {
    const e = this.rdb.writeGateError() ?? this.aof?.writeGateError() ?? null;
    this.core.native.configure({ writeError: e ?? '' });
  }

  /** Pushes the compact-encoding thresholds to the keyspace. */
  private applyEncodingLimits(): void {
    const c = this.config;
    const n = (name: string): number => Number(c.getBigInt(name));
    this.core.native.setEncodingLimits({
      listMaxListpackSize: n('list-max-listpack-size'),
      hashMaxListpackEntries: n('hash-max-listpack-entries'),
      hashMaxListpackValue: n('hash-max-listpack-value'),
      setMaxIntsetEntries: n('set-max-intset-entries'),
      setMaxListpackEntries: n('set-max-listpack-entries'),
      setMaxListpackValue: n('set-max-listpack-value'),
      zsetMaxListpackEntries: n('zset-max-listpack-entries'),
      zsetMaxListpackValue: n('zset-max-listpack-value'),
      streamNodeMaxBytes: n('stream-node-max-bytes'),
      streamNodeMaxEntries: n('stream-node-max-entries'),
    });
  }

  /** Pushes the settings the core enforces. */
  private applyEngineSettings(): void {
    this.core.native.configure({
      protoMaxBulkLen: Number(this.config.getBigInt('proto-max-bulk-len')),
      queryBufferLimit: Number(this.config.getBigInt('client-query-buffer-limit')),
      hllSparseMaxBytes: Number(this.config.getBigInt('hll-sparse-max-bytes')),
      acllogMaxLen: Number(this.config.getBigInt('acllog-max-len')),
      lfu: this.config.getEnum('maxmemory-policy').includes('lfu'),
      lazyfreeLazyExpire: this.config.getBool('lazyfree-lazy-expire'),
    });
  }

  /** `requirepass` is the default ACL user's password (set only when it changes: ACL
   * SETUSER default may have changed the user since). */
  private applyRequirepass(): void {
    this.core.native.configure({ requirepass: this.config.getString('requirepass') });
  }

  private registerConfigHooks(): void {
    const engine = (): null => {
      this.applyEngineSettings();
      return null;
    };
    for (const name of ['proto-max-bulk-len', 'client-query-buffer-limit', 'hll-sparse-max-bytes', 'acllog-max-len', 'maxmemory-policy', 'lazyfree-lazy-expire']) this.config.onChange(name, engine);
    this.config.onChange('requirepass', () => {
      this.applyRequirepass();
      return null;
    });
    const encodings = (): null => {
      this.applyEncodingLimits();
      return null;
    };
    for (const name of ENCODING_LIMIT_DIRECTIVES) this.config.onChange(name, encodings);
    this.config.onChange('loglevel', (v) => {
      this.log.setLevel(v as LogLevel);
      return null;
    });
    this.config.onChange('hz', () => {
      this.startCron();
      return null;
    });
  }

  /** Binds every configured address, then logs readiness. Rejects if the port is taken. */
  async start(): Promise<void> {
    this.log.notice(`forkv ${VERSION.forkv} (Valkey ${VERSION.valkeyCompat} compatible), 64 bit, standalone mode, port ${this.config.getInt('port')}, PID: ${process.pid}`);
    this.log.notice('Server initialized');
    loadUsersAtStartup(this, this.options.users ?? []);
    await this.listenAll();
    this.startCron();
    // With appendonly yes the AOF is the source of truth, as in Valkey.
    if (this.config.getBool('appendonly')) await this.aof.loadAtStart();
    else await this.rdb.loadAtStart();
    this.log.notice('Ready to accept connections tcp');
    this.emit('ready');
  }

  private async listenAll(): Promise<void> {
    const binds = this.config.getBind();
    let port = this.config.getInt('port');
    if (port === 0 && !this.options.ephemeralPort) {
      this.log.warning('Configured to not listen anywhere, exiting.');
      throw new ListenError('Configured to not listen anywhere, exiting.');
    }
    for (const spec of binds) {
      const optional = spec.startsWith('-');
      const host = optional ? spec.slice(1) : spec;
      const addrs = host === '*' ? ['0.0.0.0'] : host === '::*' ? ['::'] : [host];
      for (const addr of addrs) {
        try {
          const srv = await this.listenOne(addr, port);
          const bound = srv.address();
          if (bound && typeof bound === 'object') port = bound.port;
          this.netServers.push(srv);
          this.boundAddresses.push(addr);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (optional && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) continue;
          this.log.warning(`Warning: Could not create server TCP listening socket ${addr}:${port}: bind: ${describeErrno(err)}`);
          this.log.warning(`Failed listening on port ${this.config.getInt('port')} (tcp), aborting.`);
          await this.closeListeners();
          throw new ListenError(`Failed listening on port ${this.config.getInt('port')} (tcp), aborting.`);
        }
      }
    }
    if (this.netServers.length === 0) throw new ListenError('Failed listening on any configured address, aborting.');
    this.port = port;
  }

  private listenOne(host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
      srv.maxConnections = this.config.getInt('maxclients') + 32;
      if (this.options.unref) srv.unref();
      srv.once('error', reject);
      srv.listen({ host, port, backlog: this.config.getInt('tcp-backlog'), ipv6Only: host.includes(':') }, () => {
        srv.off('error', reject);
        resolve(srv);
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.options.unref) socket.unref();
    const conn = new Connection(socket);
    this.stats.totalConnections++;
    if (this.clients.size >= this.config.getInt('maxclients')) {
      this.stats.rejectedConnections++;
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    if (this.protectedModeRefuses(conn)) {
      this.stats.rejectedConnections++;
      socket.end(`-${PROTECTED_MODE_ERROR}\r\n`);
      return;
    }
    const keepalive = this.config.getInt('tcp-keepalive');
    if (keepalive > 0) socket.setKeepAlive(true, keepalive * 1000);
    this.clients.set(conn.id, conn);
    const debug = this.config.getEnum('enable-debug-command');
    this.core.native.addClient(conn.id, debug === 'yes' || (debug === 'local' && conn.isLocal));
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose(conn));
  }

  /** Valkey's protected mode: no password, not bound to loopback only -> local clients only. */
  private protectedModeRefuses(conn: Connection): boolean {
    if (!this.config.getBool('protected-mode') || this.config.getString('requirepass') !== '') return false;
    const loopbackOnly = this.boundAddresses.every((a) => a === '127.0.0.1' || a === '::1' || a === 'localhost');
    return !loopbackOnly && !conn.isLocal;
  }

  private onData(conn: Connection, chunk: Buffer): void {
    conn.lastInteraction = Date.now();
    this.drive(conn, this.core.feed(conn.id, chunk));
  }

  /**
   * Writes the core's replies and runs host commands until the core needs more input.
   * Replies produced for one read are corked into one write.
   */
  private drive(conn: Connection, first: FeedResult): void {
    // Like Valkey, FLUSHALL resets persistence before its reply goes out.
    if (first.flushedAll) this.rdb.afterFlushAll();
    // Fast path: the whole read was answered by the core.
    if (first.step === Step.Done) {
      this.emitReply(conn, first.reply);
      if (first.deliver) this.deliver();
      if (first.woken) this.serveWoken();
      return;
    }
    // Host commands interleave with core replies: cork so the batch still leaves in
    // one write.
    let res = first;
    let woken = false;
    conn.socket.cork();
    try {
      for (;;) {
        this.emitReply(conn, res.reply);
        if (res.deliver) this.deliver();
        woken ||= res.woken;
        if (res.step === Step.Done) break;
        if (res.step === Step.Close) {
          this.closeAfterWrite(conn);
          break;
        }
        if (res.step === Step.Blocked) {
          this.armBlockTimer(conn);
          break;
        }
        const argv = this.core.takeHost();
        const out = this.hostReply(conn, argv);
        if (out instanceof Promise) {
          conn.busy = true;
          void out.then((reply) => {
            conn.busy = false;
            if (!conn.closed) this.drive(conn, this.core.resume(conn.id, encode(reply, conn.proto)));
          });
          break;
        }
        res = this.core.resume(conn.id, encode(out, conn.proto));
        if (res.flushedAll) this.rdb.afterFlushAll();
      }
    } finally {
      conn.socket.uncork();
    }
    // This client's commands served clients blocked on keys (or CLIENT UNBLOCK ended a
    // wait): answer them now, as Valkey does right after the command.
    if (woken) this.serveWoken();
  }

  /**
   * Writes the replies of clients woken by the core (served by another client's push,
   * timed out, or CLIENT UNBLOCKed), then runs the commands they pipelined while
   * blocked. Clients woken meanwhile are taken by the same loop, in order.
   */
  private serveWoken(): void {
    if (this.servingWoken) return;
    this.servingWoken = true;
    try {
      for (let ids = this.core.native.takeWoken(); ids.length > 0; ids = this.core.native.takeWoken()) {
        for (const id of ids) {
          this.clearBlockTimer(id);
          const conn = this.clients.get(id);
          if (conn && !conn.closed) this.drive(conn, this.core.wake(id));
        }
      }
    } finally {
      this.servingWoken = false;
    }
  }

  /** A blocked client with a timeout gets the null reply when its deadline passes. */
  private armBlockTimer(conn: Connection): void {
    this.clearBlockTimer(conn.id);
    const deadline = this.core.native.blockDeadline(conn.id);
    if (deadline === null || deadline === undefined || deadline === 0) return;
    const timer = setTimeout(() => {
      this.blockTimers.delete(conn.id);
      if (this.core.native.unblockClient(conn.id, false)) this.serveWoken();
    }, Math.max(0, deadline - Date.now()));
    timer.unref();
    this.blockTimers.set(conn.id, timer);
  }

  private clearBlockTimer(id: number): void {
    const t = this.blockTimers.get(id);
    if (t) {
      clearTimeout(t);
      this.blockTimers.delete(id);
    }
  }

  /** True when the client has a channel, pattern or shard channel subscription. */
  isSubscribed(conn: Connection): boolean {
    const st = this.core.native.clientState(conn.id);
    return st !== null && st !== undefined && st.sub + st.psub + st.ssub > 0;
  }

  /** Writes the pub/sub messages the core queued for other clients. */
  private deliver(): void {
    for (const d of this.core.native.takeDeliveries()) {
      const conn = this.clients.get(d.id);
      if (conn && !conn.closed) this.emitReply(conn, d.data);
    }
  }

  private emitReply(conn: Connection, reply: Buffer): void {
    if (reply.length === 0) return;
    // Under appendfsync always the AOF holds replies until their writes are fsynced.
    if (this.aof.emit(conn, reply)) return;
    this.writeReply(conn, reply);
  }

  /** Writes reply bytes to a client's socket. */
  writeReply(conn: Connection, reply: Buffer): void {
    conn.write(reply);
    this.stats.totalNetOutputBytes += reply.length;
  }

  /** Runs a host command; a thrown exception becomes an error reply, never a crash. */
  private hostReply(conn: Connection, argv: Buffer[]): Reply | Promise<Reply> {
    try {
      const r = runHostCommand(this, conn, argv);
      if (r instanceof Promise) {
        return r.catch((e: unknown) => this.internalError(argv, e));
      }
      return r;
    } catch (e) {
      return this.internalError(argv, e);
    }
  }

  private internalError(argv: Buffer[], e: unknown): Reply {
    const name = argv[0]?.toString('latin1') ?? '?';
    this.log.warning(`Internal error running '${name}': ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return error(`ERR internal error running '${name}'`);
  }

  /** Ends the connection once pending output is flushed. */
  closeAfterWrite(conn: Connection): void {
    if (conn.closed) return;
    this.aof.flushHeld(); // replies held for the AOF write (QUIT's +OK included) go out first
    conn.closed = true;
    conn.socket.end();
    // A peer that never reads must not keep the socket forever.
    setTimeout(() => conn.socket.destroy(), 5000).unref();
  }

  private onClose(conn: Connection): void {
    conn.closed = true;
    this.clients.delete(conn.id);
    this.clearBlockTimer(conn.id);
    this.core.native.removeClient(conn.id);
  }

  /** (Re)starts the periodic timer at `hz`. */
  startCron(): void {
    if (this.cronTimer) clearInterval(this.cronTimer);
    const hz = this.config.getInt('hz');
    this.cronTimer = setInterval(() => this.cron(), Math.max(1, Math.floor(1000 / hz)));
    this.cronTimer.unref();
  }

  /** Valkey's serverCron: active expiry, rehashing, client timeouts, stats samples. */
  cron(): void {
    const hz = this.config.getInt('hz');
    // Valkey's slow expire cycle may use 25% of each cron period.
    const budgetMs = (1000 / hz) * 0.25;
    this.core.native.cron(budgetMs, this.config.getBool('activerehashing'));
    this.sampleStats();
    this.closeIdleClients();
    this.emit('cron');
  }

  private sampleStats(): void {
    const s = this.core.native.stats();
    const now = Date.now();
    const samples = this.stats.opsSamples;
    const last = samples[samples.length - 1];
    if (!last || now - last[0] >= 100) {
      samples.push([now, s.totalCommandsProcessed]);
      if (samples.length > 16) samples.shift();
    }
    if (s.usedMemory > this.stats.peakMemory) this.stats.peakMemory = s.usedMemory;
  }

  /** instantaneous_ops_per_sec over the recent samples. */
  opsPerSec(): number {
    const s = this.stats.opsSamples;
    const first = s[0];
    const last = s[s.length - 1];
    if (!first || !last || last[0] === first[0]) return 0;
    return Math.round(((last[1] - first[1]) * 1000) / (last[0] - first[0]));
  }

  private closeIdleClients(): void {
    const timeout = this.config.getInt('timeout');
    if (timeout <= 0) return;
    const limit = Date.now() - timeout * 1000;
    for (const c of this.clients.values()) {
      // Blocked and subscribed clients wait by design: no idle timeout (as Valkey).
      if (!c.busy && c.lastInteraction < limit && !this.isSubscribed(c) && !this.core.native.clientState(c.id)?.blocked) {
        this.log.verbose('Closing idle client');
        this.closeAfterWrite(c);
      }
    }
  }

  /** Extra INFO stats fields contributed by subsystems (persistence adds fork stats). */
  extraStats(): Array<[string, string | number]> {
    return this.statsProviders.flatMap((p) => p());
  }

  /** Registers a producer of extra INFO stats fields. */
  addStatsProvider(p: () => Array<[string, string | number]>): void {
    this.statsProviders.push(p);
  }

  /** CONFIG RESETSTAT. */
  resetStats(): void {
    this.core.native.resetStats();
    this.stats.totalConnections = 0;
    this.stats.rejectedConnections = 0;
    this.stats.totalNetOutputBytes = 0;
    this.stats.opsSamples = [];
    this.emit('resetstat');
  }

  /**
   * SHUTDOWN and signals: runs the shutdown hooks (persistence saves there), then stops.
   * Resolves with an error text when a hook refuses and `force` is not set.
   */
  async shutdown(opts: ShutdownOptions = {}): Promise<string | null> {
    this.log.warning('User requested shutdown...');
    for (const hook of this.shutdownHooks) {
      const err = await hook(opts);
      if (err !== null && !opts.force) {
        this.log.warning(`Errors trying to shut down the server. Check the logs for more information.`);
        return err;
      }
    }
    this.log.warning('forkv is now ready to exit, bye bye...');
    await this.stop();
    this.emit('shutdown');
    return null;
  }

  /** Adds work to do before shutting down (returns an error text to refuse). */
  addShutdownHook(h: (opts: ShutdownOptions) => Promise<string | null>): void {
    this.shutdownHooks.push(h);
  }

  /** DEBUG RELOAD: provided by persistence. */
  debugReload(flags: string[]): Reply | Promise<Reply> {
    if (!this.reloadHandler) return error('ERR DEBUG RELOAD needs persistence, which is not enabled in this build');
    return this.reloadHandler(flags);
  }

  /** Installs the DEBUG RELOAD implementation. */
  setReloadHandler(h: (flags: string[]) => Promise<Reply>): void {
    this.reloadHandler = h;
  }

  /** Glob matching shared with the core. */
  glob(pattern: string, name: string): boolean {
    return globMatch(pattern, name, true);
  }

  /** Absolute path of the working directory for data files. */
  dataDir(): string {
    return path.resolve(this.config.getDir());
  }

  /** Stops accepting, closes clients, stops timers. Idempotent. */
  stop(_opts: StopOptions = {}): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.cronTimer) clearInterval(this.cronTimer);
    this.cronTimer = null;
    // Listeners and sockets may be unref'd (the embedded API): without a handle of our own,
    // a process with nothing else to do would exit (code 13 under a top-level await) before
    // the sockets finish closing, and stop() would never settle.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      for (const c of this.clients.values()) {
        this.closeAfterWrite(c);
        // Valkey closes clients at shutdown without waiting for them: once pending output
        // is handed to the kernel, the socket goes, whether or not the peer closes its side.
        const s = c.socket;
        if (s.writableFinished) s.destroy();
        else s.once('finish', () => s.destroy());
      }
      await this.closeListeners();
    } finally {
      clearInterval(keepAlive);
    }
    this.emit('stopped');
  }

  private async closeListeners(): Promise<void> {
    const ls = this.netServers;
    this.netServers = [];
    // net.Server.close() calls back once every connection is gone: the sockets were ended
    // above, and closeAfterWrite's timer destroys one whose peer never reads.
    await Promise.all(ls.map((l) => new Promise<void>((r) => l.close(() => r()))));
  }
}

/** Directives that set the keyspace's compact-encoding thresholds. */
const ENCODING_LIMIT_DIRECTIVES = [
  'list-max-listpack-size',
  'hash-max-listpack-entries',
  'hash-max-listpack-value',
  'set-max-intset-entries',
  'set-max-listpack-entries',
  'set-max-listpack-value',
  'zset-max-listpack-entries',
  'zset-max-listpack-value',
  'stream-node-max-bytes',
  'stream-node-max-entries',
];

/** Thrown when a configured address cannot be bound. */
export class ListenError extends Error {}

function describeErrno(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'Address already in use';
    case 'EACCES':
      return 'Permission denied';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
    default:
      return err.message;
  }
}

function randomHex(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, n);
}

/** Valkey's protected-mode refusal, word for word but for the product name. */
export const PROTECTED_MODE_ERROR =
  "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting from the same host the server is running, however MAKE SURE it's not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";
