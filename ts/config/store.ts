/**
 * The live configuration: current values, typed getters, and the CONFIG GET / SET / REWRITE
 * semantics of Valkey's config.c. The server owns one ConfigStore, built by parse.ts at startup.
 */
import { readFileSync } from 'node:fs';
import { defaultValue, formatValue, setFromArgs, strerror, type SetContext } from './codecs';
import { rewriteConfigContent, writeFileAtomic } from './rewrite';
import { CONFIG_ENTRIES, CONFIG_TABLE, lookupConfig, notHonouredWarning, type ConfigEntry } from './schema';
import { splitOnSpaces } from './split-args';
import type {
  ClientClass, ConfigDef, ConfigValue, OutputBufferLimit, ReplicaOf, SaveRule,
} from './types';

export type LogLevel = 'debug' | 'notice' | 'warning';

export interface ConfigStoreOptions {
  /** Initial working directory: the default of `dir`. Defaults to process.cwd(). */
  readonly cwd?: string;
  /** Where Valkey would serverLog() (rollback failures, odd values). */
  readonly log?: (level: LogLevel, message: string) => void;
}

/** Facts about the client issuing CONFIG SET that Valkey's checks depend on. */
export interface ConfigSetContext {
  /** The connection is from a loopback address (enable-protected-configs "local"). */
  readonly clientIsLocal?: boolean;
  /** The server is loading its dataset (directives flagged deny-loading are refused). */
  readonly loading?: boolean;
}

/**
 * Applies a changed value to the running server (Valkey's `apply` functions). Runs after all
 * parameters of a CONFIG SET are stored, so it can read related values from the store. Returns
 * an error text to refuse (everything is rolled back), or null. The same function registered
 * for several directives runs once per CONFIG SET, with the first changed directive's value.
 */
export type ApplyHook = (value: string, name: string) => string | null;

/** Valkey's shared.loadingerr, without the leading '-'. */
export const LOADING_ERROR = 'LOADING Valkey is loading the dataset in memory';

export class ConfigStore {
  private readonly values = new Map<string, ConfigValue>();
  private readonly hooks = new Map<string, ApplyHook[]>();
  private log: (level: LogLevel, message: string) => void;
  private changes = 0;

  constructor(options: ConfigStoreOptions = {}) {
    const cwd = options.cwd ?? process.cwd();
    this.log = options.log ?? (() => undefined);
    for (const def of CONFIG_TABLE) this.store(def.name, defaultValue(def, cwd));
  }

  /**
   * Counts every stored value change (CONFIG SET, its rollback, loading, forced values): a
   * figure derived from the configuration on a hot path (per read) is cached until this
   * moves (see `derived`).
   */
  get generation(): number {
    return this.changes;
  }

  /**
   * A cached figure computed from the configuration by `compute`, recomputed only after a
   * value changed (`generation`): for paths that run per read, where looking directives
   * up by name each time costs more than the work they guard.
   */
  derived<T>(compute: (config: ConfigStore) => T): () => T {
    let at = -1;
    let value: T;
    return () => {
      if (at !== this.changes) {
        value = compute(this);
        at = this.changes;
      }
      return value;
    };
  }

  private store(name: string, value: ConfigValue): void {
    this.values.set(name, value);
    this.changes++;
  }

  /** Routes the store's log lines to the server's log once it exists (the store is made first). */
  setLog(log: (level: LogLevel, message: string) => void): void {
    this.log = log;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Reading values                                                                           */
  /* ---------------------------------------------------------------------------------------- */

  /** The definition of a directive or alias (case-insensitive), or undefined. */
  definition(name: string): ConfigDef | undefined {
    return lookupConfig(name)?.def;
  }

  /** The raw typed value. Throws for an unknown name. */
  getValue(name: string): ConfigValue {
    const def = this.requireDef(name);
    const value = this.values.get(def.name);
    if (value === undefined) throw new Error(`forkv config: no value for '${def.name}'`);
    return value;
  }

  /** The value exactly as CONFIG GET prints it (works for every directive). */
  getString(name: string): string {
    return formatValue(this.requireDef(name), this.getValue(name));
  }

  /** A numeric directive as a JS number (exact below 2^53; see getBigInt). Percentages are negative. */
  getInt(name: string): number {
    return Number(this.getBigInt(name));
  }

  getBigInt(name: string): bigint {
    const v = this.getValue(name);
    if (v.type !== 'numeric') throw new TypeError(`forkv config: '${name}' is not numeric`);
    return v.value;
  }

  getBool(name: string): boolean {
    const v = this.getValue(name);
    if (v.type !== 'bool') throw new TypeError(`forkv config: '${name}' is not yes/no`);
    return v.value;
  }

  /** `notify-keyspace-events` as Valkey's NOTIFY_* bit flags. */
  getKeyspaceEvents(name: string): number {
    const v = this.getValue(name);
    if (v.type !== 'keyspace-events') throw new TypeError(`forkv config: '${name}' is not keyspace event classes`);
    return v.value;
  }

  /** An enum directive's name (e.g. "everysec"; "save now" for multi-flag ones). */
  getEnum(name: string): string {
    const v = this.getValue(name);
    if (v.type !== 'enum') throw new TypeError(`forkv config: '${name}' is not an enum`);
    return this.getString(name);
  }

  /** A string directive; null when unset (CONFIG GET prints ""). */
  getOptionalString(name: string): string | null {
    const v = this.getValue(name);
    if (v.type !== 'string') throw new TypeError(`forkv config: '${name}' is not a string`);
    return v.value;
  }

  getSaveRules(): SaveRule[] {
    const v = this.getValue('save');
    return v.type === 'save' ? v.value.map((r) => ({ ...r })) : [];
  }

  /** Bind addresses as configured ("-" prefix = optional address, "*" / "::*" = any). */
  getBind(): string[] {
    const v = this.getValue('bind');
    return v.type === 'bind' ? [...v.value] : [];
  }

  /** The absolute working directory for RDB/AOF files. */
  getDir(): string {
    const v = this.getValue('dir');
    return v.type === 'dir' ? v.value : process.cwd();
  }

  getReplicaOf(): ReplicaOf | null {
    const v = this.getValue('replicaof');
    return v.type === 'replicaof' ? v.value : null;
  }

  getClientOutputBufferLimits(): Record<ClientClass, OutputBufferLimit> {
    const v = this.getValue('client-output-buffer-limit');
    if (v.type !== 'obuf') throw new Error('forkv config: bad client-output-buffer-limit value');
    return { normal: v.value[0], replica: v.value[1], pubsub: v.value[2] };
  }

  getOomScoreAdjValues(): number[] {
    const v = this.getValue('oom-score-adj-values');
    return v.type === 'oom-values' ? [...v.value] : [];
  }

  getLatencyPercentiles(): number[] {
    const v = this.getValue('latency-tracking-info-percentiles');
    return v.type === 'percentiles' ? [...v.value] : [];
  }

  /** True when the directive prints the same as its default (dir: the initial directory). */
  isDefault(name: string, cwd: string = process.cwd()): boolean {
    const def = this.requireDef(name);
    return formatValue(def, this.getValue(name)) === formatValue(def, defaultValue(def, cwd));
  }

  /** Every directive and its current value, in table order. */
  *entries(): IterableIterator<readonly [ConfigDef, ConfigValue]> {
    for (const def of CONFIG_TABLE) yield [def, this.getValue(def.name)] as const;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* CONFIG GET                                                                               */
  /* ---------------------------------------------------------------------------------------- */

  /**
   * CONFIG GET with one or more patterns. A pattern without glob characters ([*?) is looked up
   * directly (case-insensitively; hidden directives and aliases included) and answered under the
   * name as the client typed it. A glob pattern is matched, case-insensitively, against every
   * registered name except hidden ones, aliases included (`*max-*-entries*` answers both
   * hash-max-listpack-entries and hash-max-ziplist-entries). Each name appears once; the result is
   * sorted by name, as in Valkey 9.0.
   *
   * `glob(pattern, name)` is the server's stringmatch; it is called with a lowercased pattern
   * and a lowercase name, which makes a case-sensitive matcher behave like Valkey's nocase one.
   */
  get(patterns: readonly string[], glob: (pattern: string, name: string) => boolean): Array<[string, string]> {
    const matches = new Map<string, readonly [string, ConfigEntry]>(); // lowercased key -> (reply key, entry)
    for (const pattern of patterns) {
      if (!/[[*?]/.test(pattern)) {
        const key = pattern.toLowerCase();
        if (matches.has(key)) continue;
        const entry = lookupConfig(pattern);
        if (entry) matches.set(key, [pattern, entry]);
        continue;
      }
      const lowered = pattern.toLowerCase();
      for (const entry of CONFIG_ENTRIES) {
        if (entry.def.flags.hidden) continue;
        if (matches.has(entry.name)) continue;
        if (glob(lowered, entry.name)) matches.set(entry.name, [entry.name, entry]);
      }
    }
    return [...matches.values()]
      .map(([key, entry]): [string, string] => [key, this.getString(entry.def.name)])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /* ---------------------------------------------------------------------------------------- */
  /* CONFIG SET                                                                               */
  /* ---------------------------------------------------------------------------------------- */

  /** Registers an apply hook for a directive (or alias). Returns a function that removes it. */
  onChange(name: string, hook: ApplyHook): () => void {
    const def = this.requireDef(name);
    const list = this.hooks.get(def.name) ?? [];
    list.push(hook);
    this.hooks.set(def.name, list);
    return () => {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * CONFIG SET p1 v1 [p2 v2 ...], all or nothing, like Valkey's configSetCommand: every name is
   * checked first (unknown, immutable, protected, deny-loading, duplicate), then every value is
   * parsed and stored (a bad one restores the ones already stored), then the apply hooks of the
   * changed directives run (a refusal restores every value and re-runs the hooks).
   *
   * Returns null on success, or the error line without the leading '-' (e.g.
   * "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed
   * into an integer"). The caller checks the argument count (an odd count is a syntax error)
   * and redacts values of `flags.sensitive` directives from logs.
   */
  set(pairs: ReadonlyArray<readonly [string, string]>, ctx: ConfigSetContext = {}): string | null {
    let invalidArgName: string | null = null;
    let errArgName: string | null = null;
    let errstr: string | null = null;
    let invalid = false;
    let denyLoading = false;
    const entries: ConfigEntry[] = [];

    for (const [name] of pairs) {
      const entry = lookupConfig(name);
      if (!entry) {
        if (!invalid) {
          invalidArgName = name;
          invalid = true;
        }
        continue;
      }
      if (invalid) continue;
      const fl = entry.def.flags;
      if (fl.immutable || (fl.protected && !this.allowProtected(ctx))) {
        errstr = fl.immutable ? "can't set immutable config" : "can't set protected config";
        errArgName = name;
        invalid = true;
        continue;
      }
      if (ctx.loading && fl.denyLoading) {
        denyLoading = true;
        invalid = true;
        continue;
      }
      // Valkey compares registered entries: "port" twice is a duplicate, a name and its alias are not.
      if (entries.some((e) => e.name === entry.name)) {
        errstr = 'duplicate parameter';
        errArgName = name;
        invalid = true;
        continue;
      }
      entries.push(entry);
    }
    if (invalid) return this.setError(denyLoading, invalidArgName, errArgName, errstr);

    const backup = new Map<string, ConfigValue>();
    for (const entry of entries) backup.set(entry.def.name, this.getValue(entry.def.name));

    const ctxSet: SetContext = {
      readingConfigFile: false,
      saveLoaded: true,
      warn: (m) => this.log('warning', m),
    };
    const applies: Array<{ hook: ApplyHook; index: number }> = [];
    const changedDefs: ConfigDef[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const def = entry.def;
      const raw = pairs[i]![1];
      const args = def.flags.multiArg ? splitOnSpaces(raw) : [raw];
      const result = setFromArgs(def, this.getValue(def.name), args, ctxSet);
      if (!result.ok) {
        this.restore(backup);
        return this.setError(false, null, entry.name, result.error);
      }
      this.store(def.name, result.value);
      if (!result.changed) continue;
      changedDefs.push(def);
      for (const hook of this.hooks.get(def.name) ?? []) {
        if (!applies.some((a) => a.hook === hook)) applies.push({ hook, index: i });
      }
    }

    for (const { hook, index } of applies) {
      const entry = entries[index]!;
      const err = hook(this.getString(entry.def.name), entry.def.name);
      if (err === null) continue;
      this.log('warning', `Failed applying new configuration. Possibly related to new ${entry.name} setting. Restoring previous settings.`);
      this.restore(backup);
      for (const again of applies) {
        const e = entries[again.index]!;
        const restoreErr = again.hook(this.getString(e.def.name), e.def.name);
        if (restoreErr !== null) this.log('warning', `Failed applying restored failed CONFIG SET command: ${restoreErr}`);
      }
      return this.setError(false, null, entry.name, err === '' ? null : err);
    }
    for (const def of changedDefs) this.warnIfNotHonoured(def);
    return null;
  }

  /** A directive forkv does not fully honour is never changed silently: the change is logged. */
  private warnIfNotHonoured(def: ConfigDef): void {
    if (this.isDefault(def.name)) return;
    const message = notHonouredWarning(def);
    if (message !== null) this.log('warning', `CONFIG SET ${message}`);
  }

  private allowProtected(ctx: ConfigSetContext): boolean {
    const mode = this.getString('enable-protected-configs');
    return mode === 'yes' || (mode === 'local' && ctx.clientIsLocal === true);
  }

  private restore(backup: ReadonlyMap<string, ConfigValue>): void {
    for (const [name, value] of backup) this.store(name, value);
  }

  private setError(denyLoading: boolean, invalidArgName: string | null, errArgName: string | null, errstr: string | null): string {
    if (denyLoading) return LOADING_ERROR;
    if (invalidArgName !== null) return `ERR Unknown option or number of arguments for CONFIG SET - '${invalidArgName}'`;
    if (errstr !== null) return `ERR CONFIG SET failed (possibly related to argument '${errArgName}') - ${errstr}`;
    return `ERR CONFIG SET failed (possibly related to argument '${errArgName}')`;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* CONFIG REWRITE                                                                           */
  /* ---------------------------------------------------------------------------------------- */

  /**
   * CONFIG REWRITE into `configFilePath` (the absolute path the server was started with, or
   * null/undefined when it was started without a config file). Returns null on success or the
   * error line without '-': "ERR The server is running without a config file" or
   * "ERR Rewriting config file: <strerror>".
   */
  rewrite(configFilePath: string | null | undefined, forceAll = false): string | null {
    if (!configFilePath) return 'ERR The server is running without a config file';
    let old: string | null;
    try {
      old = readFileSync(configFilePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return this.rewriteFailed(err);
      old = null;
    }
    try {
      writeFileAtomic(configFilePath, rewriteConfigContent(old, this.entries(), forceAll));
    } catch (err) {
      return this.rewriteFailed(err);
    }
    this.log('notice', 'CONFIG REWRITE executed with success.');
    return null;
  }

  private rewriteFailed(err: unknown): string {
    const text = strerror(err);
    this.log('warning', `CONFIG REWRITE failed: ${text}`);
    return `ERR Rewriting config file: ${text}`;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Loading (used by parse.ts)                                                               */
  /* ---------------------------------------------------------------------------------------- */

  /**
   * Sets a directive from config-file arguments (no hooks run, as at Valkey's startup).
   * Returns Valkey's error text or null.
   */
  loadDirective(def: ConfigDef, args: readonly string[], ctx: SetContext): string | null {
    const result = setFromArgs(def, this.getValue(def.name), args, ctx);
    if (!result.ok) return result.error;
    this.store(def.name, result.value);
    return null;
  }

  /** Replaces a value directly (startup sanity fixes such as databases=1 in cluster mode). */
  forceValue(name: string, value: ConfigValue): void {
    const def = this.requireDef(name);
    if (value.type !== this.getValue(def.name).type) throw new TypeError(`forkv config: wrong value type for '${name}'`);
    this.store(def.name, value);
  }

  private requireDef(name: string): ConfigDef {
    const def = lookupConfig(name)?.def;
    if (!def) throw new Error(`forkv config: unknown directive '${name}'`);
    return def;
  }
}
