// Client-side load for the harnesses: a pipelined bulk loader (exactly N distinct keys), an
// open-loop paced latency probe, and a paced random-key writer.
//
// Values are 64-symbol pseudo-random text from a seeded xorshift, so both servers get
// byte-identical data and LZF finds nothing to compress (as with real payloads; a run of 'x'
// like redis-benchmark's -d would shrink the dump to almost nothing and hide the save cost).
import { performance } from 'node:perf_hooks';

import { cmd, RawClient, type BatchResult } from './client';

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

/** xorshift32: small, fast, deterministic. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }
  fill(buf: Buffer, start: number, len: number): void {
    for (let i = 0; i < len; i++) buf[start + i] = ALPHABET[this.next() & 63] as number;
  }
}

export function keyName(prefix: string, i: number): string {
  return `${prefix}${i}`;
}

export interface LoadOptions {
  keys: number;
  valueSize: number;
  /** Keys are `${prefix}0` .. `${prefix}${keys-1}`. */
  prefix: string;
  /** SETs per write. */
  batch: number;
  /** Batches in flight. */
  window: number;
  seed: number;
}

export interface LoadResult {
  keys: number;
  ms: number;
  opsPerSec: number;
}

/** Writes `SET <prefix><i> <value>` for every i in [0, keys), pipelined; fails on any error reply. */
export async function loadKeys(client: RawClient, o: LoadOptions): Promise<LoadResult> {
  const rng = new Rng(o.seed);
  const vHeader = `$${o.valueSize}\r\n`;
  const maxCmd = 64 + o.prefix.length + o.valueSize;
  const inflight: Array<Promise<BatchResult>> = [];
  const t0 = performance.now();
  for (let start = 0; start < o.keys; start += o.batch) {
    const n = Math.min(o.batch, o.keys - start);
    const buf = Buffer.allocUnsafe(n * maxCmd);
    let pos = 0;
    for (let i = start; i < start + n; i++) {
      const key = keyName(o.prefix, i);
      pos += buf.write(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n${vHeader}`, pos, 'latin1');
      rng.fill(buf, pos, o.valueSize);
      pos += o.valueSize;
      buf[pos++] = 13;
      buf[pos++] = 10;
    }
    inflight.push(client.sendBatch(buf.subarray(0, pos), n));
    if (inflight.length >= o.window) {
      const r = await (inflight.shift() as Promise<BatchResult>);
      if (r.errors > 0) throw new Error(`load: ${r.errors} error replies, first: ${r.firstError ?? ''}`);
    }
  }
  for (const p of inflight) {
    const r = await p;
    if (r.errors > 0) throw new Error(`load: ${r.errors} error replies, first: ${r.firstError ?? ''}`);
  }
  const ms = performance.now() - t0;
  return { keys: o.keys, ms, opsPerSec: o.keys / (ms / 1000) };
}

/** Growable arrays: scheduled time, latency from the schedule, latency from the write, in ms. */
class Samples {
  t: Float64Array<ArrayBuffer> = new Float64Array(1 << 14);
  lat: Float64Array<ArrayBuffer> = new Float64Array(1 << 14);
  svc: Float64Array<ArrayBuffer> = new Float64Array(1 << 14);
  n = 0;
  push(t: number, lat: number, svc: number): void {
    if (this.n === this.t.length) {
      this.t = grow(this.t);
      this.lat = grow(this.lat);
      this.svc = grow(this.svc);
    }
    this.t[this.n] = t;
    this.lat[this.n] = lat;
    this.svc[this.n] = svc;
    this.n++;
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * An open-loop probe: one connection, `rate` requests per second on a fixed schedule (on the
 * 1 ms grid of the timer that drives it: at 2000/s, two requests per millisecond, in one
 * write), written whether or not earlier replies are in (pipelined). Because the sender never waits for the
 * server, a server stall shows in the latency of every request written during it (no
 * coordinated omission).
 *
 * Two latencies per request: 'service', from the write to the reply (the figure the harnesses
 * print), and 'scheduled', from the request's slot in the schedule to the reply (wrk2-style;
 * it also counts the lateness of Node's 1 ms timer, about 0.5-1 ms, which swamps a loopback
 * GET, so it is kept in the JSON only).
 */
export class PacedProbe {
  private readonly samples = new Samples();
  private timer: NodeJS.Timeout | null = null;
  private startAt = 0;
  private sent = 0;
  private readonly outstanding = new Set<Promise<void>>();
  errors = 0;

  constructor(
    private readonly client: RawClient,
    private readonly rate: number,
    private readonly makeCommand: (k: number) => Buffer,
  ) {}

  start(): void {
    this.startAt = performance.now();
    this.sent = 0;
    const period = 1000 / this.rate;
    const tick = (): void => {
      const now = performance.now();
      const intended: number[] = [];
      const cmds: Buffer[] = [];
      for (;;) {
        const at = this.startAt + Math.floor(this.sent * period);
        if (at > now) break;
        intended.push(at);
        cmds.push(this.makeCommand(this.sent));
        this.sent++;
      }
      if (cmds.length === 0) return;
      // The requests due in this tick leave in one write (at 20k/s, 20 per tick: one write
      // per request would cost the harness more CPU than the server); each is timed to the
      // reply of the last one, which on loopback is within microseconds of its own.
      const sentAt = performance.now();
      const p = this.client.sendBatch(cmds.length === 1 ? (cmds[0] as Buffer) : Buffer.concat(cmds), cmds.length).then(
        (r) => {
          this.errors += r.errors;
          const at = performance.now();
          for (const t of intended) this.samples.push(t, at - t, at - sentAt);
          this.outstanding.delete(p);
        },
        () => {
          this.errors += intended.length;
          this.outstanding.delete(p);
        },
      );
      this.outstanding.add(p);
    };
    this.timer = setInterval(tick, 1);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.outstanding]);
  }

  /**
   * The `n` slowest requests (service latency) scheduled within [from, to], with when they
   * were scheduled relative to `from`: shows whether a stall came with the fork (near 0) or
   * with the end of the child (near the duration).
   */
  worst(from: number, to: number, n = 10): Array<{ atMs: number; latencyMs: number }> {
    const out: Array<{ atMs: number; latencyMs: number }> = [];
    for (let i = 0; i < this.samples.n; i++) {
      const t = this.samples.t[i] as number;
      if (t >= from && t <= to) out.push({ atMs: round3(t - from), latencyMs: round3(this.samples.svc[i] as number) });
    }
    return out.sort((a, b) => b.latencyMs - a.latencyMs).slice(0, n);
  }

  /**
   * Latencies (ms) of the requests scheduled within [from, to] (performance.now() times):
   * from the write ('service', the default) or from the schedule ('scheduled').
   */
  latencies(from = -Infinity, to = Infinity, kind: 'service' | 'scheduled' = 'service'): Float64Array {
    const src = kind === 'scheduled' ? this.samples.lat : this.samples.svc;
    const out: number[] = [];
    for (let i = 0; i < this.samples.n; i++) {
      const t = this.samples.t[i] as number;
      if (t >= from && t <= to) out.push(src[i] as number);
    }
    return Float64Array.from(out);
  }
}

/**
 * A paced writer: `rate` SETs per second to random keys in [0, keySpace), at most `limit`
 * in all, one batched write per timer tick (1 ms). Resolves `done` when the last reply is in.
 */
export class PacedWriter {
  private timer: NodeJS.Timeout | null = null;
  private readonly rng: Rng;
  private readonly inflight: Array<Promise<unknown>> = [];
  sent = 0;
  acked = 0;
  errors = 0;
  /** performance.now() when the last reply arrived. */
  lastAckAt = 0;
  startedAt = 0;
  private finish: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    private readonly client: RawClient,
    private readonly o: { rate: number; limit: number; keySpace: number; prefix: string; valueSize: number; seed: number },
  ) {
    this.rng = new Rng(o.seed);
    this.done = new Promise((r) => (this.finish = r));
  }

  start(): void {
    this.startedAt = performance.now();
    const period = 1000 / this.o.rate;
    const tick = (): void => {
      const due = Math.min(this.o.limit, Math.floor((performance.now() - this.startedAt) / period) + 1);
      const n = due - this.sent;
      if (n <= 0) return;
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const v = Buffer.allocUnsafe(this.o.valueSize);
        this.rng.fill(v, 0, this.o.valueSize);
        parts.push(cmd('SET', keyName(this.o.prefix, this.rng.below(this.o.keySpace)), v));
      }
      this.sent += n;
      const p = this.client.sendBatch(Buffer.concat(parts), n).then(
        (r) => {
          this.acked += n;
          this.errors += r.errors;
          this.lastAckAt = performance.now();
          if (this.acked >= this.o.limit) this.finish?.();
        },
        () => {
          this.errors += n;
          this.acked += n;
          if (this.acked >= this.o.limit) this.finish?.();
        },
      );
      this.inflight.push(p);
      if (this.sent >= this.o.limit) this.stopTimer();
    };
    this.timer = setInterval(tick, 1);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops early (e.g. the save ended first) and waits for what was sent. */
  async stop(): Promise<void> {
    this.stopTimer();
    await Promise.all(this.inflight);
  }
}
