// forkv as a replica (Valkey's replication.c for a replica): REPLICAOF / SLAVEOF and the
// `replicaof` directive, the link to the primary (plain TCP, or TLS with `tls-replication`) and its handshake (PING, AUTH with
// primaryauth/primaryuser, REPLCONF listening-port/ip-address/capa eof psync2, PSYNC),
// the snapshot transfer (`$<len>` from a disk-based primary, `$EOF:<mark>` from a
// diskless one) into a temporary file that then replaces the dump file and is loaded by
// the core's loader thread (clients get -LOADING meanwhile: `repl-diskless-load
// disabled`), or parsed by that thread as it arrives (`swapdb`, which keeps the old data
// until the load succeeded, `on-empty-db`, `flush-before-load`), then the stream: its commands run as the primary client (not answered,
// obeyed on a read-only replica), the offset counts the bytes of the commands processed,
// `REPLCONF ACK` goes out every second and for each `REPLCONF GETACK`. After a broken
// link the replica keeps the primary's ID and its offset and asks to continue
// (`PSYNC <replid> <offset+1>`); REPLICAOF NO ONE promotes it, keeping the data, with
// the primary's history as its second replication ID.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';

import type { HostCall } from '../commands/types';
import { formatAddr, socketFd, type ClientView, type Connection } from '../net/connection';
import { clientConnectionOptions } from '../net/tls';
import { Step } from '../native/core';
import type { LoadReport } from '../native/binding.cjs';
import type { ReplSaveInfo } from '../native/host-types';
import { encode, error, int, simple, array, bulk, ok, type Reply } from '../resp/encode';
import { loadingEventsInterval, pollLoad, waitForLoad } from '../persistence/rdb';
import { persistenceDisabled } from './primary';
import type { Server } from '../server';
import { ackCommand, encodeCommand, FsyncedOffset, scanCommands } from './stream';

/** Valkey's replication states for a replica, as ROLE names them. */
type LinkState = 'connect' | 'connecting' | 'handshake' | 'sync' | 'connected';

/** How the snapshot arrives: a length, or an end mark (diskless primary). */
interface Transfer {
  /** The temporary file it is written to (-1 until the header; none when it is loaded
   * straight from the socket). */
  fd: number;
  tempPath: string;
  /** Loaded from the socket as it arrives (`repl-diskless-load`), not through a file. */
  socketLoad: boolean;
  /** The socket is paused: the loader is behind by more than LOAD_QUEUE_MAX bytes. */
  throttled: boolean;
  /** Bytes still expected (`$<len>`), or -1 with an end mark. */
  left: number;
  mark: Buffer | null;
  /** The last bytes received, held back until they cannot be the end mark. */
  held: Buffer;
  total: number;
  read: number;
  lastIo: number;
}

const MARK_LEN = 40;

/** Bytes of the snapshot handed to the loader and not yet read by it above which the
 * socket is paused (a slow load slows the primary down, as Valkey's blocking read does). */
const LOAD_QUEUE_MAX = 1 << 20;

/** A client as Valkey's logs name the one that changed the role (catClientInfoString's start). */
function clientSummary(conn: Connection): string {
  return `id=${conn.id} addr=${conn.addr} laddr=${conn.laddr} fd=${conn.fd} name=${conn.name}`;
}

export class ReplicaLink {
  /** The primary (REPLICAOF host port), or null for a primary. */
  private primary: { host: string; port: number } | null = null;
  private state: LinkState = 'connect';
  private socket: net.Socket | null = null;
  /** Received and not yet consumed (handshake replies, the stream's partial command). */
  private inbuf: Buffer = Buffer.alloc(0);
  /** Handshake replies are awaited one at a time. */
  private awaiting: ((line: string) => void) | null = null;
  private transfer: Transfer | null = null;
  /** The primary's replication ID and the bytes of its stream processed (kept across
   * reconnects for PSYNC; null/-1 before the first full sync). */
  private replid: string | null = null;
  private offset = -1;
  /** INFO's replication ID and offset while a full sync runs: those before it. */
  private beforeSync: { replid: string | null; offset: number } | null = null;
  /** The history a running full sync brings (`+FULLRESYNC <replid> <offset>`). */
  private fullSync: { replid: string; offset: number } | null = null;
  /** How far this replica's AOF is fsynced, in stream offsets (REPLCONF ACK's FACK). */
  private readonly fsynced = new FsyncedOffset();
  /** Bytes of the stream received (`slave_read_repl_offset`). */
  private readOffset = -1;
  /** The core client that runs the primary's commands (0: none). */
  private clientId = 0;
  /** That client's start and traffic (CLIENT LIST age, tot-net-in, tot-net-out): it lives
   * across reconnects that continue the stream, as Valkey's cached primary client. */
  private clientCreatedAt = 0;
  private clientInput = 0;
  private clientOutput = 0;
  private lastIo = 0;
  private linkDownSince = 0;
  private lastAckSecond = 0;
  /** A full sync's load runs (from the socket or the file). */
  private loadRunning = false;
  /** The stream that arrived with the end of the snapshot, applied after loading. */
  private afterSnapshot: Buffer[] = [];
  /** The database the primary's stream is in after the loaded snapshot (its
   * `repl-stream-db` AUX field), selected by the primary client once it exists. */
  private streamDbAfterLoad: number | null = null;

  constructor(private readonly server: Server) {
    server.on('cron', () => this.cron());
    // A stopping server drops its link (an open socket would keep the process alive).
    server.on('stopped', () => {
      this.primary = null;
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
    return this.primary !== null;
  }

  /** True while the link to the primary is up (this replica may serve replicas of its own). */
  get linkUpNow(): boolean {
    return this.primary !== null && this.state === 'connected';
  }

  /**
   * Where this replica is in its primary's stream, for the snapshots it makes (Valkey's
   * rdbPopulateSaveInfo for a replica with a primary client, connected or cached): the
   * database the stream is in (its own replicas' full syncs continue there), the
   * primary's replication ID and the offset. Restarted from such a file, the replica
   * continues with a partial resynchronization (see restoreFromRdb).
   */
  saveInfo(): ReplSaveInfo | null {
    if (this.primary === null || this.replid === null || this.offset < 0 || this.clientId === 0) return null;
    const db = this.native.clientState(this.clientId)?.db;
    if (db === undefined) return null;
    return { streamDb: db, replId: this.replid, replOffset: this.offset };
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
    this.streamDbAfterLoad = r.replStreamDb;
  }

  /**
   * Disconnects this server's own replicas (Valkey's disconnectReplicas): they reconnect
   * and learn the new history, most often with a partial resynchronization.
   */
  private dropReplicas(): void {
    for (const id of this.native.replDetachReplicas()) {
      const c = this.server.clients.get(id);
      if (c) this.server.closeAfterWrite(c);
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
      if (this.primary) {
        this.unsetPrimary();
        this.server.log.notice(`PRIMARY MODE enabled (user request from '${clientSummary(conn)}')`);
      }
      return ok;
    }
    if (this.server.replication.isReplicaClient(conn.id)) return error('ERR Command is not valid when client is a replica.');
    if (!/^\d+$/.test(portArg) || Number(portArg) > 65535) return error('ERR Invalid master port');
    const port = Number(portArg);
    if (this.primary && this.primary.host.toLowerCase() === host.toLowerCase() && this.primary.port === port) {
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
    const wasPrimary = this.primary === null;
    this.closeLink();
    this.primary = { host, port };
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
      this.replid = own.replid;
      this.offset = own.offset;
      this.readOffset = own.offset;
      this.server.log.notice('Before turning into a replica, using my own primary parameters to synthesize a cached primary: I may be able to synchronize with the new primary with just a partial transfer.');
    }
    this.state = 'connect';
    this.linkDownSince = Date.now();
    this.updateGates();
    this.server.log.notice(`Connecting to PRIMARY ${host}:${port}`);
    this.connect();
  }

  /** REPLICAOF NO ONE (replicationUnsetPrimary): keep the data, become a primary. */
  private unsetPrimary(): void {
    this.closeLink();
    if (this.replid !== null && this.offset >= 0) {
      const id = this.native.replPromote(this.replid, this.offset);
      this.server.log.notice(`Setting secondary replication ID to ${this.replid}, valid up to offset: ${this.offset + 1}. New replication ID is ${id}`);
    }
    this.native.replSetProxy(false);
    // Our replicas learn the new ID by reconnecting; they continue with the old one as
    // our second ID (Valkey's replicationUnsetPrimary).
    this.dropReplicas();
    if (this.clientId !== 0) {
      this.native.removeClient(this.clientId);
      this.clientId = 0;
    }
    this.primary = null;
    this.server.config.forceValue('replicaof', { type: 'replicaof', value: null });
    this.server.log.serverRole = 'M';
    this.replid = null;
    this.offset = -1;
    this.readOffset = -1;
    this.updateGates();
  }

  /** Read-only and stale-data refusals follow the role and the link. */
  private updateGates(): void {
    const replica = this.primary !== null;
    const down = replica && this.state !== 'connected';
    // The OOM score follows the role (Valkey's replicationSetPrimary/UnsetPrimary).
    if (replica !== this.oomRoleReplica) {
      this.oomRoleReplica = replica;
      this.server.applyOomScoreAdj();
    }
    this.native.configure({
      readOnlyReplica: replica && this.server.config.getBool('replica-read-only'),
      isReplica: replica,
      primaryAddress: this.primary ? `${this.primary.host}:${this.primary.port}` : '',
      primaryDown: down && !this.server.config.getBool('replica-serve-stale-data'),
    });
  }

  /* ---------------------------------------------------------------- the link */

  private connect(): void {
    if (!this.primary || this.socket) return;
    const { host, port } = this.primary;
    this.state = 'connecting';
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
        this.state = 'connect';
        return;
      }
      s = tls.connect({ host, port, ...from, ...opts });
    } else {
      s = net.connect({ host, port, ...from });
    }
    this.socket = s;
    this.inbuf = Buffer.alloc(0);
    this.lastIo = Date.now();
    s.setNoDelay(true);
    if (this.server.options.unref) s.unref();
    s.on(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
      this.server.log.notice('Non blocking connect for SYNC fired the event.');
      void this.handshake(s).catch((e: unknown) => this.linkError(s, e instanceof Error ? e.message : String(e)));
    });
    s.on('data', (chunk: Buffer) => this.onData(s, chunk));
    s.on('error', (e) => this.linkError(s, `Error condition on socket for SYNC: ${e.message}`));
    s.on('close', () => this.onClose(s));
  }

  private linkError(s: net.Socket, why: string): void {
    if (this.socket !== s) return;
    this.server.log.warning(why);
    s.destroy();
  }

  private onClose(s: net.Socket): void {
    if (this.socket !== s) return;
    this.socket = null;
    this.awaiting = null;
    this.abortTransfer();
    if (this.state === 'connected') {
      this.server.log.notice('Connection with primary lost.');
      this.server.log.notice('Caching the disconnected primary state.');
      this.linkDownSince = Date.now();
    }
    this.state = 'connect';
    this.updateGates();
  }

  /** Closes the link (a new primary, NO ONE, timeouts) without waiting for 'close'. */
  private closeLink(): void {
    const s = this.socket;
    this.socket = null;
    this.awaiting = null;
    this.abortTransfer();
    if (s) s.destroy();
    if (this.state === 'connected') this.linkDownSince = Date.now();
    this.state = 'connect';
  }

  /** CLIENT KILL TYPE master: drops the link; it reconnects and continues. */
  killLink(): number {
    if (!this.socket) return 0;
    this.socket.destroy();
    return 1;
  }

  /** The link's id as CLIENT LIST shows it (0: none). */
  get primaryClientId(): number {
    return this.clientId;
  }

  /**
   * The primary client as CLIENT LIST shows it (Valkey's client with flag M): it exists
   * while the link is up and the stream flows; addr is the primary's end, laddr ours.
   */
  primaryClientView(): ClientView | null {
    const s = this.socket;
    if (this.clientId === 0 || s === null || this.state !== 'connected') return null;
    const input = this.clientInput;
    const output = this.clientOutput;
    return {
      id: this.clientId,
      addr: formatAddr(s.remoteAddress, s.remotePort),
      laddr: formatAddr(s.localAddress, s.localPort),
      fd: socketFd(s),
      name: '',
      createdAt: this.clientCreatedAt,
      lastInteraction: this.lastIo,
      kind: s instanceof tls.TLSSocket ? 'tls' : 'tcp',
      socket: s,
      proto: 2,
      libName: '',
      libVer: '',
      inputBytes: input,
      outputBytes: output,
      queuedWrites: 0,
      replyPeak: () => 0,
    };
  }

  private send(s: net.Socket, args: ReadonlyArray<string | Buffer>): void {
    s.write(encodeCommand(args));
  }

  /** Sends a command of the handshake and waits for its one-line reply. */
  private ask(s: net.Socket, args: string[]): Promise<string> {
    return new Promise((resolve) => {
      this.awaiting = resolve;
      this.send(s, args);
      this.pump(s);
    });
  }

  private async handshake(s: net.Socket): Promise<void> {
    this.state = 'handshake';
    const pong = await this.ask(s, ['PING']);
    // An auth error is expected here when the primary needs a password (Valkey's check).
    if (pong.startsWith('-') && !/^-(NOAUTH|NOPERM|ERR operation not permitted)/.test(pong)) {
      throw new Error(`Error reply to PING from primary: '${pong.slice(1)}'`);
    }
    this.server.log.notice('Primary replied to PING, replication can continue...');
    const pass = this.server.config.getString('primaryauth');
    if (pass !== '') {
      const user = this.server.config.getString('primaryuser');
      const r = await this.ask(s, user !== '' ? ['AUTH', user, pass] : ['AUTH', pass]);
      if (r.startsWith('-')) throw new Error(`Unable to AUTH to PRIMARY: ${r.slice(1)}`);
    }
    // Over TLS the replica announces its TLS port (Valkey's syncWithPrimary).
    const tlsPort = this.server.config.getBool('tls-replication') ? this.server.tlsPort : 0;
    const announcedPort = this.server.config.getInt('replica-announce-port') || tlsPort || this.server.port;
    let r = await this.ask(s, ['REPLCONF', 'listening-port', String(announcedPort)]);
    if (r.startsWith('-')) this.server.log.notice(`(Non critical) Primary does not understand REPLCONF listening-port: ${r.slice(1)}`);
    const ip = this.server.config.getString('replica-announce-ip');
    if (ip !== '') {
      r = await this.ask(s, ['REPLCONF', 'ip-address', ip]);
      if (r.startsWith('-')) this.server.log.notice(`(Non critical) Primary does not understand REPLCONF ip-address: ${r.slice(1)}`);
    }
    r = await this.ask(s, ['REPLCONF', 'capa', 'eof', 'capa', 'psync2']);
    if (r.startsWith('-')) this.server.log.notice(`(Non critical) Primary does not understand REPLCONF capa: ${r.slice(1)}`);
    const cached = this.replid !== null && this.offset >= 0;
    if (cached) this.server.log.notice(`Trying a partial resynchronization (request ${this.replid}:${this.offset + 1}).`);
    else this.server.log.notice('Partial resynchronization not possible (no cached primary)');
    // A primary failing over asks its target to take over (Valkey's PSYNC ... FAILOVER).
    const psync = ['PSYNC', cached ? this.replid! : '?', cached ? String(this.offset + 1) : '-1'];
    const failover = this.server.failover;
    if (failover.inProgress) psync.push('FAILOVER');
    const reply = await this.ask(s, psync);
    if (this.socket !== s) return;
    const words = reply.split(' ');
    if (failover.inProgress) {
      if (words[0] === '+FULLRESYNC' || words[0] === '+CONTINUE') {
        failover.succeeded();
      } else {
        failover.abort('Failover target rejected psync request');
        return;
      }
    }
    if (words[0] === '+FULLRESYNC' && words.length >= 3 && /^[0-9a-f]{40}$/.test(words[1]!) && /^\d+$/.test(words[2]!)) {
      this.server.log.notice(`Full resync from primary: ${words[1]}:${words[2]}`);
      this.beforeSync = this.history();
      // The history we had stays ours until the snapshot is loaded: a transfer that fails
      // leaves the data, and the next PSYNC, as they were (Valkey keeps its cached primary).
      this.fullSync = { replid: words[1]!, offset: Number(words[2]) };
      this.state = 'sync';
      this.startTransfer();
      this.pump(s);
      return;
    }
    if (words[0] === '+CONTINUE') {
      const newId = words[1];
      if (newId !== undefined && /^[0-9a-f]{40}$/.test(newId) && newId !== this.replid) {
        this.server.log.notice(`Primary replication ID changed to ${newId}`);
        this.replid = newId;
      }
      // The history goes on for our own replicas too; a new ID (a failover upstream)
      // becomes ours, the old one our second, and our replicas reconnect to learn it.
      if (this.native.replContinuePrimary(this.replid!, this.offset)) this.dropReplicas();
      this.server.log.notice('Successful partial resynchronization with primary.');
      this.server.log.notice('PRIMARY <-> REPLICA sync: Primary accepted a Partial Resynchronization.');
      this.readOffset = this.offset;
      this.linkUp();
      this.pump(s);
      return;
    }
    if (/^-(NOMASTERLINK|LOADING)/.test(reply)) {
      this.server.log.notice(`Primary is currently unable to PSYNC but should be in the future: ${reply.slice(1)}`);
      s.destroy();
      return;
    }
    throw new Error(`Unexpected reply to PSYNC from primary: ${reply}`);
  }

  /** The snapshot is about to arrive; its header says how (see openTransfer). */
  private startTransfer(): void {
    this.transfer = { fd: -1, tempPath: '', socketLoad: false, throttled: false, left: -2, mark: null, held: Buffer.alloc(0), total: 0, read: 0, lastIo: Date.now() };
  }

  /**
   * Valkey's useDisklessLoad: `swapdb` and `flush-before-load` always load from the
   * socket, `on-empty-db` when there is no key, `disabled` never.
   */
  private useDisklessLoad(): boolean {
    const mode = this.server.config.getString('repl-diskless-load');
    if (mode === 'swapdb' || mode === 'flush-before-load') return true;
    return mode === 'on-empty-db' && this.native.dbTotalKeys() === 0;
  }

  /** The header was read: the snapshot goes to a temporary file next to the dump, or to the loader. */
  private openTransfer(s: net.Socket, t: Transfer): void {
    const log = this.server.log;
    if (this.useDisklessLoad()) {
      t.socketLoad = true;
      log.notice(t.mark ? 'PRIMARY <-> REPLICA sync: receiving streamed RDB from primary with EOF to parser' : `PRIMARY <-> REPLICA sync: receiving ${t.left} bytes from primary to parser`);
      void this.loadFromSocket(s, t);
      return;
    }
    t.tempPath = path.join(this.server.dataDir(), `temp-${Date.now()}.${process.pid}.rdb`);
    t.fd = fs.openSync(t.tempPath, 'w');
    log.notice(t.mark ? 'PRIMARY <-> REPLICA sync: receiving streamed RDB from primary with EOF to disk' : `PRIMARY <-> REPLICA sync: receiving ${t.left} bytes from primary to disk`);
  }

  private abortTransfer(): void {
    const t = this.transfer;
    if (!t) return;
    this.transfer = null;
    // A load from the socket reads a short snapshot and fails (see loadFromSocket).
    if (t.socketLoad) {
      this.native.endLoadInput();
      return;
    }
    if (t.fd < 0) return;
    try {
      fs.closeSync(t.fd);
      fs.unlinkSync(t.tempPath);
    } catch {
      // already gone
    }
  }

  private onData(s: net.Socket, chunk: Buffer): void {
    if (this.socket !== s) return;
    this.lastIo = Date.now();
    this.server.stats.totalNetReplInputBytes += chunk.length;
    this.server.stats.totalReadsProcessed++;
    this.inbuf = this.inbuf.length === 0 ? chunk : Buffer.concat([this.inbuf, chunk]);
    this.pump(s);
  }

  /** Consumes what arrived according to the state of the link. */
  private pump(s: net.Socket): void {
    try {
      if (this.awaiting) {
        // A primary that delays the snapshot (repl-diskless-sync-delay) keeps the link
        // alive with bare newlines before its PSYNC reply: skipped, as Valkey's replica does.
        let start = 0;
        while (start < this.inbuf.length && this.inbuf[start] === 0x0a) start++;
        if (start > 0) this.inbuf = this.inbuf.subarray(start);
        const nl = this.inbuf.indexOf('\r\n');
        if (nl < 0) return;
        const line = this.inbuf.subarray(0, nl).toString('latin1');
        this.inbuf = this.inbuf.subarray(nl + 2);
        const k = this.awaiting;
        this.awaiting = null;
        k(line);
        return;
      }
      if (this.transfer) this.receiveSnapshot(s);
      else if (this.state === 'connected') this.applyStream(s);
    } catch (e) {
      this.linkError(s, e instanceof Error ? e.message : String(e));
    }
  }

  /** Writes the snapshot bytes to the temporary file; at its end, loads it. */
  private receiveSnapshot(s: net.Socket): void {
    const t = this.transfer!;
    t.lastIo = Date.now();
    if (t.left === -2) {
      // Newlines keep the link alive while the primary prepares the snapshot.
      let i = 0;
      while (i < this.inbuf.length && this.inbuf[i] === 0x0a) i++;
      this.inbuf = this.inbuf.subarray(i);
      const nl = this.inbuf.indexOf('\r\n');
      if (nl < 0) return;
      const header = this.inbuf.subarray(0, nl).toString('latin1');
      this.inbuf = this.inbuf.subarray(nl + 2);
      if (header.startsWith('-')) throw new Error(`PRIMARY aborted replication with an error: ${header.slice(1)}`);
      if (!header.startsWith('$')) throw new Error(`Bad protocol from PRIMARY, the first byte is not '$' (we received '${header}'), are you sure the host and port are right?`);
      if (header.startsWith('$EOF:') && header.length === 5 + MARK_LEN) {
        t.mark = Buffer.from(header.slice(5), 'latin1');
        t.left = -1;
      } else if (/^\$\d+$/.test(header)) {
        t.left = Number(header.slice(1));
        t.total = t.left;
      } else {
        throw new Error(`Bad protocol from PRIMARY: '${header}'`);
      }
      this.openTransfer(s, t);
    }
    let rest: Buffer | null = null;
    if (t.mark) {
      const buf = t.held.length === 0 ? this.inbuf : Buffer.concat([t.held, this.inbuf]);
      const at = buf.indexOf(t.mark);
      if (at >= 0) {
        this.write(t, buf.subarray(0, at));
        rest = buf.subarray(at + MARK_LEN);
      } else {
        const keep = Math.min(MARK_LEN, buf.length);
        this.write(t, buf.subarray(0, buf.length - keep));
        t.held = Buffer.from(buf.subarray(buf.length - keep));
      }
    } else {
      const n = Math.min(t.left, this.inbuf.length);
      this.write(t, this.inbuf.subarray(0, n));
      t.left -= n;
      if (t.left === 0) rest = this.inbuf.subarray(n);
    }
    this.inbuf = Buffer.alloc(0);
    if (rest === null) {
      if (t.socketLoad && !t.throttled && this.native.loadInputQueued() > LOAD_QUEUE_MAX) {
        t.throttled = true;
        s.pause();
      }
      return;
    }
    this.afterSnapshot = rest.length > 0 ? [Buffer.from(rest)] : [];
    if (t.socketLoad) {
      // The loader reads to the end; the stream after it waits in the socket meanwhile.
      this.native.endLoadInput();
      this.transfer = null;
      s.pause();
      return;
    }
    fs.fsyncSync(t.fd);
    fs.closeSync(t.fd);
    this.transfer = null;
    void this.loadSnapshot(s, t);
  }

  private write(t: Transfer, bytes: Buffer): void {
    t.read += bytes.length;
    if (t.socketLoad) {
      this.native.feedLoad(bytes);
      return;
    }
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(t.fd, bytes, off, bytes.length - off);
  }

  /**
   * Loads the snapshot as it arrives (Valkey's replicaLoadPrimaryRDBFromSocket): the
   * loader thread builds the new data beside the old. `swapdb` keeps the old data until
   * the load succeeded (and serves it meanwhile when the primary's history is the one we
   * had: async_loading), the other modes empty it first. A failed load (a short read
   * when the link is lost, a corrupt stream) ends the link; the next attempt starts over.
   */
  private async loadFromSocket(s: net.Socket, t: Transfer): Promise<void> {
    const log = this.server.log;
    const swap = this.server.config.getString('repl-diskless-load') === 'swapdb';
    const next = this.fullSync;
    const asyncLoading = swap && next !== null && next.replid === this.replid;
    // A snapshot of the old data would only cost copy-on-write now.
    if (this.server.rdb.childKind() !== null) this.native.killChild();
    if (!swap) {
      // A new history: our replicas must sync again; the old data goes first.
      this.dropReplicas();
      log.notice('PRIMARY <-> REPLICA sync: Flushing old data');
      this.native.replEmptyForSync(this.server.config.getBool('replica-lazy-flush'));
      this.fullSync = null;
      this.replid = null;
      this.offset = -1;
    }
    log.notice('PRIMARY <-> REPLICA sync: Loading DB in memory');
    const hint = t.mark ? 0 : Math.floor(t.total / 8);
    this.native.startStreamLoad(this.server.config.getInt('key-load-delay'), loadingEventsInterval(this.server), hint, asyncLoading);
    this.server.rdb.loading = !asyncLoading;
    const throttle = setInterval(() => {
      if (this.transfer !== t) return;
      // Waiting for the loader is not a silent primary.
      t.lastIo = Date.now();
      if (t.throttled && this.native.loadInputQueued() <= LOAD_QUEUE_MAX / 2) {
        t.throttled = false;
        s.resume();
      }
    }, 5);
    let r: LoadReport;
    this.loadRunning = true;
    try {
      r = await pollLoad(this.server, !asyncLoading);
    } catch {
      // The loader's own lines (rdbReportError's) are the core's.
      log.warning('Failed trying to load the PRIMARY synchronization DB from socket, check server logs.');
      if (swap) {
        log.notice('PRIMARY <-> REPLICA sync: Discarding temporary DB in background');
      } else {
        log.notice('PRIMARY <-> REPLICA sync: Discarding the half-loaded data');
        this.native.replEmptyForSync(this.server.config.getBool('replica-lazy-flush'));
      }
      if (this.transfer === t) this.abortTransfer();
      if (this.socket === s) s.destroy();
      return;
    } finally {
      clearInterval(throttle);
      this.server.rdb.loading = false;
      this.loadRunning = false;
    }
    if (swap) {
      this.dropReplicas();
      log.notice('PRIMARY <-> REPLICA sync: Swapping active DB with loaded DB');
      log.notice('PRIMARY <-> REPLICA sync: Discarding old DB in background');
      this.fullSync = null;
    }
    this.loaded(r, next);
    if (this.socket !== s) return;
    this.linkUpAfterSync(s);
  }

  /** A full sync's snapshot is in place: its history becomes ours. */
  private loaded(r: LoadReport, next: { replid: string; offset: number } | null): void {
    this.streamDbAfterLoad = r.replStreamDb ?? null;
    // "Done loading RDB, ..." and INFO's rdb_last_load_keys_* are the core's.
    if (next !== null) {
      this.replid = next.replid;
      this.offset = next.offset;
      this.readOffset = next.offset;
      this.fsynced.reset();
      // The primary's history is now ours: our replicas will share its ID and offsets.
      this.native.replAdoptPrimary(next.replid, next.offset);
    }
  }

  /** The snapshot replaces the dump file and the data (readSyncBulkPayload, disk load). */
  private async loadSnapshot(s: net.Socket, t: Transfer): Promise<void> {
    const log = this.server.log;
    // A new history: our replicas must sync again (Valkey's replicationAttachToNewPrimary).
    this.dropReplicas();
    log.notice('PRIMARY <-> REPLICA sync: Flushing old data');
    // A snapshot of the old data would rename over the file we are about to load.
    if (this.server.rdb.childKind() !== null) this.native.killChild();
    const target = this.server.rdb.rdbPath();
    try {
      fs.renameSync(t.tempPath, target);
    } catch (e) {
      log.warning(`Failed trying to rename the temp DB into ${path.basename(target)} in PRIMARY <-> REPLICA synchronization: ${e instanceof Error ? e.message : String(e)}`);
      fs.rmSync(t.tempPath, { force: true });
      s.destroy();
      return;
    }
    // The old data goes before the primary's loads; `replica-lazy-flush yes` frees it on a
    // background thread (INFO lazyfreed_objects), as Valkey's emptyData with EMPTYDB_ASYNC.
    this.native.replEmptyForSync(this.server.config.getBool('replica-lazy-flush'));
    log.notice('PRIMARY <-> REPLICA sync: Loading DB in memory');
    // The data is replaced: the history we had is gone whatever the load's outcome.
    const next = this.fullSync;
    this.fullSync = null;
    this.replid = null;
    this.offset = -1;
    // While loading, the stream is buffered by the socket (reads paused).
    s.pause();
    this.server.rdb.loading = true;
    this.native.startReplicaLoad(target, this.server.config.getInt('key-load-delay'), loadingEventsInterval(this.server));
    this.loadRunning = true;
    try {
      this.loaded(await waitForLoad(this.server), next);
    } catch (e) {
      log.warning('Failed trying to load the PRIMARY synchronization DB from disk, check server logs.');
      s.destroy();
      return;
    } finally {
      this.server.rdb.loading = false;
      this.loadRunning = false;
    }
    // rdb-del-sync-files: a replica without persistence keeps no copy of the primary's data.
    if (this.server.config.getBool('rdb-del-sync-files') && persistenceDisabled(this.server)) {
      log.notice('Removing the RDB file obtained from the primary. This replica has persistence disabled');
      fs.rm(target, { force: true }, () => undefined);
    }
    if (this.socket !== s) return;
    this.linkUpAfterSync(s);
  }

  /** After a full sync's load: the primary client, the AOF, the stream that waited. */
  private linkUpAfterSync(s: net.Socket): void {
    this.server.log.notice('PRIMARY <-> REPLICA sync: Finished with success');
    if (this.clientId !== 0) this.native.removeClient(this.clientId);
    this.clientId = 0;
    // The replica's own AOF starts again from the new data (restartAOFAfterSYNC). The
    // rewrite's base holds the whole synced offset: once it is installed, FACK reaches that
    // offset whatever appendfsync says (Valkey's fsynced_reploff_pending at the rewrite).
    if (this.server.aof.enabled) {
      this.markApplied();
      this.server.aof.rewriteCommand();
    }
    this.linkUp();
    this.inbuf = Buffer.concat([...this.afterSnapshot, this.inbuf]);
    this.afterSnapshot = [];
    s.resume();
    this.pump(s);
  }

  /** The link is up: the primary client exists, ACKs flow. */
  private linkUp(): void {
    if (this.clientId === 0) {
      this.clientId = this.native.allocateClientId();
      this.native.addPrimaryClient(this.clientId);
      this.clientCreatedAt = Date.now();
      this.clientInput = 0;
      this.clientOutput = 0;
    }
    // The stream continues in the database the snapshot says (Valkey's primary client
    // is created in rsi.repl_stream_db); not part of the stream, so not counted.
    const db = this.streamDbAfterLoad;
    this.streamDbAfterLoad = null;
    if (db !== null && db > 0) this.run(encodeCommand(['SELECT', String(db)]));
    this.state = 'connected';
    this.linkDownSince = 0;
    this.lastIo = Date.now();
    this.updateGates();
    if (this.socket) this.sendAck(this.socket);
  }

  /** Sends the ACK to the primary (counted as output, as Valkey counts its primary client's replies). */
  private sendAck(s: net.Socket): void {
    const ack = this.ack();
    this.server.stats.totalNetOutputBytes += ack.length;
    this.server.stats.totalWritesProcessed++;
    if (this.clientId !== 0) this.clientOutput += ack.length;
    s.write(ack);
  }

  /** `REPLCONF ACK <offset>`, with FACK when the AOF is on. */
  private ack(): Buffer {
    return ackCommand(this.offset, this.fsynced.fack(this.offset, this.native.aofSyncMarks()));
  }

  /** The stream up to the current offset was applied: remember where the AOF ends. */
  private markApplied(): void {
    if (this.server.aof.enabled) this.fsynced.mark(this.offset, this.native.aofSyncMarks());
  }

  /* ---------------------------------------------------------------- the stream */

  /** Runs the complete commands received; GETACK is answered with the offset. */
  private applyStream(s: net.Socket): void {
    const cmds = scanCommands(this.inbuf);
    if (cmds.length === 0) return;
    let from = 0;
    let runFrom = 0;
    for (const c of cmds) {
      if (c.getack) {
        this.run(this.inbuf.subarray(runFrom, from));
        this.offset += from - runFrom;
        this.markApplied();
        this.sendAck(s);
        this.offset += c.end - from;
        runFrom = c.end;
      }
      from = c.end;
    }
    this.run(this.inbuf.subarray(runFrom, from));
    this.offset += from - runFrom;
    this.clientInput += from;
    this.markApplied();
    this.readOffset = this.offset;
    // What was applied goes on, unchanged, to our own replicas (chained replication).
    this.native.replFeedUpstream(this.inbuf.subarray(0, from));
    if (this.native.hasDeliveries()) this.server.dataPath.deliver();
    this.inbuf = this.inbuf.subarray(from);
  }

  /** Feeds complete commands to the core as the primary client; replies are dropped. */
  private run(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const core = this.server.core;
    const dp = this.server.dataPath;
    let res = core.feed(this.clientId, bytes);
    let woken = false;
    for (;;) {
      if (res.flushedAll) this.server.rdb.afterFlushAll();
      if (res.deliver) dp.deliver();
      woken ||= res.woken;
      if (res.step !== Step.Host) break;
      const argv = core.takeHost();
      // No write command needs the host; anything else from a primary is refused.
      this.server.log.warning(`The primary sent '${argv[0]?.toString('latin1') ?? '?'}', which a replica does not run`);
      res = core.resume(this.clientId, encode(error('ERR not run on a replica'), 2));
    }
    if (woken) dp.serveWoken();
    this.server.aof.scheduleFlush();
    // An error reply to the primary under propagation-error-behavior panic(-on-replicas).
    const panic = core.native.takePanicRequest();
    if (panic !== null && panic !== undefined) this.server.panic(panic);
  }

  /* ---------------------------------------------------------------- cron */

  /** Once a second: connect, time out a silent primary, send REPLCONF ACK. */
  private cron(): void {
    if (!this.primary) return;
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second === this.lastAckSecond) return;
    this.lastAckSecond = second;
    const timeoutMs = this.server.config.getInt('repl-timeout') * 1000;
    if (this.socket && this.state !== 'connected' && this.transfer === null && this.state !== 'sync' && now - this.lastIo > timeoutMs) {
      this.linkError(this.socket, 'Timeout connecting to the PRIMARY...');
    } else if (this.transfer && now - this.transfer.lastIo > timeoutMs) {
      this.linkError(this.socket!, 'Timeout receiving bulk data from PRIMARY... If the problem persists try to set the \'repl-timeout\' parameter in valkey.conf to a larger value.');
    } else if (this.state === 'connected' && this.socket && now - this.lastIo > timeoutMs) {
      this.linkError(this.socket, 'PRIMARY timeout: no data nor PING received...');
    }
    // A load that outlived its link finishes (and is installed or dropped) before the next
    // sync starts one of its own.
    if (!this.socket && this.state === 'connect' && !this.loadRunning) this.connect();
    if (this.state === 'connected' && this.socket) this.sendAck(this.socket);
  }

  /* ---------------------------------------------------------------- ROLE and INFO */

  /** ROLE as a replica: slave, host, port, link state, offset. */
  roleReply(): Reply {
    const p = this.primary!;
    return array([bulk('slave'), bulk(p.host), int(p.port), bulk(this.state), int(this.state === 'connected' ? this.offset : -1)]);
  }

  /**
   * The replica's replication ID and offset for INFO's master_replid/master_repl_offset. While
   * a full sync transfers and loads, those of before it (Valkey takes the primary's only once
   * the data is loaded), so that no one takes the replica as caught up too early.
   */
  history(): { replid: string | null; offset: number } {
    if (this.state === 'sync' && this.beforeSync !== null) return this.beforeSync;
    return { replid: this.replid, offset: Math.max(0, this.offset) };
  }

  /** INFO replication's replica fields, with Valkey's names. */
  infoFields(): Array<[string, string | number]> {
    const p = this.primary!;
    const now = Date.now();
    const up = this.state === 'connected';
    const out: Array<[string, string | number]> = [
      ['role', 'slave'],
      ['master_host', p.host],
      ['master_port', p.port],
      ['master_link_status', up ? 'up' : 'down'],
      ['master_last_io_seconds_ago', up ? Math.floor((now - this.lastIo) / 1000) : -1],
      ['master_sync_in_progress', this.state === 'sync' ? 1 : 0],
      ['slave_read_repl_offset', Math.max(0, this.readOffset)],
      ['slave_repl_offset', Math.max(0, this.offset)],
    ];
    const t = this.transfer;
    if (this.state === 'sync' && t) {
      out.push(
        ['master_sync_total_bytes', t.mark ? -1 : t.total],
        ['master_sync_read_bytes', t.read],
        ['master_sync_left_bytes', t.mark ? -1 : Math.max(0, t.left)],
        ['master_sync_perc', t.mark || t.total <= 0 ? '0.00' : ((t.read / t.total) * 100).toFixed(2)],
        ['master_sync_last_io_seconds_ago', Math.floor((now - t.lastIo) / 1000)],
      );
    }
    if (!up) out.push(['master_link_down_since_seconds', this.linkDownSince === 0 ? -1 : Math.floor((now - this.linkDownSince) / 1000)]);
    out.push(
      ['slave_priority', this.server.config.getInt('replica-priority')],
      ['slave_read_only', this.server.config.getBool('replica-read-only') ? 1 : 0],
      ['replica_announced', this.server.config.getBool('replica-announced') ? 1 : 0],
    );
    return out;
  }
}
