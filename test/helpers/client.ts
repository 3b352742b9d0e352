// A minimal raw RESP client for byte-level assertions (protocol abuse, exact replies).
import * as net from 'node:net';

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
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
