// Generated from forkv-server's host types (crates/forkv-server/src/host_types.rs) by
// its cargo test host_types_ts_is_current: `FORKV_REGENERATE=1 cargo test -p forkv-server
// --test host_types`. Do not edit.

/** Engine settings the host keeps in sync with CONFIG; a field left out stays as it is. */
export interface EngineSettings {
  protoMaxBulkLen?: number;
  /** DEBUG REPLYBUFFER RESIZING: the reply buffer is given back after a big batch. */
  replyBufferResizing?: boolean;
  queryBufferLimit?: number;
  /** The default user's password (`requirepass`); empty: nopass. */
  requirepass?: string;
  hllSparseMaxBytes?: number;
  /** `acllog-max-len`. */
  acllogMaxLen?: number;
  /** `acl-pubsub-default allchannels` (else `resetchannels`). */
  aclPubsubDefaultAll?: boolean;
  /** The `maxmemory-policy` is an LFU one: key access clocks count frequency. */
  lfu?: boolean;
  /** `lazyfree-lazy-expire`: expired keys are freed on the background thread when big, and propagated as UNLINK (else DEL). */
  lazyfreeLazyExpire?: boolean;
  /** `lazyfree-lazy-user-del`: DEL frees big values on the background thread as UNLINK. */
  lazyfreeLazyUserDel?: boolean;
  /** `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB without SYNC/ASYNC free in the background. */
  lazyfreeLazyUserFlush?: boolean;
  /** `notify-keyspace-events` as Valkey's NOTIFY_* bit flags. */
  notifyKeyspaceEvents?: number;
  /** `lazyfree-lazy-server-del`: server-decided deletions and overwrites free big values on the background thread and propagate as UNLINK. */
  lazyfreeLazyServerDel?: boolean;
  /** Integers 0..9999 count as Valkey's shared objects (OBJECT REFCOUNT). */
  sharedIntegers?: boolean;
  /** A replica with `replica-read-only yes`: clients' writes get `-READONLY`. */
  readOnlyReplica?: boolean;
  /** The server is a replica (WAIT and WAITAOF are refused; no min-replicas gate). */
  isReplica?: boolean;
  /** `min-replicas-to-write` (0: off): the write gate's NOREPLICAS. */
  minReplicasToWrite?: number;
  /** `min-replicas-max-lag` in seconds (0: off). */
  minReplicasMaxLag?: number;
  /** A replica's primary as `host:port`; empty on a primary. */
  primaryAddress?: string;
  /** A replica's link is down and `replica-serve-stale-data no`: `-MASTERDOWN`. */
  primaryDown?: boolean;
  /** `maxmemory` in bytes (0: no limit). */
  maxmemory?: number;
  /** `maxmemory-policy` by its config name (an unknown name changes nothing). */
  maxmemoryPolicy?: string;
  maxmemorySamples?: number;
  maxmemoryEvictionTenacity?: number;
  /** `replica-ignore-maxmemory`. */
  replicaIgnoreMaxmemory?: boolean;
  /** `active-expire-effort` (1..=10). */
  activeExpireEffort?: number;
  /** `hide-user-data-from-log`. */
  hideUserDataFromLog?: boolean;
  /** `crash-log-enabled`: a caught panic is logged with its crash report. */
  crashLogEnabled?: boolean;
  /** `propagation-error-behavior` by its config name (an unknown name changes nothing). */
  propagationErrorBehavior?: string;
  /** `lazyfree-lazy-eviction`: evicted keys are freed on the background thread when big, and propagate as UNLINK (else DEL). */
  lazyfreeLazyEviction?: boolean;
  lfuLogFactor?: number;
  lfuDecayTime?: number;
  /** The client-eviction limit in bytes (`maxmemory-clients` resolved; 0: off). */
  clientEvictionLimit?: number;
  /** Hard output limits of the normal and pubsub classes, bytes (0: none). */
  outputHardLimitNormal?: number;
  outputHardLimitPubsub?: number;
  /** `slowlog-log-slower-than` (microseconds, negative disables). */
  slowlogLogSlowerThan?: number;
  slowlogMaxLen?: number;
  /** `tracking-table-max-keys` (0: no limit). */
  trackingTableMaxKeys?: number;
  /** `busy-reply-threshold` in ms; 0: scripts never turn busy. */
  busyReplyThreshold?: number;
  /** `rdbcompression`: DUMP and MIGRATE payloads compress as the RDB does. */
  rdbCompression?: boolean;
  /** The CONFIG parameters whose values SLOWLOG redacts, names and aliases. */
  sensitiveConfigs?: string[];
  /** `latency-monitor-threshold` in milliseconds (0: off). */
  latencyMonitorThreshold?: number;
  /** `hz` (LATENCY DOCTOR's advice). */
  hz?: number;
  /** The server name and version HELLO answers with (both or neither apply). */
  helloServer?: string;
  helloVersion?: string;
  /** `list-max-listpack-size`: negative = bytes per node, positive = entries per node. */
  listMaxListpackSize?: number;
  /** `list-compress-depth`. */
  listCompressDepth?: number;
  /** `hash-max-listpack-entries`. */
  hashMaxListpackEntries?: number;
  /** `hash-max-listpack-value`. */
  hashMaxListpackValue?: number;
  /** `set-max-intset-entries`. */
  setMaxIntsetEntries?: number;
  /** `set-max-listpack-entries`. */
  setMaxListpackEntries?: number;
  /** `set-max-listpack-value`. */
  setMaxListpackValue?: number;
  /** `zset-max-listpack-entries`. */
  zsetMaxListpackEntries?: number;
  /** `zset-max-listpack-value`. */
  zsetMaxListpackValue?: number;
  /** `stream-node-max-bytes`. */
  streamNodeMaxBytes?: number;
  /** `stream-node-max-entries`. */
  streamNodeMaxEntries?: number;
}

/** AOF settings from the configuration. */
export interface AofOptions {
  /** `dir`: where `appenddirname` lives and where rewrite temp files go. */
  dir: string;
  /** `appenddirname`. */
  dirname: string;
  /** `appendfilename`: prefix of every file name and the manifest. */
  filename: string;
  /** `appendfsync`: always / everysec / no. */
  fsync: string;
  /** `aof-use-rdb-preamble`. */
  useRdbPreamble: boolean;
  /** `aof-load-truncated`. */
  loadTruncated: boolean;
  /** `cluster-enabled`: what a CLUSTER state report read from the AOF does (forkv itself has no cluster mode; see `crate::aof_load::AofLoadParams::cluster_enabled`). */
  clusterEnabled: boolean;
  /** `no-appendfsync-on-rewrite`. */
  noFsyncOnRewrite: boolean;
  /** RDB options for a preamble base. */
  rdbCompression: boolean;
  rdbChecksum: boolean;
  rdbVersion: number;
  /** Microseconds slept per key in the rewrite child (`rdb-key-save-delay`, for tests). */
  keySaveDelayUs: number;
  /** Microseconds slept per key read from an RDB preamble (`key-load-delay`, for tests). */
  keyLoadDelayUs: number;
  /** `loading-process-events-interval-bytes`: bytes of an RDB preamble between two points where the host serves clients while loading. */
  loadingEventsIntervalBytes: number;
  /** `aof-disable-auto-gc`: keep history files instead of deleting them. */
  disableAutoGc: boolean;
  /** `aof-timestamp-enabled`: `#TS:` annotations in incr files and AOF-format bases. */
  timestamps: boolean;
  /** `aof-rewrite-incremental-fsync`: the rewrite child syncs its file every 4 MiB. */
  incrementalFsync: boolean;
}

/** A replica's place in its primary's stream, saved as the `repl-stream-db`, `repl-id` and `repl-offset` AUX fields (Valkey's rdbSaveInfo): restarted from the file, the replica continues with a partial resynchronization. */
export interface ReplSaveInfo {
  /** The database the stream that follows the snapshot is in (the primary client's). */
  streamDb: number;
  /** The primary's replication ID. */
  replId: string;
  /** The bytes of the stream the snapshot holds. */
  replOffset: number;
}

/** How to write an RDB file, as the host's configuration says. */
export interface RdbSaveOptions {
  dir: string;
  filename: string;
  compression: boolean;
  checksum: boolean;
  /** RDB version to write (9..=11). */
  version: number;
  /** Microseconds the writer sleeps after each key (`rdb-key-save-delay`, for tests). */
  keySaveDelayUs: number;
  /** `rdb-save-incremental-fsync`: the file is synced every 4 MiB while it is written. */
  incrementalFsync?: boolean | null;
  /** SAVE in process only: a SIGINT during the save removes its temp file and exits with status 1 (the shutdown save after a signal, as Valkey's second SIGINT). */
  exitOnSigint?: boolean | null;
  /** The replication AUX fields (Valkey's rdbSaveInfo), written by a replica that has a primary's history. */
  repl?: ReplSaveInfo | null;
}

/** SHUTDOWN's flags and configuration as the host hands them over (the server makes its `ShutdownPlan` of them). */
export interface ShutdownSteps {
  /** SAVE (true), NOSAVE (false), or neither (the save rules decide). */
  save?: boolean | null;
  force: boolean;
  /** The shutdown follows a signal: a SIGINT during the final save exits at once. */
  exitOnSigint: boolean;
  rdb: RdbSaveOptions;
  /** The pid file this process wrote. */
  pidfile?: string | null;
}

/** Counters for INFO stats and the host's cron samples. */
export interface CoreStats {
  totalCommandsProcessed: number;
  totalNetInputBytes: number;
  /** The reply buffer every client's replies are assembled in (CLIENT LIST `rbs`). */
  replyBufferSize: number;
  totalErrorReplies: number;
  unexpectedErrorReplies: number;
  expiredKeys: number;
  /** Percent. */
  expiredStalePerc: number;
  expiredTimeCapReachedCount: number;
  expireCycleCpuMilliseconds: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  /** Changes since the last save. */
  dirty: number;
  usedMemory: number;
  evictedKeys: number;
  /** The AOF buffer and replica output (`mem_not_counted_for_evict`). */
  memNotCountedForEvict: number;
  totalEvictionExceededTime: number;
  currentEvictionExceededTime: number;
}

/** What CLIENT LIST/INFO need from the server about one connection. */
export interface ClientState {
  db: number;
  proto: number;
  lastCmd: string;
  /** CLIENT LIST `qbuf`, its capacity, `qbuf-free`. */
  qbuf: number;
  qbufCapacity: number;
  qbufFree: number;
  /** Bytes of the complete arguments of an incomplete command (`argv-mem`). */
  partialArgv: number;
  /** May run commands: authenticated, or no password is required. */
  authenticated: boolean;
  /** ACL user (`user=`); empty for none. */
  user: string;
  /** Commands queued in MULTI, -1 outside a transaction. */
  multi: number;
  watch: number;
  blocked: boolean;
  /** A watched key was touched (EXEC will fail). */
  dirtyCas: boolean;
  /** Channels, patterns and shard channels subscribed. */
  sub: number;
  psub: number;
  ssub: number;
  readonly: boolean;
  monitor: boolean;
  /** Client-side caching: on, its redirect target found gone, broadcasting, the target (CLIENT LIST `redir=`: -1 when tracking is off). */
  tracking: boolean;
  trackingBrokenRedir: boolean;
  trackingBcast: boolean;
  redir: number;
  noEvict: boolean;
  noTouch: boolean;
  /** Held by CLIENT PAUSE (counted as blocked). */
  postponed: boolean;
  totCmds: number;
  multiMem: number;
  /** Blocking commands answer at once (inside EXEC or a script): WAIT, WAITAOF. */
  denyBlocking: boolean;
}

/** One row of INFO replication's `slaveN` lines. */
export interface ReplicaRow {
  id: number;
  state: string;
  listeningPort: number;
  announcedIp?: string;
  ackOffset: number;
  aofOffset: number;
  lagSec: number;
  /** The stream it holds in the backlog, not yet sent (while its full sync runs). */
  heldBytes: number;
}

/** INFO replication's primary fields. */
export interface ReplInfo {
  replid: string;
  replid2: string;
  offset: number;
  secondOffset: number;
  backlogActive: boolean;
  backlogFirstByteOffset: number;
  backlogHistlen: number;
  replicas: ReplicaRow[];
}

/** One `save <seconds> <changes>` rule. */
export interface SaveRuleArg {
  seconds: number;
  changes: number;
}

/** A log line the child sent, to be printed by the host's logger. */
export interface ChildLogLine {
  level: string;
  message: string;
}

/** How a child ended. */
export interface ChildDone {
  pid: number;
  /** "rdb" or "aof". */
  kind: string;
  /** An RDB child of a diskless full sync (it wrote to the replicas, not to a file). */
  transfer: boolean;
  /** "ok", "err", "signal", "cancelled". */
  outcome: string;
  message: string;
  signal: number;
}

/** What a poll found: log lines, current progress, and the exit if the child ended. */
export interface ChildPoll {
  logs: ChildLogLine[];
  done?: ChildDone;
}

/** The running child (its progress is INFO's, assembled in the core). */
export interface ChildProgress {
  pid: number;
  kind: string;
  /** A diskless full sync's child (writes to the replicas, not to a file). */
  transfer: boolean;
}

/** What the host needs of a finished load (its log lines are the core's): the replication AUX fields of an RDB file a replica saved. */
export interface LoadReport {
  /** The `repl-stream-db` AUX field, when present. */
  replStreamDb?: number;
  /** The `repl-id` and `repl-offset` AUX fields, when both are present and valid. */
  replId?: string;
  replOffset?: number;
}

/** What LASTSAVE needs of the RDB policy (the INFO fields and the write gate are the core's: `refreshPersistenceInfo`, write_gate.rs). */
export interface RdbStatus {
  lastSaveTime: number;
}

/** What FLUSHALL's persistence reset did. */
export interface FlushAllReport {
  /** The cancelled snapshot child's messages and exit. */
  cancelled?: ChildPoll;
  /** The save of the empty dataset (true: saved), when there are save rules. */
  saved?: boolean;
}

/** A diskless transfer child: its pid and the read end of its pipe. */
export interface TransferFork {
  pid: number;
  forkUsec: number;
  fd: number;
}

/** What the shutdown's persistence steps did. */
export interface ShutdownStepsDone {
  /** The server may exit; false: refused (logged). */
  ok: boolean;
  /** The killed child's exit (its lines are logged on the engine's queue). */
  killed?: ChildDone;
}

/** What the turn's flush did (see [`TurnFlush`]). */
export interface AofFlushResult {
  /** "off" (nothing to write), "written" or "failed" (the core logs the error). */
  outcome: string;
  /** Written after a failed write: the error is solved. */
  recovered: boolean;
  /** Failed after a write that had not: the error is new (logged once). */
  first: boolean;
}

/** Whether the AOF is on (its write status reaches clients through the write gate). */
export interface AofStatusReport {
  /** "off", "wait" (switched on, waiting for the first rewrite) or "on". */
  state: string;
}

/** What CONFIG SET appendonly yes did. */
export interface AofSwitchOn {
  /** "forked" (the first rewrite started), "scheduled" (after the running child) or "failed" (the AOF stays off). */
  outcome: string;
  /** The first rewrite's pid when forked. */
  pid?: number;
}

/** WAITAOF's view of the local AOF: bytes appended so far and how many of them are fsynced (Valkey's `fsynced_reploff`, counted in this process's AOF bytes; -1 while the AOF waits for its first rewrite). */
export interface AofSyncMarks {
  appended: number;
  synced: number;
}

/** What the cron does about AOF rewrites. */
export interface AofRewriteCron {
  /** Start a rewrite now. */
  start: boolean;
  /** It is automatic, at this growth (percent over the base; for the log line). */
  autoGrowth?: number;
  /** The back-off just started a wait of this many minutes (logged once). */
  limitedMinutes?: number;
}

/** A line for the host's logger, with Valkey's level name. */
export interface EngineLogLine {
  level: string;
  message: string;
}

/** A connection the busy loop accepted, for the host to adopt after the script. */
export interface BusyAcceptedConn {
  /** Its client id (0 when refused: the socket was answered and closed). */
  id: number;
  /** Its descriptor (-1 when refused). */
  fd: number;
  /** A client of the unix socket. */
  unix: boolean;
  /** A TLS client, through the host's TLS bridge. */
  tls: boolean;
  /** A TLS client's preamble as read so far (complete when it ends with `\n`; the host reads the rest from the socket when it is not). */
  preamble: Buffer;
  /** Refused (maxclients or protected mode): counted as a rejected connection. */
  refused: boolean;
}

/** A client's protocol and name (see `clientProtoAndName`). */
export interface ClientProtoName {
  proto: number;
  name: string;
}

/** Messages waiting for one client. */
export interface Delivery {
  id: number;
  /** The bytes, copied into a Buffer of V8's: the core's copy is freed at once. A Buffer wrapping the core's allocation would keep it (counted in `used_memory`) until the garbage collector ran, long after the socket wrote it. */
  data: Buffer;
  /** The receiving client's memory in the core (see `clientMemory`), for client eviction. */
  memory: number;
}

/** A command table row (for COMMAND-derived docs such as the README list). */
export interface CommandRow {
  name: string;
  arity: number;
  group: string;
  since: string;
  summary: string;
  flags: string[];
  host: boolean;
}

/** A refused `rename-command` directive: its index in the list and Valkey's message. */
export interface RenameError {
  index: number;
  message: string;
}

/** Replicas waiting for a BGSAVE to start (see [`crate::Server::repl_waiting_start`]). */
export interface ReplWaiting {
  count: number;
  maxIdleMs: number;
  allEof: boolean;
  /** They asked for a filtered snapshot (REPLCONF rdb-filter-only): it goes to their sockets. */
  filtered: boolean;
}

/** What `linuxMemoryWarnings` found. */
export interface MemoryWarnings {
  /** Lines to log at warning level, already prefixed `WARNING ` as Valkey prints them. */
  warnings: string[];
}

/** One line to log, with its Valkey level ("debug", "verbose", "notice", "warning"). */
export interface SyscheckMessage {
  level: string;
  message: string;
}

/** What `adjustOpenFilesLimit` did. */
export interface OpenFilesAdjustment {
  /** The `maxclients` the server can serve (reduced when the limit could not be raised). */
  maxclients: number;
  /** The soft limit in force afterwards (`Infinity` for RLIM_INFINITY). */
  limit: number;
  /** Lines to log, with Valkey's levels and texts. */
  messages: SyscheckMessage[];
  /** The limit is too low to start at all (Valkey exits with status 1). */
  fatal: boolean;
}
