// RESP2/RESP3 encoding for replies produced by host commands. The core encodes its own
// replies in Rust; this mirrors the same shapes (map, set, null, verbatim) so that a
// host command answers a RESP3 client in RESP3.

/** A reply value a host command can produce. */
export type Reply =
  | { t: 'simple'; v: string }
  | { t: 'error'; v: string }
  | { t: 'int'; v: number | bigint }
  | { t: 'bulk'; v: Buffer | string }
  | { t: 'null' }
  | { t: 'array'; v: Reply[] }
  | { t: 'map'; v: Array<[Reply, Reply]> }
  | { t: 'set'; v: Reply[] }
  | { t: 'verbatim'; v: string; format?: string }
  | { t: 'bool'; v: boolean }
  | { t: 'raw'; v: Buffer };

export const ok: Reply = { t: 'simple', v: 'OK' };
export const nil: Reply = { t: 'null' };
export const simple = (v: string): Reply => ({ t: 'simple', v });
export const error = (v: string): Reply => ({ t: 'error', v });
export const int = (v: number | bigint): Reply => ({ t: 'int', v });
export const bulk = (v: Buffer | string): Reply => ({ t: 'bulk', v });
export const array = (v: Reply[]): Reply => ({ t: 'array', v });
export const map = (v: Array<[Reply, Reply]>): Reply => ({ t: 'map', v });
export const verbatim = (v: string, format = 'txt'): Reply => ({ t: 'verbatim', v, format });
export const bulkArray = (v: Array<Buffer | string>): Reply => array(v.map(bulk));

/** Encodes a reply for a client speaking RESP `proto`. */
export function encode(r: Reply, proto: number): Buffer {
  const parts: Buffer[] = [];
  write(r, proto, parts);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

function line(prefix: string, body: string | number | bigint): Buffer {
  return Buffer.from(`${prefix}${body}\r\n`, 'latin1');
}

function write(r: Reply, proto: number, out: Buffer[]): void {
  const resp3 = proto >= 3;
  switch (r.t) {
    case 'simple':
      out.push(Buffer.from(`+${r.v.replace(/[\r\n]/g, ' ')}\r\n`));
      return;
    case 'error':
      out.push(Buffer.from(`-${r.v.replace(/[\r\n]/g, ' ')}\r\n`));
      return;
    case 'int':
      out.push(line(':', r.v));
      return;
    case 'bulk': {
      const b = typeof r.v === 'string' ? Buffer.from(r.v) : r.v;
      out.push(line('$', b.length), b, Buffer.from('\r\n'));
      return;
    }
    case 'null':
      out.push(Buffer.from(resp3 ? '_\r\n' : '$-1\r\n'));
      return;
    case 'array':
      out.push(line('*', r.v.length));
      for (const e of r.v) write(e, proto, out);
      return;
    case 'set':
      out.push(line(resp3 ? '~' : '*', r.v.length));
      for (const e of r.v) write(e, proto, out);
      return;
    case 'map':
      out.push(resp3 ? line('%', r.v.length) : line('*', r.v.length * 2));
      for (const [k, v] of r.v) {
        write(k, proto, out);
        write(v, proto, out);
      }
      return;
    case 'verbatim': {
      const b = Buffer.from(r.v);
      if (resp3) {
        out.push(line('=', b.length + 4), Buffer.from(`${r.format ?? 'txt'}:`), b, Buffer.from('\r\n'));
      } else {
        out.push(line('$', b.length), b, Buffer.from('\r\n'));
      }
      return;
    }
    case 'bool':
      out.push(Buffer.from(resp3 ? (r.v ? '#t\r\n' : '#f\r\n') : r.v ? ':1\r\n' : ':0\r\n'));
      return;
    case 'raw':
      out.push(r.v);
      return;
  }
}
