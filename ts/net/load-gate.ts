// Client input while the dataset loads. Valkey loads in its main thread and serves its
// clients only at event points (processEventsWhileBlocked): each time the loader has read
// another `loading-process-events-interval-bytes` of an RDB file, or replayed another 1024
// AOF commands. A client's command sent during a short load is therefore answered after
// the load, not with -LOADING. forkv loads on a thread; this gate holds what clients send
// until the loader passes its next event point (forkv_rdb::LoadProgress), serves it then
// (-LOADING for what may not run while loading; INFO, PING... as usual), and serves the
// rest when the load ends.
import type { Connection } from './connection';

/** Holds client input between a running load's event points. */
export class LoadGate {
  private active = false;
  private seenEvents = 0;
  /** Input held per connection, in arrival order (the socket is paused meanwhile). */
  private readonly held = new Map<Connection, Buffer[]>();

  /** @param serve runs a connection's held input as one read */
  constructor(private readonly serve: (conn: Connection, input: Buffer) => void) {}

  /** True while input must wait (a load runs between event points). */
  get holding(): boolean {
    return this.active;
  }

  /** A load starts. */
  begin(): void {
    this.active = true;
    this.seenEvents = 0;
  }

  /** Keeps a copy of `bytes` (the caller's buffer is reused) and stops reading `conn`. */
  hold(conn: Connection, bytes: Buffer): void {
    const list = this.held.get(conn);
    const copy = Buffer.from(bytes);
    if (list) list.push(copy);
    else this.held.set(conn, [copy]);
    conn.socket.pause();
  }

  /** Polled with the load: `events` is the loader's count of event points (null: done). */
  tick(events: number | null): void {
    if (events === null || events === this.seenEvents) return;
    this.seenEvents = events;
    this.release();
  }

  /** The load ended (installed or failed): everything held is served. */
  end(): void {
    this.active = false;
    this.release();
  }

  private release(): void {
    const held = [...this.held];
    this.held.clear();
    for (const [conn, chunks] of held) {
      if (conn.closed) continue;
      conn.socket.resume();
      this.serve(conn, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    }
  }
}
