/**
 * The valkey.conf line grammar: Valkey's `sdssplitargs`, its inverse `sdscatrepr`, and
 * `sdssplitlen` with a single-space separator (what CONFIG SET uses to split the value of a
 * multi-argument parameter such as `save` or `bind`).
 *
 * Tokens are assembled as bytes and decoded as UTF-8 at the end, so a `\xHH` escape means one
 * byte, exactly as in Valkey: `"\xc3\xa9"` is "é", and what `quoteArg` writes reads back equal.
 * A `\x` sequence that does not form valid UTF-8 decodes to U+FFFD.
 */

/** C `isspace` in the C locale. */
export function isCSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
}

function isHexDigit(ch: string | undefined): ch is string {
  return ch !== undefined && /^[0-9a-fA-F]$/.test(ch);
}

/** Appends the UTF-8 bytes of one character (or surrogate pair) to `out`. */
function pushChar(out: number[], ch: string): void {
  const code = ch.charCodeAt(0);
  if (code < 0x80) {
    out.push(code);
    return;
  }
  for (const byte of Buffer.from(ch, 'utf8')) out.push(byte);
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, a: 0x07 };

/**
 * Splits a line into arguments like Valkey's `sdssplitargs`.
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
  const chars = Array.from(line); // code points, so surrogate pairs stay whole
  const result: string[] = [];
  let p = 0;
  for (;;) {
    while (p < chars.length && isCSpace(chars[p]!)) p++;
    if (p >= chars.length) return result;

    const bytes: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const ch = chars[p];
      if (inDouble) {
        if (ch === undefined) return null; // unterminated quotes
        if (ch === '\\' && chars[p + 1] === 'x' && isHexDigit(chars[p + 2]) && isHexDigit(chars[p + 3])) {
          bytes.push(parseInt(chars[p + 2]! + chars[p + 3]!, 16));
          p += 3;
        } else if (ch === '\\' && chars[p + 1] !== undefined) {
          p++;
          const escaped = chars[p]!;
          const simple = SIMPLE_ESCAPES[escaped];
          if (simple !== undefined) bytes.push(simple);
          else pushChar(bytes, escaped);
        } else if (ch === '"') {
          const next = chars[p + 1];
          if (next !== undefined && !isCSpace(next)) return null;
          done = true;
        } else {
          pushChar(bytes, ch);
        }
      } else if (inSingle) {
        if (ch === undefined) return null;
        if (ch === '\\' && chars[p + 1] === "'") {
          p++;
          bytes.push(0x27);
        } else if (ch === "'") {
          const next = chars[p + 1];
          if (next !== undefined && !isCSpace(next)) return null;
          done = true;
        } else {
          pushChar(bytes, ch);
        }
      } else if (ch === undefined || ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t') {
        done = true;
      } else if (ch === '"') {
        inDouble = true;
      } else if (ch === "'") {
        inSingle = true;
      } else {
        pushChar(bytes, ch);
      }
      if (p < chars.length) p++;
    }
    result.push(Buffer.from(bytes).toString('utf8'));
  }
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
