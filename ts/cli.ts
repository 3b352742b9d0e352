#!/usr/bin/env node
// forkv-server: valkey-server's command line (config file, --directive value ...),
// start-up checks, signals, pidfile. Extra modes: --check-system (as valkey-server's) and
// --test-conf (forkv's own: parse a configuration, print OK or the error).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { installCrashReport } from './crash-report';
import { ConfigError, loadServerConfig, parseCommandLine, type LoadResult } from './config';
import { strerror } from './config/codecs';
import { Logger, type LogLevel } from './log';
import { ListenError, Server } from './server';
import { LoadError } from './persistence/rdb';
import { manageProcTitle } from './proc-title';
import { checkSystem, memoryChecks, openFilesCheck, tcpBacklogCheck } from './startup-checks';
import { applySyslog } from './syslog';
import { VERSION } from './version';

/** What --help adds to valkey-server's usage text. */
const FORKV_USAGE = [
  '',
  'forkv additions:',
  '       ./forkv-server --test-conf /path/to/valkey.conf [options] [-]',
  '           (parse the configuration and exit: prints OK, or the error and exits 1)',
  '       ./forkv-server --check-system',
  '           (run the overcommit and THP checks, as valkey-server --check-system)',
  '',
].join('\n');

/**
 * `--test-conf <file> [options]`: loads the configuration exactly as a start would (file,
 * includes, stdin with `-`, command-line options), prints warnings and "OK" (exit 0) or the
 * FATAL text (exit 1). Valkey has no such mode; nginx -t and sshd -t are the model.
 */
function testConf(args: readonly string[]): number {
  const cl = parseCommandLine(args);
  if (cl.kind !== 'run' || (cl.configFile === undefined && !cl.configFromStdin)) {
    process.stderr.write('Usage: ./forkv-server --test-conf /path/to/valkey.conf [options] [-]\n');
    return 1;
  }
  let loaded: LoadResult;
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
  for (const w of loaded.warnings) process.stderr.write(`WARNING ${w.message}\n`);
  process.stdout.write(`Configuration ${loaded.configFile ?? '(stdin)'} OK\n`);
  return 0;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--test-conf') return testConf(args.slice(1));
  if (args[0] === '--check-system') return checkSystem((t) => process.stdout.write(t));
  const cl = parseCommandLine(args);
  switch (cl.kind) {
    case 'version':
      process.stdout.write(`forkv server v=${VERSION.forkv} valkey-compat=${VERSION.valkeyCompat} bits=64 node=${process.versions.node}\n`);
      return 0;
    case 'help':
      process.stderr.write(`${cl.usage}${FORKV_USAGE}`);
      return 1;
    case 'unsupported':
      process.stderr.write(`${cl.message}\n`);
      return 1;
    case 'run':
      break;
  }
  let loaded: LoadResult;
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
  applySyslog(log, store);
  installCrashReport(log, store);
  if (store.getBool('daemonize')) {
    process.stderr.write('forkv does not daemonize: run it in the foreground under a supervisor (systemd, a container runtime, pm2) instead of setting daemonize yes.\n');
    return 1;
  }
  memoryChecks(store, log);
  log.notice('oO0OoO0OoO0Oo forkv is starting oO0OoO0OoO0Oo');
  log.notice(`forkv version=${VERSION.forkv}, valkey-compat=${VERSION.valkeyCompat}, bits=64, pid=${process.pid}, just started`);
  log.notice(configFile ? 'Configuration loaded' : 'Warning: no config file specified, using the default config. In order to specify a config file use forkv-server /path/to/valkey.conf');
  for (const w of warnings) log.warning(w.message);

  // Valkey's initServer: open files before anything listens.
  if (!openFilesCheck(store, log)) return 1;
  const server = new Server(store, configFile, log, { users: loaded.users, renameCommands: loaded.renameCommands });
  const pidfile = store.getString('pidfile');
  const done = new Promise<number>((resolve) => {
    server.once('shutdown', () => resolve(0));
    // Valkey's serverPanic ends the process with a failure.
    server.once('panic', () => resolve(1));
  });
  // Valkey's sigShutdownHandler: the cron shuts down (SHUTDOWN ABORT may cancel it first);
  // a second SIGINT exits at once, removing the temp file of a save in progress.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (sig !== 'SIGINT' && sig !== 'SIGTERM') return;
    if (server.shutdownControl.requestBySignal(sig)) return;
    log.warning('You insist... exiting now.');
    fs.rmSync(path.join(server.dataDir(), `temp-${process.pid}.rdb`), { force: true });
    process.exit(1);
  };
  // Handlers go in before listening: a signal right after "Ready" must shut down cleanly.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Valkey writes the pidfile before it listens and removes it when it shuts down (or fails to start).
  const removePidfile = (): void => {
    if (!pidfile) return;
    log.notice('Removing the pid file.');
    fs.rmSync(pidfile, { force: true });
  };
  if (pidfile) {
    // The shutdown's last persistence step removes it (the core's, with its log line).
    server.pidfile = pidfile;
    try {
      fs.writeFileSync(pidfile, `${process.pid}\n`);
    } catch (e) {
      log.warning(`Failed to write PID file: ${strerror(e)}`);
    }
  }
  tcpBacklogCheck(store, log);
  try {
    // Valkey sets its title once listening (the template may name the bound address).
    server.once('listening', () => manageProcTitle(server, process.argv[1] ?? 'forkv-server'));
    await server.start();
  } catch (e) {
    if (e instanceof ListenError || e instanceof LoadError) {
      removePidfile();
      return 1;
    }
    throw e;
  }
  const code = await done;
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
