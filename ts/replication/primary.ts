// Replication as a primary, host side (Valkey's replication.c for a primary). The state
// (IDs, offset, backlog, replicas, acknowledgements) and the stream live in Rust
// (forkv-server/src/repl.rs); replica sockets are ordinary client connections whose output
// is the stream, delivered like pub/sub messages. This module owns what concerns every
// replica's stream: the replication cron (PING into the stream every
// repl-ping-replica-period, newlines to replicas waiting for their snapshot, the backlog's
// TTL, the output limit of a replica still syncing), ROLE and INFO replication, and the
// history saved in and restored from an RDB file. Its parts:
//   primary-fullsync.ts  SYNC/PSYNC, when a full sync forks, the disk-based transfer
//   primary-diskless.ts  the diskless transfer: the child's pipe copied to the replicas
//   primary-wait.ts      WAIT, WAITAOF, min-replicas, the replicas at shutdown
import type { Connection } from '../net/connection';
import type { LoadReport } from '../native/host-types';
import type { ReplSaveInfo } from '../native/host-types';
import { array, bulk, int, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { DisklessTransfer } from './primary-diskless';
import { FullSyncScheduler } from './primary-fullsync';
import { ReplicaAcks } from './primary-wait';

export class ReplicationPrimary {
  /** SYNC and PSYNC, and the full syncs they start. */
  readonly fullSync: FullSyncScheduler;
  /** The diskless transfer in progress. */
  readonly diskless: DisklessTransfer;
  /** WAIT, WAITAOF and the replicas' acknowledgements. */
  readonly acks: ReplicaAcks;
  private lastCronSecond = 0;
  private cronSeconds = 0;

  constructor(readonly server: Server) {
    this.fullSync = new FullSyncScheduler(this);
    this.diskless = new DisklessTransfer(this);
    this.acks = new ReplicaAcks(this);
    server.on('cron', () => this.cron());
    server.on('bgsave-done', (ok: boolean) => this.fullSync.bgsaveDone(ok));
    server.on('transfer-done', (ok: boolean) => this.diskless.childDone(ok));
    const applyBacklog = (): null => {
      server.core.native.replSetBacklogSize(Number(server.config.getBigInt('repl-backlog-size')));
      return null;
    };
    applyBacklog();
    server.config.onChange('repl-backlog-size', applyBacklog);
  }

  private get native() {
    return this.server.core.native;
  }

  /**
   * "ip:port" as Valkey names a replica in its logs (replicationGetReplicaName: the
   * announced listening port, `<unknown-replica-port>` when none was announced).
   */
  replicaName(conn: Connection): string {
    const row = this.native.replInfo().replicas.find((r) => r.id === conn.id);
    const port = row?.listeningPort ?? 0;
    return `${this.replicaIp(conn.id, row?.announcedIp)}:${port === 0 ? '<unknown-replica-port>' : port}`;
  }

  /**
   * A replica that asked for the snapshot only (`REPLCONF rdb-only 1`, valkey-cli --rdb)
   * was sent it: it never goes online and is closed (Valkey's replicaPutOnline).
   */
  closeRdbOnly(conn: Connection): void {
    this.server.log.notice(`RDB transfer completed, rdb only replica (${this.replicaName(conn)}) should be disconnected asap`);
    this.server.clientOutput.closeAfterWrite(conn);
  }

  /** True when the client sent SYNC or PSYNC (it is one of our replicas). */
  isReplicaClient(id: number): boolean {
    return this.native.replIsReplica(id);
  }

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
    this.checkHeldStreams();
    this.fullSync.startIfDue();
    for (const id of this.native.replTakeStreamStarted()) {
      const conn = this.server.clients.get(id);
      if (conn) this.server.log.notice(`Synchronization with replica ${this.replicaName(conn)} succeeded`);
    }
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.lastCronSecond) {
      this.lastCronSecond = second;
      this.cronSeconds++;
      this.fullSync.removeRdbUsedToSync();
      this.diskless.dropStalled();
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

  /** ROLE as a primary: "master", the offset, and [ip, port, acknowledged offset] per online replica. */
  roleReply(): Reply {
    const i = this.native.replInfo();
    const rows = i.replicas
      .filter((r) => r.state === 'online')
      .map((r) => array([bulk(this.replicaIp(r.id, r.announcedIp)), bulk(String(r.listeningPort)), bulk(String(r.ackOffset))]));
    return array([bulk('master'), int(i.offset), array(rows)]);
  }

  /** The address a replica announced, else its peer address. */
  replicaIp(id: number, announced: string | undefined): string {
    if (announced !== undefined) return announced;
    const conn = this.server.clients.get(id);
    return conn ? conn.addr.slice(0, conn.addr.lastIndexOf(':')) : '?';
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
