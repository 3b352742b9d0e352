#!/usr/bin/env node
// forkv-server: valkey-server's command line (config file, --directive value ...),
// start-up checks, signals, pidfile.
import * as fs from 'node:fs';

import { ConfigError, loadServerConfig, parseCommandLine } from './config';
import { Logger, type LogLevel } from './log';
import { ListenError, Server } from './server';
import { LoadError } from './persistence/rdb';
import { VERSION } from './version';

async function main(): Promise<number> {
  const cl = parseCommandLine(process.argv.slice(2));
  switch (cl.kind) {
    case 'version':
      process.stdout.write(`forkv server v=${VERSION.forkv} valkey-compat=${VERSION.valkeyCompat} bits=64 node=${process.versions.node}\n`);
      return 0;
    case 'help':
      process.stderr.write(cl.usage);
      return 1;
    case 'unsupported':
      process.stderr.write(`${cl.message}\n`);
      return 1;
    case 'run':
      break;
  }
  let loaded;
  try {
    const stdinText = cl.configFromStdin ? fs.readFileSync(0, 'utf8') : null;
    loaded = loadServerConfig({ configFile: cl.configFile ?? null, stdinText, options: cl.text, version: VERSION.forkv });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.format());
      return 1;
    }
    throw e;
  }
  const { store, warnings, configFile } = loaded;
  const log = new Logger(store.getString('logfile'), store.getEnum('loglevel') as LogLevel);
  if (store.getBool('daemonize')) {
    process.stderr.write('forkv does not daemonize: run it in the foreground under a supervisor (systemd, a container runtime, pm2) instead of setting daemonize yes.\n');
    return 1;
  }
  log.notice('oO0OoO0OoO0Oo forkv is starting oO0OoO0OoO0Oo');
  log.notice(`forkv version=${VERSION.forkv}, valkey-compat=${VERSION.valkeyCompat}, bits=64, pid=${process.pid}, just started`);
  log.notice(configFile ? 'Configuration loaded' : 'Warning: no config file specified, using the default config. In order to specify a config file use forkv-server /path/to/valkey.conf');
  for (const w of warnings) log.warning(w.message);

  const server = new Server(store, configFile, log);
  const pidfile = store.getString('pidfile');
  const done = new Promise<number>((resolve) => server.once('shutdown', () => resolve(0)));
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      log.warning(`You insist... exiting now.`);
      process.exit(1);
    }
    signalled = true;
    log.warning(`Received ${sig} scheduling shutdown...`);
    void server.shutdown({}).then((err) => {
      if (err !== null) {
        // Valkey stays up when the shutdown save fails on a signal.
        signalled = false;
        log.warning('SIGTERM received but errors trying to shut down the server, check the logs for more information');
      }
    });
  };
  // Handlers go in before listening: a signal right after "Ready" must shut down cleanly.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await server.start();
  } catch (e) {
    if (e instanceof ListenError || e instanceof LoadError) return 1;
    throw e;
  }
  if (pidfile) fs.writeFileSync(pidfile, `${process.pid}\n`);
  const code = await done;
  if (pidfile) fs.rmSync(pidfile, { force: true });
  log.close();
  return code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`forkv-server: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
