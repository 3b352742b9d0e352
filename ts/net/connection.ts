// One client connection: its socket, the host-side client state (name, library info,
// timestamps) and the write path with backpressure.
import type * as net from 'node:net';

let nextId = 1;

/** Host-side state of a client (the core keeps db, protocol and parse state). */
export class Connection {
  readonly id: number = nextId++;
  readonly createdAt = Date.now();
  lastInteraction = Date.now();
  name = '';
  libName = '';
  libVer = '';
  /** RESP version, mirrored from the core so host replies use the same protocol. */
  proto = 2;
  closed = false;
  /** Output bytes written to the socket (INFO total_net_output_bytes). */
  outputBytes = 0;
  /** Set while a host command's reply is pending (async host work). */
  busy = false;

  constructor(readonly socket: net.Socket) {}

  /** "ip:port" of the peer, as CLIENT LIST prints it. */
  get addr(): string {
    return formatAddr(this.socket.remoteAddress, this.socket.remotePort);
  }

  /** "ip:port" of our end. */
  get laddr(): string {
    return formatAddr(this.socket.localAddress, this.socket.localPort);
  }

  /** The socket's file descriptor, when Node exposes it. */
  get fd(): number {
    const handle = (this.socket as unknown as { _handle?: { fd?: number } })._handle;
    return typeof handle?.fd === 'number' ? handle.fd : -1;
  }

  /** True when the peer is on a loopback address. */
  get isLocal(): boolean {
    const a = this.socket.remoteAddress ?? '';
    return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');
  }

  /** Writes bytes; pauses reading while the kernel buffer is full (backpressure). */
  write(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    this.outputBytes += data.length;
    if (!this.socket.write(data)) {
      this.socket.pause();
      this.socket.once('drain', () => {
        if (!this.closed) this.socket.resume();
      });
    }
  }
}

function formatAddr(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '?:0';
  const host = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return `${host}:${port ?? 0}`;
}
