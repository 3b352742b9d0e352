// The server: owns one Core (so several servers can live in one process, each with its
// own keyspace), wires the parts together, and runs the life cycle (start, stop). The
// concerns live in their own modules: listening sockets and protected mode
// (net/listeners.ts), the per-connection data path (net/datapath.ts: reads in, replies and
// deliveries out, key eviction between reads), what goes out to a client and how a client
// is closed (net/client-output.ts), output limits and client eviction
// (net/output-limits.ts, net/client-eviction.ts), the cron (cron.ts), SHUTDOWN and the
// shutdown signals (shutdown.ts).
import * as path from 'node:path';
import { EventEmitter } from 'node:events';

import { ConfigStore } from './config/store';
import { applyRenameCommands, Core, globMatch } from './native/core';
import { REPLY_PEAK_RESET_DEFAULT_MS, type Connection } from './net/connection';
import { DataPath } from './net/datapath';
import { ClientOutput } from './net/client-output';
import { OutputLimits } from './net/output-limits';
import { ClientMemory, evictionLimit } from './net/client-eviction';
import { Listeners } from './net/listeners';
import { Cron } from './cron';
import { EngineConfig } from './engine-config';
import { ShutdownControl } from './shutdown';
import { Logger, type LogLevel } from './log';
import { error, type Reply } from './resp/encode';
import { loadUsersAtStartup } from './commands/acl';
import { applyOomScoreAdj } from './oom-score-adj';
import { asciiLogo, bannerLine, showLogo } from './logo';
import { applySyslog } from './syslog';
import { RdbPersistence } from './persistence/rdb';
import { AofPersistence } from './persistence/aof';
import { Failover } from './replication/failover';
import { ReplicationPrimary } from './replication/primary';
import { ReplicaLink } from './replication/replica';
import { LoopMetrics } from './loop-metrics';
import { LoopTurns } from './loop-turns';

/** Counters kept by the host for INFO stats. */
export interface HostStats {
  totalConnections: number;
  rejectedConnections: number;
  /** Bytes written to clients and replicas (INFO total_net_output_bytes). */
  totalNetOutputBytes: number;
  /** Of those, bytes written to replicas (INFO total_net_repl_output_bytes). */
  totalNetReplOutputBytes: number;
  /** Bytes read from the primary link (INFO total_net_repl_input_bytes). */
  totalNetReplInputBytes: number;
  /** Socket reads handled (INFO total_reads_processed). */
  totalReadsProcessed: number;
  /** Socket writes issued (INFO total_writes_processed). */
  totalWritesProcessed: number;
  /** Ring of (time, commands) samples for instantaneous_ops_per_sec. */
  opsSamples: Array<[number, number]>;
  peakMemory: number;
  /** Clients closed for overcoming their output buffer limit. */
  clientOutputBufferLimitDisconnections: number;
  /** Clients closed by client eviction (INFO evicted_clients). */
  evictedClients: number;
}

/** How a Server runs, beyond its configuration. */
export interface ServerOptions {
  /**
   * `port 0` binds an ephemeral port (the embedded API). Without it, port 0 means "no TCP
   * listener", as in valkey-server (then a tls-port or a unixsocket must be configured).
   */
  ephemeralPort?: boolean;
  /** Listeners and client sockets do not keep the Node process alive (the embedded API). */
  unref?: boolean;
  /** `rename-command` directives of the configuration (checked by the parser), applied at start. */
  renameCommands?: ReadonlyArray<readonly [string, string]>;
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
  /** Replication as a primary: SYNC/PSYNC, full syncs, INFO replication. */
  readonly replication: ReplicationPrimary;
  /** Replication as a replica: REPLICAOF, the link to the primary, the stream applied. */
  readonly replica: ReplicaLink;
  /** FAILOVER: handing the primary role to a replica. */
  readonly failover: Failover;
  readonly stats: HostStats = {
    totalConnections: 0,
    rejectedConnections: 0,
    totalNetOutputBytes: 0,
    totalNetReplOutputBytes: 0,
    totalNetReplInputBytes: 0,
    totalReadsProcessed: 0,
    totalWritesProcessed: 0,
    opsSamples: [],
    peakMemory: 0,
    clientOutputBufferLimitDisconnections: 0,
    evictedClients: 0,
  };
  /** Event-loop counters and the traffic and loop rates of INFO stats. */
  readonly loopMetrics = new LoopMetrics();
  /** Per-turn timings of the event loop (INFO debug). */
  readonly loopTurns = new LoopTurns(() => this.core.native.commandsProcessed());
  /** Listening sockets and protected mode. */
  readonly listening: Listeners;
  /** Socket reads into the core, replies and deliveries out. */
  readonly dataPath: DataPath;
  /** Writes to clients (counted for INFO) and the ways a client is closed. */
  readonly clientOutput: ClientOutput;
  /** Client output accounting and `client-output-buffer-limit`. */
  readonly output: OutputLimits;
  /** Per-client memory (CLIENT LIST tot-mem, INFO mem_clients_*) and `maxmemory-clients`. */
  readonly clientMemory: ClientMemory;
  private readonly cronJob: Cron;
  /** The configuration the core enforces, pushed at start and on CONFIG SET. */
  readonly engineConfig: EngineConfig;
  private stopping: Promise<void> | null = null;
  /** The pid file this process wrote (the command line's), removed by the shutdown. */
  pidfile: string | null = null;
  private reloadHandler: ((flags: string[]) => Promise<Reply>) | null = null;
  /** DEBUG PAUSE-CRON: the cron does nothing while set (Valkey's pause_cron). */
  cronPaused = false;
  /**
   * DEBUG REPLYBUFFER PEAK-RESET-TIME: ms between resets of each client's reply peak
   * (CLIENT LIST `rbp`), negative for never (Valkey's reply_buffer_peak_reset_time).
   */
  replyPeakResetMs = REPLY_PEAK_RESET_DEFAULT_MS;

  constructor(
    readonly config: ConfigStore,
    readonly configFile: string | null = null,
    log?: Logger,
    readonly options: ServerOptions = {},
  ) {
    super();
    this.dataPath = new DataPath(this);
    this.clientOutput = new ClientOutput(this);
    this.listening = new Listeners(this, (s, kind, peer, head) => this.dataPath.onConnection(s, kind, peer ?? null, head ?? null));
    this.cronJob = new Cron(this);
    if (log) this.log = log;
    else {
      this.log = new Logger(config.getString('logfile'), config.getEnum('loglevel') as LogLevel);
      applySyslog(this.log, config);
    }
    // Before the first command (the AOF is loaded later): OLD names nothing from here on.
    const refused = applyRenameCommands(options.renameCommands ?? []);
    if (refused !== null) throw new Error(`rename-command: ${refused.message}`);
    this.core = new Core(config.getInt('databases'));
    this.core.onLog = (level, message) => this.log.log(level, message);
    config.setLog((level, message) => this.log.log(level, message));
    this.output = new OutputLimits({
      limits: () => this.config.getClientOutputBufferLimits(),
      classOf: (c) => (c.isReplica ? 'replica' : this.isSubscribed(c) ? 'pubsub' : 'normal'),
      closeOverLimit: (c) => this.clientOutput.closeOverLimit(c),
      reportOutputMemory: (total, replicas) => this.core.native.setClientOutputMemory(total, replicas),
      outputPending: (c, pending) => {
        if (!c.closed) this.core.native.setOutputPending(c.id, pending);
      },
      backlogSize: () => Number(this.config.getBigInt('repl-backlog-size')),
    });
    this.clientMemory = new ClientMemory({
      // Asked after every read: looked up again only when the configuration changed.
      limit: config.derived((c) => evictionLimit(c.getInt('maxmemory-clients'), Number(c.getBigInt('maxmemory')))),
      coreMemory: (c) => this.core.native.clientMemory(c.id),
      noEvict: (c) => this.core.native.clientNoEvict(c.id),
      evict: (c) => this.clientOutput.closeEvicted(c),
      warn: (message) => this.log.warning(message),
      report: (normal) => this.core.native.setClientsMemory(normal),
    });
    this.runId = randomHex(40);
    this.engineConfig = new EngineConfig(this);
    this.shutdownControl = new ShutdownControl(this);
    this.listening.registerConfigHooks();
    this.rdb = new RdbPersistence(this);
    this.aof = new AofPersistence(this);
    this.replication = new ReplicationPrimary(this);
    this.replica = new ReplicaLink(this);
    this.failover = new Failover(this);
  }

  /**
   * `oom-score-adj`: writes the score of this server's class (primary or replica) and sets
   * the fork children's (Valkey's setOOMScoreAdj(-1): at start, on CONFIG SET, on
   * REPLICAOF). Returns null, or the failure (logged, as Valkey logs it).
   */
  applyOomScoreAdj(): string | null {
    const err = applyOomScoreAdj({
      mode: this.config.getEnum('oom-score-adj'),
      values: this.config.getOomScoreAdjValues(),
      replica: this.replica?.isReplica ?? false,
    });
    if (err !== null) this.log.warning(err);
    return err;
  }

  /** Binds every configured address, then logs readiness. Rejects if the port is taken. */
  async start(): Promise<void> {
    const port = this.config.getInt('port');
    const logo = showLogo({
      alwaysShowLogo: this.config.getBool('always-show-logo'),
      logfile: this.config.getString('logfile'),
      syslog: this.config.getBool('syslog-enabled'),
      stdoutIsTty: process.stdout.isTTY === true,
    });
    // The PID is on either form: harnesses wait for it.
    if (logo) this.log.raw('notice', asciiLogo(port, process.pid));
    else this.log.notice(bannerLine(port, process.pid));
    loadUsersAtStartup(this, this.options.users ?? []);
    await this.listening.listenAll();
    this.emit('listening');
    // As in Valkey, the listeners exist when this line is logged: a test harness that
    // waits for it connects at once, and meets -LOADING rather than a refused connection.
    this.log.notice('Server initialized');
    this.applyOomScoreAdj();
    this.startCron();
    // With appendonly yes the AOF is the source of truth, as in Valkey.
    if (this.config.getBool('appendonly')) await this.aof.loadAtStart();
    else await this.rdb.loadAtStart();
    // Valkey loads its own data, then connects to its primary.
    this.replica.startFromConfig();
    for (const kind of this.listening.readyTypes()) this.log.notice(`Ready to accept connections ${kind}`);
    this.emit('ready');
  }

  /** True when the client has a channel, pattern or shard channel subscription. */
  isSubscribed(conn: Pick<Connection, 'id'>): boolean {
    const st = this.core.native.clientState(conn.id);
    return st !== null && st !== undefined && st.sub + st.psub + st.ssub > 0;
  }

  /** CONFIG RESETSTAT. */
  resetStats(): void {
    this.core.native.resetStats();
    this.stats.totalConnections = 0;
    this.stats.rejectedConnections = 0;
    this.stats.totalNetOutputBytes = 0;
    this.stats.totalNetReplOutputBytes = 0;
    this.stats.totalNetReplInputBytes = 0;
    this.stats.totalReadsProcessed = 0;
    this.stats.totalWritesProcessed = 0;
    this.stats.clientOutputBufferLimitDisconnections = 0;
    this.stats.evictedClients = 0;
    this.loopMetrics.reset();
    this.loopTurns.reset();
    this.stats.opsSamples = [];
    this.emit('resetstat');
  }

  /** SHUTDOWN, signals and SHUTDOWN ABORT ([`ShutdownControl`](./shutdown.ts)). */
  readonly shutdownControl: ShutdownControl;

  /** SHUTDOWN: see ShutdownControl.run. Resolves with an error text when a step refused. */
  shutdown(opts: ShutdownOptions = {}): Promise<string | null> {
    return this.shutdownControl.run(opts);
  }

  /**
   * Valkey's serverPanic, for a condition after which the data cannot be trusted (an error
   * reply to the primary under `propagation-error-behavior panic`): the bug-report lines in
   * the log, then the server stops without saving and emits 'panic' (the CLI exits 1).
   * Only the server ends: an embedding application keeps its process.
   */
  panic(message: string): void {
    if (this.stopping) return;
    const log = this.log;
    log.warning('=== FORKV BUG REPORT START: Cut & paste starting from here ===');
    log.warning('------------------------------------------------');
    log.warning('!!! Software Failure. Press left mouse button to continue');
    log.warning(`Guru Meditation: ${message} #forkv`);
    log.warning('------------------------------------------------');
    log.warning('=== FORKV BUG REPORT END. Make sure to include from START to END. ===');
    void this.stop().then(() => this.emit('panic', message));
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

  /** Port actually bound (differs from config when port 0 was asked). */
  get port(): number {
    return this.listening.port;
  }

  /** Addresses actually bound. */
  get boundAddresses(): string[] {
    return this.listening.boundAddresses;
  }

  /** TLS port actually bound (0: no TLS listener). */
  get tlsPort(): number {
    return this.listening.tlsPort;
  }

  /** Path of the unix socket listened on, or null. */
  get unixSocket(): string | null {
    return this.listening.unixPath;
  }

  /** (Re)starts the cron at `hz`. */
  startCron(): void {
    this.cronJob.start();
  }

  /** The hz the cron runs at: `hz`, raised by dynamic-hz with many clients (INFO's hz). */
  get cronHz(): number {
    return this.cronJob.hz;
  }

  /** One cron tick (Valkey's serverCron). */
  cron(): void {
    this.cronJob.tick();
  }

  /** instantaneous_ops_per_sec over the recent samples. */
  opsPerSec(): number {
    return this.cronJob.opsPerSec();
  }

  /** True once stop() began: new connections are refused. */
  get isStopping(): boolean {
    return this.stopping !== null;
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
    this.cronJob.stop();
    // Listeners and sockets may be unref'd (the embedded API): without a handle of our own,
    // a process with nothing else to do would exit (code 13 under a top-level await) before
    // the sockets finish closing, and stop() would never settle.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      // Forked Lua debugging sessions end with the server (Valkey's ldbKillForkedSessions).
      this.core.native.killLdbSessions();
      this.core.drainLogs();
      for (const c of this.clients.values()) {
        this.clientOutput.closeAfterWrite(c);
        // Valkey closes clients at shutdown without waiting for them: once pending output
        // is handed to the kernel, the socket goes, whether or not the peer closes its side.
        const s = c.socket;
        if (s.writableFinished) s.destroy();
        else s.once('finish', () => s.destroy());
      }
      await this.listening.close();
    } finally {
      clearInterval(keepAlive);
    }
    this.emit('stopped');
  }
}

function randomHex(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, n);
}

export { ListenError, PROTECTED_MODE_ERROR } from './net/listeners';
