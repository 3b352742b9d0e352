// The one RESP client of the uvu suites and of the benchmark harnesses (bench/lib/client.ts):
// raw bytes in and out for protocol-level assertions (exact bytes, pipelines, abuse, closed
// connections), parsed RESP2/RESP3 replies as a typed tree, so tests compare reply shapes
// exactly (array vs set vs map, bulk vs double), and counted batches for bulk loads (many
// pipelined commands whose replies are only checked for errors). Real-library behaviour is
// tested with ioredis/node-redis instead.
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

/** Thrown by [`parseResp`] when the buffer ends inside a reply. */
export class Incomplete extends Error {}

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

/** Parses one complete reply at the start of `buf`, or returns undefined if it is incomplete. */
function tryParse(buf: Buffer): [Resp, number] | undefined {
  if (buf.length === 0) return undefined;
  try {
    return parseResp(buf, 0);
  } catch (e) {
    if (e instanceof Incomplete) return undefined;
    throw e;
  }
}

/** What a counted batch got back (see [`RawClient.sendBatch`]). */
export interface BatchResult {
  /** Error replies among the batch's. */
  errors: number;
  /** The first error reply's text. */
  firstError: string | null;
}

export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  /** Parsed reads are served one after another, in the order they were asked for. */
  private replyChain: Promise<unknown> = Promise.resolve();
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  /**
   * A client over a socket that is still connecting (a unix or TLS socket, or one that must
   * not wait for the server to accept it: a busy server accepts late). Writes wait in the
   * socket until it is connected.
   */
  static over(socket: net.Socket): RawClient {
    return new RawClient(socket);
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 0): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => {
        clearTimeout(t);
        s.setNoDelay(true);
        resolve(new RawClient(s));
      });
      const t = timeoutMs > 0 ? setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs) : undefined;
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  /** Connects, retrying until `timeoutMs` (for a server that is still starting). */
  static async connectRetry(port: number, timeoutMs = 30000): Promise<RawClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await RawClient.connect(port);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command; resolves with its parsed reply. */
  call(...args: Array<string | Buffer>): Promise<Resp> {
    this.socket.write(cmd(...args));
    return this.readReply();
  }

  /** Sends several commands in one write; resolves with all their parsed replies. */
  pipeline(cmds: Array<Array<string | Buffer>>): Promise<Resp[]> {
    this.socket.write(Buffer.concat(cmds.map((c) => cmd(...c))));
    return Promise.all(cmds.map(() => this.readReply()));
  }

  /**
   * Writes pre-encoded bytes holding `count` commands; resolves once all their replies are
   * in, counting the error replies without keeping the replies (bulk loads). Ordered with
   * the parsed reads like any other.
   */
  sendBatch(bytes: Buffer, count: number, ms = 120000): Promise<BatchResult> {
    const next = this.replyChain.then(async () => {
      const r: BatchResult = { errors: 0, firstError: null };
      let remaining = count;
      const drain = (): boolean => {
        let pos = 0;
        try {
          while (remaining > 0 && pos < this.buf.length) {
            const [v, end] = parseResp(this.buf, pos);
            pos = end;
            remaining--;
            if (v.type === '-') {
              r.errors++;
              r.firstError ??= v.value;
            }
          }
        } catch (e) {
          if (!(e instanceof Incomplete)) throw e;
        }
        this.buf = this.buf.subarray(pos);
        return remaining === 0;
      };
      await this.until(drain, ms);
      return r;
    });
    this.replyChain = next.catch(() => undefined);
    this.socket.write(bytes);
    return next;
  }

  /** Reads the next complete reply (parsed) once it has arrived. */
  readReply(ms = 30000): Promise<Resp> {
    const next = this.replyChain.then(async () => {
      let parsed: [Resp, number] | undefined;
      await this.until(() => (parsed = tryParse(this.buf)) !== undefined, ms);
      if (parsed === undefined) throw new Error('no reply');
      this.buf = this.buf.subarray(parsed[1]);
      return parsed[0];
    });
    this.replyChain = next.catch(() => undefined);
    return next;
  }

  /** Reads until `n` bytes are buffered (or the socket closes), then takes them. */
  async readBytes(n: number, ms = 5000): Promise<Buffer> {
    await this.until(() => this.buf.length >= n, ms);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Reads until the buffer contains `text`, returns everything up to and including it. */
  async readUntil(text: string, ms = 5000): Promise<string> {
    await this.until(() => this.buf.includes(text), ms);
    const i = this.buf.indexOf(text) + text.length;
    const out = this.buf.subarray(0, i).toString('latin1');
    this.buf = this.buf.subarray(i);
    return out;
  }

  /** Waits for the server to close the connection; returns what was left unread. */
  async readToClose(ms = 5000): Promise<string> {
    await this.until(() => this.closed, ms);
    const out = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return out;
  }

  private until(cond: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`)), ms);
      const check = (): void => {
        if (cond() || this.closed) {
          clearTimeout(t);
          if (cond()) resolve();
          else reject(new Error(`connection closed; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}


/** Encodes a command as RESP. */
export function cmd(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
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
