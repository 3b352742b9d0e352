// The process title of a standalone forkv-server (Valkey's `set-proc-title` and
// `proc-title-template`, redisSetProcTitle): applied once listening and again whenever
// either directive changes. An embedded server leaves its host application's title alone.
import { expandProcTitle } from './config/validators';
import type { Server } from './server';

/** The template's variables as Valkey's `redisProcTitleGetVariable` fills them. */
function variables(server: Server, title: string): Record<string, string> {
  const c = server.config;
  const port = server.port;
  const tlsPort = server.tlsPort;
  const binds = c.getString('bind').split(' ').filter((b) => b !== '');
  const listenAddr = port !== 0 || tlsPort !== 0 ? `${binds[0] ?? '*'}:${port !== 0 ? port : tlsPort}` : (server.unixSocket ?? '');
  return {
    title,
    'listen-addr': listenAddr,
    'server-mode': '',
    'config-file': server.configFile ?? '',
    port: String(port),
    'tls-port': String(tlsPort),
    unixsocket: server.unixSocket ?? '',
  };
}

/** Sets `process.title` from the template now and on every change of the two directives. */
export function manageProcTitle(server: Server, title: string): void {
  const apply = (): null => {
    if (!server.config.getBool('set-proc-title')) return null;
    const expanded = expandProcTitle(server.config.getString('proc-title-template'), variables(server, title));
    if (expanded !== null) process.title = expanded.replace(/^ +| +$/g, '');
    return null;
  };
  server.config.onChange('set-proc-title', apply);
  server.config.onChange('proc-title-template', apply);
  apply();
}
