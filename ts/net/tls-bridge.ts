// The main thread's side of TLS: the TLS worker (tls-worker.ts) owns the TLS listeners and
// terminates TLS on a loop of its own; each TLS client reaches the main thread as a
// connection on the bridge, a private unix socket (in a directory only this user can enter),
// after a one-line preamble with the client's addresses. The main thread then serves a TLS
// client as a plain socket (direct writes, reads into the shared buffer), and a busy script
// serves it from its hook like any other (forkv-server's busy_accept/busy_io: the bridge's
// listening descriptor is registered with them).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { Worker } from 'node:worker_threads';

/** What the worker gets at start. */
export interface TlsWorkerData {
  bridgePath: string;
}

/** Messages to the worker. */
export type ToTlsWorker =
  | { type: 'context'; options: tls.SecureContextOptions; sessionCaching: boolean; cacheSize: number; cacheTimeoutMs: number }
  | { type: 'auth'; mode: string }
  | { type: 'listen'; id: number; host: string; port: number; backlog: number; maxConnections: number }
  | { type: 'maxConnections'; value: number }
  | { type: 'close'; id: number }
  | { type: 'stop' };

/** Messages from the worker. */
export type FromTlsWorker =
  | { type: 'listening'; id: number; port: number }
  | { type: 'listenError'; id: number; code: string; message: string }
  | { type: 'closed'; id: number }
  | { type: 'sessions'; count: number }
  | { type: 'log'; text: string };

/** A TLS client's addresses, from its preamble. */
export interface TlsPeer {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** The longest preamble the worker writes (forkv-server's Preamble::MAX). */
const PREAMBLE_MAX = 256;

/** Parses a complete preamble line (without its `\n`); null when it is not one. */
export function parsePreamble(line: string): TlsPeer | null {
  const parts = line.split(' ');
  if (parts.length !== 4) return null;
  const [ra, rp, la, lp] = parts as [string, string, string, string];
  const remotePort = Number(rp);
  const localPort = Number(lp);
  if (!Number.isInteger(remotePort) || !Number.isInteger(localPort)) return null;
  return { remoteAddress: ra, remotePort, localAddress: la, localPort };
}

/** A TLS listener the worker holds. */
export interface TlsListenerHandle {
  readonly id: number;
  readonly port: number;
}

/** The worker and the bridge. */
export class TlsBridge {
  private worker: Worker | null = null;
  private bridgeServer: net.Server | null = null;
  private dir: string | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (port: number) => void; reject: (e: Error) => void }>();
  private readonly closing = new Map<number, () => void>();
  /** Sessions in the worker's TLS session cache, as it last reported. */
  cachedSessions = 0;

  /**
   * @param onClient a bridged TLS client, its preamble read (the socket is paused; bytes of
   *   the client read with the preamble are `head`)
   * @param log the worker's log lines (Valkey logs them at verbose level)
   * @param unref the embedded API's unref: the bridge does not keep the process alive
   */
  constructor(
    private readonly onClient: (socket: net.Socket, peer: TlsPeer, head: Buffer) => void,
    private readonly log: (text: string) => void,
    private readonly unref: boolean,
  ) {}

  /** Set when the server stops: the bridge is no longer offered to the busy accept. */
  stopping = false;

  /** The bridge's listening descriptor (for the busy accept), -1 when none. */
  get listenFd(): number {
    if (this.stopping) return -1;
    const fd = (this.bridgeServer as unknown as { _handle?: { fd?: unknown } | null } | null)?._handle?.fd;
    return typeof fd === 'number' && Number.isInteger(fd) ? fd : -1;
  }

  /** Starts the bridge and the worker (once; later calls return at once). */
  async start(): Promise<void> {
    if (this.worker !== null) return;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkv-tlsbridge-'));
    fs.chmodSync(this.dir, 0o700);
    const bridgePath = path.join(this.dir, 'bridge.sock');
    const srv = net.createServer({ pauseOnConnect: true }, (s) => this.readPreamble(s));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ path: bridgePath, backlog: 511 }, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    if (this.unref) srv.unref();
    this.bridgeServer = srv;
    const data: TlsWorkerData = { bridgePath };
    const worker = new Worker(path.join(__dirname, 'tls-worker.js'), { workerData: data });
    // The listeners it holds do not keep the process alive: the main thread decides.
    worker.unref();
    worker.on('message', (m: FromTlsWorker) => this.onMessage(m));
    worker.on('error', (e) => this.log(`TLS worker error: ${e.message}`));
    this.worker = worker;
    for (const m of this.early.splice(0)) worker.postMessage(m);
  }

  /** Settings told before the worker started, sent to it first. */
  private early: ToTlsWorker[] = [];

  private post(m: ToTlsWorker): void {
    if (this.worker === null) this.early.push(m);
    else this.worker.postMessage(m);
  }

  /** New secure-context options (and session cache settings) for every TLS listener. */
  setContext(options: tls.SecureContextOptions, sessionCaching: boolean, cacheSize: number, cacheTimeoutMs: number): void {
    this.post({ type: 'context', options, sessionCaching, cacheSize, cacheTimeoutMs });
  }

  /** `tls-auth-clients`, applied from the next connection on. */
  setAuthMode(mode: string): void {
    this.post({ type: 'auth', mode });
  }

  /** `maxclients` + the slack the listeners keep (as the other listeners). */
  setMaxConnections(value: number): void {
    this.post({ type: 'maxConnections', value });
  }

  /** Listens on host:port in the worker; rejects with the listen error (its errno code). */
  listen(host: string, port: number, backlog: number, maxConnections: number): Promise<TlsListenerHandle> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: (p) => resolve({ id, port: p }), reject });
      this.post({ type: 'listen', id, host, port, backlog, maxConnections });
    });
  }

  /** Stops a listener (its connections stay); resolves once its port is free. */
  close(handle: TlsListenerHandle): Promise<void> {
    return new Promise((resolve) => {
      this.closing.set(handle.id, resolve);
      this.post({ type: 'close', id: handle.id });
    });
  }

  /** Stops the worker and the bridge (every bridged client closes with the server). */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) {
      worker.postMessage({ type: 'stop' } satisfies ToTlsWorker);
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      // It ends by itself once its connections are gone; not waited for longer than this.
      const timer = setTimeout(() => void worker.terminate(), 1000);
      timer.unref();
      await exited;
      clearTimeout(timer);
    }
    const srv = this.bridgeServer;
    this.bridgeServer = null;
    if (srv !== null) await new Promise<void>((r) => srv.close(() => r()));
    if (this.dir !== null) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private onMessage(m: FromTlsWorker): void {
    switch (m.type) {
      case 'listening': {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.resolve(m.port);
        break;
      }
      case 'listenError': {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.reject(Object.assign(new Error(m.message), { code: m.code }));
        break;
      }
      case 'closed': {
        const done = this.closing.get(m.id);
        this.closing.delete(m.id);
        done?.();
        break;
      }
      case 'sessions':
        this.cachedSessions = m.count;
        break;
      case 'log':
        this.log(m.text);
        break;
    }
  }

  /**
   * Reads a bridged connection's preamble, then hands the client over. A connection whose
   * preamble is not the worker's (too long, malformed) is dropped: only this user can reach
   * the bridge, and the worker always writes one.
   */
  private readPreamble(socket: net.Socket): void {
    let got: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const nl = got.indexOf(0x0a);
      if (nl < 0) {
        if (got.length > PREAMBLE_MAX) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const peer = parsePreamble(got.subarray(0, nl).toString('latin1'));
      if (peer === null) {
        socket.destroy();
        return;
      }
      this.onClient(socket, peer, got.subarray(nl + 1));
    };
    socket.on('error', () => socket.destroy());
    socket.on('data', onData);
    // Accepted paused (pauseOnConnect): a 'data' listener alone does not start it.
    socket.resume();
  }

  /**
   * The rest of a preamble for a client a busy script accepted before the preamble was
   * whole (`partial`: what the script read of it): resolves with the peer and the client's
   * bytes read after it, or null when the connection is not a bridged one.
   */
  static finishPreamble(socket: net.Socket, partial: Buffer): Promise<{ peer: TlsPeer; head: Buffer } | null> {
    return new Promise((resolve) => {
      let got: Buffer = partial;
      const check = (): boolean => {
        const nl = got.indexOf(0x0a);
        if (nl < 0) {
          if (got.length > PREAMBLE_MAX) {
            socket.off('data', onData);
            resolve(null);
            return true;
          }
          return false;
        }
        socket.off('data', onData);
        socket.pause();
        const peer = parsePreamble(got.subarray(0, nl).toString('latin1'));
        resolve(peer === null ? null : { peer, head: got.subarray(nl + 1) });
        return true;
      };
      const onData = (chunk: Buffer): void => {
        got = Buffer.concat([got, chunk]);
        check();
      };
      socket.once('close', () => resolve(null));
      if (!check()) {
        socket.on('data', onData);
        socket.resume();
      }
    });
  }
}
