// The configuration the core enforces: the engine settings, the compact-encoding
// thresholds, latency tracking and `requirepass`, pushed into the core at start and again
// on every CONFIG SET of a directive they depend on (with what else such a change sets
// off: eviction after `maxmemory`, the output limits, `oom-score-adj`, the log level, the
// cron's period).
import { CONFIG_ENTRIES } from './config/schema';
import { helloIdentity } from './commands/connection';
import { evictionLimit } from './net/client-eviction';
import type { LogLevel } from './log';
import type { Server } from './server';

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

/** Directives whose value goes to the core's engine settings. */
const ENGINE_DIRECTIVES = [
  'proto-max-bulk-len', 'client-query-buffer-limit', 'hll-sparse-max-bytes', 'acllog-max-len', 'acl-pubsub-default', 'maxmemory-policy', 'lazyfree-lazy-expire',
  'lazyfree-lazy-user-del', 'lazyfree-lazy-user-flush', 'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lazyfree-lazy-eviction', 'lfu-log-factor', 'lfu-decay-time', 'lazyfree-lazy-server-del', 'notify-keyspace-events',
  'commandlog-execution-slower-than', 'commandlog-slow-execution-max-len', 'tracking-table-max-keys', 'latency-monitor-threshold', 'hz', 'busy-reply-threshold',
  'extended-redis-compatibility', 'rdbcompression', 'replica-ignore-maxmemory', 'active-expire-effort', 'hide-user-data-from-log', 'propagation-error-behavior', 'crash-log-enabled',
  'min-replicas-to-write', 'min-replicas-max-lag',
];

/** Pushes the configuration into the core now, and on each change of it. */
export class EngineConfig {
  constructor(private readonly server: Server) {
    // Valkey refuses to start with a locale the system does not have.
    if (!this.native.setLocaleCollate(this.config.getString('locale-collate'))) throw new Error('locale-collate: Invalid locale name');
    this.applyEngineSettings();
    this.applyLatencyTracking();
    this.applyRequirepass();
    this.applyEncodingLimits();
    this.registerConfigHooks();
  }

  private get config() {
    return this.server.config;
  }

  private get native() {
    return this.server.core.native;
  }

  /** Pushes `latency-tracking` and its INFO percentiles to the core. */
  private applyLatencyTracking(): void {
    this.native.setLatencyTracking(this.config.getBool('latency-tracking'), this.config.getLatencyPercentiles());
  }

  /** Pushes the compact-encoding thresholds to the keyspace. */
  private applyEncodingLimits(): void {
    const c = this.config;
    const n = (name: string): number => Number(c.getBigInt(name));
    this.native.configure({
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
    const c = this.config;
    this.native.configure({
      protoMaxBulkLen: Number(c.getBigInt('proto-max-bulk-len')),
      queryBufferLimit: Number(c.getBigInt('client-query-buffer-limit')),
      hllSparseMaxBytes: Number(c.getBigInt('hll-sparse-max-bytes')),
      acllogMaxLen: Number(c.getBigInt('acllog-max-len')),
      aclPubsubDefaultAll: c.getEnum('acl-pubsub-default') === 'allchannels',
      lfu: c.getEnum('maxmemory-policy').includes('lfu'),
      lazyfreeLazyExpire: c.getBool('lazyfree-lazy-expire'),
      lazyfreeLazyUserDel: c.getBool('lazyfree-lazy-user-del'),
      lazyfreeLazyUserFlush: c.getBool('lazyfree-lazy-user-flush'),
      notifyKeyspaceEvents: c.getKeyspaceEvents('notify-keyspace-events'),
      lazyfreeLazyServerDel: c.getBool('lazyfree-lazy-server-del'),
      propagationErrorBehavior: c.getEnum('propagation-error-behavior'),
      crashLogEnabled: c.getBool('crash-log-enabled'),
      // Valkey's MAXMEMORY_FLAG_NO_SHARED_INTEGERS: LRU and LFU policies keep a clock per key.
      sharedIntegers: c.getBigInt('maxmemory') === 0n || !/lru|lfu/.test(c.getEnum('maxmemory-policy')),
      maxmemory: Number(c.getBigInt('maxmemory')),
      maxmemoryPolicy: c.getEnum('maxmemory-policy'),
      maxmemorySamples: c.getInt('maxmemory-samples'),
      maxmemoryEvictionTenacity: c.getInt('maxmemory-eviction-tenacity'),
      replicaIgnoreMaxmemory: c.getBool('replica-ignore-maxmemory'),
      activeExpireEffort: c.getInt('active-expire-effort'),
      hideUserDataFromLog: c.getBool('hide-user-data-from-log'),
      lazyfreeLazyEviction: c.getBool('lazyfree-lazy-eviction'),
      lfuLogFactor: c.getInt('lfu-log-factor'),
      lfuDecayTime: c.getInt('lfu-decay-time'),
      clientEvictionLimit: evictionLimit(c.getInt('maxmemory-clients'), Number(c.getBigInt('maxmemory'))),
      outputHardLimitNormal: Number(c.getClientOutputBufferLimits().normal.hardLimitBytes),
      outputHardLimitPubsub: Number(c.getClientOutputBufferLimits().pubsub.hardLimitBytes),
      slowlogLogSlowerThan: Number(c.getBigInt('commandlog-execution-slower-than')),
      slowlogMaxLen: Number(c.getBigInt('commandlog-slow-execution-max-len')),
      trackingTableMaxKeys: Number(c.getBigInt('tracking-table-max-keys')),
      busyReplyThreshold: Number(c.getBigInt('busy-reply-threshold')),
      rdbCompression: c.getBool('rdbcompression'),
      sensitiveConfigs: CONFIG_ENTRIES.filter((e) => e.def.flags.sensitive).map((e) => e.name),
      latencyMonitorThreshold: Number(c.getBigInt('latency-monitor-threshold')),
      hz: c.getInt('hz'),
      // The core's write gate counts the good replicas against these (NOREPLICAS).
      minReplicasToWrite: c.getInt('min-replicas-to-write'),
      minReplicasMaxLag: c.getInt('min-replicas-max-lag'),
      ...helloIdentity(c.getBool('extended-redis-compatibility')),
    });
  }

  /** CONFIG SET maxmemory: warn when it is below the memory in use, then evict now. */
  private applyMaxmemory(): void {
    this.applyEngineSettings();
    const max = Number(this.config.getBigInt('maxmemory'));
    if (max === 0) return;
    const st = this.native.stats();
    const used = st.usedMemory - st.memNotCountedForEvict;
    if (max < used) {
      this.server.log.warning(`WARNING: the new maxmemory value set via CONFIG SET (${max}) is smaller than the current memory usage (${used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.`);
    }
    this.server.dataPath.evictKeys();
  }

  /** `requirepass` is the default ACL user's password (set only when it changes: ACL
   * SETUSER default may have changed the user since). */
  private applyRequirepass(): void {
    this.native.configure({ requirepass: this.config.getString('requirepass') });
  }

  private registerConfigHooks(): void {
    const server = this.server;
    const config = this.config;
    const engine = (): null => {
      this.applyEngineSettings();
      return null;
    };
    for (const name of ENGINE_DIRECTIVES) config.onChange(name, engine);
    for (const name of ['latency-tracking', 'latency-tracking-info-percentiles']) {
      config.onChange(name, () => {
        this.applyLatencyTracking();
        return null;
      });
    }
    config.onChange('maxmemory', () => {
      this.applyMaxmemory();
      server.clientMemory.refreshAllAndEvict(server.clients.values());
      return null;
    });
    config.onChange('maxmemory-clients', () => {
      this.applyEngineSettings();
      server.clientMemory.refreshAllAndEvict(server.clients.values());
      return null;
    });
    config.onChange('client-output-buffer-limit', () => {
      server.output.refreshLimits();
      this.applyEngineSettings();
      return null;
    });
    for (const name of ['oom-score-adj', 'oom-score-adj-values']) {
      config.onChange(name, () => (server.applyOomScoreAdj() === null ? null : 'Failed to set current oom_score_adj. Check server logs.'));
    }
    config.onChange('requirepass', () => {
      this.applyRequirepass();
      return null;
    });
    const encodings = (): null => {
      this.applyEncodingLimits();
      return null;
    };
    for (const name of ENCODING_LIMIT_DIRECTIVES) config.onChange(name, encodings);
    config.onChange('loglevel', (v) => {
      server.log.setLevel(v as LogLevel);
      return null;
    });
    config.onChange('locale-collate', (v) => (this.native.setLocaleCollate(v) ? null : 'Invalid locale name'));
    for (const name of ['hz', 'dynamic-hz']) {
      config.onChange(name, () => {
        server.startCron();
        return null;
      });
    }
  }
}
