// The primary's stream as a replica applies it (Valkey's primary client): once the link is
// up (a partial resync, or a full sync's snapshot loaded), the complete commands received
// run as the primary client, whose replies are dropped; the offset counts the bytes of the
// commands processed, and what was applied goes on, unchanged, to this server's own
// replicas. `REPLCONF ACK <offset>` (with FACK when the AOF is on) goes out when the link
// comes up, every second (replica.ts's cron) and for each `REPLCONF GETACK`.
import type * as net from 'node:net';

import { Step } from '../native/core';
import { encode, error } from '../resp/encode';
import { LinkPart } from './replica-state';
import { ackCommand, encodeCommand, scanCommands } from './stream';

export class PrimaryStream extends LinkPart {
  /** After a full sync's load: the primary client, the AOF, the stream that waited. */
  linkUpAfterSync(s: net.Socket): void {
    this.server.log.notice('PRIMARY <-> REPLICA sync: Finished with success');
    if (this.st.clientId !== 0) this.native.removeClient(this.st.clientId);
    this.st.clientId = 0;
    // The replica's own AOF starts again from the new data (restartAOFAfterSYNC). The
    // rewrite's base holds the whole synced offset: once it is installed, FACK reaches that
    // offset whatever appendfsync says (Valkey's fsynced_reploff_pending at the rewrite).
    if (this.server.aof.enabled) {
      this.markApplied();
      this.server.aof.rewriteCommand();
    }
    this.linkUp();
    this.st.inbuf = Buffer.concat([...this.st.afterSnapshot, this.st.inbuf]);
    this.st.afterSnapshot = [];
    s.resume();
    this.link.pump(s);
  }

  /** The link is up: the primary client exists, ACKs flow. */
  linkUp(): void {
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
    if (db !== null && db > 0) this.run(encodeCommand(['SELECT', String(db)]));
    this.st.state = 'connected';
    this.st.linkDownSince = 0;
    this.st.lastIo = Date.now();
    this.link.updateGates();
    if (this.st.socket) this.sendAck(this.st.socket);
  }

  /** Sends the ACK to the primary (counted as output, as Valkey counts its primary client's replies). */
  sendAck(s: net.Socket): void {
    const ack = this.ack();
    this.server.stats.totalNetOutputBytes += ack.length;
    this.server.stats.totalWritesProcessed++;
    if (this.st.clientId !== 0) this.st.clientOutput += ack.length;
    s.write(ack);
  }

  /** `REPLCONF ACK <offset>`, with FACK when the AOF is on. */
  private ack(): Buffer {
    return ackCommand(this.st.offset, this.st.fsynced.fack(this.st.offset, this.native.aofSyncMarks()));
  }

  /** The stream up to the current offset was applied: remember where the AOF ends. */
  private markApplied(): void {
    if (this.server.aof.enabled) this.st.fsynced.mark(this.st.offset, this.native.aofSyncMarks());
  }

  /** Runs the complete commands received; GETACK is answered with the offset. */
  apply(s: net.Socket): void {
    const cmds = scanCommands(this.st.inbuf);
    if (cmds.length === 0) return;
    let from = 0;
    let runFrom = 0;
    for (const c of cmds) {
      if (c.getack) {
        this.run(this.st.inbuf.subarray(runFrom, from));
        this.st.offset += from - runFrom;
        this.markApplied();
        this.sendAck(s);
        this.st.offset += c.end - from;
        runFrom = c.end;
      }
      from = c.end;
    }
    this.run(this.st.inbuf.subarray(runFrom, from));
    this.st.offset += from - runFrom;
    this.st.clientInput += from;
    this.markApplied();
    this.st.readOffset = this.st.offset;
    // What was applied goes on, unchanged, to our own replicas (chained replication).
    this.native.replFeedUpstream(this.st.inbuf.subarray(0, from));
    if (this.native.hasDeliveries()) this.server.dataPath.deliver();
    this.st.inbuf = this.st.inbuf.subarray(from);
  }

  /** Feeds complete commands to the core as the primary client; replies are dropped. */
  private run(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const core = this.server.core;
    const dp = this.server.dataPath;
    let res = core.feed(this.st.clientId, bytes);
    let woken = false;
    for (;;) {
      if (res.flushedAll) this.server.rdb.afterFlushAll();
      if (res.deliver) dp.deliver();
      woken ||= res.woken;
      if (res.step !== Step.Host) break;
      const argv = core.takeHost();
      // No write command needs the host; anything else from a primary is refused.
      this.server.log.warning(`The primary sent '${argv[0]?.toString('latin1') ?? '?'}', which a replica does not run`);
      res = core.resume(this.st.clientId, encode(error('ERR not run on a replica'), 2));
    }
    if (woken) dp.serveWoken();
    this.server.aof.scheduleFlush();
    // An error reply to the primary under propagation-error-behavior panic(-on-replicas).
    const panic = core.native.takePanicRequest();
    if (panic !== null && panic !== undefined) this.server.panic(panic);
  }
}
