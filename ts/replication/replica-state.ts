// The replica's replication state (Valkey's server.primary / cached primary and repl_state):
// which primary, where the link is (ROLE's connect..connected), the primary's history
// (replication ID and offset, kept across reconnects for PSYNC), the transfer in progress,
// and the primary client's traffic. The link's parts (replica.ts, replica-handshake.ts,
// replica-transfer.ts, replica-stream.ts) change it; this module only reads it back, for
// ROLE, INFO replication, CLIENT LIST and the snapshots this replica makes.
import type * as net from 'node:net';
import * as tls from 'node:tls';

import { formatAddr, socketFd, type ClientView } from '../net/connection';
import type { ReplSaveInfo } from '../native/host-types';
import { array, bulk, int, type Reply } from '../resp/encode';
import type { Server } from '../server';
import type { ReplicaLink } from './replica';
import type { Transfer } from './replica-transfer';

/** Valkey's replication states for a replica, as ROLE names them. */
export type LinkState = 'connect' | 'connecting' | 'handshake' | 'sync' | 'connected';

export class ReplicaState {
  /** The primary (REPLICAOF host port), or null for a primary. */
  primary: { host: string; port: number } | null = null;
  state: LinkState = 'connect';
  socket: net.Socket | null = null;
  /** Received and not yet consumed (handshake replies, the stream's partial command). */
  inbuf: Buffer = Buffer.alloc(0);
  /** Handshake replies are awaited one at a time. */
  awaiting: ((line: string) => void) | null = null;
  transfer: Transfer | null = null;
  /** The primary's replication ID and the bytes of its stream processed (kept across
   * reconnects for PSYNC; null/-1 before the first full sync). */
  replid: string | null = null;
  /** The bytes of the primary's stream processed (-1: none); kept by the core, where
   * the stream is applied. Setting it starts a new history (FACK's marks start over). */
  get offset(): number {
    return this.server.core.native.replicaOffset();
  }
  set offset(o: number) {
    this.server.core.native.setReplicaOffset(o);
  }
  /** INFO's replication ID and offset while a full sync runs: those before it. */
  beforeSync: { replid: string | null; offset: number } | null = null;
  /** The history a running full sync brings (`+FULLRESYNC <replid> <offset>`). */
  fullSync: { replid: string; offset: number } | null = null;
  /** Bytes of the stream received (`slave_read_repl_offset`). */
  readOffset = -1;
  /** The core client that runs the primary's commands (0: none). */
  clientId = 0;
  /** That client's start and traffic (CLIENT LIST age, tot-net-in, tot-net-out): it lives
   * across reconnects that continue the stream, as Valkey's cached primary client. */
  clientCreatedAt = 0;
  clientInput = 0;
  clientOutput = 0;
  lastIo = 0;
  linkDownSince = 0;
  /** A full sync's load runs (from the socket or the file). */
  loadRunning = false;
  /** The stream that arrived with the end of the snapshot, applied after loading. */
  afterSnapshot: Buffer[] = [];
  /** The database the primary's stream is in after the loaded snapshot (its
   * `repl-stream-db` AUX field), selected by the primary client once it exists. */
  streamDbAfterLoad: number | null = null;

  constructor(private readonly server: Server) {}

  /**
   * Where this replica is in its primary's stream, for the snapshots it makes (Valkey's
   * rdbPopulateSaveInfo for a replica with a primary client, connected or cached): the
   * database the stream is in (its own replicas' full syncs continue there), the
   * primary's replication ID and the offset. Restarted from such a file, the replica
   * continues with a partial resynchronization (see restoreFromRdb).
   */
  saveInfo(): ReplSaveInfo | null {
    if (this.primary === null || this.replid === null || this.offset < 0 || this.clientId === 0) return null;
    const db = this.server.core.native.clientState(this.clientId)?.db;
    if (db === undefined) return null;
    return { streamDb: db, replId: this.replid, replOffset: this.offset };
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

/** A part of the link (handshake, transfer, stream): it reaches the shared state, the server and the core. */
export abstract class LinkPart {
  constructor(protected readonly link: ReplicaLink) {}

  protected get st(): ReplicaState {
    return this.link.st;
  }

  protected get server(): Server {
    return this.link.server;
  }

  protected get native(): Server['core']['native'] {
    return this.link.server.core.native;
  }
}
