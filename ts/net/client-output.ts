// What goes out to a client, and how a client is closed: a reply written (after its output
// limit is checked) and counted for INFO stats, the replies the core sent to an idle socket
// itself counted the same way, and the four ways a connection ends: after its pending
// output (QUIT, CLIENT KILL, idle timeout, shutdown), at once over its output limit, at
// once by client eviction (both logged and counted as Valkey does), or detached for a
// forked Lua debugging session that took its socket over.
import { clientLine } from '../commands/client-line';
import type { Connection } from './connection';
import type { Server } from '../server';

/** Writing to clients and closing them, for one server. */
export class ClientOutput {
  constructor(private readonly server: Server) {}

  /**
   * Writes a reply to a client, unless it is over its output limit (then it is closed).
   * `reused`: `reply` is a view of a buffer its caller fills again (see Connection.write);
   * returns true when the socket kept that buffer.
   */
  write(conn: Connection, reply: Buffer, reused = false): boolean {
    if (conn.closed || !this.server.output.admit(conn, reply.length)) return false;
    const kept = conn.write(reply, reused);
    conn.notePeak(reply.length, this.server.replyPeakResetMs);
    this.count(conn, reply.length);
    this.server.output.wrote(conn);
    return kept;
  }

  /**
   * Counts `n` reply bytes the core sent to `conn`'s idle socket itself (see
   * DataPath.directFd), as `write` counts a write; within Valkey's 16 KB reply buffer, so
   * no output limit applies.
   */
  wroteDirect(conn: Connection, n: number): void {
    conn.outputBytes += n;
    conn.softLimitSince = 0;
    conn.notePeak(n, this.server.replyPeakResetMs);
    this.count(conn, n);
    this.server.output.wrote(conn);
    // As AofPersistence.emit does for every reply: the turn's AOF write is scheduled.
    this.server.aof.scheduleFlush();
  }

  /** Counts `n` bytes written to `conn` in one socket write (INFO stats). */
  count(conn: Connection, n: number): void {
    const stats = this.server.stats;
    stats.totalNetOutputBytes += n;
    if (conn.isReplica) stats.totalNetReplOutputBytes += n;
    stats.totalWritesProcessed++;
  }

  /** Ends the connection once pending output is flushed. */
  closeAfterWrite(conn: Connection): void {
    if (conn.closed) return;
    this.server.aof.flushHeld(); // replies held for the AOF write (QUIT's +OK included) go out first
    conn.closed = true;
    conn.socket.end();
    // A peer that never reads must not keep the socket forever.
    setTimeout(() => conn.socket.destroy(), 5000).unref();
  }

  /**
   * Closes a client whose output overcame its class's limit: at once, dropping what it
   * has pending (Valkey frees it "ASAP" without writing the rest).
   */
  closeOverLimit(conn: Connection): void {
    if (conn.closed) return;
    this.server.log.warning(`Client ${this.line(conn)} scheduled to be closed ASAP for overcoming of output buffer limits.`);
    this.server.stats.clientOutputBufferLimitDisconnections++;
    this.destroy(conn);
  }

  /** Closes a client chosen by client eviction: logged and counted as Valkey does. */
  closeEvicted(conn: Connection): void {
    if (conn.closed) return;
    this.server.log.notice(`Evicting client: ${this.line(conn)}`);
    this.server.stats.evictedClients++;
    this.destroy(conn);
  }

  /**
   * Forgets a client whose socket a forked Lua debugging session took over (SCRIPT DEBUG
   * YES): the descriptor is closed without a shutdown, so the child keeps the connection.
   */
  detach(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.socket.destroy();
  }

  /** Closes at once, dropping pending output, which no longer counts. */
  private destroy(conn: Connection): void {
    conn.closed = true;
    conn.socket.destroy();
    this.server.output.forget(conn);
  }

  /** The client's CLIENT INFO line for the log. */
  private line(conn: Connection): string {
    return clientLine(this.server, conn, null, this.server.config.getBool('hide-user-data-from-log'));
  }
}
