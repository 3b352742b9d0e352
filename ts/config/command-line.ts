/**
 * valkey-server's command line (its main()): an optional config file first, `-` for stdin,
 * `--name value...` options turned into config lines that loadServerConfig (parse.ts)
 * appends after the file; -v, -h and the modes forkv does not have.
 */
import { resolve as resolvePath } from 'node:path';
import { quoteArg, splitArgs } from './split-args';

export type CommandLine =
  /** Start the server: pass these to loadServerConfig (read stdin first when asked). */
  | { readonly kind: 'run'; readonly configFile?: string; readonly configFromStdin: boolean; readonly text: string }
  /** -v / --version: print the version and exit 0. */
  | { readonly kind: 'version' }
  /** -h / --help: print `usage` to stderr and exit 1 (as valkey-server does). */
  | { readonly kind: 'help'; readonly usage: string }
  /** A valkey-server mode forkv does not have: print `message` to stderr and exit 1. */
  | { readonly kind: 'unsupported'; readonly option: string; readonly message: string };

export const USAGE = [
  'Usage: ./forkv-server [/path/to/valkey.conf] [options] [-]',
  '       ./forkv-server - (read config from stdin)',
  '       ./forkv-server -v or --version',
  '       ./forkv-server -h or --help',
  '',
  'Examples:',
  '       ./forkv-server (run the server with default config)',
  '       ./forkv-server /etc/valkey/6379.conf',
  '       ./forkv-server --port 7777',
  '       ./forkv-server --port 7777 --replicaof 127.0.0.1 8888',
  '       ./forkv-server /etc/myvalkey.conf --loglevel verbose -',
  '       ./forkv-server /etc/myvalkey.conf --loglevel verbose',
  '',
].join('\n');

/**
 * valkey-server's argv handling. `args` excludes the program (process.argv.slice(2)).
 *
 * - The first argument is a config file unless it starts with '-'.
 * - `-` as the first or last argument reads config from stdin (appended after the file).
 * - `--name` starts a config line "name"; following arguments not starting with "--" are its
 *   values (quoted, so spaces survive). An argument starting with "--" right after a bare
 *   option name is a value too (`--replicaof --x` gives `replicaof "--x"`), except after
 *   `--save`, which then means `save ""` (as does a trailing `--save`).
 * - `--name value` in one argument is taken as name and value.
 */
export function parseCommandLine(args: readonly string[], cwd: string = process.cwd()): CommandLine {
  if (args.length === 0) return { kind: 'run', configFromStdin: false, text: '' };
  const first = args[0]!;
  if (first === '-v' || first === '--version') return { kind: 'version' };
  if (first === '--help' || first === '-h') return { kind: 'help', usage: USAGE };
  if (first === '--test-memory') {
    return { kind: 'unsupported', option: first, message: 'forkv does not implement --test-memory (use valkey-server --test-memory or memtester)' };
  }
  if (first === '--check-system') {
    return { kind: 'unsupported', option: first, message: 'forkv does not implement --check-system' };
  }
  if (args.includes('--sentinel')) {
    return { kind: 'unsupported', option: '--sentinel', message: 'forkv does not implement Sentinel mode' };
  }

  let j = 0;
  let configFile: string | undefined;
  if (!first.startsWith('-')) {
    configFile = first === '' ? first : resolvePath(cwd, first);
    j = 1;
  }
  let configFromStdin = false;
  let options = '';
  let handledLastConfigArg = true;
  const last = args.length - 1;
  for (; j < args.length; j++) {
    const arg = args[j]!;
    if (arg === '-' && (j === 0 || j === last)) {
      configFromStdin = true;
    } else if (handledLastConfigArg && arg.startsWith('--')) {
      if (options.length > 0) options += '\n';
      options += arg.slice(2) + ' ';
      const tokens = splitArgs(arg);
      if (tokens !== null && tokens.length === 1) {
        // Only an option name ("--port"): its values follow.
        handledLastConfigArg = false;
        const isSave = arg.toLowerCase() === '--save';
        if (isSave && j !== last && args[j + 1]!.startsWith('--')) {
          options += '""'; // `--save --port 1` keeps pre-7.0 meaning: save ""
          handledLastConfigArg = true;
        } else if (isSave && j === last) {
          options += '""';
        }
      } else {
        // "--port 6380" in one argument: name and value together.
        handledLastConfigArg = true;
      }
    } else {
      options += quoteArg(arg) + ' ';
      handledLastConfigArg = true;
    }
  }
  return {
    kind: 'run',
    ...(configFile !== undefined ? { configFile } : {}),
    configFromStdin,
    text: options,
  };
}
