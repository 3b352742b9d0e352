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
