// A small RESP2 client over node:net for the harnesses: one connection, replies in order,
// pipelining by default (every call is written at once; replies are matched FIFO).
//
// It is deliberately the same code path for forkv and redis-server: whatever it costs on
// the client side, it costs both servers equally.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

/** An error reply (`-ERR ...`). */
export class RespError {
  constructor(readonly message: string) {}
  toString(): string {
    return this.message;
  }
}

export type RespValue = string | number | null | RespError | RespValue[];

const CR = 13;

/** Thrown when the connection closes with replies outstanding. */
export class ConnectionClosed extends Error {}

/**
 * A batch of `count` expected replies: `call` is a batch of one that keeps its reply;
 * a bulk load is a batch of thousands that only counts errors.
 */
interface Pending {
  remaining: number;
  keep: RespValue[] | null;
  errors: number;
  firstError: RespError | null;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

export interface BatchResult {
  replies: RespValue[];
  errors: number;
  firstError: RespError | null;
}

/** Incremental parser state: returns undefined when the value is not complete yet. */
class Parser {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;

  push(chunk: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** One complete value, or undefined (position unchanged) if more bytes are needed. */
  next(): RespValue | undefined {
    const start = this.pos;
    const v = this.value();
    if (v === undefined) this.pos = start;
    return v;
  }

  private line(): string | undefined {
    const end = this.buf.indexOf(CR, this.pos);
    if (end < 0 || end + 1 >= this.buf.length) return undefined;
    const s = this.buf.toString('latin1', this.pos + 1, end);
    this.pos = end + 2;
    return s;
  }

  private value(): RespValue | undefined {
    if (this.pos >= this.buf.length) return undefined;
    const type = this.buf[this.pos];
    switch (type) {
      case 0x2b: // +
        return this.line();
      case 0x2d: {
        // -
        const l = this.line();
        return l === undefined ? undefined : new RespError(l);
      }
      case 0x3a: {
        // :
        const l = this.line();
        return l === undefined ? undefined : Number(l);
      }
      case 0x24: {
        // $
        const l = this.line();
        if (l === undefined) return undefined;
        const n = Number(l);
        if (n < 0) return null;
        if (this.pos + n + 2 > this.buf.length) return undefined;
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 2;
        return s;
      }
      case 0x2a: {
        // *
        const l = this.line();
        if (l === undefined) return undefined;
        const n = Number(l);
        if (n < 0) return null;
        const out: RespValue[] = [];
        for (let i = 0; i < n; i++) {
          const v = this.value();
          if (v === undefined) return undefined;
          out.push(v);
        }
        return out;
      }
      default:
        throw new Error(`RESP protocol error: unexpected byte 0x${(type ?? 0).toString(16)} at ${this.pos}`);
    }
  }
}

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class RespClient {
  private readonly parser = new Parser();
  private readonly pending: Pending[] = [];
  private closedError: Error | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e: Error) => this.fail(e));
    socket.on('close', () => this.fail(new ConnectionClosed('connection closed')));
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host);
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(new RespClient(s));
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  /** Connects, retrying until `timeoutMs` (for a server that is still starting). */
  static async connectRetry(port: number, timeoutMs = 30000): Promise<RespClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await RespClient.connect(port);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(20);
      }
    }
  }

  private onData(d: Buffer): void {
    this.parser.push(d);
    for (;;) {
      const v = this.parser.next();
      if (v === undefined) break;
      const p = this.pending[0];
      if (p === undefined) {
        this.fail(new Error('RESP: reply without a request'));
        return;
      }
      if (v instanceof RespError) {
        p.errors++;
        if (p.firstError === null) p.firstError = v;
      }
      if (p.keep !== null) p.keep.push(v);
      if (--p.remaining === 0) {
        this.pending.shift();
        p.resolve({ replies: p.keep ?? [], errors: p.errors, firstError: p.firstError });
      }
    }
  }

  private fail(e: Error): void {
    if (this.closedError === null) this.closedError = e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  /** Writes pre-encoded bytes that hold `count` commands; resolves when all replies are in. */
  sendRaw(bytes: Buffer, count: number, keepReplies: boolean): Promise<BatchResult> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.push({ remaining: count, keep: keepReplies ? [] : null, errors: 0, firstError: null, resolve, reject });
      this.socket.write(bytes);
    });
  }

  /** One command; resolves to its reply (an error reply is returned, not thrown). */
  async call(...args: Array<string | Buffer>): Promise<RespValue> {
    const r = await this.sendRaw(encodeCommand(args), 1, true);
    return r.replies[0] ?? null;
  }

  /** One command whose error reply is thrown. */
  async callOk(...args: Array<string | Buffer>): Promise<RespValue> {
    const v = await this.call(...args);
    if (v instanceof RespError) throw new Error(`${args.join(' ')}: ${v.message}`);
    return v;
  }

  /** INFO [section] parsed to a map of field -> value. */
  async info(section?: string): Promise<Map<string, string>> {
    const v = await this.callOk(...(section === undefined ? ['INFO'] : ['INFO', section]));
    if (typeof v !== 'string') throw new Error(`INFO: unexpected reply ${JSON.stringify(v)}`);
    return parseInfo(v);
  }

  async infoField(section: string, field: string): Promise<string> {
    const v = (await this.info(section)).get(field);
    if (v === undefined) throw new Error(`INFO ${section} has no field ${field}`);
    return v;
  }

  async dbsize(): Promise<number> {
    const v = await this.callOk('DBSIZE');
    if (typeof v !== 'number') throw new Error(`DBSIZE: unexpected reply ${JSON.stringify(v)}`);
    return v;
  }

  get outstanding(): number {
    return this.pending.length;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Resolves with performance.now() at the first +PONG from a server that is starting: retries
 * the connection every `retryMs` while it is refused, and PING while the reply is an error
 * (-LOADING). For "spawn to first PONG": what a client waiting on a restart sees.
 */
export async function firstPong(port: number, timeoutMs: number, retryMs = 2): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let c: RespClient | null = null;
    try {
      c = await RespClient.connect(port, '127.0.0.1', Math.max(1, deadline - Date.now()));
      for (;;) {
        const v = await c.call('PING');
        if (v === 'PONG') {
          const at = performance.now();
          c.close();
          return at;
        }
        if (Date.now() > deadline) throw new Error(`PING on port ${port}: no PONG within ${timeoutMs} ms (last reply ${String(v)})`);
        await sleep(retryMs);
      }
    } catch (e) {
      c?.close();
      if (Date.now() > deadline) throw e;
      await sleep(retryMs);
    }
  }
}
