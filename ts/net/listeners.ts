// Listening sockets: binding every configured address (Valkey's listenToPort, with its
// log lines and errors), and protected mode, the accept-time refusal of non-local clients.
import * as net from 'node:net';

import type { Connection } from './connection';
import type { Server } from '../server';

/** The server's listening sockets. */
export class Listeners {
  /** Port actually bound (differs from config when port 0 was asked). */
  port = 0;
  /** Addresses actually bound. */
  boundAddresses: string[] = [];
  private netServers: net.Server[] = [];

  constructor(
    private readonly server: Server,
    private readonly onSocket: (socket: net.Socket) => void,
  ) {}

  async listenAll(): Promise<void> {
    const binds = this.server.config.getBind();
    let port = this.server.config.getInt('port');
    if (port === 0 && !this.server.options.ephemeralPort) {
      this.server.log.warning('Configured to not listen anywhere, exiting.');
      throw new ListenError('Configured to not listen anywhere, exiting.');
    }
    for (const spec of binds) {
      const optional = spec.startsWith('-');
      const host = optional ? spec.slice(1) : spec;
      const addrs = host === '*' ? ['0.0.0.0'] : host === '::*' ? ['::'] : [host];
      for (const addr of addrs) {
        try {
          const srv = await this.listenOne(addr, port);
          const bound = srv.address();
          if (bound && typeof bound === 'object') port = bound.port;
          this.netServers.push(srv);
          this.boundAddresses.push(addr);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (optional && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) continue;
          this.server.log.warning(`Warning: Could not create server TCP listening socket ${addr}:${port}: bind: ${describeErrno(err)}`);
          this.server.log.warning(`Failed listening on port ${this.server.config.getInt('port')} (tcp), aborting.`);
          await this.close();
          throw new ListenError(`Failed listening on port ${this.server.config.getInt('port')} (tcp), aborting.`);
        }
      }
    }
    if (this.netServers.length === 0) throw new ListenError('Failed listening on any configured address, aborting.');
    this.port = port;
  }

  private listenOne(host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ noDelay: true }, (s) => this.onSocket(s));
      srv.maxConnections = this.server.config.getInt('maxclients') + 32;
      if (this.server.options.unref) srv.unref();
      srv.once('error', reject);
      srv.listen({ host, port, backlog: this.server.config.getInt('tcp-backlog'), ipv6Only: host.includes(':') }, () => {
        srv.off('error', reject);
        resolve(srv);
      });
    });
  }

  /** Valkey's protected mode: no password, not bound to loopback only -> local clients only. */
  protectedModeRefuses(conn: Connection): boolean {
    if (!this.server.config.getBool('protected-mode') || this.server.config.getString('requirepass') !== '') return false;
    const loopbackOnly = this.boundAddresses.every((a) => a === '127.0.0.1' || a === '::1' || a === 'localhost');
    return !loopbackOnly && !conn.isLocal;
  }

  /** Stops accepting. */
  async close(): Promise<void> {
    const ls = this.netServers;
    this.netServers = [];
    // net.Server.close() calls back once every connection is gone: the server ended the
    // sockets first, and closeAfterWrite's timer destroys one whose peer never reads.
    await Promise.all(ls.map((l) => new Promise<void>((r) => l.close(() => r()))));
  }
}

/** Thrown when a configured address cannot be bound. */
export class ListenError extends Error {}

function describeErrno(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'Address already in use';
    case 'EACCES':
      return 'Permission denied';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
    default:
      return err.message;
  }
}

/** Valkey's protected-mode refusal, word for word but for the product name. */
export const PROTECTED_MODE_ERROR =
  "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting from the same host the server is running, however MAKE SURE it's not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";
