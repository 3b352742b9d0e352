// A raw RESP2/RESP3 connection that parses replies into a typed tree, so tests can
// compare reply shapes exactly (array vs set vs map, bulk vs double) and byte for byte.
import * as net from 'node:net';

/** One parsed reply. `type` is the RESP type byte. */
export type Resp =
  | { type: '+' | '-' | '='; value: string }
  | { type: ':'; value: bigint }
  | { type: '$'; value: Buffer | null }
  | { type: ','; value: string }
  | { type: '#'; value: boolean }
  | { type: '_'; value: null }
  | { type: '*' | '~' | '>'; value: Resp[] | null }
  | { type: '%'; value: Array<[Resp, Resp]> };

class Incomplete extends Error {}

/** Parses one reply at `pos`; returns it and the position after it. */
export function parseResp(buf: Buffer, pos: number): [Resp, number] {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) throw new Incomplete();
  const tag = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('latin1', pos + 1, eol);
  let p = eol + 2;
  switch (tag) {
    case '+':
    case '-':
      return [{ type: tag, value: line }, p];
    case ':':
      return [{ type: ':', value: BigInt(line) }, p];
    case ',':
      return [{ type: ',', value: line }, p];
    case '#':
      return [{ type: '#', value: line === 't' }, p];
    case '_':
      return [{ type: '_', value: null }, p];
    case '$':
    case '=': {
      const n = Number(line);
      if (n < 0) return [{ type: '$', value: null }, p];
      if (buf.length < p + n + 2) throw new Incomplete();
      const data = buf.subarray(p, p + n);
      p += n + 2;
      return tag === '$' ? [{ type: '$', value: Buffer.from(data) }, p] : [{ type: '=', value: data.toString('latin1') }, p];
    }
    case '*':
    case '~':
    case '>': {
      const n = Number(line);
      if (n < 0) return [{ type: tag, value: null }, p];
      const items: Resp[] = [];
      for (let i = 0; i < n; i++) {
        const [v, q] = parseResp(buf, p);
        items.push(v);
        p = q;
      }
      return [{ type: tag, value: items }, p];
    }
    case '%': {
      const n = Number(line);
      const pairs: Array<[Resp, Resp]> = [];
      for (let i = 0; i < n; i++) {
        const [k, q] = parseResp(buf, p);
        const [v, r] = parseResp(buf, q);
        pairs.push([k, v]);
        p = r;
      }
      return [{ type: '%', value: pairs }, p];
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(tag)} in ${JSON.stringify(buf.toString('latin1', pos, pos + 40))}`);
  }
}

/** Encodes a command as a RESP multibulk. */
export function encode(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A connection that sends commands and resolves their parsed replies in order. */
export class RespConn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Array<{ resolve: (r: Resp) => void; reject: (e: Error) => void }> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.drain();
    });
    socket.on('close', () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error('connection closed'));
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RespConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.setNoDelay(true);
        resolve(new RespConn(s));
      });
      s.once('error', reject);
    });
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.buf.length > 0) {
      let parsed: [Resp, number];
      try {
        parsed = parseResp(this.buf, 0);
      } catch (e) {
        if (e instanceof Incomplete) return;
        throw e;
      }
      this.buf = this.buf.subarray(parsed[1]);
      this.waiting.shift()?.resolve(parsed[0]);
    }
  }

  /** Sends one command; resolves with its reply. */
  call(...args: Array<string | Buffer>): Promise<Resp> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encode(args));
    });
  }

  /** Sends several commands in one write; resolves with all replies. */
  pipeline(cmds: Array<Array<string | Buffer>>): Promise<Resp[]> {
    const out = cmds.map(
      () =>
        new Promise<Resp>((resolve, reject) => {
          this.waiting.push({ resolve, reject });
        }),
    );
    this.socket.write(Buffer.concat(cmds.map(encode)));
    return Promise.all(out);
  }

  /** Sends raw bytes (for pipelines built elsewhere) without waiting. */
  writeRaw(b: Buffer): void {
    this.socket.write(b);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A readable rendering of a reply, for assertion messages and comparisons. */
export function show(r: Resp): string {
  switch (r.type) {
    case '$':
      return r.value === null ? '(nil)' : JSON.stringify(r.value.toString('latin1'));
    case ':':
      return `(int ${r.value})`;
    case '*':
    case '~':
    case '>':
      return r.value === null ? `${r.type}(nil)` : `${r.type}[${r.value.map(show).join(', ')}]`;
    case '%':
      return `%{${r.value.map(([k, v]) => `${show(k)}: ${show(v)}`).join(', ')}}`;
    case '-':
      return `(error ${r.value})`;
    default:
      return `${r.type}${String(r.value)}`;
  }
}

/** The elements of an array-like reply (empty for null). */
export function items(r: Resp): Resp[] {
  if ((r.type === '*' || r.type === '~' || r.type === '>') && r.value) return r.value;
  return [];
}

/** The text of a bulk/simple/double reply (null for nulls). */
export function text(r: Resp): string | null {
  if (r.type === '$') return r.value === null ? null : r.value.toString('latin1');
  if (r.type === '+' || r.type === ',' || r.type === '=' || r.type === '-') return r.value;
  if (r.type === ':') return String(r.value);
  return null;
}

/** Deterministic PRNG (mulberry32) so failures reproduce from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
