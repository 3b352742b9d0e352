// INFO: sections and field names exactly as Valkey prints them (dashboards parse them).
// A field appears only when forkv really measures it.
import * as os from 'node:os';

import { memAllocator } from './native/core';
import type { Server } from './server';
import { VERSION } from './version';

type Producer = (server: Server) => Array<[string, string | number]>;

const SECTIONS: Array<[string, Producer]> = [
  ['server', serverSection],
  ['clients', clientsSection],
  ['memory', memorySection],
  ['persistence', (s) => s.persistenceInfo()],
  ['stats', statsSection],
  ['replication', (s) => s.replication.infoFields()],
  ['cpu', cpuSection],
  ['keyspace', keyspaceSection],
];

/** The sections `INFO` (no argument) and `default` print, in order. */
const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'keyspace'];

/** Renders INFO for the requested section names (empty = default). */
export function renderInfo(server: Server, requested: string[]): string {
  const want = new Set(requested.map((s) => s.toLowerCase()));
  const all = want.has('all') || want.has('everything');
  const dflt = want.size === 0 || want.has('default');
  const out: string[] = [];
  for (const [name, produce] of SECTIONS) {
    if (!(all || want.has(name) || (dflt && DEFAULT_SECTIONS.includes(name)))) continue;
    if (out.length > 0) out.push('');
    out.push(`# ${name[0]?.toUpperCase()}${name.slice(1)}`);
    for (const [k, v] of produce(server)) out.push(`${k}:${v}`);
  }
  return out.join('\r\n') + (out.length > 0 ? '\r\n' : '');
}

/** Bytes in Valkey's human form: 1.50M, 512B. */
export function human(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes}B` : `${v.toFixed(2)}${units[i]}`;
}

function serverSection(s: Server): Array<[string, string | number]> {
  const uptime = Math.floor((Date.now() - s.startedAt) / 1000);
  return [
    ['redis_version', VERSION.redisCompat],
    ['server_name', 'forkv'],
    ['forkv_version', VERSION.forkv],
    ['valkey_compat_version', VERSION.valkeyCompat],
    // Valkey 8 names the field server_mode, and redis_mode under extended-redis-compatibility.
    [s.config.getBool('extended-redis-compatibility') ? 'redis_mode' : 'server_mode', 'standalone'],
    ['os', `${os.type()} ${os.release()} ${os.arch()}`],
    ['arch_bits', 64],
    ['multiplexing_api', 'libuv'],
    ['node_version', process.versions.node],
    ['process_id', process.pid],
    ['process_supervised', 'no'],
    ['run_id', s.runId],
    ['tcp_port', s.port],
    ['server_time_usec', Date.now() * 1000],
    ['uptime_in_seconds', uptime],
    ['uptime_in_days', Math.floor(uptime / 86400)],
    ['hz', s.config.getInt('hz')],
    ['configured_hz', s.config.getInt('hz')],
    ['executable', process.argv[1] ?? ''],
    ['config_file', s.configFile ?? ''],
    ['shutdown_in_milliseconds', s.shutdownInMilliseconds],
    ...s.listening.infoFields(),
  ];
}

function clientsSection(s: Server): Array<[string, string | number]> {
  const c = s.core.native.connStats();
  return [
    ['connected_clients', s.clients.size],
    ['maxclients', s.config.getInt('maxclients')],
    ['blocked_clients', c.blockedClients],
    ['pubsub_clients', s.core.native.pubsubInfo().clients],
    ['watching_clients', c.watchingClients],
    ['clients_in_timeout_table', c.clientsInTimeoutTable],
    ['total_watched_keys', c.totalWatchedKeys],
    ['total_blocking_keys', c.totalBlockingKeys],
    ['total_blocking_keys_on_nokey', c.totalBlockingKeysOnNokey],
  ];
}

function memorySection(s: Server): Array<[string, string | number]> {
  const st = s.core.native.stats();
  const used = st.usedMemory;
  const out = s.output.totals();
  const mem = process.memoryUsage();
  const peak = Math.max(s.stats.peakMemory, used);
  const maxmemory = Number(s.config.getBigInt('maxmemory'));
  return [
    ['used_memory', used],
    ['used_memory_human', human(used)],
    ['used_memory_rss', mem.rss],
    ['used_memory_rss_human', human(mem.rss)],
    ['used_memory_peak', peak],
    ['used_memory_peak_human', human(peak)],
    ['total_system_memory', os.totalmem()],
    ['total_system_memory_human', human(os.totalmem())],
    ...scriptingMemory(s),
    ['node_heap_used', mem.heapUsed],
    ['node_heap_used_human', human(mem.heapUsed)],
    ['maxmemory', maxmemory],
    ['maxmemory_human', human(maxmemory)],
    ['maxmemory_policy', s.config.getEnum('maxmemory-policy')],
    ['mem_not_counted_for_evict', st.memNotCountedForEvict],
    ['mem_clients_slaves', out.replicas],
    ['mem_clients_normal', out.total - out.replicas],
    ['mem_fragmentation_ratio', used > 0 ? (mem.rss / used).toFixed(2) : '0.00'],
    ['mem_allocator', memAllocator()],
  ];
}

/** The scripting fields of the memory section, in Valkey's order. */
function scriptingMemory(s: Server): Array<[string, string | number]> {
  const m = s.core.native.scriptingInfo();
  const vmTotal = m.usedMemoryVmEval + m.usedMemoryVmFunctions;
  const scripts = m.usedMemoryScriptsEval + m.usedMemoryFunctions;
  return [
    ['used_memory_lua', m.usedMemoryVmEval],
    ['used_memory_vm_eval', m.usedMemoryVmEval],
    ['used_memory_lua_human', human(m.usedMemoryVmEval)],
    ['used_memory_scripts_eval', m.usedMemoryScriptsEval],
    ['number_of_cached_scripts', m.numberOfCachedScripts],
    ['number_of_functions', m.numberOfFunctions],
    ['number_of_libraries', m.numberOfLibraries],
    ['used_memory_vm_functions', m.usedMemoryVmFunctions],
    ['used_memory_vm_total', vmTotal],
    ['used_memory_vm_total_human', human(vmTotal)],
    ['used_memory_functions', m.usedMemoryFunctions],
    ['used_memory_scripts', scripts],
    ['used_memory_scripts_human', human(scripts)],
  ];
}

function statsSection(s: Server): Array<[string, string | number]> {
  const c = s.core.native.stats();
  const ps = s.core.native.pubsubInfo();
  return [
    ['total_connections_received', s.stats.totalConnections],
    ['total_commands_processed', c.totalCommandsProcessed],
    ['instantaneous_ops_per_sec', s.opsPerSec()],
    ['total_net_input_bytes', c.totalNetInputBytes],
    ['total_net_output_bytes', s.stats.totalNetOutputBytes],
    ['rejected_connections', s.stats.rejectedConnections],
    ['expired_keys', c.expiredKeys],
    ['expired_stale_perc', c.expiredStalePerc.toFixed(2)],
    ['expired_time_cap_reached_count', c.expiredTimeCapReachedCount],
    ['expire_cycle_cpu_milliseconds', c.expireCycleCpuMilliseconds],
    ['evicted_keys', c.evictedKeys],
    ['evicted_clients', 0],
    ['total_eviction_exceeded_time', c.totalEvictionExceededTime],
    ['current_eviction_exceeded_time', c.currentEvictionExceededTime],
    ['keyspace_hits', c.keyspaceHits],
    ['keyspace_misses', c.keyspaceMisses],
    ['pubsub_channels', ps.channels],
    ['pubsub_patterns', ps.patterns],
    ['pubsubshard_channels', ps.shardChannels],
    ['client_output_buffer_limit_disconnections', s.stats.clientOutputBufferLimitDisconnections],
    ...s.extraStats(),
    ['total_error_replies', c.totalErrorReplies],
  ];
}

function cpuSection(): Array<[string, string | number]> {
  const u = process.resourceUsage();
  return [
    ['used_cpu_sys', (u.systemCPUTime / 1e6).toFixed(6)],
    ['used_cpu_user', (u.userCPUTime / 1e6).toFixed(6)],
  ];
}

function keyspaceSection(s: Server): Array<[string, string | number]> {
  return s.core.native.keyspaceInfo().map((d) => [`db${d.db}`, `keys=${d.keys},expires=${d.expires}`]);
}
