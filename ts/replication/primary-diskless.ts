// The diskless full sync, primary side (`repl-diskless-sync`; Valkey's rdbSaveToReplicasSockets
// and rdbPipeReadHandler): a forked child writes `$EOF:<mark>\r\n`, the snapshot and the mark
// into a pipe; this module copies the pipe to every replica attached to the transfer,
// pausing it while a replica's socket is full, drops a replica that stops reading for
// `repl-timeout`, stops the child when the last replica is gone, and once the mark went
// out lets each replica's first REPLCONF ACK put it online. When to fork is the
// scheduler's (primary-fullsync.ts).
import * as net from 'node:net';

import type { ReplicationPrimary } from './primary';

/** How often, and how many times, a transfer's exiting child is polled (see reapSoon). */
const REAP_INTERVAL_MS = 5;
const REAP_TRIES = 20;

/** A running diskless transfer: the child's pipe and the replicas it goes to. */
interface Transfer {
  pid: number;
  pipe: net.Socket;
  /** Replicas still receiving it. */
  ids: Set<number>;
  /** Replicas whose socket is full, and since when (ms): the pipe is paused until they drain. */
  draining: Map<number, number>;
  /** The pipe reached its end. */
  ended: boolean;
  /** The end mark that closes the transfer, its last bytes passed on so far, and how many bytes were. */
  mark: Buffer;
  tail: Buffer;
  passed: number;
  /** The end mark was written to the replicas: their first ACK puts them online. */
  sent: boolean;
  /** How the child ended (null: still running). */
  ok: boolean | null;
}

export class DisklessTransfer {
  /**
   * The diskless transfer in progress, if any: from its fork until its child was reaped
   * AND its pipe read to the end. Its child exits once it wrote everything, so it can be
   * reaped while the pipe still holds the end of the snapshot (Valkey's child waits on
   * rdb_child_exit_pipe instead); no other transfer starts meanwhile, or the replicas of
   * this one were taken for the next one's (left in send_bulk, never online).
   */
  private transfer: Transfer | null = null;

  constructor(private readonly primary: ReplicationPrimary) {}

  private get server() {
    return this.primary.server;
  }

  private get native() {
    return this.primary.server.core.native;
  }

  /** True from the fork until the child was reaped and its pipe read to the end. */
  get running(): boolean {
    return this.transfer !== null;
  }

  /**
   * Starts copying a forked transfer's pipe (`fd`, child `pid`, end `mark`) to the replicas
   * `ids` (their +FULLRESYNC lines already went out).
   */
  begin(fork: { pid: number; fd: number }, mark: string, ids: number[]): void {
    const pipe = new net.Socket({ fd: fork.fd, readable: true, writable: false });
    const t: Transfer = {
      pid: fork.pid,
      pipe,
      ids: new Set(ids),
      draining: new Map(),
      ended: false,
      ok: null,
      mark: Buffer.from(mark, 'latin1'),
      tail: Buffer.alloc(0),
      passed: 0,
      sent: false,
    };
    this.transfer = t;
    pipe.on('data', (chunk: Buffer) => this.copyToReplicas(t, chunk));
    pipe.on('end', () => {
      t.ended = true;
      this.server.log.notice(`Diskless rdb transfer, done reading from pipe, ${t.ids.size} replicas still up.`);
      this.finishTransfer(t);
      this.reapSoon(t, 0);
    });
    pipe.on('error', (e) => this.server.log.warning(`Diskless rdb transfer, error reading from the child's pipe: ${e.message}`));
    for (const id of ids) {
      const conn = this.server.clients.get(id);
      if (!conn || conn.closed) this.transferLost(t, id);
      else conn.socket.once('close', () => this.transferLost(t, id));
    }
  }


  /** One chunk of the child's output to every replica of the transfer (rdbPipeReadHandler). */
  private copyToReplicas(t: Transfer, chunk: Buffer): void {
    for (const id of t.ids) {
      const conn = this.server.clients.get(id);
      if (!conn || conn.closed) continue;
      conn.outputBytes += chunk.length;
      this.server.clientOutput.count(conn, chunk.length);
      if (!conn.socket.write(chunk) && !t.draining.has(id)) {
        t.draining.set(id, Date.now());
        conn.socket.once('drain', () => this.drained(t, id));
      }
    }
    // The child waits (its pipe fills) while a replica's socket is full, as in Valkey.
    if (t.draining.size > 0) t.pipe.pause();
    this.watchEndMark(t, chunk);
  }

  /**
   * The transfer is all sent once its end mark went out (`$EOF:<mark>\r\n`, the snapshot,
   * `<mark>`): from then on a replica's REPLCONF ACK means it loaded the snapshot, and puts
   * it online at once (Valkey's replconf ACK: checkChildrenDone, then
   * replicaStartCommandStream), rather than when the child is reaped.
   */
  private watchEndMark(t: Transfer, chunk: Buffer): void {
    t.passed += chunk.length;
    const m = t.mark.length;
    t.tail = Buffer.concat([t.tail, chunk.subarray(Math.max(0, chunk.length - m))]);
    t.tail = t.tail.subarray(Math.max(0, t.tail.length - m));
    // Past the opening line (which also holds the mark) and the snapshot's header.
    if (t.sent || t.passed < 2 * m + 16 || !t.tail.equals(t.mark)) return;
    t.sent = true;
    this.native.replTransferSent([...t.ids]);
  }

  private drained(t: Transfer, id: number): void {
    t.draining.delete(id);
    if (t.draining.size === 0 && this.transfer === t) t.pipe.resume();
  }

  /**
   * A replica of the transfer that has not read for longer than `repl-timeout` is
   * dropped, so the others go on (Valkey's replicationCron: "Disconnecting timedout
   * replica (full sync)", from the last partial write).
   */
  dropStalled(): void {
    const t = this.transfer;
    if (t === null) return;
    const timeoutMs = this.server.config.getInt('repl-timeout') * 1000;
    const now = Date.now();
    for (const [id, since] of [...t.draining]) {
      if (now - since <= timeoutMs) continue;
      const conn = this.server.clients.get(id);
      this.server.log.warning(`Disconnecting timedout replica (full sync): ${conn ? this.primary.replicaName(conn) : id}`);
      if (conn) conn.socket.destroy();
      this.transferLost(t, id);
    }
  }

  /** A replica of the transfer went away; without replicas left the child is stopped. */
  private transferLost(t: Transfer, id: number): void {
    if (!t.ids.delete(id)) return;
    this.drained(t, id);
    if (t.ids.size === 0 && t.ok === null && this.transfer === t) {
      this.server.log.warning('Diskless rdb transfer, last replica dropped, killing fork child.');
      this.native.killChild();
    }
  }

  /**
   * The pipe ended, so the child is exiting: it is reaped within milliseconds rather than
   * at the next cron tick, which frees the child slot for the next sync. (Its replicas do
   * not wait for it: their first ACK puts them online, see watchEndMark.) Gives up after
   * ~100 ms: the cron reaps.
   */
  private reapSoon(t: Transfer, tries: number): void {
    if (this.transfer !== t || t.ok !== null || tries >= REAP_TRIES) return;
    this.server.rdb.pollChild();
    if (this.transfer !== t || t.ok !== null) return;
    const timer = setTimeout(() => this.reapSoon(t, tries + 1), REAP_INTERVAL_MS);
    if (this.server.options.unref) timer.unref();
  }

  /** The transfer's child ended (reaped by the cron, or by reapSoon). */
  childDone(ok: boolean): void {
    const t = this.transfer;
    if (t === null) return;
    t.ok = ok;
    if (!ok) {
      this.transfer = null;
      t.pipe.destroy();
      for (const id of this.native.replBgsaveDone()) this.primary.fullSync.drop(id, 'SYNC failed. BGSAVE child returned an error');
      return;
    }
    this.finishTransfer(t);
  }

  /**
   * Once the child succeeded and its pipe was read to the end: the replicas not yet put
   * online by an ACK are online, their stream (buffered since the fork) starts with their
   * first REPLCONF ACK. The success line is logged for every replica of the transfer still
   * connected, also one its first ACK already put online (Valkey logs it per replica when
   * it reaps the child).
   */
  private finishTransfer(t: Transfer): void {
    if (!t.ended || t.ok !== true || this.transfer !== t) return;
    this.transfer = null;
    const waiting = new Set(this.native.replBgsaveDone());
    for (const id of t.ids) {
      const conn = this.server.clients.get(id);
      if (!conn || conn.closed) continue;
      this.server.log.notice(`Streamed RDB transfer with replica ${this.primary.replicaName(conn)} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming`);
      if (waiting.has(id) && !this.native.replOnlineOnAck(id)) this.primary.closeRdbOnly(conn);
    }
  }
}
