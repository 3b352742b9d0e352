/**
 * THE table of configuration directives: the single source of truth for names, aliases, kinds,
 * bounds, enum values, defaults, flags, and what forkv implements.
 *
 * Source: Valkey's `standardConfig static_configs[]` in src/config.c (valkey-io/valkey, 9.0 line,
 * a superset of 8.x), in the same order. io-threads-do-reads, which 9.0 turned into a deprecated
 * no-op, is a config here as in Valkey 8.0.1 (the version forkv answers as): immutable, default
 * yes, listed by CONFIG GET and kept by CONFIG REWRITE. dynamic-hz, which 9.0 deprecated too, is
 * a real config here, as in 8.0.1: see ts/dynamic-hz.ts.
 *
 * Defaults are Valkey's, with these forkv deviations (each also marked where it is defined):
 * - bind: "127.0.0.1 -::1" instead of Valkey's compiled-in "* -::*" (forkv listens on loopback
 *   unless configured; this is what valkey.conf ships with).
 * - rdb-version: forkv-only directive.
 * - rdb-version-check (9.0's strict/relaxed check of a file's RDB version) is left out: Valkey 8.0.1,
 *   the version forkv answers as, does not have it and refuses it as an unknown directive, and
 *   forkv's reader has no relaxed mode to offer.
 * enable-debug-command keeps Valkey's default "no": test setups pass `--enable-debug-command yes`.
 */
import {
  INT_MAX, INT_MIN, LLONG_MAX, LONG_MAX, UINT_MAX, ULLONG_MAX,
} from './numbers';
import type {
  ConfigDef, ConfigFlags, ConfigKind, EnumKind, NumericFormat, NumericKind, NumericType,
  OutputBufferLimits, StringKind, Validator,
} from './types';
import {
  refuseDaemonize, refuseIoThreads, SHUTDOWN_FORCE, SHUTDOWN_NOSAVE, SHUTDOWN_NOW, SHUTDOWN_SAVE,
  validActiveDefrag, validAofDirname, validAofFilename, validClusterConfigFile, validDbFilename,
  validHostname, validHumanNodename, validIpV4, validIpV6, validProcTitleTemplate, validShutdownFlags,
} from './validators';

/* ------------------------------------------------------------------------------------------ */
/* What forkv honours. Edit these two lists as the server grows; everything else derives.     */
/* ------------------------------------------------------------------------------------------ */

/** Directives forkv implements (table names, plus non-table directives like `include`). */
export const FORKV_IMPLEMENTED: ReadonlySet<string> = new Set([
  'port', 'bind', 'dir', 'dbfilename', 'databases', 'requirepass', 'maxclients', 'timeout',
  'tcp-keepalive', 'tcp-backlog', 'protected-mode', 'loglevel', 'logfile', 'pidfile', 'daemonize',
  'always-show-logo', 'set-proc-title', 'proc-title-template', 'syslog-enabled', 'syslog-ident',
  'syslog-facility', 'crash-log-enabled', 'enable-debug-command',
  'save', 'rdbcompression', 'rdbchecksum', 'rdb-key-save-delay', 'stop-writes-on-bgsave-error',
  'rdb-del-sync-files', 'rdb-version',
  'appendonly', 'appendfilename', 'appenddirname', 'appendfsync', 'auto-aof-rewrite-percentage',
  'auto-aof-rewrite-min-size', 'aof-load-truncated', 'aof-use-rdb-preamble', 'aof-timestamp-enabled',
  'no-appendfsync-on-rewrite', 'aof-disable-auto-gc',
  'key-load-delay', 'loading-process-events-interval-bytes',
  'hz', 'dynamic-hz', 'activerehashing', 'activedefrag', 'latency-tracking', 'busy-reply-threshold',
  'shutdown-timeout', 'shutdown-on-sigint', 'shutdown-on-sigterm',
  'proto-max-bulk-len', 'client-query-buffer-limit', 'hll-sparse-max-bytes',
  'list-max-listpack-size', 'list-compress-depth', 'hash-max-listpack-entries',
  'hash-max-listpack-value', 'set-max-intset-entries', 'set-max-listpack-entries',
  'set-max-listpack-value', 'zset-max-listpack-entries', 'zset-max-listpack-value',
  'stream-node-max-bytes', 'stream-node-max-entries',
  'lazyfree-lazy-eviction', 'lazyfree-lazy-expire', 'lazyfree-lazy-server-del',
  'lazyfree-lazy-user-del', 'lazyfree-lazy-user-flush', 'maxmemory', 'maxmemory-policy',
  'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lfu-log-factor', 'lfu-decay-time',
  'client-output-buffer-limit',
  'include', 'extended-redis-compatibility', 'sanitize-dump-payload', 'user', 'aclfile', 'acllog-max-len', 'acl-pubsub-default',
  'repl-backlog-size', 'repl-ping-replica-period',
  'unixsocket', 'unixsocketperm', 'unixsocketgroup',
  'tls-port', 'tls-cert-file', 'tls-key-file', 'tls-key-file-pass', 'tls-client-cert-file', 'tls-client-key-file',
  'tls-client-key-file-pass', 'tls-dh-params-file', 'tls-ca-cert-file', 'tls-ca-cert-dir', 'tls-auth-clients',
  'tls-protocols', 'tls-ciphers', 'tls-ciphersuites', 'tls-prefer-server-ciphers', 'tls-session-caching',
  'tls-session-cache-size', 'tls-session-cache-timeout', 'tls-replication',
  'replicaof', 'replica-read-only', 'replica-serve-stale-data', 'primaryauth', 'primaryuser', 'repl-timeout',
  'replica-announce-ip', 'replica-announce-port', 'replica-priority', 'replica-announced', 'repl-diskless-load',
  'min-replicas-to-write', 'min-replicas-max-lag',
  'repl-diskless-sync', 'repl-diskless-sync-delay', 'repl-diskless-sync-max-replicas',
  'commandlog-execution-slower-than', 'commandlog-slow-execution-max-len', 'tracking-table-max-keys',
  'notify-keyspace-events', 'latency-monitor-threshold', 'latency-tracking-info-percentiles', 'bind-source-addr',
  'enable-protected-configs', 'enable-module-command', 'disable-thp', 'availability-zone', 'maxmemory-clients',
  'active-expire-effort', 'repl-backlog-ttl', 'replica-ignore-maxmemory', 'replica-lazy-flush',
  'repl-disable-tcp-nodelay', 'hide-user-data-from-log', 'oom-score-adj', 'oom-score-adj-values', 'io-threads',
  'io-threads-do-reads',
  'propagation-error-behavior', 'locale-collate', 'rdb-save-incremental-fsync', 'aof-rewrite-incremental-fsync',
]);

/** Implemented with a limitation: warned about when set to a non-default value. */
export const FORKV_CAVEATS: Readonly<Record<string, string>> = {
};

/* ------------------------------------------------------------------------------------------ */
/* Building blocks                                                                            */
/* ------------------------------------------------------------------------------------------ */

type FlagWord = 'immutable' | 'protected' | 'deny-loading' | 'sensitive' | 'hidden' | 'multi-arg' | 'volatile';

function flags(...words: FlagWord[]): ConfigFlags {
  return {
    immutable: words.includes('immutable'),
    protected: words.includes('protected'),
    denyLoading: words.includes('deny-loading'),
    sensitive: words.includes('sensitive'),
    hidden: words.includes('hidden'),
    multiArg: words.includes('multi-arg'),
    volatile: words.includes('volatile'),
  };
}

const MOD = flags();
const IMM = flags('immutable');

interface RawDef {
  name: string;
  alias?: string;
  flags: ConfigFlags;
  kind: ConfigKind;
  forkvOnly?: boolean;
}

function def(name: string, alias: string | null, fl: ConfigFlags, kind: ConfigKind): RawDef {
  return alias === null ? { name, flags: fl, kind } : { name, alias, flags: fl, kind };
}

function bool(name: string, alias: string | null, fl: ConfigFlags, dflt: boolean, validate?: Validator<boolean>): RawDef {
  return def(name, alias, fl, validate ? { type: 'bool', default: dflt, validate } : { type: 'bool', default: dflt });
}

function str(
  name: string, alias: string | null, fl: ConfigFlags, emptyIsNull: boolean, dflt: string | null,
  validate?: Validator<string>,
): RawDef {
  const kind: StringKind = validate
    ? { type: 'string', default: dflt, emptyIsNull, validate }
    : { type: 'string', default: dflt, emptyIsNull };
  return def(name, alias, fl, kind);
}

function enumeration(
  name: string, alias: string | null, fl: ConfigFlags, values: EnumKind['values'], dflt: number,
  validate?: Validator<number>,
): RawDef {
  const kind: EnumKind = validate ? { type: 'enum', values, default: dflt, validate } : { type: 'enum', values, default: dflt };
  return def(name, alias, fl, kind);
}

function num(
  name: string, alias: string | null, fl: ConfigFlags, numType: NumericType, min: bigint, max: bigint,
  dflt: bigint, format: NumericFormat = 'integer', normalize?: (v: bigint) => bigint,
): RawDef {
  const kind: NumericKind = normalize
    ? { type: 'numeric', numType, format, min, max, default: dflt, normalize }
    : { type: 'numeric', numType, format, min, max, default: dflt };
  return def(name, alias, fl, kind);
}

const MB = 1024n * 1024n;

/* Enum value sets (config.c *_enum[] arrays, same order). */
const LOGLEVEL = [['debug', 0], ['verbose', 1], ['notice', 2], ['warning', 3], ['nothing', 4]] as const;
const MAXMEMORY_POLICY = [
  ['volatile-lru', 0], ['volatile-lfu', 1], ['volatile-random', 2], ['volatile-ttl', 3],
  ['allkeys-lru', 4], ['allkeys-lfu', 5], ['allkeys-random', 6], ['noeviction', 7],
] as const;
const SYSLOG_FACILITY = [
  ['user', 0], ['local0', 1], ['local1', 2], ['local2', 3], ['local3', 4], ['local4', 5],
  ['local5', 6], ['local6', 7], ['local7', 8],
] as const;
const SUPERVISED = [['upstart', 0], ['systemd', 1], ['auto', 2], ['no', 3]] as const;
const APPENDFSYNC = [['everysec', 0], ['always', 1], ['no', 2]] as const;
const SHUTDOWN_ON_SIG = [
  ['default', 0], ['save', SHUTDOWN_SAVE], ['nosave', SHUTDOWN_NOSAVE], ['now', SHUTDOWN_NOW], ['force', SHUTDOWN_FORCE],
] as const;
const REPL_DISKLESS_LOAD = [['disabled', 0], ['on-empty-db', 1], ['swapdb', 2], ['flush-before-load', 3]] as const;
const TLS_AUTH_CLIENTS = [['no', 0], ['yes', 1], ['optional', 2]] as const;
/* "yes" and "relative" are the same value, so CONFIG GET prints "yes" after "relative". */
const OOM_SCORE_ADJ = [['no', 0], ['yes', 1], ['relative', 1], ['absolute', 2]] as const;
const ACL_PUBSUB_DEFAULT = [['allchannels', 1], ['resetchannels', 0]] as const;
const SANITIZE_DUMP = [['no', 0], ['yes', 1], ['clients', 2]] as const;
const PROTECTED_ACTION = [['no', 0], ['yes', 1], ['local', 2]] as const;
const ENDPOINT_TYPE = [['ip', 0], ['hostname', 1], ['unknown-endpoint', 2]] as const;
const PROPAGATION_ERROR = [['ignore', 0], ['panic', 1], ['panic-on-replicas', 2]] as const;
const LOG_FORMAT = [['legacy', 0], ['logfmt', 1]] as const;
const LOG_TIMESTAMP_FORMAT = [['legacy', 0], ['iso8601', 1], ['milliseconds', 2]] as const;

/** Valkey's clientBufferLimitsDefaults: normal, replica, pubsub. */
export const DEFAULT_OUTPUT_BUFFER_LIMITS: OutputBufferLimits = [
  { hardLimitBytes: 0n, softLimitBytes: 0n, softLimitSeconds: 0 },
  { hardLimitBytes: 256n * MB, softLimitBytes: 64n * MB, softLimitSeconds: 60 },
  { hardLimitBytes: 32n * MB, softLimitBytes: 8n * MB, softLimitSeconds: 60 },
];

/** Valkey's CONFIG_DEFAULT_BINDADDR, for reference; forkv's default differs (see header). */
export const VALKEY_DEFAULT_BIND: readonly string[] = ['*', '-::*'];
export const FORKV_DEFAULT_BIND: readonly string[] = ['127.0.0.1', '-::1'];

export const CONFIG_MIN_HZ = 1n;
export const CONFIG_MAX_HZ = 500n;
/** Valkey accepts any hz >= 0 and caps it to 1..500 instead of refusing. */
const clampHz = (v: bigint): bigint => (v < CONFIG_MIN_HZ ? CONFIG_MIN_HZ : v > CONFIG_MAX_HZ ? CONFIG_MAX_HZ : v);

/* ------------------------------------------------------------------------------------------ */
/* The table (Valkey's static_configs order, forkv-only entries last)                         */
/* ------------------------------------------------------------------------------------------ */

const RAW_TABLE: readonly RawDef[] = [
  /* Bool configs */
  bool('rdbchecksum', null, IMM, true),
  bool('daemonize', null, IMM, false, refuseDaemonize),
  // Whether I/O threads also read: with io-threads 1 (forkv's only value) there are none, so
  // neither value changes anything, as in Valkey 8.0.1 with io-threads 1.
  bool('io-threads-do-reads', null, IMM, true),
  bool('always-show-logo', null, IMM, false),
  bool('protected-mode', null, MOD, true),
  bool('rdbcompression', null, MOD, true),
  bool('rdb-del-sync-files', null, MOD, false),
  bool('activerehashing', null, MOD, true),
  bool('stop-writes-on-bgsave-error', null, MOD, true),
  bool('set-proc-title', null, IMM, true),
  bool('dynamic-hz', null, MOD, true),
  bool('lazyfree-lazy-eviction', null, MOD, true),
  bool('lazyfree-lazy-expire', null, MOD, true),
  bool('lazyfree-lazy-server-del', null, MOD, true),
  bool('lazyfree-lazy-user-del', null, MOD, true),
  bool('lazyfree-lazy-user-flush', null, MOD, true),
  bool('repl-disable-tcp-nodelay', null, MOD, false),
  bool('repl-diskless-sync', null, MOD, true),
  bool('dual-channel-replication-enabled', null, MOD, false),
  bool('aof-rewrite-incremental-fsync', null, MOD, true),
  bool('no-appendfsync-on-rewrite', null, MOD, false),
  bool('cluster-require-full-coverage', null, MOD, true),
  bool('rdb-save-incremental-fsync', null, MOD, true),
  bool('aof-load-truncated', null, MOD, true),
  bool('aof-use-rdb-preamble', null, MOD, true),
  bool('aof-timestamp-enabled', null, MOD, false),
  bool('cluster-replica-no-failover', 'cluster-slave-no-failover', MOD, false),
  bool('replica-lazy-flush', 'slave-lazy-flush', MOD, true),
  bool('replica-serve-stale-data', 'slave-serve-stale-data', MOD, true),
  bool('replica-read-only', 'slave-read-only', MOD, true),
  bool('replica-ignore-maxmemory', 'slave-ignore-maxmemory', MOD, true),
  bool('jemalloc-bg-thread', null, MOD, true),
  bool('activedefrag', null, MOD, false, validActiveDefrag),
  bool('syslog-enabled', null, IMM, false),
  bool('cluster-enabled', null, IMM, false),
  bool('appendonly', null, flags('deny-loading'), false),
  bool('cluster-allow-reads-when-down', null, MOD, false),
  bool('cluster-allow-pubsubshard-when-down', null, MOD, true),
  bool('crash-log-enabled', null, MOD, true),
  bool('crash-memcheck-enabled', null, MOD, true),
  bool('use-exit-on-panic', null, flags('hidden'), false),
  bool('disable-thp', null, IMM, true),
  bool('cluster-allow-replica-migration', null, MOD, true),
  bool('replica-announced', null, MOD, true),
  bool('latency-tracking', null, MOD, true),
  bool('aof-disable-auto-gc', null, flags('hidden'), false),
  bool('replica-ignore-disk-write-errors', null, MOD, false),
  bool('extended-redis-compatibility', null, MOD, false),
  bool('enable-debug-assert', null, flags('immutable', 'hidden'), false),
  bool('cluster-slot-stats-enabled', null, MOD, false),
  bool('hide-user-data-from-log', null, MOD, true),
  bool('import-mode', null, MOD, false),
  bool('auto-failover-on-shutdown', null, MOD, false),

  /* String configs (Valkey's string and sds configs behave the same here) */
  str('aclfile', null, IMM, false, ''),
  str('unixsocket', null, IMM, true, null),
  str('unixsocketgroup', null, IMM, true, null),
  str('pidfile', null, IMM, true, null),
  str('replica-announce-ip', 'slave-announce-ip', MOD, true, null),
  str('primaryuser', 'masteruser', flags('sensitive'), true, null),
  str('cluster-announce-ip', null, MOD, true, null),
  str('cluster-announce-client-ipv4', null, MOD, true, null, validIpV4),
  str('cluster-announce-client-ipv6', null, MOD, true, null, validIpV6),
  str('cluster-config-file', null, IMM, false, 'nodes.conf', validClusterConfigFile),
  str('cluster-announce-hostname', null, MOD, true, null, validHostname),
  str('cluster-announce-human-nodename', null, MOD, true, null, validHumanNodename),
  str('syslog-ident', null, IMM, false, 'valkey'),
  str('dbfilename', null, flags('protected'), false, 'dump.rdb', validDbFilename),
  str('appendfilename', null, IMM, false, 'appendonly.aof', validAofFilename),
  str('appenddirname', null, IMM, false, 'appendonlydir', validAofDirname),
  str('server-cpulist', 'server_cpulist', IMM, true, null),
  str('bio-cpulist', 'bio_cpulist', IMM, true, null),
  str('aof-rewrite-cpulist', 'aof_rewrite_cpulist', IMM, true, null),
  str('bgsave-cpulist', 'bgsave_cpulist', IMM, true, null),
  str('ignore-warnings', null, MOD, false, ''),
  str('proc-title-template', null, MOD, false, '{title} {listen-addr} {server-mode}', validProcTitleTemplate),
  str('bind-source-addr', null, MOD, true, null),
  str('logfile', null, IMM, false, ''),
  str('locale-collate', null, MOD, false, ''),
  str('debug-context', null, flags('hidden'), false, ''),
  str('primaryauth', 'masterauth', flags('sensitive'), true, null),
  str('requirepass', null, flags('sensitive'), true, null),
  str('availability-zone', null, MOD, false, ''),

  /* Enum configs */
  enumeration('supervised', null, IMM, SUPERVISED, 3),
  enumeration('syslog-facility', null, IMM, SYSLOG_FACILITY, 1),
  enumeration('repl-diskless-load', null, flags('deny-loading'), REPL_DISKLESS_LOAD, 0),
  enumeration('loglevel', null, MOD, LOGLEVEL, 2),
  enumeration('maxmemory-policy', null, MOD, MAXMEMORY_POLICY, 7),
  enumeration('appendfsync', null, MOD, APPENDFSYNC, 0),
  enumeration('oom-score-adj', null, MOD, OOM_SCORE_ADJ, 0),
  enumeration('acl-pubsub-default', null, MOD, ACL_PUBSUB_DEFAULT, 0),
  enumeration('sanitize-dump-payload', null, MOD, SANITIZE_DUMP, 0),
  enumeration('enable-protected-configs', null, IMM, PROTECTED_ACTION, 0),
  enumeration('enable-debug-command', null, IMM, PROTECTED_ACTION, 0),
  enumeration('enable-module-command', null, IMM, PROTECTED_ACTION, 0),
  enumeration('cluster-preferred-endpoint-type', null, MOD, ENDPOINT_TYPE, 0),
  enumeration('propagation-error-behavior', null, MOD, PROPAGATION_ERROR, 0),
  enumeration('shutdown-on-sigint', null, flags('multi-arg'), SHUTDOWN_ON_SIG, 0, validShutdownFlags),
  enumeration('shutdown-on-sigterm', null, flags('multi-arg'), SHUTDOWN_ON_SIG, 0, validShutdownFlags),
  enumeration('log-format', null, MOD, LOG_FORMAT, 0),
  enumeration('log-timestamp-format', null, MOD, LOG_TIMESTAMP_FORMAT, 0),

  /* Integer configs */
  num('databases', null, IMM, 'int', 1n, INT_MAX, 16n),
  num('port', null, MOD, 'int', 0n, 65535n, 6379n),
  // forkv-only refusal: every client is served on Node's one event loop (no I/O threads).
  def('io-threads', null, IMM, { type: 'numeric', numType: 'int', format: 'integer', min: 1n, max: 128n, default: 1n, validate: refuseIoThreads }),
  num('events-per-io-thread', null, flags('hidden'), 'int', 0n, INT_MAX, 2n),
  num('prefetch-batch-max-size', null, MOD, 'int', 0n, 128n, 16n),
  num('auto-aof-rewrite-percentage', null, MOD, 'int', 0n, INT_MAX, 100n),
  num('cluster-replica-validity-factor', 'cluster-slave-validity-factor', MOD, 'int', 0n, INT_MAX, 10n),
  num('list-max-listpack-size', 'list-max-ziplist-size', MOD, 'int', INT_MIN, INT_MAX, -2n),
  num('tcp-keepalive', null, MOD, 'int', 0n, INT_MAX, 300n),
  num('cluster-migration-barrier', null, MOD, 'int', 0n, INT_MAX, 1n),
  num('active-defrag-cycle-min', null, MOD, 'int', 1n, 99n, 1n),
  num('active-defrag-cycle-max', null, MOD, 'int', 1n, 99n, 25n),
  num('active-defrag-threshold-lower', null, MOD, 'int', 0n, 1000n, 10n),
  num('active-defrag-threshold-upper', null, MOD, 'int', 0n, 1000n, 100n),
  num('active-defrag-cycle-us', null, MOD, 'int', 0n, 100000n, 500n),
  num('lfu-log-factor', null, MOD, 'int', 0n, INT_MAX, 10n),
  num('lfu-decay-time', null, MOD, 'int', 0n, INT_MAX, 1n),
  num('replica-priority', 'slave-priority', MOD, 'int', 0n, INT_MAX, 100n),
  num('repl-diskless-sync-delay', null, MOD, 'int', 0n, INT_MAX, 5n),
  num('maxmemory-samples', null, MOD, 'int', 1n, 64n, 5n),
  num('maxmemory-eviction-tenacity', null, MOD, 'int', 0n, 100n, 10n),
  num('timeout', null, MOD, 'int', 0n, INT_MAX, 0n),
  num('replica-announce-port', 'slave-announce-port', MOD, 'int', 0n, 65535n, 0n),
  num('tcp-backlog', null, IMM, 'int', 0n, INT_MAX, 511n),
  num('cluster-port', null, IMM, 'int', 0n, 65535n, 0n),
  num('cluster-announce-bus-port', null, MOD, 'int', 0n, 65535n, 0n),
  num('cluster-announce-port', null, MOD, 'int', 0n, 65535n, 0n),
  num('cluster-announce-tls-port', null, MOD, 'int', 0n, 65535n, 0n),
  num('repl-timeout', null, MOD, 'int', 1n, INT_MAX, 60n),
  num('repl-ping-replica-period', 'repl-ping-slave-period', MOD, 'int', 1n, INT_MAX, 10n),
  num('list-compress-depth', null, MOD, 'int', 0n, INT_MAX, 0n),
  num('rdb-key-save-delay', null, flags('hidden'), 'int', INT_MIN, INT_MAX, 0n),
  num('key-load-delay', null, flags('hidden'), 'int', INT_MIN, INT_MAX, 0n),
  num('active-expire-effort', null, MOD, 'int', 1n, 10n, 1n),
  num('hz', null, MOD, 'int', 0n, INT_MAX, 10n, 'integer', clampHz),
  num('min-replicas-to-write', 'min-slaves-to-write', MOD, 'int', 0n, INT_MAX, 0n),
  num('min-replicas-max-lag', 'min-slaves-max-lag', MOD, 'int', 0n, INT_MAX, 10n),
  num('watchdog-period', null, flags('hidden'), 'int', 0n, INT_MAX, 0n),
  num('shutdown-timeout', null, MOD, 'int', 0n, INT_MAX, 10n),
  num('repl-diskless-sync-max-replicas', null, MOD, 'int', 0n, INT_MAX, 0n),

  /* Unsigned int configs */
  num('maxclients', null, MOD, 'uint', 1n, UINT_MAX, 10000n),
  num('unixsocketperm', null, IMM, 'uint', 0n, 0o777n, 0n, 'octal'),
  num('socket-mark-id', null, IMM, 'uint', 0n, UINT_MAX, 0n),
  num('max-new-connections-per-cycle', null, MOD, 'uint', 1n, 1000n, 10n),
  num('max-new-tls-connections-per-cycle', null, MOD, 'uint', 1n, 1000n, 1n),

  /* Unsigned long configs */
  num('active-defrag-max-scan-fields', null, MOD, 'ulong', 1n, LONG_MAX, 1000n),
  num('commandlog-slow-execution-max-len', 'slowlog-max-len', MOD, 'ulong', 0n, LONG_MAX, 128n),
  num('commandlog-large-request-max-len', null, MOD, 'ulong', 0n, LONG_MAX, 128n),
  num('commandlog-large-reply-max-len', null, MOD, 'ulong', 0n, LONG_MAX, 128n),
  num('acllog-max-len', null, MOD, 'ulong', 0n, LONG_MAX, 128n),
  num('cluster-blacklist-ttl', null, MOD, 'ulong', 0n, ULLONG_MAX, 60n),

  /* Long long configs */
  num('busy-reply-threshold', 'lua-time-limit', MOD, 'llong', 0n, LONG_MAX, 5000n),
  num('cluster-node-timeout', null, MOD, 'llong', 0n, LLONG_MAX, 15000n),
  num('cluster-ping-interval', null, flags('hidden'), 'llong', 0n, LLONG_MAX, 0n),
  num('commandlog-execution-slower-than', 'slowlog-log-slower-than', MOD, 'llong', -1n, LLONG_MAX, 10000n),
  num('commandlog-request-larger-than', null, MOD, 'llong', -1n, LLONG_MAX, MB),
  num('commandlog-reply-larger-than', null, MOD, 'llong', -1n, LLONG_MAX, MB),
  num('latency-monitor-threshold', null, MOD, 'llong', 0n, LLONG_MAX, 0n),
  num('proto-max-bulk-len', null, MOD, 'llong', MB, LONG_MAX, 512n * MB, 'memory'),
  num('stream-node-max-entries', null, MOD, 'llong', 0n, LLONG_MAX, 100n),
  num('repl-backlog-size', null, MOD, 'llong', 1n, LLONG_MAX, 10n * MB, 'memory'),
  num('cluster-manual-failover-timeout', null, MOD, 'llong', 1n, INT_MAX, 5000n),

  /* Unsigned long long configs */
  num('maxmemory', null, MOD, 'ullong', 0n, ULLONG_MAX, 0n, 'memory'),
  num('cluster-link-sendbuf-limit', null, MOD, 'ullong', 0n, ULLONG_MAX, 0n, 'memory'),

  /* size_t configs */
  num('hash-max-listpack-entries', 'hash-max-ziplist-entries', MOD, 'size_t', 0n, LONG_MAX, 512n),
  num('set-max-intset-entries', null, MOD, 'size_t', 0n, LONG_MAX, 512n),
  num('set-max-listpack-entries', null, MOD, 'size_t', 0n, LONG_MAX, 128n),
  num('set-max-listpack-value', null, MOD, 'size_t', 0n, LONG_MAX, 64n),
  num('zset-max-listpack-entries', 'zset-max-ziplist-entries', MOD, 'size_t', 0n, LONG_MAX, 128n),
  num('active-defrag-ignore-bytes', null, MOD, 'size_t', 1n, LLONG_MAX, 100n * MB, 'memory'),
  num('hash-max-listpack-value', 'hash-max-ziplist-value', MOD, 'size_t', 0n, LONG_MAX, 64n, 'memory'),
  num('stream-node-max-bytes', null, MOD, 'size_t', 0n, LONG_MAX, 4096n, 'memory'),
  num('zset-max-listpack-value', 'zset-max-ziplist-value', MOD, 'size_t', 0n, LONG_MAX, 64n, 'memory'),
  num('hll-sparse-max-bytes', null, MOD, 'size_t', 0n, LONG_MAX, 3000n, 'memory'),
  num('tracking-table-max-keys', null, MOD, 'size_t', 0n, LONG_MAX, 1000000n),
  num('client-query-buffer-limit', null, MOD, 'size_t', MB, LONG_MAX, 1024n * MB, 'memory'),
  num('maxmemory-clients', null, MOD, 'ssize_t', -100n, LLONG_MAX, 0n, 'memory-percent'),

  /* Other numeric configs */
  num('repl-backlog-ttl', null, MOD, 'time_t', 0n, LONG_MAX, 3600n),
  num('auto-aof-rewrite-min-size', null, MOD, 'off_t', 0n, LLONG_MAX, 64n * MB, 'memory'),
  num('loading-process-events-interval-bytes', null, flags('hidden'), 'off_t', 1024n, INT_MAX, 2n * MB),

  /* TLS configs */
  num('tls-port', null, MOD, 'int', 0n, 65535n, 0n),
  num('tls-session-cache-size', null, MOD, 'int', 0n, INT_MAX, 20n * 1024n),
  num('tls-session-cache-timeout', null, MOD, 'int', 0n, INT_MAX, 300n),
  bool('tls-cluster', null, MOD, false),
  bool('tls-replication', null, MOD, false),
  enumeration('tls-auth-clients', null, MOD, TLS_AUTH_CLIENTS, 1),
  bool('tls-prefer-server-ciphers', null, MOD, false),
  bool('tls-session-caching', null, MOD, true),
  str('tls-cert-file', null, flags('volatile'), true, null),
  str('tls-key-file', null, flags('volatile'), true, null),
  str('tls-key-file-pass', null, flags('sensitive'), true, null),
  str('tls-client-cert-file', null, flags('volatile'), true, null),
  str('tls-client-key-file', null, flags('volatile'), true, null),
  str('tls-client-key-file-pass', null, flags('sensitive'), true, null),
  str('tls-dh-params-file', null, flags('volatile'), true, null),
  str('tls-ca-cert-file', null, flags('volatile'), true, null),
  str('tls-ca-cert-dir', null, flags('volatile'), true, null),
  str('tls-protocols', null, MOD, true, null),
  str('tls-ciphers', null, MOD, true, null),
  str('tls-ciphersuites', null, MOD, true, null),

  /* Special configs */
  def('dir', null, flags('protected', 'deny-loading'), { type: 'dir' }),
  def('save', null, flags('multi-arg'), {
    type: 'save',
    default: [{ seconds: 3600, changes: 1 }, { seconds: 300, changes: 100 }, { seconds: 60, changes: 10000 }],
  }),
  def('client-output-buffer-limit', null, flags('multi-arg'), { type: 'obuf', default: DEFAULT_OUTPUT_BUFFER_LIMITS }),
  def('oom-score-adj-values', null, flags('multi-arg'), { type: 'oom-values', default: [0, 200, 800] }),
  def('notify-keyspace-events', null, MOD, { type: 'keyspace-events' }),
  // forkv deviation: Valkey's compiled-in default is VALKEY_DEFAULT_BIND ("* -::*").
  def('bind', null, flags('multi-arg'), { type: 'bind', default: FORKV_DEFAULT_BIND }),
  def('replicaof', 'slaveof', flags('immutable', 'multi-arg'), { type: 'replicaof' }),
  def('latency-tracking-info-percentiles', null, flags('multi-arg'), { type: 'percentiles', default: [50, 99, 99.9] }),

  /* forkv-only: the RDB version forkv writes (9 = Redis 5+, 10 = Redis 7.0, 11 = Redis 7.2/Valkey 7-8). */
  { ...num('rdb-version', null, MOD, 'int', 9n, 11n, 10n), forkvOnly: true },
];

/** Every directive, in table order. */
export const CONFIG_TABLE: readonly ConfigDef[] = RAW_TABLE.map((raw): ConfigDef => {
  const caveat = FORKV_CAVEATS[raw.name];
  return {
    ...raw,
    implemented: FORKV_IMPLEMENTED.has(raw.name),
    ...(caveat !== undefined ? { caveat } : {}),
  };
});

/**
 * What forkv says when a directive it does not fully honour is set away from its default (from a
 * config file or by CONFIG SET), or null for one it honours. Nothing is accepted silently.
 */
export function notHonouredWarning(def: ConfigDef): string | null {
  if (!def.implemented) return `'${def.name}' is not implemented by forkv; the value is accepted and reported by CONFIG GET but has no effect`;
  return def.caveat === undefined ? null : `'${def.name}': ${def.caveat}`;
}

/** A registered name: Valkey registers each alias as a separate entry pointing at its primary. */
export interface ConfigEntry {
  /** The registered (lowercase) name: the primary name or the alias. */
  readonly name: string;
  readonly def: ConfigDef;
  readonly isAlias: boolean;
}

/** Registered names in Valkey's registration order (each primary followed by its alias). */
export const CONFIG_ENTRIES: readonly ConfigEntry[] = CONFIG_TABLE.flatMap((d) => {
  const primary: ConfigEntry = { name: d.name, def: d, isAlias: false };
  return d.alias === undefined ? [primary] : [primary, { name: d.alias, def: d, isAlias: true }];
});

const BY_NAME: ReadonlyMap<string, ConfigEntry> = new Map(CONFIG_ENTRIES.map((e) => [e.name, e]));

/** Case-insensitive lookup of a primary name or alias (Valkey's `lookupConfig`). */
export function lookupConfig(name: string): ConfigEntry | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The primary definition for a name or alias, or undefined. */
export function configDef(name: string): ConfigDef | undefined {
  return lookupConfig(name)?.def;
}

/**
 * Directives Valkey still accepts in a config file and ignores, with the argument count
 * they must have (including the directive itself).
 */
export const DEPRECATED_DIRECTIVES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['list-max-ziplist-entries', [2, 2]],
  ['list-max-ziplist-value', [2, 2]],
  ['lua-replicate-commands', [2, 2]],
]);

/** Config-file-only directives that are not in the table (CONFIG REWRITE keeps their lines). */
export const FILE_ONLY_DIRECTIVES: ReadonlySet<string> = new Set(['include', 'rename-command', 'user', 'loadmodule', 'sentinel']);
