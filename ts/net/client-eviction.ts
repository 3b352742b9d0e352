// Client memory and client eviction (`maxmemory-clients`), as Valkey 8.0 does it
// (networking.c getClientMemoryUsage / updateClientMemUsageAndBucket / evictClients).
//
// A client's memory is what CLIENT LIST shows as `tot-mem`: what the core holds for it
// (query buffer, MULTI queue, WATCHed keys, pub/sub subscriptions, tracking prefixes:
// `clientMemory`) plus its pending output (what its socket still holds, see
// output-limits). The figure of each client is refreshed after each of its reads, after
// output is delivered to it, and by the cron (Valkey: after each command, on writes to
// other clients, and in clientsCron). INFO's `mem_clients_*` and MEMORY STATS are
// measured from the same parts by the core (forkv-server's memory.rs).
//
// When the memory of the normal and pubsub clients reaches the limit, the biggest
// evictable clients are closed until it is below again. Evictable: not a replica, not
// CLIENT NO-EVICT on. Like Valkey, clients are ranked by power-of-two size buckets from
// 32 KB up (all smaller ones share the lowest bucket), and within a bucket taken in the
// order they entered it. Each eviction is logged ("Evicting client: <CLIENT INFO line>")
// and counted (INFO `evicted_clients`).
//
// Valkey evicts before every command; here eviction runs after each read's batch, so the
// core is told the normal total while eviction is on (`report`) and stops a pipelined
// batch whose replies bring it to the limit: the client is measured and clients evicted
// before its next command runs (forkv-engine's client_evict).
import type { Connection } from './connection';

/** Valkey's CLIENT_MEM_USAGE_BUCKET_MIN_LOG and _MAX_LOG: buckets of 2^15 B (32 KB) to 2^33 B. */
const BUCKET_MIN_LOG = 15;
const BUCKET_MAX_LOG = 33;
/** A limit below this is raised to it, so that a bad setting cannot cut every client off (Valkey's 128 KB). */
const MIN_EVICTION_LIMIT = 128 * 1024;

/**
 * The size bucket of a client using `mem` bytes, as Valkey's getMemUsageBucket: the number
 * of bits of `mem`, clamped to 15..33, less 15 (0 for anything under 32 KB).
 */
export function memoryBucket(mem: number): number {
  // Below 32 KB (nearly every client): the lowest bucket, without a logarithm.
  if (mem < 2 ** BUCKET_MIN_LOG) return 0;
  const bits = Math.floor(Math.log2(mem)) + 1;
  return Math.min(Math.max(bits, BUCKET_MIN_LOG), BUCKET_MAX_LOG) - BUCKET_MIN_LOG;
}

/**
 * The client eviction limit in bytes from `maxmemory-clients` (negative: a percentage
 * of `maxmemory`), 0 when eviction is off (Valkey's getClientEvictionLimit).
 */
export function evictionLimit(maxmemoryClients: number, maxmemory: number): number {
  let limit: number;
  if (maxmemoryClients < 0 && maxmemory > 0) limit = Math.floor((maxmemory * -maxmemoryClients) / 100);
  else if (maxmemoryClients > 0) limit = maxmemoryClients;
  else return 0;
  return Math.max(limit, MIN_EVICTION_LIMIT);
}

/** What client eviction needs from the server. */
export interface ClientMemoryHost {
  /** The limit now (see `evictionLimit`), 0 when off. */
  limit(): number;
  /** The memory the core holds for a client. */
  coreMemory(conn: Connection): number;
  /** CLIENT NO-EVICT is on for a client. */
  noEvict(conn: Connection): boolean;
  /** Logs, counts and closes an evicted client. */
  evict(conn: Connection): void;
  /** Logs a warning (nothing more can be evicted). */
  warn(message: string): void;
  /**
   * The memory of the normal and pubsub clients changed while client eviction is on: the
   * core stops a pipelined batch whose replies bring it to the limit (see forkv-engine's
   * client_evict), so that eviction runs between commands, as in Valkey.
   */
  report(normal: number): void;
}

/** A client's last figure, the core's part of it, its bucket, and its class when measured. */
interface Usage {
  mem: number;
  core: number;
  bucket: number;
  replica: boolean;
}

/** Per-client memory, the total of the normal and pubsub clients, and client eviction. */
export class ClientMemory {
  /** Each client's last figure; a Map keeps the order clients entered a bucket. */
  private readonly usage = new Map<Connection, Usage>();
  /** The memory of the normal and pubsub clients (replicas are never evicted). */
  private normalTotal = 0;
  /** Client eviction was on at the last `evict`: the normal total goes to the core. */
  private reporting = false;
  /** "Over client maxmemory ..." was logged in this turn of the event loop (see `evict`). */
  private warnedThisTurn = false;
  private readonly newTurn = (): void => {
    this.warnedThisTurn = false;
  };

  constructor(private readonly host: ClientMemoryHost) {}

  /** The memory of `conn` now, in bytes (CLIENT LIST `tot-mem` less a running command's argv). */
  measure(conn: Connection): number {
    return this.host.coreMemory(conn) + conn.socket.writableLength;
  }

  /**
   * Refreshes the figure of `conn` (after its reads, or output written to it).
   * `coreMemory`: what the core holds for it, when the caller has it already (a feed
   * result carries it); asked of the core otherwise.
   */
  update(conn: Connection, coreMemory?: number): void {
    if (conn.closed) {
      this.forget(conn);
      return;
    }
    const core = coreMemory ?? this.host.coreMemory(conn);
    this.set(conn, core, core + conn.socket.writableLength);
  }

  /**
   * Refreshes only the output part of a client's figure (the cron re-read its socket), with
   * the core's part as last measured; a client not measured yet waits for its measure.
   */
  refreshOutput(conn: Connection): void {
    const before = this.usage.get(conn);
    if (before === undefined) return;
    if (conn.closed) {
      this.forget(conn);
      return;
    }
    this.set(conn, before.core, before.core + conn.socket.writableLength);
  }

  private set(conn: Connection, core: number, mem: number): void {
    const before = this.usage.get(conn);
    const bucket = memoryBucket(mem);
    const replica = conn.isReplica;
    // By the class each figure was counted in: a client that turned replica (SYNC) leaves
    // the normal total with what it had added there.
    this.addNormal((replica ? 0 : mem) - (before === undefined ? 0 : normalPart(before)));
    if (before !== undefined && before.bucket === bucket) {
      // The same bucket (nearly every read): updated in place, no object per read.
      before.mem = mem;
      before.core = core;
      before.replica = replica;
      return;
    }
    // Entering a bucket puts the client at its end, as Valkey's bucket lists do.
    if (before !== undefined) this.usage.delete(conn);
    this.usage.set(conn, { mem, core, bucket, replica });
  }

  /** A client is gone. */
  forget(conn: Connection): void {
    const before = this.usage.get(conn);
    if (before === undefined) return;
    this.usage.delete(conn);
    this.addNormal(-normalPart(before));
  }

  private addNormal(delta: number): void {
    if (delta === 0) return;
    this.normalTotal += delta;
    if (this.reporting) this.host.report(this.normalTotal);
  }

  /** Measures every client, then evicts over the limit (CONFIG SET maxmemory / maxmemory-clients). */
  refreshAllAndEvict(clients: Iterable<Connection>): void {
    for (const c of clients) this.update(c);
    this.evict();
  }

  /**
   * Closes the biggest evictable clients while the normal and pubsub clients use at
   * least the limit (Valkey's evictClients).
   */
  evict(): void {
    const limit = this.host.limit();
    const on = limit !== 0;
    if (on && !this.reporting) this.host.report(this.normalTotal);
    this.reporting = on;
    if (!on || this.normalTotal < limit) return;
    // Biggest bucket first; within one, the order clients entered it.
    const candidates = [...this.usage].filter(([c, u]) => !u.replica && !c.isReplica).sort((a, b) => b[1].bucket - a[1].bucket);
    for (const [conn] of candidates) {
      if (this.normalTotal < limit) return;
      if (conn.closed || this.host.noEvict(conn)) continue;
      this.host.evict(conn);
      this.forget(conn);
    }
    if (this.normalTotal >= limit) this.warnOver();
  }

  /**
   * Logs that nothing more can be evicted, at most once per turn of the event loop. Valkey
   * logs it from each evictClients call that ends over the limit: once per loop turn
   * (beforeSleep) and before each command; forkv evicts after every socket read, and a
   * big argument arrives in many 64 KB reads within one turn, with no command between
   * them, which logged it once per read.
   */
  private warnOver(): void {
    if (this.warnedThisTurn) return;
    this.warnedThisTurn = true;
    setImmediate(this.newTurn);
    this.host.warn('Over client maxmemory after evicting all evictable clients');
  }
}

/** What a figure adds to the normal total: all of it for a normal or pubsub client, nothing for a replica. */
function normalPart(u: Usage): number {
  return u.replica ? 0 : u.mem;
}
