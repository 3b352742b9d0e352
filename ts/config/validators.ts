/**
 * Valkey's per-directive validity checks (`isValid*` in config.c), with Valkey's error texts,
 * plus the values forkv refuses outright. Pure functions.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** `pathIsBaseName`: no '/' and no '\'. */
function isBaseName(value: string): boolean {
  return !value.includes('/') && !value.includes('\\');
}

export function validDbFilename(value: string): string | null {
  if (value === '') return "dbfilename can't be empty";
  if (!isBaseName(value)) return "dbfilename can't be a path, just a filename";
  return null;
}

export function validAofFilename(value: string): string | null {
  if (value === '') return "appendfilename can't be empty";
  if (!isBaseName(value)) return "appendfilename can't be a path, just a filename";
  return null;
}

export function validAofDirname(value: string): string | null {
  if (value === '') return "appenddirname can't be empty";
  if (!isBaseName(value)) return "appenddirname can't be a path, just a dirname";
  return null;
}

export function validClusterConfigFile(value: string): string | null {
  return value === '' ? "cluster-config-file can't be empty" : null;
}

export function validHostname(value: string): string | null {
  if (Buffer.byteLength(value, 'utf8') >= 256) return 'Hostnames must be less than 256 characters';
  if (!/^[A-Za-z0-9.-]*$/.test(value)) return 'Hostnames may only contain alphanumeric characters, hyphens or dots';
  return null;
}

/** `isValidAuxString`: alphanumerics and anything not in Valkey's invalid set. */
export function validHumanNodename(value: string): string | null {
  for (const ch of value) {
    if (!/^[A-Za-z0-9]$/.test(ch) && '!#$%&()*+;<>?@[]^{|}~'.includes(ch)) {
      return 'Announced human node name contained invalid character';
    }
  }
  return null;
}

export function validIpV4(value: string): string | null {
  return value !== '' && !isIPv4(value) ? 'Invalid IPv4 address' : null;
}

export function validIpV6(value: string): string | null {
  return value !== '' && !isIPv6(value) ? 'Invalid IPv6 address' : null;
}

const PROC_TITLE_SAMPLE: Readonly<Record<string, string>> = {
  // Values only need the right emptiness for validation: Valkey expands with an empty title.
  title: '', 'listen-addr': '*:6379', 'server-mode': '', 'config-file': '-', port: '6379',
  'tls-port': '0', unixsocket: '',
};

/**
 * Valkey's `sdstemplate` over the process-title variables: {var} must be one of `vars`, "{{"
 * is a literal '{'. The expansion, or null when the template is malformed.
 */
export function expandProcTitle(template: string, vars: Readonly<Record<string, string>>): string | null {
  let out = '';
  let p = 0;
  while (p < template.length) {
    const open = template.indexOf('{', p);
    if (open < 0) {
      out += template.slice(p);
      break;
    }
    out += template.slice(p, open);
    if (open + 1 >= template.length) return null;
    if (template[open + 1] === '{') {
      out += '{';
      p = open + 2;
      continue;
    }
    const close = template.indexOf('}', open + 1);
    if (close < 0) return null;
    const value = Object.hasOwn(vars, template.slice(open + 1, close)) ? vars[template.slice(open + 1, close)] : undefined;
    if (value === undefined) return null;
    out += value;
    p = close + 1;
  }
  return out;
}

/** `validateProcTitleTemplate`: it expands, and not to blanks only. */
export function validProcTitleTemplate(template: string): string | null {
  const out = expandProcTitle(template, PROC_TITLE_SAMPLE);
  return out === null || out.replace(/^ +| +$/g, '') === '' ? 'template format is invalid or contains unknown variables' : null;
}

/** Valkey built without jemalloc's defrag support answers exactly this; so does forkv. */
export function validActiveDefrag(value: boolean): string | null {
  return value
    ? 'Active defragmentation cannot be enabled: it requires a server compiled with a modified ' +
        'Jemalloc like the one shipped by default with the source distribution'
    : null;
}

export const SHUTDOWN_SAVE = 1;
export const SHUTDOWN_NOSAVE = 2;
export const SHUTDOWN_NOW = 4;
export const SHUTDOWN_FORCE = 8;

export function validShutdownFlags(value: number): string | null {
  return value & SHUTDOWN_SAVE && value & SHUTDOWN_NOSAVE
    ? "shutdown options SAVE and NOSAVE can't be used simultaneously"
    : null;
}

/**
 * forkv-only refusal: forkv reads, parses and writes every client on Node's single event
 * loop and runs no I/O threads, so only Valkey's default (1, the main thread alone) is accepted.
 */
export function refuseIoThreads(value: bigint): string | null {
  return value === 1n ? null : 'forkv runs no I/O threads: io-threads must be 1 (clients are served on the main thread)';
}

/** forkv-only refusal: a Node process cannot fork itself into the background safely. */
export function refuseDaemonize(value: boolean): string | null {
  return value ? 'forkv does not daemonize: run it in the foreground under a supervisor (systemd, a container, pm2)' : null;
}

