/**
 * Valkey's number parsers and printers, reproduced exactly because their corner cases are
 * visible to users: which strings a directive accepts, and how CONFIG GET / CONFIG REWRITE
 * print the value. Everything is 64-bit and held in bigint.
 */

export const INT_MIN = -(2n ** 31n);
export const INT_MAX = 2n ** 31n - 1n;
export const UINT_MAX = 2n ** 32n - 1n;
export const LLONG_MIN = -(2n ** 63n);
export const LLONG_MAX = 2n ** 63n - 1n;
export const LONG_MAX = LLONG_MAX; // LP64
export const ULLONG_MAX = 2n ** 64n - 1n;

const KB = 1024n;
const MB = 1024n * 1024n;
const GB = 1024n * 1024n * 1024n;

/**
 * `string2ll`: the strict integer syntax. No sign but '-', no spaces, no leading zeros (only "0"
 * itself), no "-0", fewer than 21 characters, and the value must fit a signed 64-bit integer.
 */
export function string2ll(s: string): bigint | null {
  if (s.length === 0 || s.length >= 21) return null;
  if (s === '0') return 0n;
  if (!/^-?[1-9][0-9]*$/.test(s)) return null;
  const v = BigInt(s);
  return v < LLONG_MIN || v > LLONG_MAX ? null : v;
}

/**
 * `memtoull`: digits followed by an optional unit: b, k (1000), kb (1024), m, mb, g, gb, any
 * case. A leading '-' is refused. The empty string and a bare unit are 0 (strtoull of no digits,
 * which Valkey does not treat as an error). Overflow wraps modulo 2^64 as in C.
 */
export function memtoull(s: string): bigint | null {
  if (s.startsWith('-')) return null;
  const m = /^([0-9]*)(.*)$/s.exec(s);
  if (!m) return null;
  const digits = m[1]!;
  const unit = m[2]!.toLowerCase();
  const multipliers: Readonly<Record<string, bigint>> = {
    '': 1n, b: 1n, k: 1000n, kb: KB, m: 1000n * 1000n, mb: MB, g: 1000n * 1000n * 1000n, gb: GB,
  };
  const mul = multipliers[unit];
  if (mul === undefined) return null;
  if (digits.length >= 128) return null;
  let value = digits === '' ? 0n : BigInt(digits);
  if (value > ULLONG_MAX) value = ULLONG_MAX; // strtoull saturates (ERANGE is not checked)
  return BigInt.asUintN(64, value * mul);
}

/**
 * `strtoll(s, &end, base)` where the caller requires `*end == '\0'`: optional leading blanks,
 * an optional sign, digits. The empty string parses as 0 (no conversion, end == s, *end == 0).
 * Returns null when characters remain or, with `rejectOverflow`, when the value is out of range
 * (errno ERANGE); otherwise out-of-range values saturate as strtoll does.
 */
export function strtollWhole(s: string, base: 8 | 10, rejectOverflow = false): bigint | null {
  if (s === '') return 0n;
  const digitClass = base === 8 ? '[0-7]' : '[0-9]';
  const m = new RegExp(`^[ \\t\\n\\v\\f\\r]*([+-]?)(${digitClass}+)$`).exec(s);
  if (!m) return null;
  let magnitude = 0n;
  for (const d of m[2]!) magnitude = magnitude * BigInt(base) + BigInt(d.charCodeAt(0) - 48);
  const value = m[1] === '-' ? -magnitude : magnitude;
  if (value > LLONG_MAX) return rejectOverflow ? null : LLONG_MAX;
  if (value < LLONG_MIN) return rejectOverflow ? null : LLONG_MIN;
  return value;
}

/** C conversion of a 64-bit value to `int` (keeps the low 32 bits). */
export function toCInt(value: bigint): number {
  return Number(BigInt.asIntN(32, value));
}

/** `rewriteConfigFormatMemory`: 1gb, 64mb, 4kb when exact, plain bytes otherwise. */
export function formatMemory(bytes: bigint): string {
  if (bytes !== 0n && bytes % GB === 0n) return `${bytes / GB}gb`;
  if (bytes !== 0n && bytes % MB === 0n) return `${bytes / MB}mb`;
  if (bytes !== 0n && bytes % KB === 0n) return `${bytes / KB}kb`;
  return `${bytes}`;
}

/**
 * `string2d` as used for latency percentiles: the whole string must be a number strtod accepts,
 * with no leading blank, and not NaN. Decimal and inf/infinity forms are supported; C99 hex
 * floats are not (an accepted deviation).
 */
export function string2d(s: string): number | null {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s)) return null;
  return Number(s);
}

/** `snprintf("%f")` followed by Valkey's `trimDoubleString` (drop trailing zeros and the dot). */
export function formatTrimmedDouble(value: number): string {
  const fixed = value.toFixed(6);
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}
