/**
 * The part of glob(3) that `include` (and a config file name) uses since Valkey 7: `*`, `?` and
 * `[...]` in any path component, matches sorted, no match = nothing included. Node 20 has no
 * fs.globSync, hence this small implementation.
 */
import { readdirSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';

/** Valkey switches to glob() when the name contains one of these. */
export function hasWildcard(path: string): boolean {
  return /[*?[]/.test(path);
}

/** fnmatch(3) without flags, for one path component: * ? [abc] [a-z] [!x] [^x] and \x. */
export function fnmatch(pattern: string, name: string): boolean {
  return matchFrom(pattern, 0, name, 0);
}

function matchFrom(pattern: string, pi: number, name: string, ni: number): boolean {
  while (pi < pattern.length) {
    const c = pattern[pi]!;
    if (c === '*') {
      while (pattern[pi] === '*') pi++;
      if (pi === pattern.length) return true;
      for (let k = ni; k <= name.length; k++) if (matchFrom(pattern, pi, name, k)) return true;
      return false;
    }
    if (ni >= name.length) return false;
    if (c === '?') {
      pi++;
      ni++;
      continue;
    }
    if (c === '[') {
      const cls = matchBracket(pattern, pi, name[ni]!);
      if (cls !== null) {
        if (!cls.matched) return false;
        pi = cls.next;
        ni++;
        continue;
      }
      // No closing bracket: '[' is an ordinary character.
    }
    let literal = c;
    if (c === '\\' && pi + 1 < pattern.length) literal = pattern[++pi]!;
    if (literal !== name[ni]) return false;
    pi++;
    ni++;
  }
  return ni === name.length;
}

function matchBracket(pattern: string, start: number, ch: string): { matched: boolean; next: number } | null {
  let i = start + 1;
  const negate = pattern[i] === '!' || pattern[i] === '^';
  if (negate) i++;
  let matched = false;
  let first = true;
  while (i < pattern.length && (first || pattern[i] !== ']')) {
    first = false;
    let lo = pattern[i]!;
    if (lo === '\\' && i + 1 < pattern.length) lo = pattern[++i]!;
    if (pattern[i + 1] === '-' && i + 2 < pattern.length && pattern[i + 2] !== ']') {
      let hi = pattern[i + 2]!;
      i += 2;
      if (hi === '\\' && i + 1 < pattern.length) hi = pattern[++i]!;
      if (lo <= ch && ch <= hi) matched = true;
    } else if (lo === ch) {
      matched = true;
    }
    i++;
  }
  if (i >= pattern.length) return null;
  return { matched: matched !== negate, next: i + 1 };
}

function unescape(segment: string): string {
  return segment.replace(/\\(.)/g, '$1');
}

function joinPrefix(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix.endsWith('/') ? prefix + name : `${prefix}/${name}`;
}

/**
 * Expands `pattern` (relative names resolve against `cwd`) to the existing paths it matches,
 * sorted bytewise like glob(3) in the C locale. Names starting with '.' only match a component
 * that starts with '.'. Returned paths keep the pattern's form (relative stays relative).
 */
export function globPaths(pattern: string, cwd: string): string[] {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s) => s !== '');
  let candidates: string[] = [absolute ? '/' : ''];
  for (const segment of segments) {
    const next: string[] = [];
    for (const prefix of candidates) {
      if (!hasWildcard(segment)) {
        next.push(joinPrefix(prefix, unescape(segment)));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(resolvePath(cwd, prefix === '' ? '.' : prefix));
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.startsWith('.') && !segment.startsWith('.')) continue;
        if (fnmatch(segment, name)) next.push(joinPrefix(prefix, name));
      }
    }
    candidates = next;
  }
  const existing = candidates.filter((p) => {
    try {
      statSync(resolvePath(cwd, p));
      return true;
    } catch {
      return false;
    }
  });
  return existing.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
