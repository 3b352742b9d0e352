/**
 * The valkey.conf line grammar: Valkey's `sdssplitargs`, its inverse `sdscatrepr`, and
 * `sdssplitlen` with a single-space separator (what CONFIG SET uses to split the value of a
 * multi-argument parameter such as `save` or `bind`).
 *
 * Tokens are split as bytes (by the core) and decoded as UTF-8, so a `\xHH` escape means one
 * byte, exactly as in Valkey: `"\xc3\xa9"` is "é", and what `quoteArg` writes reads back equal.
 * A `\x` sequence that does not form valid UTF-8 decodes to U+FFFD.
 */

import { splitArgs as splitArgsBytes } from '../native/core';

/**
 * Splits a line into arguments like Valkey's `sdssplitargs`, with the core's implementation
 * (the one the AOF manifest reader uses):
 *
 * - Blanks (C isspace) separate arguments; outside quotes a token ends at space, \n, \r or \t.
 * - "double quotes" understand \n \r \t \b \a, \xHH and backslash-anything (the character itself).
 * - 'single quotes' understand only \'.
 * - A quote may open in the middle of a token (`a"b c"` is `ab c`), but a closing quote must be
 *   followed by a blank or the end of the line.
 *
 * Returns null for unbalanced quotes or a closing quote followed by a non-blank ("foo"bar).
 */
export function splitArgs(line: string): string[] | null {
  const args = splitArgsBytes(Buffer.from(line, 'utf8'));
  return args === null ? null : args.map((a) => a.toString('utf8'));
}

/**
 * Quotes a string the way Valkey's `sdscatrepr` does: always in double quotes, with \\ \" \n \r
 * \t \a \b escaped and every other byte outside printable ASCII written as \xHH (of its UTF-8
 * encoding). `splitArgs(quoteArg(s))` gives back `[s]`.
 */
export function quoteArg(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    switch (byte) {
      case 0x5c: out += '\\\\'; break;
      case 0x22: out += '\\"'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x07: out += '\\a'; break;
      case 0x08: out += '\\b'; break;
      default:
        out += byte >= 0x20 && byte <= 0x7e
          ? String.fromCharCode(byte)
          : '\\x' + byte.toString(16).padStart(2, '0');
    }
  }
  return out + '"';
}

/**
 * `sdssplitlen(s, " ")`: splits on every single space, keeping empty fields; an empty string
 * gives no fields at all. CONFIG SET uses it for multi-argument parameters, so
 * `CONFIG SET save ""` means "no save points" and a double space makes an empty argument.
 */
export function splitOnSpaces(value: string): string[] {
  return value === '' ? [] : value.split(' ');
}

/** `sdstrim`: strips any of `chars` from both ends. */
export function trimChars(value: string, chars: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && chars.includes(value[start]!)) start++;
  while (end > start && chars.includes(value[end - 1]!)) end--;
  return value.slice(start, end);
}

/** `sdstolower` in the C locale: only ASCII letters change. */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
