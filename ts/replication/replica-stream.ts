// The primary's stream as a replica applies it (Valkey's primary client): once the link is
// up (a partial resync, or a full sync's snapshot loaded), each read goes to the core in
// one call (`feedPrimary`, forkv-server's primary_link.rs), which runs the complete
// commands as the primary client, answers `REPLCONF GETACK`, keeps the offset and the FACK
// bookkeeping and passes what it applied on to this server's own replicas. This module
// only does the socket's part: it keeps the half-received command, writes the ACKs and
// counts the traffic. `REPLCONF ACK` also goes out when the link comes up and every second
// (replica.ts's cron).
import type * as net from 'node:net';

import { LinkPart } from './replica-state';

export class PrimaryStream extends LinkPart {
  /** After a full sync's load: the primary client, the AOF, the stream that waited. */
  linkUpAfterSync(s: net.Socket): void {
    this.server.log.notice('PRIMARY <-> REPLICA sync: Finished with success');
    if (this.st.clientId !== 0) this.native.removeClient(this.st.clientId);
    this.st.clientId = 0;
    // The replica's own AOF starts again from the new data (restartAOFAfterSYNC). The
    // rewrite's base holds the whole synced offset: the ACKs carry no FACK until it is
    // installed, then FACK is that offset (Valkey's fsynced_reploff_pending at the
    // rewrite's start); see forkv-server's primary_link.rs.
    if (this.server.aof.enabled) this.server.aof.rewriteCommand();
    this.linkUp(true);
    this.st.inbuf = Buffer.concat([...this.st.afterSnapshot, this.st.inbuf]);
    this.st.afterSnapshot = [];
    s.resume();
    this.link.pump(s);
  }

  /** The link is up: the primary client exists, ACKs flow. `afterSync`: a full sync's snapshot was loaded. */
  linkUp(afterSync = false): void {
    if (this.st.clientId === 0) {
      this.st.clientId = this.native.allocateClientId();
      this.native.addPrimaryClient(this.st.clientId);
      this.st.clientCreatedAt = Date.now();
      this.st.clientInput = 0;
      this.st.clientOutput = 0;
    }
    // The stream continues in the database the snapshot says (Valkey's primary client
    // is created in rsi.repl_stream_db); not part of the stream, so not counted.
    const db = this.st.streamDbAfterLoad;
    this.st.streamDbAfterLoad = null;
    const ack = this.native.primaryLinkUp(db, afterSync);
    this.st.state = 'connected';
    this.st.linkDownSince = 0;
    this.st.lastIo = Date.now();
    this.link.updateGates();
    if (this.st.socket) this.write(this.st.socket, ack);
  }

  /** Sends the ACK to the primary. */
  sendAck(s: net.Socket): void {
    this.write(s, this.native.primaryAck());
  }

  /** Writes ACKs to the primary (counted as output, as Valkey counts its primary client's replies). */
  private write(s: net.Socket, ack: Buffer): void {
    if (ack.length === 0) return;
    this.server.stats.totalNetOutputBytes += ack.length;
    this.server.stats.totalWritesProcessed++;
    if (this.st.clientId !== 0) this.st.clientOutput += ack.length;
    s.write(ack);
  }

  /** Hands what was received to the core; throws on a protocol error (the link drops). */
  apply(s: net.Socket): void {
    if (this.st.inbuf.length === 0) return;
    const core = this.server.core;
    const r = core.feedPrimary(this.st.inbuf);
    // Received counts whether or not it ran (held by a pause, a partial command).
    this.st.readOffset = this.st.offset + this.st.inbuf.length - r.consumed;
    if (r.consumed === 0) return;
    this.write(s, r.acks);
    this.st.clientInput += r.consumed;
    this.st.inbuf = this.st.inbuf.subarray(r.consumed);
    const dp = this.server.dataPath;
    if (r.flushedAll) this.server.rdb.afterFlushAll();
    if (r.deliver || this.native.hasDeliveries()) dp.deliver();
    if (r.woken) dp.serveWoken();
    this.server.aof.scheduleFlush();
    // An error reply to the primary under propagation-error-behavior panic(-on-replicas).
    if (r.panic) {
      const panic = core.native.takePanicRequest();
      if (panic !== null && panic !== undefined) this.server.panic(panic);
    }
  }
}
