/**
 * Per-kind behaviour of a directive, mirroring Valkey's typeInterface: `setFromArgs` (parse and
 * validate arguments into a new value), `formatValue` (CONFIG GET), `rewriteValue` (CONFIG
 * REWRITE). Pure apart from `dir`, which checks that the directory exists (Valkey does chdir).
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import {
  formatMemory, formatTrimmedDouble, memtoull, string2d, string2ll, strtollWhole, toCInt,
} from './numbers';
import { quoteArg } from './split-args';
import type {
  ConfigDef, ConfigValue, EnumKind, NumericKind, OutputBufferLimit, OutputBufferLimits, SaveRule,
} from './types';

/** State that lives for one whole configuration load (Valkey keeps it in statics). */
export interface SetContext {
  /** True while reading config files and command-line options, false for CONFIG SET. */
  readonly readingConfigFile: boolean;
  /** The first `save` line of a load replaces the defaults; later ones append. */
  saveLoaded: boolean;
  /** Non-fatal remarks Valkey logs while setting (e.g. odd oom-score-adj-values). */
  readonly warn: (message: string) => void;
}

export type SetResult =
  | { readonly ok: true; readonly value: ConfigValue; readonly changed: boolean }
  | { readonly ok: false; readonly error: string };

const fail = (error: string): SetResult => ({ ok: false, error });
const done = (value: ConfigValue, changed: boolean): SetResult => ({ ok: true, value, changed });

/** Internal invariant: the stored value's tag always equals the kind's type. */
function mismatch(def: ConfigDef): never {
  throw new Error(`forkv config: value of '${def.name}' does not match its kind ${def.kind.type}`);
}

/* ------------------------------------------------------------------------------------------ */
/* Defaults                                                                                   */
/* ------------------------------------------------------------------------------------------ */

export function defaultValue(def: ConfigDef, cwd: string): ConfigValue {
  const k = def.kind;
  switch (k.type) {
    case 'bool': return { type: 'bool', value: k.default };
    case 'numeric': return { type: 'numeric', value: k.default };
    case 'enum': return { type: 'enum', value: k.default };
    case 'string': return { type: 'string', value: k.default };
    case 'dir': return { type: 'dir', value: cwd };
    case 'save': return { type: 'save', value: k.default };
    case 'bind': return { type: 'bind', value: k.default };
    case 'obuf': return { type: 'obuf', value: k.default };
    case 'oom-values': return { type: 'oom-values', value: k.default };
    case 'keyspace-events': return { type: 'keyspace-events', value: 0 };
    case 'replicaof': return { type: 'replicaof', value: null };
    case 'percentiles': return { type: 'percentiles', value: k.default };
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Numeric                                                                                    */
/* ------------------------------------------------------------------------------------------ */

function isUnsignedType(kind: NumericKind): boolean {
  return kind.numType === 'ullong' || kind.numType === 'uint' || kind.numType === 'size_t' || kind.numType === 'ulong';
}

/** `numericParseString`: memory first, then percent, then octal, then a plain integer. */
function parseNumeric(kind: NumericKind, raw: string): bigint | string {
  if (kind.format === 'memory' || kind.format === 'memory-percent') {
    const bytes = memtoull(raw);
    if (bytes !== null) return BigInt.asIntN(64, bytes);
  }
  if (kind.format === 'memory-percent' && raw.length > 1 && raw.endsWith('%')) {
    const pct = string2ll(raw.slice(0, -1));
    if (pct !== null && pct >= 0n) return -pct; // percentages are stored negative
  }
  if (kind.format === 'octal') {
    const v = strtollWhole(raw, 8, true);
    if (v !== null) return v;
  }
  if (kind.format === 'integer') {
    const v = string2ll(raw);
    if (v !== null) return v;
  }
  switch (kind.format) {
    case 'memory-percent': return 'argument must be a memory or percent value';
    case 'memory': return 'argument must be a memory value';
    case 'octal': return "argument couldn't be parsed as an octal number";
    case 'integer': return "argument couldn't be parsed into an integer";
  }
}

/** `numericBoundaryCheck`, with its signed/unsigned and percent special cases. */
function checkBounds(kind: NumericKind, v: bigint): string | null {
  if (isUnsignedType(kind)) {
    const u = BigInt.asUintN(64, v);
    const lo = BigInt.asUintN(64, kind.min);
    const hi = BigInt.asUintN(64, kind.max);
    if (u > hi || u < lo) {
      return kind.format === 'octal'
        ? `argument must be between ${lo.toString(8)} and ${hi.toString(8)} inclusive`
        : `argument must be between ${lo} and ${hi} inclusive`;
    }
    return null;
  }
  if (kind.format === 'memory-percent' && v < 0n) {
    return v < kind.min ? `percentage argument must be less or equal to ${-kind.min}` : null;
  }
  if (v > kind.max || v < kind.min) return `argument must be between ${kind.min} and ${kind.max} inclusive`;
  return null;
}

function formatNumeric(kind: NumericKind, v: bigint): string {
  if (kind.format === 'memory-percent' && v < 0n) return `${-v}%`;
  if (kind.format === 'memory' || kind.format === 'memory-percent') return BigInt.asUintN(64, v).toString();
  if (kind.format === 'octal') return BigInt.asUintN(64, v).toString(8);
  return v.toString();
}

/* ------------------------------------------------------------------------------------------ */
/* Enum                                                                                       */
/* ------------------------------------------------------------------------------------------ */

function enumError(kind: EnumKind): string {
  const text = 'argument(s) must be one of the following: ' + kind.values.map(([n]) => n).join(', ');
  return text.slice(0, 255); // Valkey copies it into a 256-byte buffer
}

/** `configEnumGetValue`: several names OR together only for multi-argument (bitflag) enums. */
function parseEnum(kind: EnumKind, args: readonly string[], bitflags: boolean): number | null {
  if (args.length === 0 || (!bitflags && args.length !== 1)) return null;
  let values = 0;
  for (const arg of args) {
    let matched = false;
    for (const [name, value] of kind.values) {
      if (arg.toLowerCase() === name) {
        values |= value;
        matched = true;
      }
    }
    if (!matched) return null;
  }
  return values;
}

/** `configEnumGetName`: exact value first; bitflags print every contained flag; else "unknown". */
export function enumName(kind: EnumKind, value: number, bitflags: boolean): string {
  const names: string[] = [];
  let unmatched = value;
  for (const [name, v] of kind.values) {
    if (value === v) return name;
    if (bitflags && v !== 0 && (unmatched & v) === v) {
      names.push(name);
      unmatched &= ~v;
    }
  }
  return names.length === 0 || unmatched !== 0 ? 'unknown' : names.join(' ');
}

/* ------------------------------------------------------------------------------------------ */
/* Special kinds                                                                              */
/* ------------------------------------------------------------------------------------------ */

/** Valkey's CONFIG_BINDADDR_MAX. */
const BIND_ADDR_MAX = 16;

const CLIENT_CLASS_INDEX: Readonly<Record<string, number>> = { normal: 0, slave: 1, replica: 1, pubsub: 2 };
/** `getClientTypeName`: Valkey still prints the replica class as "slave" in CONFIG GET. */
const CLIENT_CLASS_GET_NAMES = ['normal', 'slave', 'pubsub'] as const;
/** ...but CONFIG REWRITE writes "replica". */
const CLIENT_CLASS_REWRITE_NAMES = ['normal', 'replica', 'pubsub'] as const;

function parseOutputBufferLimits(args: readonly string[], current: OutputBufferLimits): OutputBufferLimits | string {
  if (args.length % 4 !== 0) return 'Wrong number of arguments in buffer limit configuration.';
  const next: OutputBufferLimit[] = [...current];
  for (let j = 0; j < args.length; j += 4) {
    const cls = CLIENT_CLASS_INDEX[args[j]!.toLowerCase()];
    if (cls === undefined) return 'Invalid client class specified in buffer limit configuration.';
    const hard = memtoull(args[j + 1]!);
    const soft = memtoull(args[j + 2]!);
    const secondsRaw = strtollWhole(args[j + 3]!, 10);
    const seconds = secondsRaw === null ? -1 : toCInt(secondsRaw);
    if (hard === null || soft === null || secondsRaw === null || seconds < 0) {
      return 'Error in hard, soft or soft_seconds setting in buffer limit configuration.';
    }
    next[cls] = { hardLimitBytes: hard, softLimitBytes: soft, softLimitSeconds: seconds };
  }
  return [next[0]!, next[1]!, next[2]!];
}

function obufEqual(a: OutputBufferLimit, b: OutputBufferLimit): boolean {
  return a.hardLimitBytes === b.hardLimitBytes && a.softLimitBytes === b.softLimitBytes && a.softLimitSeconds === b.softLimitSeconds;
}

/* notify-keyspace-events classes (notify.c). 'A' is "g$lshzxetd". */
const KEYSPACE_CLASSES: ReadonlyArray<readonly [string, number]> = [
  ['g', 1 << 2], ['$', 1 << 3], ['l', 1 << 4], ['s', 1 << 5], ['h', 1 << 6], ['z', 1 << 7],
  ['x', 1 << 8], ['e', 1 << 9], ['t', 1 << 10], ['d', 1 << 13], ['n', 1 << 14],
];
const NOTIFY_KEYSPACE = 1 << 0;
const NOTIFY_KEYEVENT = 1 << 1;
const NOTIFY_KEY_MISS = 1 << 11;
const NOTIFY_ALL = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 13);

/** `keyspaceEventsStringToFlags`; null for an unknown class character. */
export function keyspaceEventsToFlags(classes: string): number | null {
  let flags = 0;
  for (const c of classes) {
    if (c === 'A') flags |= NOTIFY_ALL;
    else if (c === 'K') flags |= NOTIFY_KEYSPACE;
    else if (c === 'E') flags |= NOTIFY_KEYEVENT;
    else if (c === 'm') flags |= NOTIFY_KEY_MISS;
    else {
      const entry = KEYSPACE_CLASSES.find(([ch]) => ch === c);
      if (!entry) return null;
      flags |= entry[1];
    }
  }
  return flags;
}

/** `keyspaceEventsFlagsToString`: the canonical spelling CONFIG GET prints. */
export function keyspaceFlagsToString(flags: number): string {
  let out = '';
  if ((flags & NOTIFY_ALL) === NOTIFY_ALL) out += 'A';
  else for (const [ch, bit] of KEYSPACE_CLASSES) if (flags & bit) out += ch;
  if (flags & NOTIFY_KEYSPACE) out += 'K';
  if (flags & NOTIFY_KEYEVENT) out += 'E';
  if (flags & NOTIFY_KEY_MISS) out += 'm';
  return out;
}

/** strerror() texts for the errno codes a directory check can meet. */
export function strerror(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const texts: Readonly<Record<string, string>> = {
    ENOENT: 'No such file or directory', EACCES: 'Permission denied', EPERM: 'Operation not permitted',
    ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EROFS: 'Read-only file system',
    ENOSPC: 'No space left on device', EEXIST: 'File exists', ENAMETOOLONG: 'File name too long',
    EMFILE: 'Too many open files', EIO: 'Input/output error', ELOOP: 'Too many levels of symbolic links',
    EDQUOT: 'Disk quota exceeded', EBUSY: 'Device or resource busy', EXDEV: 'Invalid cross-device link',
  };
  const text = texts[code];
  if (text !== undefined) return text;
  return err instanceof Error ? err.message : String(err);
}

/** Valkey does chdir(); forkv resolves against the current dir and checks chdir would work. */
function checkDirectory(path: string): string | null {
  try {
    if (!statSync(path).isDirectory()) return 'Not a directory';
    accessSync(path, fsConstants.X_OK);
    return null;
  } catch (err) {
    return strerror(err);
  }
}

function parseSave(args: readonly string[], current: readonly SaveRule[], ctx: SetContext): readonly SaveRule[] | string {
  let list = args;
  let reset = false;
  // A single "" means "no save points".
  if (list.length === 1 && list[0] === '') {
    list = [];
    reset = true;
  }
  if (list.length % 2 !== 0) return 'Invalid save parameters';
  const numbers: bigint[] = [];
  for (let j = 0; j < list.length; j++) {
    const v = strtollWhole(list[j]!, 10);
    if (v === null || (j % 2 === 0 && v < 1n) || (j % 2 === 1 && v < 0n)) return 'Invalid save parameters';
    numbers.push(v);
  }
  let base: readonly SaveRule[];
  if (!ctx.readingConfigFile) base = [];
  else {
    // While loading, the defaults stay unless a save line appears; the first one replaces them.
    base = reset || !ctx.saveLoaded ? [] : current;
    ctx.saveLoaded = true;
  }
  const rules = [...base];
  for (let j = 0; j < numbers.length; j += 2) {
    rules.push({ seconds: Number(numbers[j]!), changes: toCInt(numbers[j + 1]!) });
  }
  return rules;
}

function arraysEqual<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* set / get                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/**
 * Parses and validates `args` for `def` (config file: the tokens after the directive; CONFIG
 * SET: the value, split on spaces for multi-argument directives). `changed` is Valkey's
 * "set returned 1": false when the value did not change, so apply hooks do not run.
 */
export function setFromArgs(def: ConfigDef, current: ConfigValue, args: readonly string[], ctx: SetContext): SetResult {
  const k = def.kind;
  const first = args[0] ?? '';
  switch (k.type) {
    case 'bool': {
      if (current.type !== 'bool') return mismatch(def);
      const lower = first.toLowerCase();
      if (lower !== 'yes' && lower !== 'no') return fail("argument must be 'yes' or 'no'");
      const v = lower === 'yes';
      const err = k.validate?.(v);
      if (err) return fail(err);
      return done({ type: 'bool', value: v }, v !== current.value || def.flags.volatile);
    }
    case 'numeric': {
      if (current.type !== 'numeric') return mismatch(def);
      const parsed = parseNumeric(k, first);
      if (typeof parsed === 'string') return fail(parsed);
      const boundsErr = checkBounds(k, parsed);
      if (boundsErr) return fail(boundsErr);
      const err = k.validate?.(parsed);
      if (err) return fail(err);
      const v = k.normalize ? k.normalize(parsed) : parsed;
      return done({ type: 'numeric', value: v }, v !== current.value || def.flags.volatile);
    }
    case 'enum': {
      if (current.type !== 'enum') return mismatch(def);
      const v = parseEnum(k, args, def.flags.multiArg);
      if (v === null) return fail(enumError(k));
      const err = k.validate?.(v);
      if (err) return fail(err);
      return done({ type: 'enum', value: v }, v !== current.value || def.flags.volatile);
    }
    case 'string': {
      if (current.type !== 'string') return mismatch(def);
      const err = k.validate?.(first);
      if (err) return fail(err);
      const v = k.emptyIsNull && first === '' ? null : first;
      return done({ type: 'string', value: v }, v !== current.value || def.flags.volatile);
    }
    case 'dir': {
      if (current.type !== 'dir') return mismatch(def);
      if (args.length !== 1) return fail('wrong number of arguments');
      if (first === '') return fail("dir can't be empty");
      const target = resolvePath(current.value, first);
      const err = checkDirectory(target);
      if (err) return fail(err);
      return done({ type: 'dir', value: target }, true);
    }
    case 'save': {
      if (current.type !== 'save') return mismatch(def);
      const rules = parseSave(args, current.value, ctx);
      return typeof rules === 'string' ? fail(rules) : done({ type: 'save', value: rules }, true);
    }
    case 'bind': {
      if (current.type !== 'bind') return mismatch(def);
      if (args.length > BIND_ADDR_MAX) return fail('Too many bind addresses specified.');
      const addrs = args.length === 1 && first === '' ? [] : [...args];
      return done({ type: 'bind', value: addrs }, true);
    }
    case 'obuf': {
      if (current.type !== 'obuf') return mismatch(def);
      const limits = parseOutputBufferLimits(args, current.value);
      return typeof limits === 'string' ? fail(limits) : done({ type: 'obuf', value: limits }, true);
    }
    case 'oom-values': {
      if (current.type !== 'oom-values') return mismatch(def);
      if (args.length !== 3) return fail('wrong number of arguments');
      const values: number[] = [];
      for (const arg of args) {
        const v = strtollWhole(arg, 10);
        if (v === null || v < -2000n || v > 2000n) {
          return fail('Invalid oom-score-adj-values, elements must be between -2000 and 2000.');
        }
        values.push(Number(v));
      }
      if (values[1]! < values[0]! || values[2]! < values[1]!) {
        ctx.warn('The oom-score-adj-values configuration may not work for non-privileged processes! Please consult the documentation.');
      }
      return done({ type: 'oom-values', value: values }, !arraysEqual(values, current.value));
    }
    case 'keyspace-events': {
      if (current.type !== 'keyspace-events') return mismatch(def);
      if (args.length !== 1) return fail('wrong number of arguments');
      const flagsValue = keyspaceEventsToFlags(first);
      if (flagsValue === null) return fail("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
      return done({ type: 'keyspace-events', value: flagsValue }, true);
    }
    case 'replicaof': {
      if (current.type !== 'replicaof') return mismatch(def);
      if (args.length !== 2) return fail('wrong number of arguments');
      if (first.toLowerCase() === 'no' && args[1]!.toLowerCase() === 'one') return done({ type: 'replicaof', value: null }, true);
      const port = strtollWhole(args[1]!, 10);
      if (port === null || port < 0n || port > 65535n) return fail('Invalid primary port');
      return done({ type: 'replicaof', value: { host: first, port: Number(port) } }, true);
    }
    case 'percentiles': {
      if (current.type !== 'percentiles') return mismatch(def);
      const list = args.length === 1 && first === '' ? [] : args;
      const values: number[] = [];
      for (const arg of list) {
        const v = string2d(arg);
        if (v === null) return fail('Invalid latency-tracking-info-percentiles parameters');
        if (v > 100 || v < 0) return fail('latency-tracking-info-percentiles parameters should sit between [0.0,100.0]');
        values.push(v);
      }
      return done({ type: 'percentiles', value: values }, true);
    }
  }
}

/** The value exactly as CONFIG GET prints it. */
export function formatValue(def: ConfigDef, value: ConfigValue): string {
  const k = def.kind;
  switch (value.type) {
    case 'bool': return value.value ? 'yes' : 'no';
    case 'numeric': return k.type === 'numeric' ? formatNumeric(k, value.value) : mismatch(def);
    case 'enum': return k.type === 'enum' ? enumName(k, value.value, def.flags.multiArg) : mismatch(def);
    case 'string': return value.value ?? '';
    case 'dir': return value.value;
    case 'save': return value.value.map((r) => `${r.seconds} ${r.changes}`).join(' ');
    case 'bind': return value.value.join(' ');
    case 'obuf':
      return value.value
        .map((l, i) => `${CLIENT_CLASS_GET_NAMES[i]} ${l.hardLimitBytes} ${l.softLimitBytes} ${l.softLimitSeconds}`)
        .join(' ');
    case 'oom-values': return value.value.join(' ');
    case 'keyspace-events': return keyspaceFlagsToString(value.value);
    case 'replicaof': return value.value ? `${value.value.host} ${value.value.port}` : '';
    case 'percentiles': return value.value.map(formatTrimmedDouble).join(' ');
  }
}

/* ------------------------------------------------------------------------------------------ */
/* CONFIG REWRITE                                                                             */
/* ------------------------------------------------------------------------------------------ */

/** What rewriteConfig's per-option functions talk to (see rewrite.ts). */
export interface RewriteSink {
  /** Replaces the next old line of `option`, or appends when `force` (a non-default value). */
  rewriteLine(option: string, line: string, force: boolean): void;
  /** Marks the option handled, so its unused old lines are blanked. */
  markProcessed(option: string): void;
}

/** Emits the line(s) CONFIG REWRITE writes for one directive (Valkey's rewrite functions). */
export function rewriteValue(def: ConfigDef, value: ConfigValue, sink: RewriteSink): void {
  const name = def.name;
  const k = def.kind;
  switch (value.type) {
    case 'bool':
      if (k.type !== 'bool') return mismatch(def);
      sink.rewriteLine(name, `${name} ${value.value ? 'yes' : 'no'}`, value.value !== k.default);
      return;
    case 'numeric': {
      if (k.type !== 'numeric') return mismatch(def);
      const v = value.value;
      if (k.format === 'memory-percent' && v < 0n) sink.rewriteLine(name, `${name} ${-v}%`, -v !== k.default);
      else if (k.format === 'memory' || k.format === 'memory-percent') sink.rewriteLine(name, `${name} ${formatMemory(v)}`, v !== k.default);
      else if (k.format === 'octal') sink.rewriteLine(name, `${name} ${BigInt.asUintN(64, v).toString(8)}`, v !== k.default);
      else sink.rewriteLine(name, `${name} ${v}`, v !== k.default);
      return;
    }
    case 'enum':
      if (k.type !== 'enum') return mismatch(def);
      sink.rewriteLine(name, `${name} ${enumName(k, value.value, def.flags.multiArg)}`, value.value !== k.default);
      return;
    case 'string': {
      if (k.type !== 'string') return mismatch(def);
      // An unset (null) string must be absent from the file to stay unset after a restart.
      if (value.value === null) {
        sink.markProcessed(name);
        return;
      }
      const force = !(k.default !== null && value.value === k.default);
      sink.rewriteLine(name, `${name} ${quoteArg(value.value)}`, force);
      return;
    }
    case 'dir':
      sink.rewriteLine(name, `${name} ${quoteArg(value.value)}`, true);
      return;
    case 'save':
      // Always written, `save ""` included, so the compiled-in defaults never come back.
      sink.rewriteLine(name, value.value.length === 0
        ? `${name} ""`
        : `${name} ${value.value.map((r) => `${r.seconds} ${r.changes}`).join(' ')}`, true);
      sink.markProcessed(name);
      return;
    case 'bind': {
      if (k.type !== 'bind') return mismatch(def);
      if (arraysEqual(value.value, k.default)) {
        sink.markProcessed(name);
        return;
      }
      sink.rewriteLine(name, `${name} ${value.value.length > 0 ? value.value.join(' ') : '""'}`, true);
      return;
    }
    case 'obuf': {
      if (k.type !== 'obuf') return mismatch(def);
      value.value.forEach((l, i) => {
        const line = `${name} ${CLIENT_CLASS_REWRITE_NAMES[i]} ${formatMemory(l.hardLimitBytes)} ${formatMemory(l.softLimitBytes)} ${l.softLimitSeconds}`;
        sink.rewriteLine(name, line, !obufEqual(l, k.default[i]!));
      });
      return;
    }
    case 'oom-values':
      if (k.type !== 'oom-values') return mismatch(def);
      sink.rewriteLine(name, `${name} ${value.value.join(' ')}`, !arraysEqual(value.value, k.default));
      return;
    case 'keyspace-events':
      sink.rewriteLine(name, `${name} ${quoteArg(keyspaceFlagsToString(value.value))}`, value.value !== 0);
      return;
    case 'replicaof':
      if (value.value === null) sink.markProcessed(name);
      else sink.rewriteLine(name, `${name} ${value.value.host} ${value.value.port}`, true);
      return;
    case 'percentiles':
      // Valkey always writes this one, even at its default.
      sink.rewriteLine(name, value.value.length === 0
        ? `${name} ""`
        : `${name} ${value.value.map(formatTrimmedDouble).join(' ')}`, true);
      return;
  }
}
