// Listening sockets, Valkey's three connection types: plain TCP (`port` on every `bind`
// address), TLS (`tls-port` on the same addresses, through Node's tls module, see tls.ts,
// held by the TLS worker thread and bridged to this one, see tls-bridge.ts)
// and the unix socket (`unixsocket`, `unixsocketperm`, `unixsocketgroup`). Binding with Valkey's log lines and
// errors (listenToPort), rebinding when CONFIG SET changes `port`, `tls-port` or `bind`
// (changeListener), and protected mode, the accept-time refusal of non-local clients.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Connection } from './connection';
import { chownToGroup } from './unix-group';
import type { Server } from '../server';
import { TLS_START_ERROR, TLS_UPDATE_ERROR, buildSecureContextOptions } from './tls';
import { TlsBridge, type TlsListenerHandle, type TlsPeer } from './tls-bridge';

/** How a client reached the server (Valkey's connection type names). */
export type ConnKind = 'tcp' | 'unix' | 'tls';

/** The tls-* directives whose change rebuilds the TLS context (Valkey's applyTlsCfg). */
export const TLS_CONTEXT_DIRECTIVES = [
  'tls-cert-file', 'tls-key-file', 'tls-key-file-pass', 'tls-client-cert-file', 'tls-client-key-file',
  'tls-client-key-file-pass', 'tls-dh-params-file', 'tls-ca-cert-file', 'tls-ca-cert-dir', 'tls-protocols',
  'tls-ciphers', 'tls-ciphersuites', 'tls-prefer-server-ciphers', 'tls-session-caching',
  'tls-session-cache-size', 'tls-session-cache-timeout', 'tls-cluster', 'tls-replication',
];

/** The server's listening sockets. */
export class Listeners {
  /** TCP port actually bound (differs from config when port 0 was asked); 0 = none. */
  port = 0;
  /** TLS port actually bound; 0 = none. */
  tlsPort = 0;
  /** Path of the unix socket, when one is open. */
  unixPath: string | null = null;
  /** Addresses the TCP or TLS listeners are bound to. */
  boundAddresses: string[] = [];
  private tcpServers: net.Server[] = [];
  /** The TLS listeners, held by the TLS worker. */
  private tlsServers: TlsListenerHandle[] = [];
  /** The TLS worker and the bridge its clients come through (started with TLS). */
  private readonly tlsBridge: TlsBridge;
  private unixServer: net.Server | null = null;
  /** The current secure-context options (null until TLS is first configured). */
  private tlsOptions: ReturnType<typeof buildSecureContextOptions> = null;
  /** CONFIG SET changed port, tls-port or bind: rebind in applyPendingChanges(). */
  private pending = new Set<'tcp' | 'tls'>();
  /** listenAll() succeeded: later binds are CONFIG SET's. */
  private started = false;

  constructor(
    private readonly server: Server,
    private readonly onSocket: (socket: net.Socket, kind: ConnKind, peer?: TlsPeer, head?: Buffer) => void,
  ) {
    this.tlsBridge = new TlsBridge(
      (socket, peer, head) => this.onSocket(socket, 'tls', peer, head),
      (text) => this.server.log.verbose(text),
      this.server.options.unref === true,
    );
  }

  /** Binds everything configured, in Valkey's order: TCP, unix socket, TLS. */
  async listenAll(): Promise<void> {
    const c = this.server.config;
    const tcpPort = c.getInt('port');
    const tlsPort = c.getInt('tls-port');
    const unixPath = c.getOptionalString('unixsocket');
    const tcpWanted = tcpPort !== 0 || this.server.options.ephemeralPort === true;
    if (!tcpWanted && tlsPort === 0 && unixPath === null) {
      this.server.log.warning('Configured to not listen anywhere, exiting.');
      throw new ListenError('Configured to not listen anywhere, exiting.');
    }
    // TLS is configured before anything listens: a bad certificate stops the start.
    if (tlsPort !== 0 && this.configureTls() !== null) {
      this.server.log.warning(TLS_START_ERROR);
      throw new ListenError(TLS_START_ERROR);
    }
    try {
      if (tcpWanted) await this.bindTcp(tcpPort);
      if (unixPath !== null) await this.bindUnix(unixPath);
      if (tlsPort !== 0) await this.bindTls(tlsPort);
    } catch (e) {
      await this.close();
      throw e;
    }
    this.started = true;
    this.syncBusyAccept();
  }

  /** The "Ready to accept connections <type>" lines, one per connection type listening. */
  readyTypes(): ConnKind[] {
    const out: ConnKind[] = [];
    if (this.tcpServers.length > 0) out.push('tcp');
    if (this.unixServer) out.push('unix');
    if (this.tlsServers.length > 0) out.push('tls');
    return out;
  }

  /** INFO's listener<N> lines (N is Valkey's connection type index: 0 tcp, 1 unix, 2 tls). */
  infoFields(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const binds = this.server.config.getBind().map((b) => `,bind=${b}`).join('');
    if (this.tcpServers.length > 0) out.push(['listener0', `name=tcp${binds},port=${this.port}`]);
    if (this.unixServer && this.unixPath !== null) out.push(['listener1', `name=unix,bind=${this.unixPath}`]);
    if (this.tlsServers.length > 0) out.push(['listener2', `name=tls${binds},port=${this.tlsPort}`]);
    return out;
  }

  /* -------------------------------------------------------------------------------------- */
  /* TCP and TLS                                                                            */
  /* -------------------------------------------------------------------------------------- */

  private async bindTcp(configured: number): Promise<void> {
    const { servers, port, addresses } = await this.bindAll<net.Server>('tcp', configured, async (host, p) => {
      // pauseOnConnect: the data path sets up how a TCP socket reads before it starts reading.
      const srv = await this.listenOne(net.createServer({ noDelay: true, pauseOnConnect: true }, (s) => this.onSocket(s, 'tcp')), host, p);
      const bound = srv.address();
      return { handle: srv, port: bound && typeof bound === 'object' ? bound.port : p };
    }, closeAll);
    this.tcpServers = servers;
    this.port = port;
    this.boundAddresses = addresses;
  }

  private async bindTls(configured: number): Promise<void> {
    await this.tlsBridge.start();
    this.syncBusyAccept();
    const maxConnections = this.server.config.getInt('maxclients') + 32;
    const backlog = this.server.config.getInt('tcp-backlog');
    const { servers, port, addresses } = await this.bindAll<TlsListenerHandle>('tls', configured, async (host, p) => {
      const handle = await this.tlsBridge.listen(host, p, backlog, maxConnections);
      return { handle, port: handle.port };
    }, (hs) => Promise.all(hs.map((h) => this.tlsBridge.close(h))).then(() => undefined));
    this.tlsServers = servers;
    this.tlsPort = port;
    if (this.boundAddresses.length === 0) this.boundAddresses = addresses;
  }

  /**
   * Listens on every `bind` address (Valkey's listenToPort): an address with a leading '-'
   * is optional and skipped when it does not exist here; any other failure closes what was
   * bound and fails with Valkey's log lines.
   */
  private async bindAll<H>(
    kind: 'tcp' | 'tls', configured: number, listen: (host: string, port: number) => Promise<{ handle: H; port: number }>,
    closeBound: (handles: H[]) => Promise<void>,
  ): Promise<{ servers: H[]; port: number; addresses: string[] }> {
    const servers: H[] = [];
    const addresses: string[] = [];
    let port = configured;
    for (const spec of this.server.config.getBind()) {
      const optional = spec.startsWith('-');
      const host = optional ? spec.slice(1) : spec;
      const addr = host === '*' ? '0.0.0.0' : host === '::*' ? '::' : host;
      try {
        const bound = await listen(addr, port);
        port = bound.port;
        servers.push(bound.handle);
        addresses.push(addr);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (optional && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) continue;
        this.server.log.warning(`Warning: Could not create server TCP listening socket ${addr}:${port}: bind: ${describeErrno(err)}`);
        await closeBound(servers);
        // At start the server exits after this line; CONFIG SET answers an error instead.
        if (!this.started) this.server.log.warning(`Failed listening on port ${configured} (${kind}), aborting.`);
        throw new ListenError(`Failed listening on port ${configured} (${kind}), aborting.`);
      }
    }
    if (servers.length === 0) throw new ListenError('Failed listening on any configured address, aborting.');
    return { servers, port, addresses };
  }

  private listenOne(srv: net.Server, host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      srv.maxConnections = this.server.config.getInt('maxclients') + 32;
      if (this.server.options.unref) srv.unref();
      srv.once('error', reject);
      srv.listen({ host, port, backlog: this.server.config.getInt('tcp-backlog'), ipv6Only: host.includes(':') }, () => {
        srv.off('error', reject);
        resolve(srv);
      });
    });
  }

  /**
   * Builds the TLS context from the tls-* directives and puts it in place on every TLS
   * listener (connections already open keep theirs). Returns Valkey's CONFIG SET error
   * text, or null. Valkey rebuilds its whole SSL_CTX, sessions included: so does this.
   */
  configureTls(): string | null {
    const opts = buildSecureContextOptions(this.server.config, (m) => this.server.log.warning(m));
    if (opts === null) return TLS_UPDATE_ERROR;
    this.tlsOptions = opts;
    const c = this.server.config;
    this.tlsBridge.setContext(opts, c.getBool('tls-session-caching'), c.getInt('tls-session-cache-size'), c.getInt('tls-session-cache-timeout') * 1000);
    this.tlsBridge.setAuthMode(c.getEnum('tls-auth-clients'));
    return null;
  }

  /** True once a TLS context exists. */
  get tlsConfigured(): boolean {
    return this.tlsOptions !== null;
  }

  /** Sessions in the server-side TLS session cache. */
  get tlsCachedSessions(): number {
    return this.tlsBridge.cachedSessions;
  }

  /* -------------------------------------------------------------------------------------- */
  /* Unix socket                                                                            */
  /* -------------------------------------------------------------------------------------- */

  /**
   * Listens on the unix socket: a stale file is removed first, then `unixsocketperm` and
   * `unixsocketgroup` applied (Valkey's anetUnixServer order).
   */
  private async bindUnix(file: string): Promise<void> {
    // Valkey unlinks first too ("don't care if this fails"): a socket left by a crash.
    try {
      fs.unlinkSync(file);
    } catch {
      // absent, or not ours to remove: listen() reports the real problem
    }
    // pauseOnConnect: as for TCP, the data path sets up the reads (see bindTcp).
    const srv = net.createServer({ pauseOnConnect: true }, (s) => this.onSocket(s, 'unix'));
    try {
      await new Promise<void>((resolve, reject) => {
        srv.maxConnections = this.server.config.getInt('maxclients') + 32;
        if (this.server.options.unref) srv.unref();
        srv.once('error', reject);
        srv.listen({ path: file, backlog: this.server.config.getInt('tcp-backlog') }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      const perm = this.server.config.getInt('unixsocketperm');
      if (perm !== 0) fs.chmodSync(file, perm);
      const group = this.server.config.getOptionalString('unixsocketgroup');
      const groupError = group === null || group === '' ? null : chownToGroup(file, group);
      if (groupError !== null) throw new UnixGroupError(groupError);
    } catch (e) {
      await closeAll([srv]);
      const text = e instanceof UnixGroupError ? e.message : describeErrno(e as NodeJS.ErrnoException);
      this.server.log.warning(`Failed opening Unix socket: ${text}`);
      throw new ListenError(`Failed opening Unix socket: ${text}`);
    }
    this.unixServer = srv;
    this.unixPath = file;
  }

  /* -------------------------------------------------------------------------------------- */
  /* CONFIG SET port / tls-port / bind                                                      */
  /* -------------------------------------------------------------------------------------- */

  /** Registers the apply hooks; rebinding itself is asynchronous (applyPendingChanges). */
  registerConfigHooks(): void {
    const c = this.server.config;
    for (const name of ['maxclients', 'protected-mode', 'requirepass']) {
      c.onChange(name, () => {
        this.syncBusyAccept();
        return null;
      });
    }
    // Read by the TLS worker at each accept, as Valkey reads it.
    c.onChange('tls-auth-clients', (v) => {
      this.tlsBridge.setAuthMode(v);
      return null;
    });
    c.onChange('maxclients', (v) => {
      this.tlsBridge.setMaxConnections(Number(v) + 32);
      return null;
    });
    c.onChange('port', () => {
      this.pending.add('tcp');
      return null;
    });
    c.onChange('bind', () => {
      this.pending.add('tcp');
      this.pending.add('tls');
      return null;
    });
    c.onChange('tls-port', (v) => {
      // Valkey's applyTLSPort: a first TLS port needs a working context.
      if (v !== '0' && !this.tlsConfigured) {
        const err = this.configureTls();
        if (err !== null) return err;
      }
      this.pending.add('tls');
      return null;
    });
    const reload = (): string | null => (c.getInt('tls-port') !== 0 ? this.configureTls() : null);
    for (const name of TLS_CONTEXT_DIRECTIVES) c.onChange(name, reload);
  }

  /** True when a CONFIG SET left listeners to rebind. */
  get hasPendingChanges(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Rebinds the listeners whose port or addresses changed (Valkey's changeListener: the old
   * sockets close first; port 0 leaves that type closed). Returns Valkey's CONFIG SET error
   * text for the directive at fault, or null.
   */
  async applyPendingChanges(): Promise<string | null> {
    const kinds = this.pending;
    this.pending = new Set();
    const c = this.server.config;
    const sameBind = (): boolean => sameAddresses(this.boundAddresses, c.getBind());
    if (kinds.has('tcp')) {
      const want = c.getInt('port');
      // Under the embedded API port 0 is an ephemeral port, kept while the addresses stay.
      const ephemeral = want === 0 && this.server.options.ephemeralPort === true;
      const open = this.tcpServers.length > 0;
      const portOk = ephemeral ? open : want === (open ? this.port : 0);
      if (!portOk || ((want !== 0 || ephemeral) && !sameBind())) {
        stopListening(this.tcpServers);
        this.tcpServers = [];
        this.port = 0;
        this.syncBusyAccept();
        if (want !== 0 || ephemeral) {
          try {
            await this.bindTcp(want);
            this.syncBusyAccept();
          } catch {
            return 'Unable to listen on this port. Check server logs.';
          }
        }
      }
    }
    if (kinds.has('tls')) {
      const want = c.getInt('tls-port');
      const have = this.tlsServers.length > 0 ? this.tlsPort : 0;
      if (want !== have || (want !== 0 && !sameBind())) {
        await Promise.all(this.tlsServers.map((h) => this.tlsBridge.close(h)));
        this.tlsServers = [];
        this.tlsPort = 0;
        this.syncBusyAccept();
        if (want !== 0) {
          try {
            await this.bindTls(want);
          } catch {
            return 'Unable to listen on this port. Check server logs.';
          }
        }
      }
    }
    if (this.tcpServers.length === 0 && this.tlsServers.length === 0) this.boundAddresses = [];
    this.syncBusyAccept();
    return null;
  }

  /** Valkey's protected mode: no password, not bound to loopback only -> local clients only. */
  protectedModeRefuses(conn: Connection): boolean {
    return this.localOnly() && !conn.isLocal;
  }

  /** Protected mode applies: only local clients are accepted. */
  private localOnly(): boolean {
    if (!this.server.config.getBool('protected-mode') || this.server.config.getString('requirepass') !== '') return false;
    return !this.boundAddresses.every((a) => a === '127.0.0.1' || a === '::1' || a === 'localhost');
  }

  /**
   * Tells the core which listeners a busy script accepts on (plain TCP and unix: Node's
   * loop cannot run during a script) and the accept-time rules it applies there; called
   * whenever the listeners or those rules change.
   */
  syncBusyAccept(): void {
    const native = this.server.core.native;
    const bridgeFd = this.tlsBridge.listenFd;
    native.setBusyListeners(
      this.tcpServers.map(listenFd).filter((fd) => fd >= 0),
      this.unixServer ? [listenFd(this.unixServer)].filter((fd) => fd >= 0) : [],
      bridgeFd >= 0 ? [bridgeFd] : [],
    );
    native.setAcceptPolicy(this.server.config.getInt('maxclients'), this.localOnly(), PROTECTED_MODE_ERROR);
  }

  /** Removes the unix socket file (shutdown; also the embedded API's exit hook). */
  removeUnixSocket(): void {
    if (this.unixPath === null) return;
    this.server.log.notice('Removing the unix socket file.');
    try {
      fs.unlinkSync(this.unixPath);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') this.server.log.warning(`Error removing the unix socket file: ${describeErrno(err)}`);
    }
  }

  /** Stops accepting; the unix socket file is removed. */
  async close(): Promise<void> {
    this.removeUnixSocket();
    const ls: net.Server[] = [...this.tcpServers, ...(this.unixServer ? [this.unixServer] : [])];
    const tlsListeners = this.tlsServers;
    this.tcpServers = [];
    this.tlsServers = [];
    this.unixServer = null;
    this.unixPath = null;
    this.tlsBridge.stopping = true;
    this.syncBusyAccept();
    await Promise.all(tlsListeners.map((h) => this.tlsBridge.close(h)));
    // net.Server.close() calls back once every connection is gone: the server ended the
    // sockets first, and closeAfterWrite's timer destroys one whose peer never reads.
    // The bridge (its TLS clients' sockets) goes last, and the worker with it.
    await Promise.all([closeAll(ls), this.tlsBridge.stop()]);
  }
}

/**
 * Closes listening sockets without waiting for their connections (Valkey's closeListener:
 * clients connected through a port stay connected when the port changes). The port is free
 * once close() returns: libuv closes the descriptor at once.
 */
function stopListening(servers: readonly net.Server[]): void {
  for (const s of servers) s.close();
}

function closeAll(servers: readonly net.Server[]): Promise<void> {
  return Promise.all(servers.map((l) => new Promise<void>((r) => l.close(() => r())))).then(() => undefined);
}

/** The bound addresses against a `bind` list (optional ones may be missing). */
function sameAddresses(bound: readonly string[], binds: readonly string[]): boolean {
  const wanted = binds.map((b) => (b.startsWith('-') ? b.slice(1) : b)).map((h) => (h === '*' ? '0.0.0.0' : h === '::*' ? '::' : h));
  return bound.every((a) => wanted.includes(a)) && binds.filter((b) => !b.startsWith('-')).length <= bound.length;
}

/** Thrown when a configured address cannot be bound. */
export class ListenError extends Error {}

/** `unixsocketgroup` could not be applied (its text is Valkey's, not an errno's). */
class UnixGroupError extends Error {}

function describeErrno(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'Address already in use';
    case 'EACCES':
      return 'Permission denied';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
    case 'ENOENT':
      return 'No such file or directory';
    case 'ENAMETOOLONG':
      return 'File name too long';
    default:
      return err.message;
  }
}

/** Valkey's protected-mode refusal, word for word but for the product name. */
export const PROTECTED_MODE_ERROR =
  "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting from the same host the server is running, however MAKE SURE it's not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/** A listening socket's descriptor (-1 when Node does not expose it). */
function listenFd(srv: net.Server): number {
  const fd = (srv as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) ? fd : -1;
}
