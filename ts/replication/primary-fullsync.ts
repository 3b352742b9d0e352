// Full syncs as a primary schedules them (Valkey's syncCommand, startBgsaveForReplication,
// replicationStartPendingFork): SYNC and PSYNC (a partial resynchronization continues from
// the backlog at once; a full one waits for a snapshot), when to fork (now, after
// `repl-diskless-sync-delay`, or when the child slot frees), to disk or to the replicas'
// sockets (primary-diskless.ts), and the disk-based transfer: the dump file sent to each
// replica as `$<len>\r\n<bytes>` once its BGSAVE ended. `rdb-del-sync-files` removes a dump
// written only to feed replicas.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

import type { HostCall } from '../commands/types';
import { string2ll } from '../config/numbers';
import { error, type Reply } from '../resp/encode';
import { persistenceDisabled, type ReplicationPrimary } from './primary';

/** No reply: the replica's bytes are queued as deliveries. */
const NO_REPLY: Reply = { t: 'raw', v: Buffer.alloc(0) };

export class FullSyncScheduler {
  /** Replicas that sent PSYNC (they get `+FULLRESYNC` when their BGSAVE starts). */
  private readonly psyncIds = new Set<number>();
  /** Replicas waiting for the end of the disk BGSAVE that runs (WAIT_BGSAVE_END). */
  private readonly diskWaiters = new Set<number>();
  /** The dump file on disk was written to feed replicas (Valkey's RDBGeneratedByReplication). */
  private rdbForReplicas = false;

  constructor(private readonly primary: ReplicationPrimary) {}

  private get server() {
    return this.primary.server;
  }

  private get native() {
    return this.primary.server.core.native;
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
    if (psync && string2ll(argv[2]!.toString('latin1')) === null) {
      log.warning(`Replica ${this.primary.replicaName(conn)} asks for synchronization but with a wrong offset`);
      return error('ERR value is not an integer or out of range');
    }
    const hadBacklog = this.native.replInfo().backlogActive;
    const decision = psync ? this.native.replSync(conn.id, argv[1], argv[2]) : this.native.replSync(conn.id, undefined, undefined);
    // A filtered snapshot asked without `capa eof`: refused with the core's error.
    if (decision !== 'continue' && decision !== 'full') return error(decision);
    // Its output is now the replica class's (client-output-buffer-limit replica ...), and
    // not counted for eviction.
    conn.isReplica = true;
    const name = this.primary.replicaName(conn);
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
    const socketChild = (kind === 'rdb' && this.server.rdb.socketChild) || this.primary.diskless.running;
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
   * Forks the BGSAVE that serves the waiting replicas that asked for the same snapshot as
   * the first (startBgsaveForReplication): to their sockets with `repl-diskless-sync`, or
   * for a filtered snapshot (`REPLCONF rdb-filter-only`, never written to the dump file),
   * when all of them take it (capa eof); else to disk.
   */
  private startSync(): void {
    const waiting = this.native.replWaitingStart();
    const socket = (this.server.config.getBool('repl-diskless-sync') || waiting.filtered) && waiting.allEof;
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

  /** Forks the diskless transfer and hands its pipe to primary-diskless.ts. */
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
    this.primary.diskless.begin(fork, mark, ids);
  }

  /** At hz: starts a BGSAVE for the waiting replicas once the child slot is free and the fork is due. */
  startIfDue(): void {
    if (this.server.rdb.childKind() === null && !this.primary.diskless.running && this.native.replWaitingForBgsave() && this.pendingForkDue()) this.startSync();
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

  /** The snapshot child ended: send the file to the replicas attached to it. */
  bgsaveDone(ok: boolean): void {
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
    this.server.clientOutput.write(conn, Buffer.from(`$${size}\r\n`, 'latin1'));
    const stream = fs.createReadStream('', { fd, highWaterMark: 1 << 16 });
    let sent = 0;
    // Online as soon as the last byte went to the socket (Valkey's sendBulkToReplica), not
    // at the stream's 'end', which takes one more read of the file: meanwhile the replica
    // could load the snapshot and report its link up while we still said send_bulk.
    const online = (): void => {
      if (conn.closed) return;
      if (!this.native.replOnline(id)) {
        this.primary.closeRdbOnly(conn);
        return;
      }
      this.server.log.notice(`Synchronization with replica ${this.primary.replicaName(conn)} succeeded`);
      this.server.dataPath.deliver();
    };
    stream.on('data', (chunk) => {
      if (conn.closed) {
        stream.destroy();
        return;
      }
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      conn.outputBytes += buf.length;
      this.server.clientOutput.count(conn, buf.length);
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
  removeRdbUsedToSync(): void {
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

  /** Drops a replica whose full sync failed (logged). */
  drop(id: number, why: string): void {
    this.server.log.warning(why);
    this.psyncIds.delete(id);
    const conn = this.server.clients.get(id);
    if (conn) this.server.clientOutput.closeAfterWrite(conn);
  }
}
