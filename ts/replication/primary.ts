// Replication as a primary, host side (Valkey's replication.c for a primary): SYNC and
// PSYNC, the full sync — disk-based (a BGSAVE, then the file written to each replica as
// `$<len>\r\n<bytes>`) or diskless (`repl-diskless-sync`: a child writes `$EOF:<mark>`,
// the snapshot and the mark into a pipe this module copies to every replica attached to
// the transfer; their stream starts with their first ACK) — the once-a-second replication cron (PING into the stream every
// repl-ping-replica-period, newlines to replicas waiting for their snapshot) and INFO
// replication. The state (IDs, offset, backlog, replicas, acknowledgements) and the
// stream live in Rust (forkv-server/src/repl.rs); replica sockets are ordinary client
// connections whose output is the stream, delivered like pub/sub messages.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';

import type { HostCall } from '../commands/types';
import type { Connection } from '../net/connection';
import { array, bulk, error, int, type Reply } from '../resp/encode';
import type { Server } from '../server';
import type { LoadReport } from '../native/binding.cjs';
import type { ReplSaveInfo } from '../native/host-types';

const INT64_MAX = (1n << 63n) - 1n;

/** A signed 64-bit decimal integer as Valkey's string2ll accepts it, else null. */
function int64(b: Buffer): bigint | null {
  const s = b.toString('latin1');
  if (!/^(0|-?[1-9]\d*)$/.test(s)) return null;
  const v = BigInt(s);
  return v > INT64_MAX || v < -INT64_MAX - 1n ? null : v;
}

/** No reply: the replica's bytes are queued as deliveries. */
const NO_REPLY: Reply = { t: 'raw', v: Buffer.alloc(0) };

/** A running diskless transfer: the child's pipe and the replicas it goes to. */
/** How often, and how many times, a transfer's exiting child is polled (see reapSoon). */
const REAP_INTERVAL_MS = 5;
const REAP_TRIES = 20;

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

export class ReplicationPrimary {
  /**
   * The diskless transfer in progress, if any: from its fork until its child was reaped
   * AND its pipe read to the end. Its child exits once it wrote everything, so it can be
   * reaped while the pipe still holds the end of the snapshot (Valkey's child waits on
   * rdb_child_exit_pipe instead); no other transfer starts meanwhile, or the replicas of
   * this one were taken for the next one's (left in send_bulk, never online).
   */
  private transfer: Transfer | null = null;
  /** Replicas that sent PSYNC (they get `+FULLRESYNC` when their BGSAVE starts). */
  private readonly psyncIds = new Set<number>();
  /** Replicas waiting for the end of the disk BGSAVE that runs (WAIT_BGSAVE_END). */
  private readonly diskWaiters = new Set<number>();
  private lastCronSecond = 0;
  private cronSeconds = 0;
  /** The dump file on disk was written to feed replicas (Valkey's RDBGeneratedByReplication). */
  private rdbForReplicas = false;
  /** Clients blocked in WAIT or WAITAOF (counted in INFO blocked_clients, as Valkey's BLOCKED_WAIT). */
  waitingClients = 0;

  constructor(private readonly server: Server) {
    server.on('cron', () => this.cron());
    server.on('bgsave-done', (ok: boolean) => this.bgsaveDone(ok));
    server.on('transfer-done', (ok: boolean) => this.transferChildDone(ok));
    const applyBacklog = (): null => {
      server.core.native.replSetBacklogSize(Number(server.config.getBigInt('repl-backlog-size')));
      return null;
    };
    applyBacklog();
    server.config.onChange('repl-backlog-size', applyBacklog);
    const gate = (): null => {
      server.updateWriteGate();
      return null;
    };
    server.config.onChange('min-replicas-to-write', gate);
    server.config.onChange('min-replicas-max-lag', gate);
  }

  private get native() {
    return this.server.core.native;
  }

  /** "ip:port" as Valkey names a replica in its logs (the announced listening port). */
  private replicaName(conn: Connection): string {
    const row = this.native.replInfo().replicas.find((r) => r.id === conn.id);
    return `${this.replicaIp(conn.id, row?.announcedIp)}:${row?.listeningPort ?? 0}`;
  }

  /** True when the client sent SYNC or PSYNC (it is one of our replicas). */
  isReplicaClient(id: number): boolean {
    return this.native.replIsReplica(id);
  }

  /** SYNC / PSYNC replid offset (Valkey's syncCommand). */
  syncCommand(call: HostCall, psync: boolean): Reply {
    const { conn, argv } = call;
    // A replica that is already synchronising ignores a second request, as in Valkey.
    if (this.native.replIsReplica(conn.id)) return NO_REPLY;
    const log = this.server.log;
    // Our primary fails over to us (FAILOVER): `PSYNC <our replid> <offset> FAILOVER`
    // promotes this replica, and the PSYNC goes on (it continues from our second ID).
    if (psync && argv.length > 3 && argv[3]!.toString('latin1').toLowerCase() === 'failover') {
      const replid = argv[1]!.toString('latin1');
      log.notice(`Failover request received for replid ${replid}.`);
      if (!this.server.replica.isReplica) return error("ERR PSYNC FAILOVER can't be sent to a master.");
      if (replid.toLowerCase() !== this.native.replInfo().replid.toLowerCase()) return error('ERR PSYNC FAILOVER replid must match my replid.');
      this.server.replica.promoteOnFailoverRequest(conn);
    }
    // Replicas cannot sync with a primary that is handing its role over.
    if (this.server.failover.state !== 'no-failover') return error("NOMASTERLINK Can't SYNC while failing over");
    // A replica serves replicas of its own (chained replication: they get its primary's
    // stream as it arrives), but only while its link to the primary is up.
    if (this.server.replica.isReplica && !this.server.replica.linkUpNow) return error("NOMASTERLINK Can't SYNC while not connected with my master");
    if (psync && int64(argv[2]!) === null) {
      log.warning(`Replica ${this.replicaName(conn)} asks for synchronization but with a wrong offset`);
      return error('ERR value is not an integer or out of range');
    }
    const hadBacklog = this.native.replInfo().backlogActive;
    const decision = psync ? this.native.replSync(conn.id, argv[1], argv[2]) : this.native.replSync(conn.id, undefined, undefined);
    // Its output is now the replica class's (client-output-buffer-limit replica ...), and
    // not counted for eviction.
    conn.isReplica = true;
    const name = this.replicaName(conn);
    log.notice(`Replica ${name} asks for synchronization`);
    if (decision === 'continue') {
      const from = Number(argv[2]?.toString('latin1'));
      const bytes = this.native.replInfo().offset - from + 1;
      log.notice(`Partial resynchronization request from ${name} accepted. Sending ${bytes} bytes of backlog starting from offset ${from}.`);
      return NO_REPLY;
    }
    // `repl-disable-tcp-nodelay yes`: Nagle's algorithm on for the replica's socket from
    // the full sync on (fewer, larger packets, more replication delay), as Valkey's syncCommand.
    if (this.server.config.getBool('repl-disable-tcp-nodelay')) conn.socket.setNoDelay(false);
    if (psync) {
      log.notice(`Full resync requested by replica ${name}`);
      this.psyncIds.add(conn.id);
      conn.socket.once('close', () => this.psyncIds.delete(conn.id));
    }
    if (!hadBacklog) {
      const info = this.native.replInfo();
      log.notice(`Replication backlog created, my new replication IDs are '${info.replid}' and '${info.replid2}'`);
    }
    const kind = this.server.rdb.childKind();
    // A transfer whose child was reaped still runs until its pipe is read to the end.
    const socketChild = (kind === 'rdb' && this.server.rdb.socketChild) || this.transfer !== null;
    if (kind === 'rdb' && !socketChild) {
      if (this.native.replJoinRunning(conn.id, psync)) {
        this.psyncIds.delete(conn.id);
        this.waitDisk([conn.id]);
        log.notice('Waiting for end of BGSAVE for SYNC');
      } else {
        log.notice("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
      }
    } else if (socketChild) {
      log.notice('Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC');
    } else if (this.server.config.getBool('repl-diskless-sync') && this.native.replCapaEof(conn.id) && this.server.config.getInt('repl-diskless-sync-delay') > 0) {
      // The cron starts the transfer once the delay passed, for every replica then waiting.
      log.notice('Delay next BGSAVE for diskless SYNC');
    } else if (kind === null) {
      this.startSync();
    } else {
      log.notice('No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed');
    }
    return NO_REPLY;
  }

  /**
   * Forks the BGSAVE that serves the waiting replicas (startBgsaveForReplication): to
   * their sockets with `repl-diskless-sync` when all of them take it (capa eof), else to
   * disk.
   */
  private startSync(): void {
    const socket = this.server.config.getBool('repl-diskless-sync') && this.native.replWaitingStart().allEof;
    this.server.log.notice(`Starting BGSAVE for SYNC with target: ${socket ? 'replicas sockets' : 'disk'}`);
    if (socket) {
      this.startTransfer();
      return;
    }
    if (!this.server.rdb.startBgsave()) {
      // Valkey drops the replicas that were waiting when the fork fails.
      for (const id of this.native.replBgsaveStarted([], false)) this.drop(id, 'BGSAVE for replication failed');
      return;
    }
    this.rdbForReplicas = true;
    const ids = this.native.replBgsaveStarted([...this.psyncIds], false);
    for (const id of ids) this.psyncIds.delete(id);
    this.waitDisk(ids);
    this.server.dataPath.deliver();
  }

  /**
   * Replicas now wait for the disk BGSAVE. When the last of them goes away and no `save`
   * rule wants the file, the child is killed: its work would be wasted (Valkey's
   * freeClient, "Kill rdb child process if its dumping RDB is not useful").
   */
  private waitDisk(ids: number[]): void {
    for (const id of ids) {
      this.diskWaiters.add(id);
      const conn = this.server.clients.get(id);
      if (!conn) continue;
      conn.socket.once('close', () => {
        if (!this.diskWaiters.delete(id) || this.diskWaiters.size > 0) return;
        const kind = this.server.rdb.childKind();
        if (kind === 'rdb' && !this.server.rdb.socketChild && this.server.config.getSaveRules().length === 0) this.native.killChild();
      });
    }
  }

  /** Forks the diskless transfer and starts copying its pipe to the attached replicas. */
  private startTransfer(): void {
    const mark = randomBytes(20).toString('hex');
    const fork = this.server.rdb.startReplicaTransfer(mark);
    if (fork === null) {
      for (const id of this.native.replBgsaveStarted([], false)) this.drop(id, 'BGSAVE for replication failed');
      return;
    }
    const ids = this.native.replBgsaveStarted([...this.psyncIds], true);
    for (const id of ids) this.psyncIds.delete(id);
    // The +FULLRESYNC lines go out before the first byte of the transfer.
    this.server.dataPath.deliver();
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
      this.server.countOutput(conn, chunk.length);
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
  /**
   * A replica still syncing holds the stream since its snapshot in the backlog: that is
   * its output buffer, as in Valkey (a replica references the shared replication buffer),
   * so `client-output-buffer-limit replica` closes one that holds too much (checked at hz).
   */
  private checkHeldStreams(): void {
    for (const r of this.native.replInfo().replicas) {
      if (r.heldBytes === 0) continue;
      const conn = this.server.clients.get(r.id);
      if (conn && !conn.closed) this.server.output.admit(conn, r.heldBytes);
    }
  }

  private dropStalledTransferReplicas(): void {
    const t = this.transfer;
    if (t === null) return;
    const timeoutMs = this.server.config.getInt('repl-timeout') * 1000;
    const now = Date.now();
    for (const [id, since] of [...t.draining]) {
      if (now - since <= timeoutMs) continue;
      const conn = this.server.clients.get(id);
      this.server.log.warning(`Disconnecting timedout replica (full sync): ${conn ? this.replicaName(conn) : id}`);
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
  private transferChildDone(ok: boolean): void {
    const t = this.transfer;
    if (t === null) return;
    t.ok = ok;
    if (!ok) {
      this.transfer = null;
      t.pipe.destroy();
      for (const id of this.native.replBgsaveDone()) this.drop(id, 'SYNC failed. BGSAVE child returned an error');
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
      if (waiting.has(id)) this.native.replOnlineOnAck(id);
      this.server.log.notice(`Streamed RDB transfer with replica ${this.replicaName(conn)} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming`);
    }
  }

  /** The snapshot child ended: send the file to the replicas attached to it. */
  private bgsaveDone(ok: boolean): void {
    this.diskWaiters.clear();
    const ids = this.native.replBgsaveDone();
    for (const id of ids) {
      if (ok) this.sendSnapshot(id);
      else this.drop(id, 'SYNC failed. BGSAVE child returned an error');
    }
  }

  /** Writes `$<len>\r\n` and the snapshot file to a replica, then puts it online. */
  private sendSnapshot(id: number): void {
    const conn = this.server.clients.get(id);
    if (!conn || conn.closed) return;
    let fd: number;
    let size: number;
    try {
      fd = fs.openSync(this.server.rdb.rdbPath(), 'r');
      size = fs.fstatSync(fd).size;
    } catch (e) {
      this.drop(id, `SYNC failed. Can't open/stat DB after BGSAVE: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.server.writeReply(conn, Buffer.from(`$${size}\r\n`, 'latin1'));
    const stream = fs.createReadStream('', { fd, highWaterMark: 1 << 16 });
    let sent = 0;
    // Online as soon as the last byte went to the socket (Valkey's sendBulkToReplica), not
    // at the stream's 'end', which takes one more read of the file: meanwhile the replica
    // could load the snapshot and report its link up while we still said send_bulk.
    const online = (): void => {
      if (conn.closed) return;
      this.native.replOnline(id);
      this.server.log.notice(`Synchronization with replica ${this.replicaName(conn)} succeeded`);
      this.server.dataPath.deliver();
    };
    stream.on('data', (chunk) => {
      if (conn.closed) {
        stream.destroy();
        return;
      }
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      conn.outputBytes += buf.length;
      this.server.countOutput(conn, buf.length);
      sent += buf.length;
      if (!conn.socket.write(buf)) {
        stream.pause();
        conn.socket.once('drain', () => stream.resume());
      }
      if (sent === size) online();
    });
    stream.on('error', (e) => this.drop(id, `SYNC failed. Can't read the DB: ${e.message}`));
    stream.on('end', () => {
      if (sent < size) this.drop(id, `SYNC failed. The DB file was ${sent} bytes, not ${size}`);
    });
    if (size === 0) online();
  }

  /**
   * `rdb-del-sync-files` (Valkey's removeRDBUsedToSyncReplicas): a server without
   * persistence (no `save` rule, AOF off) deletes the dump it wrote only to feed replicas,
   * once no replica waits for it or reads it.
   */
  private removeRdbUsedToSync(): void {
    if (!this.server.config.getBool('rdb-del-sync-files')) {
      this.rdbForReplicas = false;
      return;
    }
    if (!this.rdbForReplicas || !persistenceDisabled(this.server)) return;
    if (this.native.replInfo().replicas.some((r) => r.state === 'wait_bgsave' || r.state === 'send_bulk')) return;
    const file = this.server.rdb.rdbPath();
    if (!fs.existsSync(file)) return;
    this.rdbForReplicas = false;
    this.server.log.notice('Removing the RDB file used to feed replicas in a persistence-less instance');
    fs.rm(file, { force: true }, () => undefined);
  }

  private drop(id: number, why: string): void {
    this.server.log.warning(why);
    this.psyncIds.delete(id);
    const conn = this.server.clients.get(id);
    if (conn) this.server.closeAfterWrite(conn);
  }

  /**
   * This primary's history for the snapshots it makes (Valkey's rdbPopulateSaveInfo): only
   * while it has a backlog (it is in a replication chain). The stream database is the one
   * the stream last selected, 0 when the next command starts with a SELECT anyway.
   */
  saveInfo(): ReplSaveInfo | null {
    if (this.server.replica.isReplica) return null;
    const i = this.native.replInfo();
    if (!i.backlogActive) return null;
    return { streamDb: this.native.replStreamDb() ?? 0, replId: i.replid, replOffset: i.offset };
  }

  /**
   * The start-up load of a primary (no `replicaof`; Valkey's loadDataFromDisk): the keys
   * it skipped as expired go to the backlog as deletions, and a file with `repl-id`,
   * `repl-offset` and `repl-stream-db` makes that history this server's second ID, so that
   * its replicas continue with +CONTINUE after the restart and delete those keys too.
   */
  restoreFromRdb(r: LoadReport): void {
    const valid = r.replId != null && r.replOffset != null && r.replStreamDb != null;
    this.native.replRestorePrimary(valid ? r.replId : null, valid ? r.replOffset : null);
  }

  /** At hz: start a BGSAVE for waiting replicas once the child slot is free; once a second the replication cron. */
  private cron(): void {
    // The good-replica count changes as ACKs arrive and age (refreshUnsafeGoodReplicas).
    this.server.updateWriteGate();
    this.checkHeldStreams();
    if (this.server.rdb.childKind() === null && this.transfer === null && this.native.replWaitingForBgsave() && this.pendingForkDue()) this.startSync();
    for (const id of this.native.replTakeStreamStarted()) {
      const conn = this.server.clients.get(id);
      if (conn) this.server.log.notice(`Synchronization with replica ${this.replicaName(conn)} succeeded`);
    }
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.lastCronSecond) {
      this.lastCronSecond = second;
      this.cronSeconds++;
      this.removeRdbUsedToSync();
      this.dropStalledTransferReplicas();
      const period = Math.max(1, this.server.config.getInt('repl-ping-replica-period'));
      // No PING while a FAILOVER with a TIMEOUT pauses writes: it would move the offset
      // the replicas must reach (Valkey's manual_failover_in_progress).
      const failover = this.server.failover;
      const pinging = failover.state === 'no-failover' || !failover.hasTimeout;
      this.native.replCron(pinging && this.cronSeconds % period === 0);
      // `repl-backlog-ttl`: a primary alone for longer frees its backlog (replicationCron).
      const ttl = Number(this.server.config.getBigInt('repl-backlog-ttl'));
      if (this.native.replFreeIdleBacklog(ttl)) {
        this.server.log.notice(`Replication backlog freed after ${ttl} seconds without connected replicas.`);
      }
    }
    if (this.native.hasDeliveries()) this.server.dataPath.deliver();
  }

  /**
   * Replicas wait for a fork (Valkey's replicationStartPendingFork): at once for a disk
   * sync; for a diskless one once one of them waited `repl-diskless-sync-delay` seconds,
   * or `repl-diskless-sync-max-replicas` (if set) are waiting.
   */
  private pendingForkDue(): boolean {
    const c = this.server.config;
    if (!c.getBool('repl-diskless-sync')) return true;
    const w = this.native.replWaitingStart();
    const max = c.getInt('repl-diskless-sync-max-replicas');
    return w.maxIdleMs >= c.getInt('repl-diskless-sync-delay') * 1000 || (max > 0 && w.count >= max);
  }

  /**
   * WAIT numreplicas timeout (Valkey's waitCommand): the number of online replicas that
   * acknowledged the stream up to its current offset, once `numreplicas` did or the
   * timeout (ms, 0 = none) passed. The replicas are asked for an ACK right away. The
   * offset waited for is the stream's when WAIT runs (Valkey takes the offset of the
   * client's own last write, which is never later).
   */
  waitCommand(call: HostCall): Reply | Promise<Reply> {
    const { argv, conn } = call;
    if (this.server.replica.isReplica) {
      return error('ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.');
    }
    const wantedArg = int64(argv[1]!);
    if (wantedArg === null) return error('ERR value is not an integer or out of range');
    const t = int64(argv[2]!);
    if (t === null) return error('ERR timeout is not an integer or out of range');
    if (t < 0n) return error('ERR timeout is negative');
    // Valkey adds the timeout to the current time in ms: it must not overflow.
    if (t > 0n && t > INT64_MAX - BigInt(Date.now())) return error('ERR timeout is out of range');
    const timeout = Number(t);
    const wanted = Number(wantedArg);
    const target = this.native.replInfo().offset;
    const acked = (): number => this.native.replInfo().replicas.filter((r) => r.state === 'online' && r.ackOffset >= target).length;
    const now = acked();
    // Inside EXEC (Valkey's deny_blocking) WAIT answers at once.
    if (now >= wanted || this.native.clientState(conn.id)?.denyBlocking === true) return int(now);
    if (this.native.replRequestAck()) this.server.dataPath.deliver();
    const deadline = timeout === 0 ? Infinity : Date.now() + timeout;
    this.waitingClients++;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        const n = acked();
        if (n >= wanted || Date.now() >= deadline || conn.closed) {
          clearInterval(timer);
          this.waitingClients--;
          resolve(int(n));
        }
      }, 5);
      if (this.server.options.unref) timer.unref();
    });
  }

  /**
   * WAITAOF numlocal numreplicas timeout (Valkey's waitaofCommand): [1 if the local AOF
   * is fsynced up to this client's writes, replicas whose AOF is fsynced (REPLCONF ACK ..
   * FACK) up to the stream's offset], once both reach what was asked or the timeout (ms,
   * 0 = none) passed. As for WAIT, the positions waited for are those when WAITAOF runs.
   */
  waitaofCommand(call: HostCall): Reply | Promise<Reply> {
    const { argv, conn } = call;
    const numlocal = int64(argv[1]!);
    if (numlocal === null) return error('ERR value is not an integer or out of range');
    if (numlocal < 0n || numlocal > 1n) return error('ERR value is out of range, value must between 0 and 1');
    const numreplicas = int64(argv[2]!);
    if (numreplicas === null) return error('ERR value is not an integer or out of range');
    if (numreplicas < 0n) return error('ERR value is out of range, must be positive');
    const t = int64(argv[3]!);
    if (t === null) return error('ERR timeout is not an integer or out of range');
    if (t < 0n) return error('ERR timeout is negative');
    if (t > 0n && t > INT64_MAX - BigInt(Date.now())) return error('ERR timeout is out of range');
    if (this.server.replica.isReplica) {
      return error('ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.');
    }
    const aofOff = 'ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.';
    if (numlocal === 1n && !this.server.aof.enabled) return error(aofOff);
    const localTarget = this.native.aofSyncMarks()?.appended ?? 0;
    const replTarget = this.native.replInfo().offset;
    const counts = (): [number, number] => {
      const marks = this.native.aofSyncMarks();
      const local = marks !== null && marks.synced >= localTarget ? 1 : 0;
      const replicas = this.native.replInfo().replicas.filter((r) => r.state === 'online' && r.aofOffset >= replTarget).length;
      return [local, replicas];
    };
    const done = ([l, r]: [number, number]): boolean => l >= Number(numlocal) && r >= Number(numreplicas);
    const first = counts();
    // Inside EXEC (Valkey's deny_blocking) WAITAOF answers at once.
    if (done(first) || this.native.clientState(conn.id)?.denyBlocking === true) return array(first.map((n) => int(n)));
    if (this.native.replRequestAck()) this.server.dataPath.deliver();
    const timeout = Number(t);
    const deadline = timeout === 0 ? Infinity : Date.now() + timeout;
    this.waitingClients++;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        let reply: Reply | null = null;
        if (this.server.replica.isReplica) reply = error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)');
        else if (numlocal === 1n && !this.server.aof.enabled) reply = error(aofOff);
        else {
          const now = counts();
          if (done(now) || Date.now() >= deadline || conn.closed) reply = array(now.map((n) => int(n)));
        }
        if (reply !== null) {
          clearInterval(timer);
          this.waitingClients--;
          resolve(reply);
        }
      }, 5);
      if (this.server.options.unref) timer.unref();
    });
  }

  /** Replicas online whose last ACK is at most `min-replicas-max-lag` seconds old. */
  private goodReplicas(): number {
    const maxLag = this.server.config.getInt('min-replicas-max-lag');
    return this.native.replInfo().replicas.filter((r) => r.state === 'online' && r.lagSec <= maxLag).length;
  }

  /** NOREPLICAS while fewer good replicas than `min-replicas-to-write` (a primary only). */
  writeGateError(): string | null {
    const min = this.server.config.getInt('min-replicas-to-write');
    const maxLag = this.server.config.getInt('min-replicas-max-lag');
    if (min === 0 || maxLag === 0 || this.server.replica.isReplica) return null;
    return this.goodReplicas() < min ? 'NOREPLICAS Not enough good replicas to write.' : null;
  }

  /** ROLE as a primary: "master", the offset, and [ip, port, acknowledged offset] per online replica. */
  roleReply(): Reply {
    const i = this.native.replInfo();
    const rows = i.replicas
      .filter((r) => r.state === 'online')
      .map((r) => array([bulk(this.replicaIp(r.id, r.announcedIp)), bulk(String(r.listeningPort)), bulk(String(r.ackOffset))]));
    return array([bulk('master'), int(i.offset), array(rows)]);
  }

  /** The address a replica announced, else its peer address. */
  private replicaIp(id: number, announced: string | undefined): string {
    if (announced !== undefined) return announced;
    const conn = this.server.clients.get(id);
    return conn ? conn.addr.slice(0, conn.addr.lastIndexOf(':')) : '?';
  }

  /** Every attached replica acknowledged the current offset (Valkey's isReadyToShutdown). */
  allReplicasInSync(): boolean {
    const i = this.native.replInfo();
    return i.replicas.every((r) => r.ackOffset === i.offset);
  }

  /** Asks the replicas for an acknowledgement now (`REPLCONF GETACK *`). */
  requestAcks(): void {
    if (this.native.replRequestAck()) this.server.dataPath.deliver();
  }

  /** The shutdown's last look at the replicas: one line per lagging one, then the count in sync (Valkey's finishShutdown). */
  logReplicasAtShutdown(): void {
    const i = this.native.replInfo();
    let lagging = 0;
    for (const r of i.replicas) {
      if (r.ackOffset === i.offset) continue;
      lagging++;
      const lag = r.state === 'online' ? r.lagSec : 0;
      this.server.log.notice(`Lagging replica ${this.replicaIp(r.id, r.announcedIp)}:${r.listeningPort} reported offset ${i.offset - r.ackOffset} behind master, lag=${lag}, state=${r.state}.`);
    }
    if (i.replicas.length > 0) this.server.log.notice(`${i.replicas.length - lagging} of ${i.replicas.length} replicas are in sync when shutting down.`);
  }

  /** INFO replication for a primary, with Valkey's field names. */
  infoFields(): Array<[string, string | number]> {
    const i = this.native.replInfo();
    const replica = this.server.replica.isReplica;
    const out: Array<[string, string | number]> = replica ? this.server.replica.infoFields() : [['role', 'master']];
    out.push(['connected_slaves', i.replicas.length]);
    i.replicas.forEach((r, n) => {
      const ip = this.replicaIp(r.id, r.announcedIp);
      out.push([`slave${n}`, `ip=${ip},port=${r.listeningPort},state=${r.state},offset=${r.ackOffset},lag=${r.state === 'online' ? r.lagSec : 0},type=replica`]);
    });
    const history = this.server.replica.history();
    out.push(
      ['replicas_waiting_psync', 0],
      ['master_failover_state', this.server.failover.state],
      ['master_replid', replica ? (history.replid ?? i.replid) : i.replid],
      ['master_replid2', i.replid2],
      ['master_repl_offset', replica ? history.offset : i.offset],
      ['second_repl_offset', i.secondOffset],
      ['repl_backlog_active', i.backlogActive ? 1 : 0],
      ['repl_backlog_size', Number(this.server.config.getBigInt('repl-backlog-size'))],
      ['repl_backlog_first_byte_offset', i.backlogFirstByteOffset],
      ['repl_backlog_histlen', i.backlogHistlen],
    );
    return out;
  }
}

/** No `save` rule and the AOF off (Valkey's allPersistenceDisabled). */
export function persistenceDisabled(server: Server): boolean {
  return server.config.getSaveRules().length === 0 && !server.aof.enabled;
}
