// Client output: how much each client has pending, what that adds to used_memory, and
// `client-output-buffer-limit` (Valkey's checkClientOutputBufferLimits).
//
// A client's pending output is what its socket still holds: `socket.writableLength`
// (Node's queue above the kernel's buffer, as Valkey's reply list is above its kernel
// buffer). Valkey's limits count only the reply list, not the 16 KB reply buffer every
// client has in front of it: CLIENT LIST shows the first REPLY_BUFFER_BYTES pending as that
// buffer (`obl`) and the rest as the list (`omem`); the limits leave out pending output
// that fits in the buffer (see `admit` for why not 16 KB of more). Before a
// reply is queued, pending + reply is checked against the limits of
// the client's class (normal, pubsub, replica): over the hard limit, or over the soft
// limit for longer than its seconds, the client is closed at once and nothing more is
// written to it (its queued output is dropped), as Valkey frees a client "ASAP".
//
// Sockets that keep output pending are tracked so that their total, which lives outside
// the core's allocator, is reported to the core: it is part of used_memory (and so of
// what maxmemory counts), as Valkey's client buffers are.
import type { ClientClass, OutputBufferLimit } from '../config/types';
import type { Connection } from './connection';

/** The reply buffer Valkey gives every client (PROTO_REPLY_CHUNK_BYTES), before its reply list. */
export const REPLY_BUFFER_BYTES = 16 * 1024;

/**
 * Pending output split as Valkey's: `buffer`, what the client's reply buffer would hold,
 * and `list`, the overflow (the part `client-output-buffer-limit` and `omem` count).
 */
export function splitPending(pending: number): { buffer: number; list: number } {
  const buffer = Math.min(pending, REPLY_BUFFER_BYTES);
  return { buffer, list: pending - buffer };
}

/** What the limits need from the server. */
export interface OutputLimitHost {
  /** The limits per class (CONFIG client-output-buffer-limit). */
  limits(): Record<ClientClass, OutputBufferLimit>;
  /** The client's class. */
  classOf(conn: Connection): ClientClass;
  /** Closes a client over its limit (logs, counts, drops its output). */
  closeOverLimit(conn: Connection): void;
  /** The total pending output changed: tell the core (total, of which replicas). */
  reportOutputMemory(total: number, replicas: number): void;
  /** The client's socket started (or stopped) holding output: a busy script must not write to it. */
  outputPending(conn: Connection, pending: boolean): void;
  /** `repl-backlog-size`: a replica's hard limit is never below it. */
  backlogSize(): number;
}

/** Output accounting and limits for every client of one server. */
export class OutputLimits {
  /** Clients whose sockets still held output when last looked at, with that amount. */
  private readonly pending = new Map<Connection, number>();
  private total = 0;
  private replicaTotal = 0;
  /** The smallest non-zero limit of any class (below it nothing needs checking). */
  private floor = Infinity;

  constructor(private readonly host: OutputLimitHost) {
    this.refreshLimits();
  }

  /** Re-reads the limits (after CONFIG SET client-output-buffer-limit). */
  refreshLimits(): void {
    let floor = Infinity;
    for (const l of Object.values(this.host.limits())) {
      for (const v of [l.hardLimitBytes, l.softLimitBytes]) {
        if (v > 0n && Number(v) < floor) floor = Number(v);
      }
    }
    this.floor = floor;
  }

  /**
   * Checks `conn` before `extra` more bytes are queued to it; false when it is over its
   * limit (it is then closed, and the bytes must not be written).
   */
  admit(conn: Connection, extra: number): boolean {
    // Output that fits in the 16 KB reply buffer is not counted, as in Valkey; beyond it the
    // whole of it counts. forkv writes a batch's replies chunk by chunk as they come, where
    // Valkey holds them all until the turn ends: leaving the first 16 KB out of a bigger
    // amount would let the first chunks of an over-limit batch through (unit/obuf-limits'
    // "No response for multi commands in pipeline").
    const pending = conn.socket.writableLength + extra;
    const size = pending <= REPLY_BUFFER_BYTES ? 0 : pending;
    if (size <= this.floor) {
      conn.softLimitSince = 0;
      return true;
    }
    const cls = this.host.classOf(conn);
    const l = this.host.limits()[cls];
    let hardLimit = Number(l.hardLimitBytes);
    // Valkey's checkClientOutputBufferLimits: a replica's hard limit below the backlog size
    // would drop a replica right after a partial resync it was granted; the backlog size
    // is used instead (the replica shares the backlog's memory anyway).
    if (cls === 'replica' && hardLimit > 0) hardLimit = Math.max(hardLimit, this.host.backlogSize());
    const hard = hardLimit > 0 && size >= hardLimit;
    let soft = l.softLimitBytes > 0n && size >= Number(l.softLimitBytes);
    // The soft limit closes only once it has been exceeded for more than its seconds.
    if (soft) {
      const now = Math.floor(Date.now() / 1000);
      if (conn.softLimitSince === 0) {
        conn.softLimitSince = now;
        soft = false;
      } else if (now - conn.softLimitSince <= l.softLimitSeconds) {
        soft = false;
      }
    } else {
      conn.softLimitSince = 0;
    }
    if (!hard && !soft) return true;
    this.host.closeOverLimit(conn);
    return false;
  }

  /** After a write to `conn`: updates its pending output in the total. */
  wrote(conn: Connection): void {
    this.update(conn, conn.closed ? 0 : conn.socket.writableLength);
  }

  private update(conn: Connection, now: number): void {
    const before = this.pending.get(conn) ?? 0;
    if (now === before) return;
    if (now === 0) this.pending.delete(conn);
    else this.pending.set(conn, now);
    if ((before === 0) !== (now === 0)) this.host.outputPending(conn, now !== 0);
    this.total += now - before;
    if (conn.isReplica) this.replicaTotal += now - before;
    this.host.reportOutputMemory(this.total, this.replicaTotal);
  }

  /**
   * Periodic: sockets drain without telling us, so re-read the ones that held output;
   * and a client over its soft limit for too long is closed even when nothing more is
   * written to it (Valkey's clientsCron).
   */
  cron(): Connection[] {
    const reread = [...this.pending.keys()];
    for (const conn of reread) {
      if (!conn.closed) this.admit(conn, 0);
      this.wrote(conn);
    }
    return reread;
  }

  /** A client is gone: its output no longer counts. */
  forget(conn: Connection): void {
    if (this.pending.has(conn)) this.update(conn, 0);
  }

  /** The most output one client's socket holds now, in bytes (INFO client_recent_max_output_buffer). */
  largest(): number {
    let max = 0;
    for (const n of this.pending.values()) max = Math.max(max, n);
    return max;
  }

  /** Output pending in client sockets, in bytes (normal and pubsub, replicas). */
  totals(): { total: number; replicas: number } {
    return { total: this.total, replicas: this.replicaTotal };
  }
}
