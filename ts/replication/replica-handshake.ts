// The replica's handshake with its primary (Valkey's syncWithPrimary): PING, AUTH with
// primaryauth/primaryuser, REPLCONF listening-port / ip-address / capa eof psync2, then
// PSYNC with the cached history (`PSYNC <replid> <offset+1>`, or `? -1` without one; with
// FAILOVER when this server's FAILOVER hands its role over). Each command waits for its
// one-line reply; `+FULLRESYNC` starts the snapshot transfer (replica-transfer.ts),
// `+CONTINUE` the stream (replica-stream.ts).
import type * as net from 'node:net';

import { LinkPart } from './replica-state';

export class Handshake extends LinkPart {
  /**
   * Hands the line that arrived to the command of the handshake awaiting it. False when
   * none awaits (the bytes are the snapshot's or the stream's).
   */
  answer(): boolean {
    const st = this.st;
    if (!st.awaiting) return false;
    // A primary that delays the snapshot (repl-diskless-sync-delay) keeps the link
    // alive with bare newlines before its PSYNC reply: skipped, as Valkey's replica does.
    let start = 0;
    while (start < st.inbuf.length && st.inbuf[start] === 0x0a) start++;
    if (start > 0) st.inbuf = st.inbuf.subarray(start);
    const nl = st.inbuf.indexOf('\r\n');
    if (nl < 0) return true;
    const line = st.inbuf.subarray(0, nl).toString('latin1');
    st.inbuf = st.inbuf.subarray(nl + 2);
    const k = st.awaiting;
    st.awaiting = null;
    k(line);
    return true;
  }

  private send(s: net.Socket, args: ReadonlyArray<string | Buffer>): void {
    s.write(encodeCommand(args));
  }

  /** Sends a command of the handshake and waits for its one-line reply. */
  private ask(s: net.Socket, args: string[]): Promise<string> {
    return new Promise((resolve) => {
      this.st.awaiting = resolve;
      this.send(s, args);
      this.link.pump(s);
    });
  }

  /** The handshake on a connected socket; throws on a reply that ends the link. */
  async run(s: net.Socket): Promise<void> {
    this.st.state = 'handshake';
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
    const cached = this.st.replid !== null && this.st.offset >= 0;
    if (cached) this.server.log.notice(`Trying a partial resynchronization (request ${this.st.replid}:${this.st.offset + 1}).`);
    else this.server.log.notice('Partial resynchronization not possible (no cached primary)');
    // A primary failing over asks its target to take over (Valkey's PSYNC ... FAILOVER).
    const psync = ['PSYNC', cached ? this.st.replid! : '?', cached ? String(this.st.offset + 1) : '-1'];
    const failover = this.server.failover;
    if (failover.inProgress) psync.push('FAILOVER');
    const reply = await this.ask(s, psync);
    if (this.st.socket !== s) return;
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
      this.st.beforeSync = this.st.history();
      // The history we had stays ours until the snapshot is loaded: a transfer that fails
      // leaves the data, and the next PSYNC, as they were (Valkey keeps its cached primary).
      this.st.fullSync = { replid: words[1]!, offset: Number(words[2]) };
      this.st.state = 'sync';
      this.link.receiver.start();
      this.link.pump(s);
      return;
    }
    if (words[0] === '+CONTINUE') {
      const newId = words[1];
      if (newId !== undefined && /^[0-9a-f]{40}$/.test(newId) && newId !== this.st.replid) {
        this.server.log.notice(`Primary replication ID changed to ${newId}`);
        this.st.replid = newId;
      }
      // The history goes on for our own replicas too; a new ID (a failover upstream)
      // becomes ours, the old one our second, and our replicas reconnect to learn it.
      if (this.native.replContinuePrimary(this.st.replid!, this.st.offset)) this.link.dropReplicas();
      this.server.log.notice('Successful partial resynchronization with primary.');
      this.server.log.notice('PRIMARY <-> REPLICA sync: Primary accepted a Partial Resynchronization.');
      this.st.readOffset = this.st.offset;
      this.link.stream.linkUp();
      this.link.pump(s);
      return;
    }
    if (/^-(NOMASTERLINK|LOADING)/.test(reply)) {
      this.server.log.notice(`Primary is currently unable to PSYNC but should be in the future: ${reply.slice(1)}`);
      s.destroy();
      return;
    }
    throw new Error(`Unexpected reply to PSYNC from primary: ${reply}`);
  }
}

/** A command as a RESP multibulk. */
function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}
