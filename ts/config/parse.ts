/**
 * Reading the configuration at startup, as valkey-server does (its command line, turned into
 * the options text used here, is command-line.ts's):
 *
 * - `loadServerConfig(...)` mirrors loadServerConfig(): file + stdin + "\n" + options are
 *   concatenated and parsed as one text (so line numbers count across them).
 * - `parseConfigText(text, fileName)` mirrors loadServerConfigFromString(): line by line,
 *   comments, quoting, directives, `include` (with glob patterns since Valkey 7).
 *
 * Errors throw a ConfigError whose format() is Valkey's exact stderr text. Directives Valkey
 * knows but forkv does not implement are accepted; those left at a non-default value are
 * reported in `warnings` for the server to log.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { strerror, type SetContext } from './codecs';
import { ConfigError } from './errors';
import { globPaths, hasWildcard } from './include-glob';
import { checkRenameCommands } from '../native/core';
import { DEPRECATED_DIRECTIVES, FORKV_IMPLEMENTED, lookupConfig, notHonouredWarning } from './schema';
import { asciiLower, splitArgs, trimChars } from './split-args';
import { ConfigStore, type LogLevel } from './store';

export interface ConfigWarning {
  /** The directive concerned, as written in the file (lowercased). */
  readonly directive: string;
  /** Where it was set: a file path, "(command line)", "(stdin)", or null when unknown. */
  readonly source: string | null;
  /** 1-based line within the parsed text, or null. */
  readonly line: number | null;
  readonly message: string;
}

export interface ParseOptions {
  /** Printed in the FATAL banner ("Version X"). */
  readonly version?: string;
  /** Working directory at startup: default of `dir`, base for relative includes. */
  readonly cwd?: string;
  /** Load into this store instead of a fresh one with defaults. */
  readonly store?: ConfigStore;
  readonly log?: (level: LogLevel, message: string) => void;
}

export interface LoadResult {
  readonly store: ConfigStore;
  readonly warnings: ConfigWarning[];
  /** Absolute path of the main config file (what CONFIG REWRITE writes), or null. */
  readonly configFile: string | null;
  /** rename-command directives, in order, already checked; the server applies them at start. */
  readonly renameCommands: Array<readonly [string, string]>;
  /** `user` directives (the words after `user`), in order; the server applies them at start. */
  readonly users: Array<readonly string[]>;
}

const DEFAULT_VERSION = 'unknown';
/** Valkey has no limit and recurses until it crashes; forkv stops include loops here. */
const MAX_INCLUDE_DEPTH = 64;

interface Session {
  readonly store: ConfigStore;
  readonly version: string;
  readonly ctx: SetContext;
  readonly warnings: ConfigWarning[];
  readonly renameCommands: Array<readonly [string, string]>;
  readonly users: Array<readonly string[]>;
  /** Last place each not-implemented (or caveated) directive was set, reported at the end. */
  readonly touched: Map<string, { source: string | null; line: number }>;
  depth: number;
  /** Where the line currently being parsed came from (for warnings raised while setting). */
  current: { directive: string; source: string | null; line: number | null };
}

/* ------------------------------------------------------------------------------------------ */
/* Reading files                                                                              */
/* ------------------------------------------------------------------------------------------ */

function openError(path: string, err: unknown, version: string): ConfigError {
  return new ConfigError({
    kind: 'open', version, fileName: path,
    reason: `Fatal error, can't open config file '${path}': ${strerror(err)}`,
  });
}

function readOne(path: string, cwd: string, version: string): string {
  try {
    return readFileSync(resolvePath(cwd, path), 'utf8');
  } catch (err) {
    // fopen() of a directory succeeds on Linux and reading it yields nothing.
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') return '';
    throw openError(path, err, version);
  }
}

/**
 * The text of a config file name as Valkey reads it: with a wildcard, every match in sorted
 * order concatenated (no match is not an error, so an empty conf.d works); without, the file,
 * which must open.
 */
export function readConfigSource(path: string, cwd: string, version: string = DEFAULT_VERSION): string {
  if (!hasWildcard(path)) return readOne(path, cwd, version);
  let text = '';
  for (const match of globPaths(path, cwd)) {
    try {
      if (statSync(resolvePath(cwd, match)).isDirectory()) continue;
    } catch (err) {
      throw openError(match, err, version);
    }
    text += readOne(match, cwd, version);
  }
  return text;
}

/* ------------------------------------------------------------------------------------------ */
/* Config text                                                                                */
/* ------------------------------------------------------------------------------------------ */

function newSession(opts: ParseOptions): Session {
  const store = opts.store ?? new ConfigStore({
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  });
  const warnings: ConfigWarning[] = [];
  const session: Session = {
    store,
    version: opts.version ?? DEFAULT_VERSION,
    warnings,
    renameCommands: [],
    users: [],
    touched: new Map(),
    depth: 0,
    current: { directive: '', source: null, line: null },
    ctx: {
      readingConfigFile: true,
      saveLoaded: false,
      warn: (message) => warnings.push({ ...session.current, message }),
    },
  };
  return session;
}

function fatal(session: Session, reason: string, source: string | null, line?: number, lineText?: string): ConfigError {
  return new ConfigError({
    kind: 'fatal', version: session.version, reason, fileName: source,
    ...(line !== undefined ? { line, lineText: lineText ?? '' } : {}),
  });
}

function warnUnsupported(session: Session, directive: string, source: string | null, line: number, what: string): void {
  session.warnings.push({ directive, source, line, message: `'${directive}' is not implemented by forkv; ${what}` });
}

/**
 * One pass of loadServerConfigFromString over `text`. `sourceOf(line)` names where a line came
 * from (the text may be file + stdin + command-line options).
 */
function parseInto(session: Session, text: string, sourceOf: (line: number) => string | null): void {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = trimChars(lines[i]!, ' \t\r\n');
    if (line === '' || line.startsWith('#')) continue;
    const source = sourceOf(lineNo);
    const fail = (reason: string): ConfigError => fatal(session, reason, source, lineNo, line);

    const argv = splitArgs(line);
    if (argv === null) throw fail('Unbalanced quotes in configuration line');
    if (argv.length === 0) continue;
    const name = asciiLower(argv[0]!);
    session.current = { directive: name, source, line: lineNo };

    const entry = lookupConfig(name);
    if (entry) {
      const def = entry.def;
      if (!def.flags.multiArg && argv.length !== 2) throw fail('wrong number of arguments');
      // A multi-argument directive given one non-empty argument is re-split, so that
      // `--save "900 1 300 10"` works; `save ""` keeps its single empty argument.
      const args = def.flags.multiArg && argv.length === 2 && argv[1] !== ''
        ? splitArgs(argv[1]!) ?? []
        : argv.slice(1);
      const err = session.store.loadDirective(def, args, session.ctx);
      if (err !== null) throw fail(err);
      if (!def.implemented || def.caveat !== undefined) session.touched.set(def.name, { source, line: lineNo });
      continue;
    }

    const deprecated = DEPRECATED_DIRECTIVES.get(name);
    if (deprecated && deprecated[0] <= argv.length && argv.length <= deprecated[1]) {
      session.warnings.push({ directive: name, source, line: lineNo, message: `'${name}' is deprecated and ignored` });
      continue;
    }

    if (name === 'include' && argv.length === 2) {
      if (session.depth >= MAX_INCLUDE_DEPTH) throw fail(`include nesting deeper than ${MAX_INCLUDE_DEPTH} levels`);
      // Valkey opens it relative to the process cwd, which `dir` changes (chdir): so does forkv.
      const target = argv[1]!;
      const includedText = readConfigSource(target, session.store.getDir(), session.version);
      const label = resolvePath(session.store.getDir(), target);
      session.depth++;
      try {
        parseInto(session, includedText, () => label);
      } finally {
        session.depth--;
      }
      continue;
    }
    if (name === 'rename-command' && argv.length === 3) {
      // Valkey renames in its command table as it reads the line, and stops at the first refusal.
      session.renameCommands.push([argv[1]!, argv[2]!]);
      const refused = checkRenameCommands(session.renameCommands);
      if (refused !== null) throw fail(refused.message);
      continue;
    }
    if (name === 'user' && argv.length >= 2) {
      session.users.push(argv.slice(1));
      continue;
    }
    if (name === 'loadmodule' && argv.length >= 2) {
      if (!FORKV_IMPLEMENTED.has(name)) warnUnsupported(session, name, source, lineNo, 'the directive is ignored');
      continue;
    }
    if (name.includes('.')) {
      if (argv.length < 2) throw fail('Module config specified without value');
      warnUnsupported(session, name, source, lineNo, 'module configuration is ignored (forkv loads no modules)');
      continue;
    }
    if (name === 'sentinel') {
      // A bare "sentinel" is the --sentinel switch, handled by parseCommandLine.
      if (argv.length !== 1) throw fail('sentinel directive while not in sentinel mode');
      continue;
    }
    throw fail('Bad directive or wrong number of arguments');
  }
}

/** The checks Valkey runs after the last line, and the not-implemented report. */
function finish(session: Session, configFile: string | null): LoadResult {
  const { store } = session;
  if (store.getBool('cluster-enabled') && store.getReplicaOf() !== null) {
    throw fatal(session, 'replicaof directive not allowed in cluster mode', configFile);
  }
  if (store.getBool('cluster-enabled') && store.getInt('databases') > 1) {
    session.warnings.push({
      directive: 'databases', source: null, line: null,
      message: `WARNING: Changing databases number from ${store.getInt('databases')} to 1 since we are in cluster mode`,
    });
    store.forceValue('databases', { type: 'numeric', value: 1n });
  }
  for (const [name, where] of session.touched) {
    const def = store.definition(name);
    if (!def || store.isDefault(name)) continue;
    const message = notHonouredWarning(def);
    if (message === null) continue;
    session.warnings.push({ directive: name, source: where.source, line: where.line, message });
  }
  return { store, warnings: session.warnings, configFile, renameCommands: session.renameCommands, users: session.users };
}

/**
 * Parses configuration text (Valkey's loadServerConfigFromString). `fileName` labels errors and
 * warnings (null for text that is not from a file). Throws ConfigError.
 */
export function parseConfigText(text: string, fileName: string | null, opts: ParseOptions = {}): LoadResult {
  const session = newSession(opts);
  parseInto(session, text, () => fileName);
  return finish(session, null);
}

export interface LoadOptions extends ParseOptions {
  /** The config file argument (relative to cwd), if any. Wildcards are allowed, as in Valkey. */
  readonly configFile?: string | null;
  /** The configuration read from stdin when `-` was given (the server reads stdin). */
  readonly stdinText?: string | null;
  /** The options text from parseCommandLine(). */
  readonly options?: string | null;
}

/**
 * Valkey's loadServerConfig(): the file, then stdin, then "\n" and the command-line options,
 * parsed as one text, so the last setting wins. Throws ConfigError.
 */
export function loadServerConfig(opts: LoadOptions): LoadResult {
  const session = newSession(opts);
  const cwd = opts.cwd ?? process.cwd();
  const configFile = opts.configFile ? resolvePath(cwd, opts.configFile) : null;
  const fileText = opts.configFile ? readConfigSource(opts.configFile, cwd, session.version) : '';
  const stdinText = opts.stdinText ?? '';
  let text = fileText + stdinText;
  const beforeOptions = text.split('\n').length;
  const fileOnly = fileText === '' ? 0 : fileText.split('\n').length - (fileText.endsWith('\n') ? 1 : 0);
  if (opts.options !== undefined && opts.options !== null) text += '\n' + opts.options;
  const sourceOf = (line: number): string | null => {
    if (line > beforeOptions) return '(command line)';
    if (line > fileOnly && stdinText !== '') return '(stdin)';
    return configFile;
  };
  parseInto(session, text, sourceOf);
  return finish(session, configFile);
}
