// The TLS worker: a Node worker thread that terminates TLS for the client port and forwards
// each TLS client's plaintext to the main thread over the TLS bridge (see tls-bridge.ts).
//
// Why a thread: a script runs on the main thread, inside one of its callbacks, and keeps
// Node's loop from running until it ends; a busy script still serves plain sockets from its
// hook (forkv-server's busy_io reads them directly), but a TLS client's bytes would sit in
// OpenSSL, which only the JS thread that owns the socket can drive. Here, on a loop of its
// own, the handshake and the decryption go on during a script, and the main thread (and the
// busy hook) read a TLS client like any plain unix socket.
//
// Each bridged connection starts with a one-line preamble, written before any byte of the
// client: `<peer ip> <peer port> <local ip> <local port>\n` (the addresses CLIENT LIST and
// protected mode need, which the bridge socket cannot tell).
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';

import { clientAuthOptions, TlsSessionCache } from './tls';
import type { FromTlsWorker, ToTlsWorker, TlsWorkerData } from './tls-bridge';

const port = parentPort;
if (port === null) throw new Error('forkv: tls-worker runs as a worker thread');
const { bridgePath } = workerData as TlsWorkerData;

let secureOptions: tls.SecureContextOptions = {};
let authMode = 'yes';
let sessionCaching = false;
const sessionCache = new TlsSessionCache(0, 0);
const servers = new Map<number, tls.Server>();

function post(m: FromTlsWorker): void {
  port?.postMessage(m);
}

/** A TLS listener: tls-auth-clients as last told, sessions in this thread's cache. */
function createServer(maxConnections: number): tls.Server {
  const srv = tls.createServer({ ...secureOptions, noDelay: true, ...clientAuthOptions(authMode) });
  srv.maxConnections = maxConnections;
  // tls.Server hands its requestCert/rejectUnauthorized to every socket it accepts: set
  // them just before, so a CONFIG SET tls-auth-clients applies to the next connection.
  srv.prependListener('connection', () => {
    Object.assign(srv as unknown as { requestCert: boolean; rejectUnauthorized: boolean }, clientAuthOptions(authMode));
  });
  srv.on('secureConnection', (socket: tls.TLSSocket) => {
    // tls-auth-clients optional: no certificate is fine, a certificate that does not
    // verify is not (OpenSSL's SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT).
    if (!socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      post({ type: 'log', text: `Error accepting a client connection: ${String(socket.authorizationError)} (addr=${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0})` });
      socket.destroy();
      return;
    }
    bridge(socket);
  });
  srv.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    post({ type: 'log', text: `Error accepting a client connection: ${err.message} (addr=${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0})` });
  });
  srv.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    if (sessionCaching) sessionCache.store(id, data);
    post({ type: 'sessions', count: sessionCache.count });
    done();
  });
  srv.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
    done(null, sessionCaching ? sessionCache.lookup(id) : null);
  });
  return srv;
}

/** Forwards a TLS client to the main thread: preamble, then plaintext both ways. */
function bridge(client: tls.TLSSocket): void {
  const preamble = `${client.remoteAddress ?? '?'} ${client.remotePort ?? 0} ${client.localAddress ?? '?'} ${client.localPort ?? 0}\n`;
  // The client may already have sent bytes: they wait in the TLS socket until the pipe.
  client.pause();
  const inner = net.connect({ path: bridgePath });
  inner.write(preamble);
  client.pipe(inner);
  inner.pipe(client);
  // Either side ending or failing ends the other (pipe ends on 'end', not on errors).
  const drop = (): void => {
    client.destroy();
    inner.destroy();
  };
  client.on('error', drop);
  inner.on('error', drop);
  client.on('close', () => inner.end());
  inner.on('close', () => client.end());
}

function listen(id: number, host: string, portNo: number, backlog: number, maxConnections: number): void {
  const srv = createServer(maxConnections);
  srv.once('error', (e: NodeJS.ErrnoException) => post({ type: 'listenError', id, code: e.code ?? '', message: e.message }));
  srv.listen({ host, port: portNo, backlog, ipv6Only: host.includes(':') }, () => {
    srv.removeAllListeners('error');
    srv.on('error', () => undefined);
    servers.set(id, srv);
    const bound = srv.address();
    post({ type: 'listening', id, port: bound !== null && typeof bound === 'object' ? bound.port : portNo });
  });
}

port.on('message', (m: ToTlsWorker) => {
  switch (m.type) {
    case 'context':
      secureOptions = m.options;
      sessionCaching = m.sessionCaching;
      sessionCache.clear();
      sessionCache.resize(m.cacheSize, m.cacheTimeoutMs);
      for (const srv of servers.values()) srv.setSecureContext(secureOptions);
      post({ type: 'sessions', count: sessionCache.count });
      break;
    case 'auth':
      authMode = m.mode;
      break;
    case 'listen':
      listen(m.id, m.host, m.port, m.backlog, m.maxConnections);
      break;
    case 'maxConnections':
      for (const srv of servers.values()) srv.maxConnections = m.value;
      break;
    case 'close': {
      // Stops accepting; the connections of that port stay (Valkey's closeListener).
      const srv = servers.get(m.id);
      servers.delete(m.id);
      if (srv) srv.close();
      post({ type: 'closed', id: m.id });
      break;
    }
    case 'stop':
      for (const srv of servers.values()) srv.close();
      servers.clear();
      port.close();
      break;
  }
});
