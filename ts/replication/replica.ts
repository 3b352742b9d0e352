// forkv as a replica (Valkey's replication.c for a replica): the role and the link. This
// module owns REPLICAOF / SLAVEOF and the `replicaof` directive (becoming a replica,
// REPLICAOF NO ONE's promotion, which keeps the data with the primary's history as the
// second replication ID), the read-only and stale-data gates, the link's socket (plain
// TCP, or TLS with `tls-replication`), its timeouts and its once-a-second cron. After a
// broken link the replica keeps the primary's ID and offset and asks to continue
// (`PSYNC <replid> <offset+1>`). The parts of the link, each in its own module:
//   replica-state.ts      the state they share, and ROLE / INFO / CLIENT LIST views of it
//   replica-handshake.ts  PING, AUTH, REPLCONF, PSYNC
//   replica-transfer.ts   a full sync's snapshot received and loaded
//   replica-stream.ts     the stream applied as the primary client, REPLCONF ACK
import * as net from 'node:net';
import * as tls from 'node:tls';

import type { HostCall } from '../commands/types';
import { clientConnectionOptions } from '../net/tls';
import type { ClientView, Connection } from '../net/connection';
import type { LoadReport } from '../native/host-types';
import type { ReplSaveInfo } from '../native/host-types';
import { error, ok, simple, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { Handshake } from './replica-handshake';
import { ReplicaState } from './replica-state';
import { PrimaryStream } from './replica-stream';
import { SnapshotReceiver } from './replica-transfer';

/** A client as Valkey's logs name the one that changed the role (catClientInfoString's start). */
function clientSummary(conn: Connection): string {
  return `id=${conn.id} addr=${conn.addr} laddr=${conn.laddr} fd=${conn.fd} name=${conn.name}`;
}

export class ReplicaLink {
  /** The state the parts of the link share. */
  readonly st: ReplicaState;
  readonly handshake: Handshake;
  readonly receiver: SnapshotReceiver;
  readonly stream: PrimaryStream;
  /** The second of the cron's last run (it runs once a second). */
  private lastAckSecond = 0;

  constructor(readonly server: Server) {
    this.st = new ReplicaState(server);
    this.handshake = new Handshake(this);
    this.receiver = new SnapshotReceiver(this);
    this.stream = new PrimaryStream(this);
    server.on('cron', () => this.cron());
    // A stopping server drops its link (an open socket would keep the process alive).
    server.on('stopped', () => {
      this.st.primary = null;
      this.closeLink();
    });
    const apply = (): null => {
      this.updateGates();
      return null;
    };
    server.config.onChange('replica-read-only', apply);
    server.config.onChange('replica-serve-stale-data', apply);
  }

  private get native() {
    return this.server.core.native;
  }

  /** The role the OOM score was last written for (see updateGates). */
  private oomRoleReplica = false;

  /** True while this server replicates a primary. */
  get isReplica(): boolean {
    return this.st.primary !== null;
  }

  /** True while the link to the primary is up (this replica may serve replicas of its own). */
  get linkUpNow(): boolean {
    return this.st.primary !== null && this.st.state === 'connected';
  }

  /** See ReplicaState.saveInfo. */
  saveInfo(): ReplSaveInfo | null {
    return this.st.saveInfo();
  }

  /**
   * The start-up load of an RDB file that a replica saved (Valkey's loadDataFromDisk):
   * with `replicaof` configured, its `repl-id`/`repl-offset` become this server's history,
   * which setPrimary then offers to the primary (`PSYNC <repl-id> <repl-offset+1>`), and
   * the stream continues in the saved `repl-stream-db`.
   */
  restoreFromRdb(r: LoadReport): void {
    if (r.replId == null || r.replOffset == null || r.replStreamDb == null) return;
    this.native.replAdoptPrimary(r.replId, r.replOffset);
    this.st.streamDbAfterLoad = r.replStreamDb;
  }

  /**
   * Disconnects this server's own replicas (Valkey's disconnectReplicas): they reconnect
   * and learn the new history, most often with a partial resynchronization.
   */
  dropReplicas(): void {
    for (const id of this.native.replDetachReplicas()) {
      const c = this.server.clients.get(id);
      if (c) this.server.clientOutput.closeAfterWrite(c);
    }
  }

  /** The `replicaof` directive: connect once the local data is loaded. */
  startFromConfig(): void {
    const r = this.server.config.getReplicaOf();
    if (r) this.setPrimary(r.host, r.port);
  }

  /** REPLICAOF host port | NO ONE (and SLAVEOF): Valkey's replicaofCommand. */
  replicaofCommand(call: HostCall): Reply {
    const { argv, conn } = call;
    if (this.server.failover.state !== 'no-failover') return error('ERR REPLICAOF not allowed while failing over.');
    const host = argv[1]!.toString('latin1');
    const portArg = argv[2]!.toString('latin1');
    if (host.toLowerCase() === 'no' && portArg.toLowerCase() === 'one') {
      if (this.st.primary) {
        this.unsetPrimary();
        this.server.log.notice(`PRIMARY MODE enabled (user request from '${clientSummary(conn)}')`);
      }
      return ok;
    }
    if (this.server.replication.isReplicaClient(conn.id)) return error('ERR Command is not valid when client is a replica.');
    if (!/^\d+$/.test(portArg) || Number(portArg) > 65535) return error('ERR Invalid master port');
    const port = Number(portArg);
    if (this.st.primary && this.st.primary.host.toLowerCase() === host.toLowerCase() && this.st.primary.port === port) {
      this.server.log.notice('REPLICAOF would result into synchronization with the primary we are already connected with. No operation performed.');
      return simple('OK Already connected to specified master');
    }
    this.setPrimary(host, port);
    this.server.log.notice(`REPLICAOF ${host}:${port} enabled (user request from '${clientSummary(conn)}')`);
    return ok;
  }

  /** A FAILOVER's target is in sync (or FORCE): this primary follows it. */
  followForFailover(host: string, port: number): void {
    this.setPrimary(host, port);
  }

  /** A FAILOVER in progress was aborted: this server is a primary again. */
  unfollowAfterFailover(): void {
    this.unsetPrimary();
  }

  /**
   * `PSYNC <replid> <offset> FAILOVER` from our primary, naming our own history: this
   * replica becomes a primary (a new replication ID, the old one its second), and the
   * PSYNC then continues as any other would.
   */
  promoteOnFailoverRequest(conn: Connection): void {
    this.unsetPrimary();
    this.server.log.notice(`PRIMARY MODE enabled (failover request from '${clientSummary(conn)}')`);
  }

  /** Starts replicating `host:port` (replicationSetPrimary). */
  private setPrimary(host: string, port: number): void {
    const wasPrimary = this.st.primary === null;
    this.closeLink();
    this.st.primary = { host, port };
    // CONFIG GET and CONFIG REWRITE show the live primary (Valkey's replicaof option).
    this.server.config.forceValue('replicaof', { type: 'replicaof', value: { host, port } });
    this.server.log.serverRole = 'S';
    // From now on the replicas of this server get the primary's stream, not ours.
    this.native.replSetProxy(true);
    // Our replicas stay: they are disconnected once the history changes (a full sync's
    // load, a new ID on a partial one), as Valkey's replicationSetPrimary leaves them.
    // Blocked clients are released with -UNBLOCKED: the primary's stream must not serve them.
    if (this.native.unblockAllForRoleChange() > 0) this.server.dataPath.serveWoken();
    if (wasPrimary) {
      // Our own history is offered to the new primary (replicationCachePrimaryUsingMyself):
      // one that shares it (our former replica, after a FAILOVER or a promotion) lets us
      // continue with a partial resynchronization.
      const own = this.native.replInfo();
      this.st.replid = own.replid;
      this.st.offset = own.offset;
      this.st.readOffset = own.offset;
      this.server.log.notice('Before turning into a replica, using my own primary parameters to synthesize a cached primary: I may be able to synchronize with the new primary with just a partial transfer.');
    }
    this.st.state = 'connect';
    this.st.linkDownSince = Date.now();
    this.updateGates();
    this.server.log.notice(`Connecting to PRIMARY ${host}:${port}`);
    this.connect();
  }

  /** REPLICAOF NO ONE (replicationUnsetPrimary): keep the data, become a primary. */
  private unsetPrimary(): void {
    this.closeLink();
    if (this.st.replid !== null && this.st.offset >= 0) {
      const id = this.native.replPromote(this.st.replid, this.st.offset);
      this.server.log.notice(`Setting secondary replication ID to ${this.st.replid}, valid up to offset: ${this.st.offset + 1}. New replication ID is ${id}`);
    }
    this.native.replSetProxy(false);
    // Our replicas learn the new ID by reconnecting; they continue with the old one as
    // our second ID (Valkey's replicationUnsetPrimary).
    this.dropReplicas();
    if (this.st.clientId !== 0) {
      this.native.removeClient(this.st.clientId);
      this.st.clientId = 0;
    }
    this.st.primary = null;
    this.server.config.forceValue('replicaof', { type: 'replicaof', value: null });
    this.server.log.serverRole = 'M';
    this.st.replid = null;
    this.st.offset = -1;
    this.st.readOffset = -1;
    this.updateGates();
  }

  /** Read-only and stale-data refusals follow the role and the link. */
  updateGates(): void {
    const replica = this.st.primary !== null;
    const down = replica && this.st.state !== 'connected';
    // The OOM score follows the role (Valkey's replicationSetPrimary/UnsetPrimary).
    if (replica !== this.oomRoleReplica) {
      this.oomRoleReplica = replica;
      this.server.applyOomScoreAdj();
    }
    this.native.configure({
      readOnlyReplica: replica && this.server.config.getBool('replica-read-only'),
      isReplica: replica,
      primaryAddress: this.st.primary ? `${this.st.primary.host}:${this.st.primary.port}` : '',
      primaryDown: down && !this.server.config.getBool('replica-serve-stale-data'),
    });
  }


  /* ---------------------------------------------------------------- the link */

  private connect(): void {
    if (!this.st.primary || this.st.socket) return;
    const { host, port } = this.st.primary;
    this.st.state = 'connecting';
    this.server.log.notice(`PRIMARY <-> REPLICA sync started`);
    // `tls-replication yes`: the link is TLS, verified against the configured CA (Valkey's
    // connTypeOfReplication); the primary is then expected on its tls-port.
    // `bind-source-addr`: the local address the link connects from (Valkey's
    // connectWithPrimary), so the primary sees the replica at that address.
    const source = this.server.config.getString('bind-source-addr');
    const from = source === '' ? {} : { localAddress: source };
    let s: net.Socket;
    if (this.server.config.getBool('tls-replication')) {
      const opts = clientConnectionOptions(this.server.config, (m) => this.server.log.warning(m));
      if (opts === null) {
        this.server.log.warning('Unable to connect to PRIMARY: Failed to configure TLS');
        this.st.state = 'connect';
        return;
      }
      s = tls.connect({ host, port, ...from, ...opts });
    } else {
      s = net.connect({ host, port, ...from });
    }
    this.st.socket = s;
    this.st.inbuf = Buffer.alloc(0);
    this.st.lastIo = Date.now();
    s.setNoDelay(true);
    if (this.server.options.unref) s.unref();
    s.on(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
      this.server.log.notice('Non blocking connect for SYNC fired the event.');
      void this.handshake.run(s).catch((e: unknown) => this.linkError(s, e instanceof Error ? e.message : String(e)));
    });
    s.on('data', (chunk: Buffer) => this.onData(s, chunk));
    s.on('error', (e) => this.linkError(s, `Error condition on socket for SYNC: ${e.message}`));
    s.on('close', () => this.onClose(s));
  }

  /** Drops the link after an error (logged). */
  linkError(s: net.Socket, why: string): void {
    if (this.st.socket !== s) return;
    this.server.log.warning(why);
    s.destroy();
  }

  private onClose(s: net.Socket): void {
    if (this.st.socket !== s) return;
    this.st.socket = null;
    this.st.awaiting = null;
    this.receiver.abort();
    if (this.st.state === 'connected') {
      this.server.log.notice('Connection with primary lost.');
      this.server.log.notice('Caching the disconnected primary state.');
      this.st.linkDownSince = Date.now();
    }
    this.st.state = 'connect';
    this.updateGates();
  }

  /** Closes the link (a new primary, NO ONE, timeouts) without waiting for 'close'. */
  private closeLink(): void {
    const s = this.st.socket;
    this.st.socket = null;
    this.st.awaiting = null;
    this.receiver.abort();
    if (s) s.destroy();
    if (this.st.state === 'connected') this.st.linkDownSince = Date.now();
    this.st.state = 'connect';
  }

  /** CLIENT KILL TYPE master: drops the link; it reconnects and continues. */
  killLink(): number {
    if (!this.st.socket) return 0;
    this.st.socket.destroy();
    return 1;
  }


  /** The link's id as CLIENT LIST shows it (0: none). */
  get primaryClientId(): number {
    return this.st.clientId;
  }

  /** See ReplicaState.primaryClientView. */
  primaryClientView(): ClientView | null {
    return this.st.primaryClientView();
  }

  private onData(s: net.Socket, chunk: Buffer): void {
    if (this.st.socket !== s) return;
    this.st.lastIo = Date.now();
    this.server.stats.totalNetReplInputBytes += chunk.length;
    this.server.stats.totalReadsProcessed++;
    this.st.inbuf = this.st.inbuf.length === 0 ? chunk : Buffer.concat([this.st.inbuf, chunk]);
    this.pump(s);
  }

  /** Consumes what arrived according to the state of the link. */
  pump(s: net.Socket): void {
    try {
      if (this.handshake.answer()) return;
      if (this.st.transfer) this.receiver.receive(s);
      else if (this.st.state === 'connected') this.stream.apply(s);
    } catch (e) {
      this.linkError(s, e instanceof Error ? e.message : String(e));
    }
  }

  /* ---------------------------------------------------------------- cron */

  /** Once a second: connect, time out a silent primary, send REPLCONF ACK. */
  private cron(): void {
    if (!this.st.primary) return;
    // A pause holds the primary's stream (the core consumes nothing meanwhile): what was
    // held runs at the first cron tick after it ends.
    if (this.st.state === 'connected' && this.st.socket && this.st.inbuf.length > 0) this.pump(this.st.socket);
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second === this.lastAckSecond) return;
    this.lastAckSecond = second;
    const timeoutMs = this.server.config.getInt('repl-timeout') * 1000;
    if (this.st.socket && this.st.state !== 'connected' && this.st.transfer === null && this.st.state !== 'sync' && now - this.st.lastIo > timeoutMs) {
      this.linkError(this.st.socket, 'Timeout connecting to the PRIMARY...');
    } else if (this.st.transfer && now - this.st.transfer.lastIo > timeoutMs) {
      this.linkError(this.st.socket!, 'Timeout receiving bulk data from PRIMARY... If the problem persists try to set the \'repl-timeout\' parameter in valkey.conf to a larger value.');
    } else if (this.st.state === 'connected' && this.st.socket && now - this.st.lastIo > timeoutMs) {
      this.linkError(this.st.socket, 'PRIMARY timeout: no data nor PING received...');
    }
    // A load that outlived its link finishes (and is installed or dropped) before the next
    // sync starts one of its own.
    if (!this.st.socket && this.st.state === 'connect' && !this.st.loadRunning) this.connect();
    if (this.st.state === 'connected' && this.st.socket) this.stream.sendAck(this.st.socket);
  }


  /* ---------------------------------------------------------------- ROLE and INFO */

  /** ROLE as a replica (see ReplicaState.roleReply). */
  roleReply(): Reply {
    return this.st.roleReply();
  }

  /** INFO's master_replid / master_repl_offset (see ReplicaState.history). */
  history(): { replid: string | null; offset: number } {
    return this.st.history();
  }

  /** INFO replication's replica fields (see ReplicaState.infoFields). */
  infoFields(): Array<[string, string | number]> {
    return this.st.infoFields();
  }
}
