// INFO is assembled by the core (crates/forkv-server/src/info.rs), section by section
// with Valkey's field names, so that clients and scripts get the same text. This module
// pushes the facts only the host knows: before it answers a client's INFO (fresh), and
// from the cron (what a script's `server.call('INFO')` sees).
import * as os from 'node:os';

import { memAllocator } from './native/core';
import type { Server } from './server';
import { VERSION } from './version';

type Fields = Array<[string, string | number]>;

/**
 * What was last pushed into a server's core: the single facts by name, and each ordered
 * group as one text. The cron pushes every tick; most facts do not change between ticks,
 * and each pushed string is converted and allocated on both sides, so only the facts and
 * groups that changed are pushed again.
 */
interface Pushed {
  facts: Map<string, string>;
  groups: Map<string, string>;
}

const pushed = new WeakMap<Server, Pushed>();

/** Pushes the host's INFO facts into the core (those that changed since the last push). */
export function pushInfoFacts(s: Server): void {
  const native = s.core.native;
  let last = pushed.get(s);
  if (last === undefined) {
    last = { facts: new Map(), groups: new Map() };
    pushed.set(s, last);
  }
  const changed: string[][] = [];
  for (const [name, value] of hostFacts(s)) {
    const text = String(value);
    if (last.facts.get(name) === text) continue;
    last.facts.set(name, text);
    changed.push([name, text]);
  }
  if (changed.length > 0) native.mergeHostFacts(changed);
  pushGroup(s, last, 'listeners', s.listening.infoFields());
  // The persistence section is the core's own (forkv-server's persist/info.rs).
  native.refreshPersistenceInfo();
  pushGroup(s, last, 'replication', s.replication.infoFields());
  pushGroup(s, last, 'debug', s.loopTurns.fields());
}

/** Replaces an ordered group of facts in the core when it differs from the last push. */
function pushGroup(s: Server, last: Pushed, group: string, fields: Fields): void {
  const list = strings(fields);
  const text = list.map(([k, v]) => `${k ?? ''}:${v ?? ''}`).join('\n');
  if (last.groups.get(group) === text) return;
  last.groups.set(group, text);
  s.core.native.setHostInfo(group, list);
}

/** Renders INFO for the requested section names (empty = default), with fresh facts. */
export function renderInfo(server: Server, requested: string[]): string {
  pushInfoFacts(server);
  return server.core.native.info(requested);
}

function strings(fields: Fields): string[][] {
  return fields.map(([k, v]) => [k, String(v)]);
}

/** The single facts, by INFO field name (the core prints them in its order). */
function hostFacts(s: Server): Fields {
  const mem = process.memoryUsage();
  return [
    ['redis_version', VERSION.redisCompat],
    ['forkv_version', VERSION.forkv],
    ['valkey_compat_version', VERSION.valkeyCompat],
    ['extended_redis_compatibility', s.config.getBool('extended-redis-compatibility') ? 'yes' : 'no'],
    ['os', `${os.type()} ${os.release()} ${os.arch()}`],
    ['node_version', process.versions.node],
    ['run_id', s.runId],
    ['tcp_port', s.port],
    ['started_at_ms', s.startedAt],
    ['hz', s.cronHz],
    ['configured_hz', s.config.getInt('hz')],
    ['executable', process.argv[1] ?? ''],
    ['config_file', s.configFile ?? ''],
    ['availability_zone', s.config.getString('availability-zone')],
    ['shutdown_in_milliseconds', s.shutdownControl.inMilliseconds],
    // Replicas are not counted as clients (Valkey: clients less replicas); a replica's link
    // to its primary is (Valkey's primary client is in its client list).
    ['connected_clients', Math.max(0, s.clients.size - s.core.native.replInfo().replicas.length) + (s.replica.primaryClientView() === null ? 0 : 1)],
    // Clients in WAIT/WAITAOF and those waiting with a SHUTDOWN (run by the host): part of blocked_clients.
    ['host_blocked_clients', s.replication.acks.waitingClients + s.shutdownControl.waitingClients],
    ['maxclients', s.config.getInt('maxclients')],
    ['client_recent_max_output_buffer', s.output.largest()],
    ['used_memory_rss', mem.rss],
    ['total_system_memory', os.totalmem()],
    ['node_heap_used', mem.heapUsed],
    ['maxmemory_policy', s.config.getEnum('maxmemory-policy')],
    ['evicted_clients', s.stats.evictedClients],
    ['mem_allocator', memAllocator()],
    ['total_connections_received', s.stats.totalConnections],
    ['instantaneous_ops_per_sec', s.opsPerSec()],
    ['total_net_output_bytes', s.stats.totalNetOutputBytes],
    ['total_net_repl_input_bytes', s.stats.totalNetReplInputBytes],
    ['total_net_repl_output_bytes', s.stats.totalNetReplOutputBytes],
    ...s.loopMetrics.rateFields(),
    ['total_reads_processed', s.stats.totalReadsProcessed],
    ['total_writes_processed', s.stats.totalWritesProcessed],
    ['eventloop_cycles', s.loopMetrics.cycles()],
    ['eventloop_duration_sum', s.loopMetrics.busyUs()],
    ['rejected_connections', s.stats.rejectedConnections],
    ['client_output_buffer_limit_disconnections', s.stats.clientOutputBufferLimitDisconnections],
  ];
}
