/** Shared helpers for the config unit tests (not a test file itself). */
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../ts/config/errors';
import { parseConfigText, type LoadResult } from '../../ts/config/parse';

/** A simple stand-in for the server's stringmatch: * ? [..] and \x. */
export function glob(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += '[' + pattern.slice(i + 1, end).replace(/^\^/, '\\^').replace(/^!/, '^') + ']';
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(name);
}

export function tempDir(): string {
  return realpathSync(mkdtempSync(join(tmpdir(), 'forkv-config-')));
}

/** Parses text expected to be valid. */
export function load(text: string, cwd?: string): LoadResult {
  return parseConfigText(text, 'test.conf', { version: '9.9.9', ...(cwd !== undefined ? { cwd } : {}) });
}

/** Parses text expected to fail; returns the ConfigError. */
export function loadError(text: string, cwd?: string): ConfigError {
  try {
    load(text, cwd);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for: ${text}`);
}

/** The reason Valkey would print for a one-line config. */
export function reason(line: string, cwd?: string): string {
  return loadError(line, cwd).reason;
}
