// Start-up system checks of forkv-server, printed as Valkey prints them (operators search
// for these texts). The checks themselves live in Rust (forkv-snapshot's syscheck module,
// reached through the napi binding); this file decides when to run them and how to log.
//
// - Memory (Valkey's linuxMemoryWarnings, before "starting"): turn transparent huge pages off
//   for this process (prctl PR_SET_THP_DISABLE; with THP a one-byte write after fork copies
//   2 MB instead of 4 kB) unless `disable-thp no`; warn when vm.overcommit_memory is not 1
//   (fork of a large process may fail), and when THP is `always` and stays on.
// - Open files (Valkey's adjustOpenFilesLimit, in initServer): raise RLIMIT_NOFILE to
//   maxclients + 32 if possible, else lower maxclients to fit, or refuse to start.
// - TCP backlog (Valkey's checkTcpBacklogSettings): warn when somaxconn caps tcp-backlog.
import * as fs from 'node:fs';

import type { ConfigStore } from './config';
import type { Logger, LogLevel } from './log';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('./native/binding.cjs') = require('./native/binding.cjs');

const PRODUCT = 'forkv';

function asLevel(level: string): Exclude<LogLevel, 'nothing'> {
  return level === 'debug' || level === 'verbose' || level === 'notice' ? level : 'warning';
}

/** Valkey's linuxMemoryWarnings, plus turning THP off for the process (DESIGN.md §3). */
export function memoryChecks(config: ConfigStore, log: Logger): void {
  if (process.platform !== 'linux') return;
  const disableThp = config.getBool('disable-thp');
  // Errors are not logged here: if THP stays on in `always` mode, the warning below says so.
  if (disableThp) binding.disableThpForProcess();
  for (const line of binding.linuxMemoryWarnings(disableThp, PRODUCT).warnings) log.warning(line);
}

/**
 * Valkey's adjustOpenFilesLimit: raises the open-files limit for `maxclients`, or lowers
 * `maxclients` to what the limit allows (logged with Valkey's texts). False when the limit is
 * too low to start at all (Valkey exits with status 1).
 */
export function openFilesCheck(config: ConfigStore, log: Logger): boolean {
  const maxclients = config.getInt('maxclients');
  const r = binding.adjustOpenFilesLimit(maxclients);
  for (const m of r.messages) log.log(asLevel(m.level), m.message);
  if (r.fatal) return false;
  if (r.maxclients !== maxclients) config.forceValue('maxclients', { type: 'numeric', value: BigInt(r.maxclients) });
  return true;
}

/** Valkey's checkTcpBacklogSettings (Linux: /proc/sys/net/core/somaxconn). */
export function tcpBacklogCheck(config: ConfigStore, log: Logger): void {
  let text: string;
  try {
    text = fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8');
  } catch {
    return;
  }
  const somaxconn = Number.parseInt(text, 10);
  const backlog = config.getInt('tcp-backlog');
  if (somaxconn > 0 && somaxconn < backlog) {
    log.warning(`WARNING: The TCP backlog setting of ${backlog} cannot be enforced because /proc/sys/net/core/somaxconn is set to the lower value of ${somaxconn}.`);
  }
}

/**
 * `forkv-server --check-system`, as valkey-server's: one line per check, "[name]...OK",
 * "[name]...skipped" or "[name]...WARNING:" and the text. Returns the exit code (0 when every
 * check passed). forkv runs Valkey's overcommit and THP checks; the clocksource checks are
 * not implemented.
 */
export function checkSystem(write: (s: string) => void): number {
  let ok = true;
  const warnings = process.platform === 'linux' ? binding.linuxMemoryWarnings(false, PRODUCT).warnings : [];
  const find = (prefix: string): string | undefined =>
    warnings.map((w) => w.replace(/^WARNING /, '')).find((w) => w.startsWith(prefix));
  const checks: Array<[string, boolean, string | undefined]> = [
    ['overcommit', binding.overcommitMemory() !== null, find('Memory overcommit')],
    ['THP', binding.thpMode() !== null, find('You have Transparent Huge Pages')],
  ];
  for (const [name, known, warning] of checks) {
    if (!known) write(`[${name}]...skipped\n`);
    else if (warning === undefined) write(`[${name}]...OK\n`);
    else {
      write(`[${name}]...WARNING:\n${warning}\n`);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
