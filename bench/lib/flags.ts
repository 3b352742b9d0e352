// Typed command-line flags for the bench harnesses: `--name value` (or `--name=value`),
// `--flag` for booleans, `--help` prints every flag with its default.
//
// Spec keys are camelCase; on the command line they are kebab-case (`probeRate` is
// `--probe-rate`). Every harness records both its options and its defaults in the JSON
// results, so a reduced-scale (smoke) run can never pass for a full-scale one.

/** One flag: how to parse it, its default and a line of help. */
export interface Flag<T> {
  readonly parse: (text: string) => T;
  readonly default: T;
  readonly help: string;
  /** A boolean flag takes no value (`--pin`), or an explicit one (`--pin=false`). */
  readonly isBool: boolean;
}

export type FlagSpec = Record<string, Flag<unknown>>;
export type Parsed<S extends FlagSpec> = { [K in keyof S]: S[K] extends Flag<infer T> ? T : never };

function parseIntStrict(text: string): number {
  if (!/^-?\d+$/.test(text.replace(/_/g, ''))) throw new Error(`not an integer: ${text}`);
  return Number(text.replace(/_/g, ''));
}

export function int(def: number, help: string): Flag<number> {
  return { parse: parseIntStrict, default: def, help, isBool: false };
}

export function float(def: number, help: string): Flag<number> {
  return {
    parse: (t) => {
      const n = Number(t);
      if (!Number.isFinite(n)) throw new Error(`not a number: ${t}`);
      return n;
    },
    default: def,
    help,
    isBool: false,
  };
}

export function str(def: string, help: string): Flag<string> {
  return { parse: (t) => t, default: def, help, isBool: false };
}

export function bool(def: boolean, help: string): Flag<boolean> {
  return {
    parse: (t) => {
      if (t === 'true' || t === 'yes' || t === '1') return true;
      if (t === 'false' || t === 'no' || t === '0') return false;
      throw new Error(`not a boolean: ${t}`);
    },
    default: def,
    help,
    isBool: true,
  };
}

/** A comma-separated list of integers (`--pipelines 1,16`). */
export function intList(def: number[], help: string): Flag<number[]> {
  return { parse: (t) => t.split(',').filter((s) => s !== '').map(parseIntStrict), default: def, help, isBool: false };
}

/** A comma-separated list of strings (`--policies always,no`). */
export function strList(def: string[], help: string): Flag<string[]> {
  return { parse: (t) => t.split(',').filter((s) => s !== ''), default: def, help, isBool: false };
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.join(',');
  if (v === '') return "''";
  return String(v);
}

/** Usage text for `--help`. */
export function usage(title: string, spec: FlagSpec): string {
  const lines = [title, '', 'Flags (default in brackets):'];
  for (const [name, f] of Object.entries(spec)) {
    lines.push(`  --${kebab(name)}${f.isBool ? '' : ' <value>'}`.padEnd(34) + `${f.help} [${show(f.default)}]`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Parses argv against `spec`. Exits with the usage on `--help` and on an unknown flag or a
 * bad value (a typo must never silently run the full-scale default).
 */
export function parseFlags<S extends FlagSpec>(title: string, spec: S, argv: string[] = process.argv.slice(2)): Parsed<S> {
  const byKebab = new Map<string, string>();
  for (const name of Object.keys(spec)) byKebab.set(kebab(name), name);
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) out[name] = f.default;
  const fail = (msg: string): never => {
    process.stderr.write(`${msg}\n\n${usage(title, spec)}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(usage(title, spec));
      process.exit(0);
    }
    if (!a.startsWith('--')) fail(`unexpected argument: ${a}`);
    const eq = a.indexOf('=');
    const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const name = byKebab.get(key);
    if (name === undefined) return fail(`unknown flag: --${key}`);
    const f = spec[name] as Flag<unknown>;
    let text: string;
    if (eq >= 0) text = a.slice(eq + 1);
    else if (f.isBool) text = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) return fail(`--${key} needs a value`);
      text = next;
    }
    try {
      out[name] = f.parse(text);
    } catch (e) {
      fail(`--${key}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out as Parsed<S>;
}

/** The defaults of a spec, for the results file. */
export function defaultsOf<S extends FlagSpec>(spec: S): Parsed<S> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) out[name] = f.default;
  return out as Parsed<S>;
}

/** The flags whose value differs from the default (a smoke run lists its reductions here). */
export function changedFlags<S extends FlagSpec>(spec: S, opts: Parsed<S>): string[] {
  const out: string[] = [];
  for (const [name, f] of Object.entries(spec)) {
    const v: unknown = (opts as Record<string, unknown>)[name];
    if (JSON.stringify(v) !== JSON.stringify(f.default)) out.push(`--${kebab(name)} ${show(v)}`);
  }
  return out;
}
