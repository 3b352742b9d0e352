// One client connection: its socket, the host-side client state (name, library info,
// timestamps) and the write path with backpressure.
import type * as net from 'node:net';

import { sendNow } from '../native/core';
import type { ConnKind } from './listeners';
import type { TlsPeer } from './tls-bridge';

/** Valkey's REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME: a client's reply peak restarts every 5 s. */
export const REPLY_PEAK_RESET_DEFAULT_MS = 5000;

/** Host-side state of a client (the core keeps db, protocol and parse state). */
export class Connection {
  readonly createdAt = Date.now();
  lastInteraction = Date.now();
  name = '';
  libName = '';
  libVer = '';
  /** RESP version, mirrored from the core so host replies use the same protocol. */
  proto = 2;
  closed = false;
  /** Output bytes written to the socket (INFO total_net_output_bytes, CLIENT LIST tot-net-out). */
  outputBytes = 0;
  /** Input bytes read from the socket (CLIENT LIST tot-net-in). */
  inputBytes = 0;
  /** Set while a host command's reply is pending (async host work). */
  busy = false;
  /** Since when (unix seconds) the output is over its soft limit; 0: it is not. */
  softLimitSince = 0;
  /** The client is a replica (SYNC/PSYNC): its output is class `replica` and not counted for eviction. */
  isReplica = false;
  /**
   * The socket's descriptor for direct writes (`write`): plain TCP and unix sockets whose
   * descriptor Node exposes (TLS clients' bridge sockets too); -1 for sockets that keep
   * Node's write path.
   */
  directFd = -1;
  /** Writes Node's stream still holds for the kernel (CLIENT LIST `oll`). */
  queuedWrites = 0;
  /** The largest reply batch written in the current peak window (CLIENT LIST `rbp`). */
  private replyPeakBytes = 0;
  /** When the peak window began (Valkey resets its reply-buffer peak every 5 s by default). */
  private replyPeakSince = Date.now();

  /**
   * @param id its client id (the core's counter: `allocateClientId`)
   * @param kind how the client connected (tcp, tls or the unix socket)
   * @param unixPath the unix socket's path, for a unix client
   * @param peer a TLS client's addresses (its socket is the TLS bridge's, see tls-bridge.ts)
   */
  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    readonly kind: ConnKind = 'tcp',
    readonly unixPath: string | null = null,
    readonly peer: TlsPeer | null = null,
  ) {}

  /** "ip:port" of the peer, as CLIENT LIST prints it; "<socket path>:0" for a unix client. */
  get addr(): string {
    if (this.kind === 'unix') return `${this.unixPath ?? ''}:0`;
    if (this.peer !== null) return formatAddr(this.peer.remoteAddress, this.peer.remotePort);
    return formatAddr(this.socket.remoteAddress, this.socket.remotePort);
  }

  /** "ip:port" of our end ("<socket path>:0" for a unix client). */
  get laddr(): string {
    if (this.kind === 'unix') return `${this.unixPath ?? ''}:0`;
    if (this.peer !== null) return formatAddr(this.peer.localAddress, this.peer.localPort);
    return formatAddr(this.socket.localAddress, this.socket.localPort);
  }

  /** The socket's file descriptor, when Node exposes it (a TLS client's is its bridge socket's). */
  get fd(): number {
    return socketFd(this.socket);
  }

  /** True when the peer is on a loopback address, or on the unix socket (Valkey's connIsLocal). */
  get isLocal(): boolean {
    if (this.kind === 'unix') return true;
    const a = (this.peer !== null ? this.peer.remoteAddress : this.socket.remoteAddress) ?? '';
    return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');
  }

  /**
   * Writes bytes (what the kernel does not take waits in Node's stream queue).
   *
   * When the socket has a direct descriptor (`directFd`) and nothing queued, the bytes go
   * to the kernel in this call with one `send(2)`, bypassing Node's stream; what
   * the kernel does not take, and everything written while the socket holds output, takes
   * Node's stream path, which keeps the order and reports a broken connection.
   *
   * `reused`: `data` is a view of a buffer the caller fills again after this call. The
   * stream path then copies it, unless it goes to the kernel in this call (one syscall,
   * no copy). Returns true when the socket still holds `data` after all (the kernel took
   * only part of it and the rest waits in libuv's queue): the caller must then stop
   * reusing that buffer.
   */
  write(data: Buffer, reused = false): boolean {
    if (this.closed || data.length === 0) return false;
    this.outputBytes += data.length;
    const s = this.socket;
    const idle = s.writableLength === 0 && s.writableCorked === 0 && !s.connecting;
    if (idle && this.directFd >= 0 && isLive(s)) {
      const sent = sendNow(this.directFd, data);
      if (sent === data.length) return false;
      // The kernel's buffer is full (or the connection broke: the stream write reports it).
      const rest = sent > 0 ? data.subarray(sent) : data;
      this.streamWrite(reused ? Buffer.from(rest) : rest);
      return false;
    }
    const direct = !reused || idle;
    this.streamWrite(direct ? data : Buffer.from(data));
    return reused && direct && s.writableLength > 0;
  }

  /**
   * True when bytes may go to `directFd` now, as `write` would send them: a direct
   * descriptor, nothing queued in Node's stream, not corked, connected and open.
   */
  idleForDirectWrite(): boolean {
    const s = this.socket;
    return this.directFd >= 0 && !this.closed && s.writableLength === 0 && s.writableCorked === 0 && !s.connecting && isLive(s);
  }

  /**
   * The largest batch of replies (what one read's commands produced) written in the
   * current window of `resetMs` (negative: the window never ends), as Valkey's
   * reply-buffer peak, which its cron resets every `reply_buffer_peak_reset_time` (DEBUG
   * REPLYBUFFER PEAK-RESET-TIME; 5 s by default).
   */
  replyPeak(now: number, resetMs: number): number {
    if (resetMs >= 0 && now - this.replyPeakSince >= resetMs) {
      this.replyPeakBytes = 0;
      this.replyPeakSince = now;
    }
    return this.replyPeakBytes;
  }

  /** Notes a batch of `n` reply bytes for the peak (see `replyPeak`). */
  notePeak(n: number, resetMs: number): void {
    if (n > this.replyPeak(Date.now(), resetMs)) this.replyPeakBytes = n;
  }

  /**
   * Node's stream write. Reading goes on while output waits, as in Valkey: what bounds a
   * client that does not read its replies is its output buffer limit and client eviction
   * (`maxmemory-clients`), not a pause of its input.
   */
  private streamWrite(data: Buffer): void {
    this.queuedWrites++;
    const taken = (): void => {
      this.queuedWrites--;
    };
    this.socket.write(data, taken);
  }
}

/**
 * What CLIENT LIST, CLIENT KILL and the log lines know of a client: one of our
 * connections, or a replica's link to its primary (Valkey's primary client, see
 * replication/replica.ts).
 */
export type ClientView = Pick<
  Connection,
  'id' | 'addr' | 'laddr' | 'fd' | 'name' | 'createdAt' | 'lastInteraction' | 'kind' | 'socket' | 'proto' | 'libName' | 'libVer'
  | 'inputBytes' | 'outputBytes' | 'queuedWrites' | 'replyPeak'
>;

/** A socket's file descriptor, when Node exposes it; -1 otherwise. */
export function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

/** Not destroyed or ended: the descriptor may be closed after that, or be another socket's. */
function isLive(s: net.Socket): boolean {
  return !s.destroyed && !s.writableEnded;
}

/** "ip:port" as CLIENT LIST prints an address (IPv4-mapped IPv6 as plain IPv4). */
export function formatAddr(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '?:0';
  const host = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return `${host}:${port ?? 0}`;
}
