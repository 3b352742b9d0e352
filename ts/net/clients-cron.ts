// Valkey's clientsCron: the per-client part of the cron visits a slice of the clients on
// each tick, not all of them, so that the work of one tick stays bounded however many
// clients are connected. With `hz` ticks a second and numclients / hz clients per tick
// (at least CLIENTS_CRON_MIN_ITERATIONS, or every client when there are fewer), each
// client is visited about once a second.
//
// What a visit does is the caller's (the cron): the query buffer trim and the client's
// memory figure (CLIENT LIST tot-mem, client eviction), the soft output limit of a client
// whose output no longer moves, the idle timeout.
import type { Connection } from './connection';

/** Valkey's CLIENTS_CRON_MIN_ITERATIONS. */
export const CLIENTS_CRON_MIN_ITERATIONS = 5;

/** How many clients one tick visits (Valkey's clientsCron). */
export function clientsCronIterations(numclients: number, hz: number): number {
  const iterations = Math.floor(numclients / Math.max(1, hz));
  if (iterations >= CLIENTS_CRON_MIN_ITERATIONS) return iterations;
  return Math.min(numclients, CLIENTS_CRON_MIN_ITERATIONS);
}

/**
 * A round-robin walk over the live client table. A Map's iterator stays valid while the
 * map changes: a client that leaves before its turn is skipped, a new one is visited in
 * the same round.
 */
export class ClientsRotation {
  private walk: Iterator<Connection> | null = null;

  /** The next `count` clients (never one twice in a batch), resuming where the last batch ended. */
  next(clients: Map<number, Connection>, count: number): Connection[] {
    const batch = new Set<Connection>();
    const n = Math.min(count, clients.size);
    let restarted = false;
    while (batch.size < n) {
      const step = (this.walk ??= clients.values()).next();
      if (step.done) {
        this.walk = null;
        // A round ended inside this batch: a second restart would revisit clients.
        if (restarted) break;
        restarted = true;
        continue;
      }
      batch.add(step.value);
    }
    return [...batch];
  }
}
