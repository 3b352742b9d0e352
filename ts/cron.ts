// The cron (Valkey's serverCron at `hz`): active expiry and rehashing in the core,
// INFO's ops/s, traffic and event-loop samples and peak memory, idle client timeouts,
// then the 'cron' event that persistence listens to (save rules, child reaping, AOF
// fsync), and the host's INFO facts.
import { effectiveHz } from './dynamic-hz';
import { pushInfoFacts } from './info';
import { ClientsRotation, clientsCronIterations } from './net/clients-cron';
import type { Connection } from './net/connection';
import type { Server } from './server';

/**
 * The time one slow active expire cycle may use (Valkey's `config_cycle_slow_time_perc`):
 * 25% of the cron period at `active-expire-effort` 1, 2% more per unit of effort above it.
 */
export function expireBudgetMs(hz: number, effort: number): number {
  return ((1000 / hz) * (25 + 2 * (effort - 1))) / 100;
}

/** The periodic timer and its work. */
export class Cron {
  private timer: NodeJS.Timeout | null = null;
  /** Where the clients cron's walk over the clients is. */
  private readonly rotation = new ClientsRotation();
  /** The hz the cron runs at (Valkey's server.hz): `hz`, raised by dynamic-hz (see dynamic-hz.ts). */
  private currentHz = 0;

  constructor(private readonly server: Server) {}

  /** The effective hz (INFO's `hz`; `configured_hz` is the config). */
  get hz(): number {
    return this.currentHz || this.computeHz();
  }

  /** (Re)starts the periodic timer at the effective hz. */
  start(): void {
    // Memory figures exist from the start, not only after the first tick.
    this.sampleStats();
    pushInfoFacts(this.server);
    this.schedule(this.computeHz());
  }

  /** Runs the timer at `hz` ticks a second (restarted only when the period changes). */
  private schedule(hz: number): void {
    if (this.timer && hz === this.currentHz) return;
    if (this.timer) clearInterval(this.timer);
    this.currentHz = hz;
    this.timer = setInterval(() => this.server.loopTurns.timeCron(() => this.tick()), Math.max(1, Math.floor(1000 / hz)));
    this.timer.unref();
  }

  private computeHz(): number {
    const config = this.server.config;
    return effectiveHz(config.getInt('hz'), config.getBool('dynamic-hz'), this.server.clients.size);
  }

  /** Valkey's serverCron: active expiry, rehashing, client timeouts, stats samples. */
  tick(): void {
    if (this.server.cronPaused) return;
    this.server.shutdownControl.checkSignal();
    // Valkey resets server.hz to the configured hz on every cron, then adapts it to the
    // number of clients; the next tick comes 1000 / hz ms later.
    const hz = this.computeHz();
    if (this.timer) this.schedule(hz);
    const budgetMs = expireBudgetMs(hz, this.server.config.getInt('active-expire-effort'));
    this.server.core.native.cron(budgetMs, this.server.config.getBool('activerehashing'));
    // Lines of the forked debugging sessions the cron reaped.
    this.server.core.drainLogs();
    // Keyspace events of keys the cycle expired.
    this.server.dataPath.deliver();
    // Clients held by a CLIENT PAUSE whose deadline passed run their commands now.
    this.server.dataPath.serveWoken();
    // Output drains without telling us; eviction goes on where a command's pass ran out of
    // time or output grew without commands (Valkey's eviction time proc).
    for (const c of this.server.output.cron()) this.server.clientMemory.refreshOutput(c);
    // Client memory changes without commands too (output drains or piles up): Valkey's
    // clientsCron re-measures a slice of the clients, then evicts over maxmemory-clients.
    this.clientsCron(hz);
    this.server.clientMemory.evict();
    this.server.dataPath.evictKeys();
    this.sampleStats();
    this.server.emit('cron');
    // What a script's INFO/LASTSAVE sees (a client's INFO pushes fresh facts itself).
    pushInfoFacts(this.server);
  }

  private sampleStats(): void {
    const s = this.server.core.native.stats();
    const now = Date.now();
    const samples = this.server.stats.opsSamples;
    const last = samples[samples.length - 1];
    if (!last || now - last[0] >= 100) {
      samples.push([now, s.totalCommandsProcessed]);
      if (samples.length > 16) samples.shift();
    }
    const st = this.server.stats;
    this.server.loopMetrics.sample({
      input: s.totalNetInputBytes,
      output: st.totalNetOutputBytes - st.totalNetReplOutputBytes,
      replInput: st.totalNetReplInputBytes,
      replOutput: st.totalNetReplOutputBytes,
    });
    if (s.usedMemory > this.server.stats.peakMemory) this.server.stats.peakMemory = s.usedMemory;
    this.server.core.native.sampleMemory(process.memoryUsage.rss(), this.server.stats.peakMemory);
  }

  /** instantaneous_ops_per_sec over the recent samples. */
  opsPerSec(): number {
    const s = this.server.stats.opsSamples;
    const first = s[0];
    const last = s[s.length - 1];
    if (!first || !last || last[0] === first[0]) return 0;
    return Math.round(((last[1] - first[1]) * 1000) / (last[0] - first[0]));
  }

  /**
   * Valkey's clientsCron: visits numclients / hz clients (see clients-cron.ts), so that each
   * is visited about once a second: the idle timeout, then (in the core) the query buffer
   * trim, and the client's memory figure for CLIENT LIST and client eviction.
   */
  private clientsCron(hz: number): void {
    const batch = this.rotation.next(this.server.clients, clientsCronIterations(this.server.clients.size, hz));
    const timeout = this.server.config.getInt('timeout');
    const visited = batch.filter((c) => !c.closed && !this.closedForIdleness(c, timeout));
    const memory = this.server.core.native.clientsCron(visited.map((c) => c.id));
    visited.forEach((c, i) => this.server.clientMemory.update(c, memory[i]));
  }

  /** Closes `c` when it has been idle past `timeout` seconds (0: never); true when it did. */
  private closedForIdleness(c: Connection, timeout: number): boolean {
    if (timeout <= 0 || c.busy || c.lastInteraction >= Date.now() - timeout * 1000) return false;
    // As Valkey's clientsCronHandleTimeout: replicas and MONITOR clients, blocked (or
    // CLIENT PAUSEd) and subscribed clients wait by design and are never timed out.
    const st = this.server.core.native.clientState(c.id);
    if (c.isReplica || st?.monitor || st?.blocked || this.server.isSubscribed(c)) return false;
    this.server.log.verbose('Closing idle client');
    this.server.clientOutput.closeAfterWrite(c);
    return true;
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
