// The server: owns one Core (so several servers can live in one process, each with its
// own keyspace), the configuration hooks into it, persistence, and the life cycle (start,
// shutdown, stop). The concerns live in their own modules: listening sockets and
// protected mode (net/listeners.ts), the per-connection data path (net/datapath.ts), the
// cron (cron.ts).
import * as path from 'node:path';
import { EventEmitter } from 'node:events';

import { ConfigStore } from './config/store';
import { CONFIG_ENTRIES } from './config/schema';
import { applyRenameCommands, Core, globMatch } from './native/core';
import { REPLY_PEAK_RESET_DEFAULT_MS, type Connection } from './net/connection';
import { DataPath } from './net/datapath';
import { OutputLimits } from './net/output-limits';
import { ClientMemory, evictionLimit } from './net/client-eviction';
import { clientLine, helloIdentity } from './commands/connection';
import { Listeners } from './net/listeners';
import { Cron } from './cron';
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

/** A shutdown waiting for the replicas to acknowledge the primary's offset. */
interface ReplicaWait {
  /** When it stops waiting (ms since the epoch): `shutdown-timeout` after it began. */
  deadline: number;
  /** The wait is over (caught up, timed out or aborted). */
  settled: boolean;
  /** Resolves when the wait is over: true if SHUTDOWN ABORT ended it. */
  waited: Promise<boolean>;
  /** What every SHUTDOWN waiting on it answers (null: the server stops). */
  outcome: Promise<string | null>;
  abort: () => void;
}

/** What SHUTDOWN answers when it does not shut down (a refused save, an aborted wait). */
const SHUTDOWN_ERROR = 'ERR Errors trying to SHUTDOWN. Check logs.';

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
  /** Client output accounting and `client-output-buffer-limit`. */
  readonly output: OutputLimits;
  /** Per-client memory (CLIENT LIST tot-mem, INFO mem_clients_*) and `maxmemory-clients`. */
  readonly clientMemory: ClientMemory;
  private readonly cronJob: Cron;
  private stopping: Promise<void> | null = null;
  /** The pid file this process wrote (the command line's), removed by the shutdown. */
  pidfile: string | null = null;
  private reloadHandler: ((flags: string[]) => Promise<Reply>) | null = null;
  /** A SIGINT/SIGTERM waiting for the cron to shut down (Valkey's shutdown_asap). */
  private shutdownSignal: 'SIGINT' | 'SIGTERM' | null = null;
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
      closeOverLimit: (c) => this.closeOverOutputLimit(c),
      reportOutputMemory: (total, replicas) => this.core.native.setClientOutputMemory(total, replicas),
      outputPending: (c, pending) => {
        if (!c.closed) this.core.native.setOutputPending(c.id, pending);
      },
    });
    this.clientMemory = new ClientMemory({
      limit: () => evictionLimit(this.config.getInt('maxmemory-clients'), Number(this.config.getBigInt('maxmemory'))),
      coreMemory: (c) => this.core.native.clientMemory(c.id),
      noEvict: (c) => this.core.native.clientNoEvict(c.id),
      evict: (c) => this.evictClient(c),
      warn: (message) => this.log.warning(message),
    });
    this.runId = randomHex(40);
    // Valkey refuses to start with a locale the system does not have.
    if (!this.core.native.setLocaleCollate(config.getString('locale-collate'))) throw new Error('locale-collate: Invalid locale name');
    this.applyEngineSettings();
    this.applyLatencyTracking();
    this.applyRequirepass();
    this.applyEncodingLimits();
    this.registerConfigHooks();
    this.listening.registerConfigHooks();
    this.rdb = new RdbPersistence(this);
    this.aof = new AofPersistence(this);
    this.replication = new ReplicationPrimary(this);
    this.replica = new ReplicaLink(this);
    this.failover = new Failover(this);
    this.updateWriteGate();
  }

  /** INFO persistence fields. */
  persistenceInfo(): Array<[string, string | number]> {
    // forkv loads no modules: no module fork ever runs.
    return [...this.rdb.infoFields(), ...this.aof.infoFields(), ['module_fork_in_progress', 0], ['module_fork_last_cow_size', 0]];
  }

  /** Refuses writes while RDB saves fail (MISCONF) or the AOF cannot be written. */
  updateWriteGate(): void {
    const e = this.rdb.writeGateError() ?? this.aof?.writeGateError() ?? this.replication?.writeGateError() ?? null;
    this.core.native.configure({ writeError: e ?? '' });
  }

  /** Pushes `latency-tracking` and its INFO percentiles to the core. */
  private applyLatencyTracking(): void {
    this.core.native.setLatencyTracking(this.config.getBool('latency-tracking'), this.config.getLatencyPercentiles());
  }

  /** Pushes the compact-encoding thresholds to the keyspace. */
  private applyEncodingLimits(): void {
    const c = this.config;
    const n = (name: string): number => Number(c.getBigInt(name));
    this.core.native.setEncodingLimits({
      listMaxListpackSize: n('list-max-listpack-size'),
      listCompressDepth: n('list-compress-depth'),
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
      aclPubsubDefaultAll: this.config.getEnum('acl-pubsub-default') === 'allchannels',
      lfu: this.config.getEnum('maxmemory-policy').includes('lfu'),
      lazyfreeLazyExpire: this.config.getBool('lazyfree-lazy-expire'),
      lazyfreeLazyUserDel: this.config.getBool('lazyfree-lazy-user-del'),
      lazyfreeLazyUserFlush: this.config.getBool('lazyfree-lazy-user-flush'),
      notifyKeyspaceEvents: this.config.getKeyspaceEvents('notify-keyspace-events'),
      lazyfreeLazyServerDel: this.config.getBool('lazyfree-lazy-server-del'),
      propagationErrorBehavior: this.config.getEnum('propagation-error-behavior'),
      crashLogEnabled: this.config.getBool('crash-log-enabled'),
      // Valkey's MAXMEMORY_FLAG_NO_SHARED_INTEGERS: LRU and LFU policies keep a clock per key.
      sharedIntegers: this.config.getBigInt('maxmemory') === 0n || !/lru|lfu/.test(this.config.getEnum('maxmemory-policy')),
      maxmemory: Number(this.config.getBigInt('maxmemory')),
      maxmemoryPolicy: this.config.getEnum('maxmemory-policy'),
      maxmemorySamples: this.config.getInt('maxmemory-samples'),
      maxmemoryEvictionTenacity: this.config.getInt('maxmemory-eviction-tenacity'),
      replicaIgnoreMaxmemory: this.config.getBool('replica-ignore-maxmemory'),
      activeExpireEffort: this.config.getInt('active-expire-effort'),
      hideUserDataFromLog: this.config.getBool('hide-user-data-from-log'),
      lazyfreeLazyEviction: this.config.getBool('lazyfree-lazy-eviction'),
      lfuLogFactor: this.config.getInt('lfu-log-factor'),
      lfuDecayTime: this.config.getInt('lfu-decay-time'),
      outputHardLimitNormal: Number(this.config.getClientOutputBufferLimits().normal.hardLimitBytes),
      outputHardLimitPubsub: Number(this.config.getClientOutputBufferLimits().pubsub.hardLimitBytes),
      slowlogLogSlowerThan: Number(this.config.getBigInt('commandlog-execution-slower-than')),
      slowlogMaxLen: Number(this.config.getBigInt('commandlog-slow-execution-max-len')),
      trackingTableMaxKeys: Number(this.config.getBigInt('tracking-table-max-keys')),
      busyReplyThreshold: Number(this.config.getBigInt('busy-reply-threshold')),
      rdbCompression: this.config.getBool('rdbcompression'),
      sensitiveConfigs: CONFIG_ENTRIES.filter((e) => e.def.flags.sensitive).map((e) => e.name),
      latencyMonitorThreshold: Number(this.config.getBigInt('latency-monitor-threshold')),
      hz: this.config.getInt('hz'),
      ...helloIdentity(this.config.getBool('extended-redis-compatibility')),
    });
  }

  /** CONFIG SET maxmemory: warn when it is below the memory in use, then evict now. */
  private applyMaxmemory(): void {
    this.applyEngineSettings();
    const max = Number(this.config.getBigInt('maxmemory'));
    if (max === 0) return;
    const st = this.core.native.stats();
    const used = st.usedMemory - st.memNotCountedForEvict;
    if (max < used) {
      this.log.warning(`WARNING: the new maxmemory value set via CONFIG SET (${max}) is smaller than the current memory usage (${used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.`);
    }
    this.evict();
  }

  private evictionScheduled = false;

  /** Measures every client and evicts over `maxmemory-clients` (cron, CONFIG SET). */
  evictClients(): void {
    this.clientMemory.refreshAll(this.clients.values());
    this.clientMemory.evict();
  }

  /** Closes a client chosen by client eviction: logged and counted as Valkey does. */
  private evictClient(conn: Connection): void {
    if (conn.closed) return;
    this.log.notice(`Evicting client: ${clientLine(this, conn, null, this.config.getBool('hide-user-data-from-log'))}`);
    this.stats.evictedClients++;
    conn.closed = true;
    conn.socket.destroy();
    this.output.forget(conn);
  }

  /**
   * Evicts keys while the memory is over maxmemory: one time-boxed pass now, and while a
   * pass runs out of time, another on the next turn of the event loop (Valkey's eviction
   * time proc), so clients are served in between.
   */
  evict(): void {
    if (this.config.getBigInt('maxmemory') === 0n || this.evictionScheduled) return;
    const result = this.core.native.evict();
    // Keyspace events of the evicted keys (`evicted`) go out now.
    this.dataPath.deliver();
    if (result !== 'running') return;
    this.evictionScheduled = true;
    setImmediate(() => {
      this.evictionScheduled = false;
      this.evict();
    });
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
    for (const name of ['proto-max-bulk-len', 'client-query-buffer-limit', 'hll-sparse-max-bytes', 'acllog-max-len', 'acl-pubsub-default', 'maxmemory-policy', 'lazyfree-lazy-expire',
      'lazyfree-lazy-user-del', 'lazyfree-lazy-user-flush',
      'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lazyfree-lazy-eviction', 'lfu-log-factor', 'lfu-decay-time', 'lazyfree-lazy-server-del', 'notify-keyspace-events', 'commandlog-execution-slower-than', 'commandlog-slow-execution-max-len', 'tracking-table-max-keys', 'latency-monitor-threshold', 'hz', 'busy-reply-threshold', 'extended-redis-compatibility', 'rdbcompression',
      'replica-ignore-maxmemory', 'active-expire-effort', 'hide-user-data-from-log', 'propagation-error-behavior', 'crash-log-enabled']) this.config.onChange(name, engine);
    for (const name of ['latency-tracking', 'latency-tracking-info-percentiles']) {
      this.config.onChange(name, () => {
        this.applyLatencyTracking();
        return null;
      });
    }
    this.config.onChange('maxmemory', () => {
      this.applyMaxmemory();
      this.evictClients();
      return null;
    });
    this.config.onChange('maxmemory-clients', () => {
      this.evictClients();
      return null;
    });
    this.config.onChange('client-output-buffer-limit', () => {
      this.output.refreshLimits();
      this.applyEngineSettings();
      return null;
    });
    for (const name of ['oom-score-adj', 'oom-score-adj-values']) {
      this.config.onChange(name, () => (this.applyOomScoreAdj() === null ? null : 'Failed to set current oom_score_adj. Check server logs.'));
    }
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
    this.config.onChange('locale-collate', (v) => (this.core.native.setLocaleCollate(v) ? null : 'Invalid locale name'));
    for (const name of ['hz', 'dynamic-hz']) {
      this.config.onChange(name, () => {
        this.startCron();
        return null;
      });
    }
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
  isSubscribed(conn: Connection): boolean {
    const st = this.core.native.clientState(conn.id);
    return st !== null && st !== undefined && st.sub + st.psub + st.ssub > 0;
  }

  /** Writes reply bytes to a client's socket. */
  /**
   * Writes a reply to a client, unless it is over its output limit (then it is closed).
   * `reused`: `reply` is a view of a buffer its caller fills again (see Connection.write);
   * returns true when the socket kept that buffer.
   */
  writeReply(conn: Connection, reply: Buffer, reused = false): boolean {
    if (conn.closed || !this.output.admit(conn, reply.length)) return false;
    const kept = conn.write(reply, reused);
    conn.notePeak(reply.length, this.replyPeakResetMs);
    this.countOutput(conn, reply.length);
    this.output.wrote(conn);
    return kept;
  }

  /** Counts `n` bytes written to `conn` in one socket write (INFO stats). */
  countOutput(conn: Connection, n: number): void {
    this.stats.totalNetOutputBytes += n;
    if (conn.isReplica) this.stats.totalNetReplOutputBytes += n;
    this.stats.totalWritesProcessed++;
  }

  /**
   * Closes a client whose output overcame its class's limit: at once, dropping what it
   * has pending (Valkey frees it "ASAP" without writing the rest).
   */
  private closeOverOutputLimit(conn: Connection): void {
    if (conn.closed) return;
    this.log.warning(`Client ${clientLine(this, conn, null, this.config.getBool('hide-user-data-from-log'))} scheduled to be closed ASAP for overcoming of output buffer limits.`);
    this.stats.clientOutputBufferLimitDisconnections++;
    conn.closed = true;
    conn.socket.destroy();
    this.output.forget(conn);
  }

  /** Ends the connection once pending output is flushed. */
  /**
   * Forgets a client whose socket a forked Lua debugging session took over (SCRIPT DEBUG
   * YES): the descriptor is closed without a shutdown, so the child keeps the connection.
   */
  detach(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.socket.destroy();
  }

  closeAfterWrite(conn: Connection): void {
    if (conn.closed) return;
    this.aof.flushHeld(); // replies held for the AOF write (QUIT's +OK included) go out first
    conn.closed = true;
    conn.socket.end();
    // A peer that never reads must not keep the socket forever.
    setTimeout(() => conn.socket.destroy(), 5000).unref();
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

  /**
   * SHUTDOWN and signals: waits for the replicas (unless `now`), runs the core's
   * persistence steps, then stops. Resolves with an error text when a step refused.
   */
  async shutdown(opts: ShutdownOptions = {}): Promise<string | null> {
    // A SHUTDOWN while one waits for the replicas waits with it and shares its outcome.
    if (this.replicaWait !== null) return this.replicaWait.outcome;
    this.log.warning('User requested shutdown...');
    const timeout = this.config.getInt('shutdown-timeout');
    if (!opts.now && timeout > 0 && !this.replication.allReplicasInSync()) {
      const wait = this.waitForReplicas(timeout * 1000);
      wait.outcome = wait.waited.then(async (aborted) => {
        const err = aborted ? SHUTDOWN_ERROR : await this.finishShutdown(opts);
        // A cancelled shutdown (ABORT, or a hook refused) resumes the paused writes.
        if (err !== null) this.pauseWritesForShutdown(false);
        return err;
      });
      void wait.outcome.finally(() => {
        if (this.replicaWait === wait) this.replicaWait = null;
      });
      return wait.outcome;
    }
    return this.finishShutdown(opts);
  }

  /** Clients whose SHUTDOWN waits for the replicas (counted in INFO blocked_clients). */
  shutdownWaitingClients = 0;

  /** INFO shutdown_in_milliseconds: time left of a shutdown waiting for replicas (0 when none). */
  get shutdownInMilliseconds(): number {
    return this.replicaWait === null || this.replicaWait.settled ? 0 : Math.max(0, this.replicaWait.deadline - Date.now());
  }

  /**
   * Valkey's prepareForShutdown wait: asks the replicas for an acknowledgement, then checks
   * every 10 ms until each has acknowledged the primary's offset or `ms` have passed.
   * `waited` resolves true when SHUTDOWN ABORT cancelled it. Writes are paused meanwhile, as
   * Valkey does (PAUSE_DURING_SHUTDOWN), so that none can miss a replica.
   */
  private waitForReplicas(ms: number): ReplicaWait {
    let settle: (aborted: boolean) => void = () => undefined;
    const deadline = Date.now() + ms;
    const wait: ReplicaWait = {
      deadline,
      settled: false,
      waited: new Promise<boolean>((resolve) => (settle = resolve)),
      outcome: Promise.resolve(null),
      abort: () => finish(true),
    };
    const timer = setInterval(() => {
      if (Date.now() >= deadline || this.replication.allReplicasInSync()) finish(false);
    }, 10);
    if (this.options.unref) timer.unref();
    const finish = (aborted: boolean): void => {
      if (wait.settled) return;
      wait.settled = true;
      clearInterval(timer);
      settle(aborted);
    };
    this.replicaWait = wait;
    this.pauseWritesForShutdown(true);
    this.replication.requestAcks();
    this.log.notice('Waiting for replicas before shutting down.');
    return wait;
  }

  /** Pauses writes while SHUTDOWN waits for the replicas, or resumes them (serving the held clients). */
  private pauseWritesForShutdown(on: boolean): void {
    if (this.core.native.pauseForShutdown(on)) this.dataPath.serveWoken();
  }

  /**
   * Valkey's finishShutdown: the replicas' state in the log, then the core's persistence
   * steps (children, AOF fsync, final save, pid file, their log lines), then stop.
   */
  private async finishShutdown(opts: ShutdownOptions): Promise<string | null> {
    this.replication.logReplicasAtShutdown();
    // Replies held for this turn's AOF write go out first (the core writes the AOF again).
    this.aof.flushHeld();
    const r = this.core.native.shutdownPersistence({
      save: opts.save,
      force: opts.force === true,
      loading: this.rdb.loading,
      exitOnSigint: this.shutdownBySignal,
      rdb: this.rdb.saveOptions(),
      aof: this.aof.options(),
      pidfile: this.pidfile ?? undefined,
    });
    this.core.drainLogs();
    if (r.killed) this.rdb.killedAtShutdown(r.killed);
    this.aof.syncState();
    if (!r.ok) {
      this.updateWriteGate();
      return SHUTDOWN_ERROR;
    }
    await this.stop();
    this.emit('shutdown');
    return null;
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

  /**
   * A shutdown signal arrived (Valkey's sigShutdownHandler): the next cron tick shuts
   * down with the `shutdown-on-sigint`/`-sigterm` flags. Returns false when this is a
   * second SIGINT while one is pending or running: the caller exits at once.
   */
  requestShutdownBySignal(sig: 'SIGINT' | 'SIGTERM'): boolean {
    if (this.shutdownSignal !== null && sig === 'SIGINT') return false;
    this.log.warning(this.rdb.loading ? 'Received shutdown signal during loading, scheduling shutdown.' : `Received ${sig} scheduling shutdown...`);
    this.shutdownSignal = sig;
    return true;
  }

  /** True while a shutdown a signal asked for is pending or running. */
  get shutdownBySignal(): boolean {
    return this.shutdownSignal !== null;
  }

  /** SHUTDOWN ABORT: clears a signal's pending shutdown. False when there is none. */
  abortShutdown(): boolean {
    if (this.replicaWait !== null && !this.replicaWait.settled) {
      // Every SHUTDOWN waiting for the replicas gets an error; a signal's shutdown is dropped.
      this.replicaWait.abort();
      this.shutdownSignal = null;
      this.log.notice('Shutdown manually aborted.');
      return true;
    }
    if (this.shutdownSignal === null || this.shutdownRunning) return false;
    this.shutdownSignal = null;
    this.log.notice('Shutdown manually aborted.');
    return true;
  }

  private shutdownRunning = false;
  /** A shutdown waiting for the replicas to catch up (Valkey's shutdown_mstime). */
  private replicaWait: ReplicaWait | null = null;

  /** From the cron: runs the shutdown a signal asked for, with that signal's flags. */
  checkShutdownSignal(): void {
    const sig = this.shutdownSignal;
    if (sig === null || this.shutdownRunning) return;
    const flags = this.config.getEnum(sig === 'SIGINT' ? 'shutdown-on-sigint' : 'shutdown-on-sigterm').split(' ');
    const save = flags.includes('save') ? true : flags.includes('nosave') ? false : undefined;
    this.shutdownRunning = true;
    void this.shutdown({ save, force: flags.includes('force'), now: flags.includes('now') }).then((err) => {
      this.shutdownRunning = false;
      if (err !== null) {
        // Valkey stays up when a signal's shutdown fails (the save failed).
        this.shutdownSignal = null;
        this.log.warning(`${sig} received but errors trying to shut down the server, check the logs for more information`);
      }
    });
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
        this.closeAfterWrite(c);
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

/** Directives that set the keyspace's compact-encoding thresholds. */
const ENCODING_LIMIT_DIRECTIVES = [
  'list-max-listpack-size',
  'list-compress-depth',
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

function randomHex(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, n);
}

export { ListenError, PROTECTED_MODE_ERROR } from './net/listeners';
