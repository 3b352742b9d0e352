// The per-connection data path: each socket read goes to the core in one call; the
// core's replies are written in one corked batch; host commands run in between (a
// promise parks the connection until its reply is ready); clients woken by another
// client's command, and pub/sub deliveries, are written right after the command that
// produced them. Key eviction over maxmemory runs in time-boxed passes between reads.
//
// No Buffer per read and none per reply on the hot path: every socket reads into one
// shared buffer (Node's `onread`, see readinto.ts: a read is handed to the core before the
// next one can land), in one call that takes no Buffer either (`feedRead`, bound to the
// buffers once). A plain TCP or unix socket with nothing queued gets its replies from the
// core in that same call, with one send(2) (forkv-napi's fastpath.rs); otherwise the core
// copies them into one reused reply buffer, which an idle plain socket gets with one
// send(2) (Connection.write), bypassing Node's stream machinery. Everything else takes
// Node's stream (backpressure, 'drain', errors): what the kernel did not take, the
// replies of a socket that holds output or is corked around host commands, replies held
// for the AOF (copied first, as the buffer is reused), and TLS sockets, whose idle writes
// go to the stream uncopied (if it keeps part of the buffer, the data path takes a new one).
import * as net from 'node:net';

import { criticalLine, Step, type Core, type FeedResult } from '../native/core';
import { encode, error, type Reply } from '../resp/encode';
import { runHostCommand } from '../commands';
import { clientLine } from '../commands/client-line';
import { Connection, socketFd } from './connection';
import { PROTECTED_MODE_ERROR, type ConnKind } from './listeners';
import { LoadGate } from './load-gate';
import { readInto } from './readinto';
import { TlsBridge, type TlsPeer } from './tls-bridge';
import type { Server } from '../server';

/** Bytes of one socket read (libuv reads up to this much per call). */
const READ_BUFFER_BYTES = 64 * 1024;
/** Replies of one read up to this size go through the reused buffer; longer ones get a Buffer. */
const REPLY_BUFFER_BYTES = 64 * 1024;

/** Moves bytes between client sockets and the core. */
export class DataPath {
  /** Deadline timers of blocked clients, by client id. */
  private readonly blockTimers = new Map<number, NodeJS.Timeout>();
  private servingWoken = false;
  /** A pass of key eviction is due on the next turn of the event loop (see `evictKeys`). */
  private evictionScheduled = false;
  /** Every socket reads into this buffer; each read is consumed before the next lands. */
  private readonly readBuf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  /** The core copies a read's replies here; replaced when a socket keeps it. */
  private replyBuf = Buffer.allocUnsafeSlow(REPLY_BUFFER_BYTES);

  /** Client input waits here between a running load's event points. */
  readonly loadGate = new LoadGate((conn, input) => {
    this.server.loopTurns.enter();
    this.feed(conn, input);
  });

  constructor(private readonly server: Server) {}

  /**
   * A new client socket: limits, protected mode, then registration with the core. A TLS
   * client comes through the TLS bridge: `peer` holds its addresses, `head` the bytes it
   * sent with the bridge's preamble.
   */
  onConnection(socket: net.Socket, kind: ConnKind, peer: TlsPeer | null = null, head: Buffer | null = null): void {
    if (this.server.isStopping) {
      socket.destroy();
      return;
    }
    if (this.server.options.unref) socket.unref();
    const conn = new Connection(this.server.core.native.allocateClientId(), socket, kind, kind === 'unix' ? this.server.listening.unixPath : null, peer);
    this.server.stats.totalConnections++;
    if (this.server.clients.size >= this.server.config.getInt('maxclients')) {
      this.refuse(socket, '-ERR max number of clients reached\r\n');
      return;
    }
    if (this.server.listening.protectedModeRefuses(conn)) {
      this.refuse(socket, `-${PROTECTED_MODE_ERROR}\r\n`);
      return;
    }
    this.server.core.native.addClient(conn.id, ...this.clientInfo(conn));
    this.register(conn, head);
  }

  /**
   * Answers a connection that is not let in with its error line and closes it. The peer
   * may reset the connection meanwhile (a client that gives up at once): the socket's
   * error is expected then, and must not reach the process as an unhandled one.
   */
  private refuse(socket: net.Socket, line: string): void {
    this.server.stats.rejectedConnections++;
    socket.on('error', () => socket.destroy());
    socket.resume(); // accepted paused: read (and drop) to the peer's EOF so the socket closes
    socket.end(line);
  }

  /**
   * After a busy script: takes over the connections it accepted (forkv-server's
   * busy_accept): the core registered them and may hold their unread input; each
   * descriptor becomes a socket of ours. Refused ones (answered and closed by the core)
   * only count. Clients whose HELLO or RESET ran meanwhile get their protocol and name
   * from the core.
   */
  afterBusyScript(): void {
    for (const a of this.server.core.native.takeBusyAccepted()) {
      this.server.stats.totalConnections++;
      if (a.refused) {
        this.server.stats.rejectedConnections++;
        continue;
      }
      const kind: ConnKind = a.tls ? 'tls' : a.unix ? 'unix' : 'tcp';
      // pauseOnCreate: not reading yet, as the listeners' pauseOnConnect (readInto starts it).
      const opts: net.SocketConstructorOpts & { pauseOnCreate: boolean } = { fd: a.fd, readable: true, writable: true, pauseOnCreate: true };
      const socket = new net.Socket(opts);
      if (this.server.isStopping) {
        this.server.core.native.removeClient(a.id);
        socket.destroy();
        continue;
      }
      if (this.server.options.unref) socket.unref();
      if (!a.tls) {
        this.adopt(a.id, socket, kind, null, null);
        continue;
      }
      // A TLS client: its addresses are in the bridge's preamble, which the script may
      // have read only in part.
      void TlsBridge.finishPreamble(socket, a.preamble).then((got) => {
        if (got === null) {
          this.server.core.native.removeClient(a.id);
          socket.destroy();
          return;
        }
        this.adopt(a.id, socket, kind, got.peer, got.head);
      });
    }
    // HELLO and RESET run from inside a busy script changed the core's copy (of an
    // adopted connection too).
    for (const id of this.server.core.native.takeBusyClientChanges()) {
      const conn = this.server.clients.get(id);
      const st = this.server.core.native.clientProtoAndName(id);
      if (conn && st) {
        conn.proto = st.proto;
        conn.name = st.name;
      }
    }
  }

  /** Serves a connection a busy script accepted (the core knows it already). */
  private adopt(id: number, socket: net.Socket, kind: ConnKind, peer: TlsPeer | null, head: Buffer | null): void {
    const conn = new Connection(id, socket, kind, kind === 'unix' ? this.server.listening.unixPath : null, peer);
    this.server.core.native.setClientInfo(conn.id, ...this.clientInfo(conn));
    this.register(conn, head);
  }

  /** What the core keeps of a new client: DEBUG/MODULE allowed, its address, unix or not. */
  private clientInfo(conn: Connection): [boolean, boolean, string, boolean] {
    const debug = this.server.config.getEnum('enable-debug-command');
    const modules = this.server.config.getEnum('enable-module-command');
    return [debug === 'yes' || (debug === 'local' && conn.isLocal), modules === 'yes' || (modules === 'local' && conn.isLocal), conn.addr, conn.kind === 'unix'];
  }

  /**
   * Serves a client the core knows: keepalive, direct writes, reads. `head`: bytes of the
   * client read before (with a TLS bridge preamble), run first.
   */
  private register(conn: Connection, head: Buffer | null = null): void {
    const { socket, kind } = conn;
    const keepalive = this.server.config.getInt('tcp-keepalive');
    // A TLS client's socket is the bridge's (unix): the worker keeps its TCP connection.
    if (keepalive > 0 && kind === 'tcp') socket.setKeepAlive(true, keepalive * 1000);
    this.server.clients.set(conn.id, conn);
    // A busy script serves every client directly (see forkv-server's busy_io): a TLS
    // client through its bridge socket, whose plaintext the TLS worker forwards.
    const fd = socketFd(socket);
    if (fd >= 0) this.server.core.native.setClientFd(conn.id, fd);
    // Replies go to the kernel directly while nothing is queued.
    conn.directFd = fd;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose(conn));
    if (head !== null && head.length > 0) this.onData(conn, head);
    // TCP and unix sockets read into the shared buffer; a TLS client's bridge socket read
    // its preamble through the stream already, and keeps 'data' events.
    if (kind === 'tls' || !readInto(socket, this.readBuf, (n) => this.onRead(conn, n))) {
      socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
      socket.resume();
    }
  }

  /** `n` bytes of `conn` in the shared read buffer. */
  private onRead(conn: Connection, n: number): void {
    this.server.loopTurns.enter();
    conn.lastInteraction = Date.now();
    conn.inputBytes += n;
    this.server.stats.totalReadsProcessed++;
    if (this.loadGate.holding) {
      this.loadGate.hold(conn, this.readBuf.subarray(0, n));
      return;
    }
    this.drive(conn, this.boundCore().feedRead(conn.id, n, this.directFd(conn)));
  }

  /** The core, with the current reply buffer bound for its bound-buffer calls (`feedRead` ...). */
  private boundCore(): Core {
    const core = this.server.core;
    if (core.boundReplyBuffer !== this.replyBuf) core.bindIo(this.readBuf, this.replyBuf);
    return core;
  }

  /** Continues `conn` after a host command whose reply is `reply` (corked: no direct send). */
  private resume(conn: Connection, reply: Reply): FeedResult {
    return this.boundCore().resumeRead(conn.id, encode(reply, conn.proto), -1);
  }

  /** A woken client's replies and pipelined input. */
  private wake(conn: Connection): FeedResult {
    return this.boundCore().wakeRead(conn.id, this.directFd(conn));
  }

  /**
   * The socket the core may send `conn`'s replies to itself (see forkv-napi's
   * fastpath.rs): an idle plain socket whose replies nothing holds back, as
   * `emitReply` would write them at once; -1 otherwise.
   */
  private directFd(conn: Connection): number {
    if (conn.isReplica || !conn.idleForDirectWrite()) return -1;
    return this.server.aof.holds(conn) ? -1 : conn.directFd;
  }

  /** A read as its own Buffer (Nodes where `readInto` is not possible). */
  private onData(conn: Connection, chunk: Buffer): void {
    this.server.loopTurns.enter();
    conn.lastInteraction = Date.now();
    conn.inputBytes += chunk.length;
    this.server.stats.totalReadsProcessed++;
    if (this.loadGate.holding) this.loadGate.hold(conn, chunk);
    else this.feed(conn, chunk);
  }

  /** Runs `input` of `conn` (a read, or what the load gate held). */
  private feed(conn: Connection, input: Buffer): void {
    this.drive(conn, this.server.core.feedInto(conn.id, input, input.length, this.replyBuf));
  }

  /**
   * Writes the core's replies and runs host commands until the core needs more input.
   * Replies produced for one read are corked into one write.
   */
  private drive(conn: Connection, first: FeedResult): void {
    // Replies the core sent itself (feedRead): only counted here.
    if (first.direct > 0) this.server.clientOutput.wroteDirect(conn, first.direct);
    // Like Valkey, FLUSHALL resets persistence before its reply goes out.
    if (first.flushedAll) this.server.rdb.afterFlushAll();
    // Fast path: the whole read was answered by the core.
    if (first.step === Step.Done) {
      if (this.replicaReplied(conn, first.reply)) return;
      this.emitReply(conn, first.reply);
      if (first.deliver) this.deliver();
      if (first.woken) this.serveWoken();
      this.afterClientTurn(conn, first.memory);
      return;
    }
    // Host commands interleave with core replies: cork so the batch still leaves in
    // one write.
    let res = first;
    // The client's memory in the core after the last call of this turn.
    let memory = first.memory;
    let woken = false;
    conn.socket.cork();
    try {
      for (;;) {
        if (this.replicaReplied(conn, res.reply)) break;
        this.emitReply(conn, res.reply);
        if (res.deliver) this.deliver();
        woken ||= res.woken;
        if (res.step === Step.Done) break;
        if (res.step === Step.Close) {
          if (this.server.core.native.clientDetached(conn.id)) this.server.clientOutput.detach(conn);
          else this.server.clientOutput.closeAfterWrite(conn);
          break;
        }
        if (res.step === Step.Blocked) {
          this.armBlockTimer(conn);
          break;
        }
        if (res.step === Step.Paused) {
          this.continueLater(conn);
          break;
        }
        const argv = this.server.core.takeHost();
        const out = this.hostReply(conn, argv);
        if (out instanceof Promise) {
          conn.busy = true;
          void out.then((reply) => {
            conn.busy = false;
            this.server.loopTurns.enter();
            if (!conn.closed) this.drive(conn, this.resume(conn, reply));
          });
          break;
        }
        res = this.resume(conn, out);
        memory = res.memory;
        if (res.flushedAll) this.server.rdb.afterFlushAll();
      }
    } finally {
      conn.socket.uncork();
      // Writes made while corked looked pending: the uncork may have flushed them (a
      // busy script leaves clients with pending output alone, see forkv-server busy_io).
      if (!conn.closed) this.server.output.wrote(conn);
    }
    // This client's commands served clients blocked on keys (or CLIENT UNBLOCK ended a
    // wait): answer them now, as Valkey does right after the command.
    if (woken) this.serveWoken();
    this.afterClientTurn(conn, memory);
  }

  /**
   * After a client's input was processed: its memory is measured again and clients are
   * evicted if the total is over `maxmemory-clients` (Valkey's beforeNextClient). Output
   * delivered to other clients was measured as it was written (see `deliver`).
   * `coreMemory`: the core's figure for the client, from the last feed result (no
   * second call into the core).
   */
  private afterClientTurn(conn: Connection, coreMemory: number): void {
    this.server.clientMemory.update(conn, coreMemory);
    this.server.clientMemory.evict();
    // A replica's input may be the REPLCONF ACK a FAILOVER waits for.
    if (conn.isReplica) this.server.failover.afterReplicaInput();
  }

  /**
   * Writes the replies of clients woken by the core (served by another client's push,
   * timed out, or CLIENT UNBLOCKed), then runs the commands they pipelined while
   * blocked. Clients woken meanwhile are taken by the same loop, in order.
   */
  serveWoken(): void {
    if (this.servingWoken) return;
    this.servingWoken = true;
    try {
      // Connections a busy script accepted first: some of them may be among the woken.
      this.afterBusyScript();
      for (let ids = this.server.core.native.takeWoken(); ids.length > 0; ids = this.server.core.native.takeWoken()) {
        for (const id of ids) {
          this.clearBlockTimer(id);
          const conn = this.server.clients.get(id);
          if (conn && !conn.closed) this.drive(conn, this.wake(conn));
        }
      }
    } finally {
      this.servingWoken = false;
    }
  }

  /**
   * A client whose pipelined replies outgrew what one batch may hold: the rest of its
   * input runs in a later turn of the event loop, so that other clients are served and
   * its memory is checked in between. Its socket keeps being read (the core buffers that
   * input), as Valkey keeps reading a client whose replies back up: its output buffer
   * limit and client eviction bound what it may hold.
   */
  private continueLater(conn: Connection): void {
    setImmediate(() => {
      if (!conn.closed) this.drive(conn, this.wake(conn));
    });
  }

  /** A blocked client with a timeout gets the null reply when its deadline passes. */
  private armBlockTimer(conn: Connection): void {
    this.clearBlockTimer(conn.id);
    const deadline = this.server.core.native.blockDeadline(conn.id);
    if (deadline === null || deadline === undefined || deadline === 0) return;
    const timer = setTimeout(() => {
      this.blockTimers.delete(conn.id);
      if (this.server.core.native.unblockClient(conn.id, false)) this.serveWoken();
    }, Math.max(0, deadline - Date.now()));
    timer.unref();
    this.blockTimers.set(conn.id, timer);
  }

  clearBlockTimer(id: number): void {
    const t = this.blockTimers.get(id);
    if (t) {
      clearTimeout(t);
      this.blockTimers.delete(id);
    }
  }

  /**
   * Evicts keys while the memory is over maxmemory: one time-boxed pass now, and while a
   * pass runs out of time, another on the next turn of the event loop (Valkey's eviction
   * time proc), so clients are served in between.
   */
  evictKeys(): void {
    if (this.server.config.getBigInt('maxmemory') === 0n || this.evictionScheduled) return;
    const result = this.server.core.native.evict();
    // Keyspace events of the evicted keys (`evicted`) go out now.
    this.deliver();
    if (result !== 'running') return;
    this.evictionScheduled = true;
    setImmediate(() => {
      this.evictionScheduled = false;
      this.evictKeys();
    });
  }

  /** Writes the bytes the core queued for other clients (pub/sub, replication stream). */
  deliver(): void {
    this.boundCore().takeDeliveries(
      (id, data, memory) => {
        const conn = this.server.clients.get(id);
        if (conn && !conn.closed) {
          this.emitReply(conn, data);
          this.server.clientMemory.update(conn, memory);
        }
      },
      () => this.boundCore(),
    );
  }

  /**
   * A reply to a command one of our replicas sent on its replication link (Valkey's
   * _prepareClientToWrite): the link carries the stream only, so the reply is dropped and
   * the replica disconnected, with Valkey's warning. True when that happened.
   */
  private replicaReplied(conn: Connection, reply: Buffer): boolean {
    if (!conn.isReplica || reply.length === 0 || conn.closed) return false;
    const cmd = this.server.core.native.clientState(conn.id)?.lastCmd || '<unknown>';
    // REPLCONF ACK is answered with the stream buffered since the fork when it starts it
    // (a diskless sync's first ACK): that is the link's own traffic, not a reply.
    if (cmd === 'replconf') return false;
    this.server.log.warning(`Replica generated a reply to command '${cmd}', disconnecting it: ${clientLine(this.server, conn)}`);
    // An error reply is also logged as Valkey's afterErrorReply does for a replica.
    const critical = criticalLine('primary', 'replica', reply, cmd);
    if (critical !== null) this.server.log.warning(critical);
    this.server.clientOutput.closeAfterWrite(conn);
    // Freed at once (freeClientAsync): what was pending for it is not sent.
    conn.socket.destroy();
    return true;
  }

  private emitReply(conn: Connection, reply: Buffer): void {
    if (reply.length === 0) return;
    const reused = reply.buffer === this.replyBuf.buffer;
    // Under appendfsync always the AOF holds replies until their writes are fsynced.
    if (this.server.aof.emit(conn, reused && this.server.aof.holds(conn) ? Buffer.from(reply) : reply)) return;
    if (this.server.clientOutput.write(conn, reply, reused)) this.replyBuf = Buffer.allocUnsafeSlow(REPLY_BUFFER_BYTES);
  }

  /** Runs a host command; a thrown exception becomes an error reply, never a crash. */
  private hostReply(conn: Connection, argv: Buffer[]): Reply | Promise<Reply> {
    try {
      const r = runHostCommand(this.server, conn, argv);
      if (r instanceof Promise) {
        return r.catch((e: unknown) => this.internalError(argv, e));
      }
      return r;
    } catch (e) {
      return this.internalError(argv, e);
    }
  }

  private internalError(argv: Buffer[], e: unknown): Reply {
    const name = argv[0]?.toString('latin1') ?? '?';
    this.server.log.warning(`Internal error running '${name}': ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return error(`ERR internal error running '${name}'`);
  }

  private onClose(conn: Connection): void {
    conn.closed = true;
    this.server.output.forget(conn);
    this.server.clientMemory.forget(conn);
    this.server.clients.delete(conn.id);
    this.clearBlockTimer(conn.id);
    this.server.core.native.removeClient(conn.id);
  }
}
