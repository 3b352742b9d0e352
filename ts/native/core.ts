// Typed access to the native core. The generated loader (binding.cjs) picks the
// platform binary; this wrapper hides the status byte that feed/resume append to
// their reply, and the client's memory figure that comes with it (one napi crossing per
// socket read, no result object per call).
import type { Core as NativeCore } from './binding.cjs';
import type { ClientState, CommandRow, CoreStats, EngineSettings } from './host-types';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('./binding.cjs') = require('./binding.cjs');

export type { ClientState, CoreStats, CommandRow, EngineSettings };

/** What to do after handing input to the core. */
export const enum Step {
  /** Write the reply and wait for input. */
  Done = 0,
  /** Write the reply, run `takeHost()` in the host, then `resume`. */
  Host = 1,
  /** Write the reply, then close the connection. */
  Close = 2,
  /** Write the reply; the client is blocked (BLPOP ...) until it is woken. */
  Blocked = 3,
  /** Write the reply; call `wake` once the client's output drained (a long pipeline). */
  Paused = 4,
}

/** Status bit: clients were served or unblocked; take them with `takeWoken()`. */
const WOKEN = 0x80;
/** Status bit: a FLUSHALL ran (persistence resets: RDB child stopped, empty dump saved). */
const FLUSHED_ALL = 0x40;
/** Status bit: the engine queued log lines (a panicking command, ...): see `Core.onLog`. */
const LOGS = 0x20;
/** Status bit: pub/sub messages wait for other clients; take them with `takeDeliveries()`. */
const DELIVER = 0x10;

/** Status bit of `feedPrimary`: a panic request waits (`native.takePanicRequest()`). */
const PANIC = 0x08;
/** Bytes after the ACKs in `feedPrimary`'s result: consumed (f64, little endian) and status. */
const PRIMARY_TRAILER = 9;

/** What one read of the primary link produced (see forkv-server's primary_link.rs). */
export interface PrimaryFeedResult {
  /** `REPLCONF ACK`s to write to the primary. */
  acks: Buffer;
  /** Input bytes consumed; the rest waits for more. */
  consumed: number;
  woken: boolean;
  flushedAll: boolean;
  deliver: boolean;
  /** The primary's command failed under `propagation-error-behavior panic`. */
  panic: boolean;
}

export interface FeedResult {
  /**
   * The replies. From `feedInto`, a view of the caller's reused reply buffer: valid until
   * the next `feedInto` with that buffer (write it at once, or copy it).
   */
  reply: Buffer;
  step: Step;
  /** Other clients have replies waiting (see `Core.takeWoken`). */
  woken: boolean;
  /** A FLUSHALL ran in this batch. */
  flushedAll: boolean;
  /** Messages wait for other clients (see `Core.native.takeDeliveries`). */
  deliver: boolean;
  /**
   * The memory the core holds for the client after this call (`clientMemory`, without a
   * second crossing): client eviction's figure less the pending output.
   */
  memory: number;
  /**
   * Bytes of this call's replies the core already sent to the client's socket itself
   * (`feedRead` given an idle socket); `reply` holds only what follows them.
   */
  direct: number;
}

/** The data path's plain Node-API functions (see forkv-napi's fastpath.rs), looked up once. */
const feedReadFn = binding.Core.feedReadFunction();
const wakeReadFn = binding.Core.wakeReadFunction();
const resumeReadFn = binding.Core.resumeReadFunction();
const takeDeliveriesIntoFn = binding.Core.takeDeliveriesIntoFunction();
/** Bytes before a delivery's data in `takeDeliveriesInto`'s records: id (u32), length (u32), memory (f64). */
const DELIVERY_HEADER = 16;
const NO_REPLY = Buffer.alloc(0);

/** Receives the engine's log lines, with Valkey's level names. */
export type EngineLogSink = (level: 'debug' | 'verbose' | 'notice' | 'warning', message: string) => void;

const LEVEL_NAMES = new Set(['debug', 'verbose', 'notice', 'warning']);

/** Bytes of the client's memory figure (f64, little endian) before the status byte. */
const MEMORY_BYTES = 8;

/** A result of `feed`/`resume`/`wake`: replies, then the client's memory, then the status byte. */
function split(out: Buffer, core: Core): FeedResult {
  const n = out.length - 1 - MEMORY_BYTES;
  const status = out[out.length - 1] ?? 0;
  if (status & LOGS) core.drainLogs();
  return {
    reply: out.subarray(0, n),
    step: (status & ~(WOKEN | FLUSHED_ALL | LOGS | DELIVER)) as Step,
    woken: (status & WOKEN) !== 0,
    flushedAll: (status & FLUSHED_ALL) !== 0,
    deliver: (status & DELIVER) !== 0,
    memory: out.readDoubleLE(n),
    direct: 0,
  };
}

/** One keyspace with its clients. */
export class Core {
  readonly native: NativeCore;
  /** Where `feedInto` leaves the client's memory figure (f64, little endian). */
  private readonly memorySlot = Buffer.alloc(MEMORY_BYTES);
  /** Where `feedRead` leaves the client's memory figure and the bytes it sent. */
  private readonly readSlot = new Float64Array(2);
  /** The reply buffer bound for `feedRead` (see `bindIo`). */
  private boundOut: Buffer | null = null;
  /** Where the engine's log lines go (the server sets its logger here). */
  onLog: EngineLogSink = (level, message) => process.stderr.write(`${level}: ${message}\n`);

  constructor(databases: number) {
    this.native = new binding.Core(databases);
  }

  feed(id: number, chunk: Buffer): FeedResult {
    return split(this.native.feed(id, chunk), this);
  }

  /**
   * Like `feed` for `input[0, len)`, with the replies copied into `out` (no Buffer is
   * made for the input or, when they fit, for the replies): `reply` is then a view of
   * `out`. Replies longer than `out` come as a Buffer of their own.
   */
  feedInto(id: number, input: Buffer, len: number, out: Buffer): FeedResult {
    const r = this.native.feedInto(id, input, len, out, this.memorySlot);
    const status = r % 256;
    const n = (r - status) / 256;
    if (status & LOGS) this.drainLogs();
    return {
      reply: n <= out.length ? out.subarray(0, n) : this.native.takeReply(),
      step: (status & ~(WOKEN | FLUSHED_ALL | LOGS | DELIVER)) as Step,
      woken: (status & WOKEN) !== 0,
      flushedAll: (status & FLUSHED_ALL) !== 0,
      deliver: (status & DELIVER) !== 0,
      memory: this.memorySlot.readDoubleLE(0),
      direct: 0,
    };
  }

  /**
   * Binds the host's read buffer and reply buffer for `feedRead` (again whenever the reply
   * buffer is replaced).
   */
  bindIo(input: Buffer, out: Buffer): void {
    this.native.bindIo(input, out, Buffer.from(this.readSlot.buffer));
    this.boundOut = out;
  }

  /** The reply buffer `feedRead` copies into (null before `bindIo`). */
  get boundReplyBuffer(): Buffer | null {
    return this.boundOut;
  }

  /**
   * The read path: runs `len` bytes of the bound read buffer for client `id` (one
   * crossing, see forkv-napi's fastpath.rs). `fd`: the client's socket when it is idle and
   * nothing holds its replies back (-1 otherwise); the core then sends the replies
   * itself (`direct`), and `reply` is what the kernel did not take, a view of the bound
   * reply buffer.
   */
  feedRead(id: number, len: number, fd: number): FeedResult {
    return this.boundResult(feedReadFn(this.native, id, len, fd));
  }

  /**
   * `wake` through the bound buffers (see `feedRead`: `fd` as there): a woken client's
   * replies and the input it pipelined meanwhile.
   */
  wakeRead(id: number, fd: number): FeedResult {
    return this.boundResult(wakeReadFn(this.native, id, fd));
  }

  /** `resume` through the bound buffers (see `feedRead`: `fd` as there). */
  resumeRead(id: number, hostReply: Buffer, fd: number): FeedResult {
    return this.boundResult(resumeReadFn(this.native, id, fd, hostReply));
  }

  /**
   * Calls `each` for every delivery waiting (messages for other clients, announced by the
   * DELIVER status bit): the client id, its bytes (a view of the bound reply buffer, valid
   * until the next call into the core through it) and the client's memory in the core.
   * `rebind` runs between batches (the caller may have replaced its reply buffer).
   */
  takeDeliveries(each: (id: number, data: Buffer, memory: number) => void, rebind: () => void): void {
    for (;;) {
      const r = takeDeliveriesIntoFn(this.native);
      const more = r % 2 === 1;
      const bytes = (r - (more ? 1 : 0)) / 2;
      const out = this.boundOut as Buffer;
      for (let at = 0; at < bytes; ) {
        const id = out.readUInt32LE(at);
        const len = out.readUInt32LE(at + 4);
        const memory = out.readDoubleLE(at + 8);
        const start = at + DELIVERY_HEADER;
        at = start + len;
        each(id, out.subarray(start, at), memory);
      }
      if (!more) return;
      if (bytes === 0) {
        // The next delivery is longer than the reply buffer: the rest as Buffers of their own.
        for (const d of this.native.takeDeliveries()) each(d.id, d.data, d.memory);
        return;
      }
      rebind();
    }
  }

  /** A result of the bound-buffer calls: `rest_length * 256 + status`, and the result slot. */
  private boundResult(r: number): FeedResult {
    const status = r % 256;
    const n = (r - status) / 256;
    if (status & LOGS) this.drainLogs();
    const out = this.boundOut as Buffer;
    return {
      reply: n === 0 ? NO_REPLY : n <= out.length ? out.subarray(0, n) : this.native.takeReply(),
      step: (status & ~(WOKEN | FLUSHED_ALL | LOGS | DELIVER)) as Step,
      woken: (status & WOKEN) !== 0,
      flushedAll: (status & FLUSHED_ALL) !== 0,
      deliver: (status & DELIVER) !== 0,
      memory: this.readSlot[0] ?? 0,
      direct: this.readSlot[1] ?? 0,
    };
  }

  /** One read of the primary link; throws on a protocol error (nothing was run). */
  feedPrimary(bytes: Buffer): PrimaryFeedResult {
    const out = this.native.feedPrimary(bytes);
    const n = out.length - PRIMARY_TRAILER;
    const status = out[out.length - 1] ?? 0;
    if (status & LOGS) this.drainLogs();
    return {
      acks: out.subarray(0, n),
      consumed: out.readDoubleLE(n),
      woken: (status & WOKEN) !== 0,
      flushedAll: (status & FLUSHED_ALL) !== 0,
      deliver: (status & DELIVER) !== 0,
      panic: (status & PANIC) !== 0,
    };
  }

  resume(id: number, hostReply: Buffer): FeedResult {
    return split(this.native.resume(id, hostReply), this);
  }

  takeHost(): Buffer[] {
    return this.native.takeHost();
  }

  /** Hands the engine's queued log lines to `onLog`. */
  drainLogs(): void {
    for (const line of this.native.takeLogs()) {
      const level = LEVEL_NAMES.has(line.level) ? (line.level as Parameters<EngineLogSink>[0]) : 'warning';
      this.onLog(level, line.message);
    }
  }
}

/**
 * Writes `data` to a plain socket's descriptor now, without blocking: the bytes the kernel
 * took (fewer than `data.length` when its buffer is full), -1 when the connection is broken.
 */
export function sendNow(fd: number, data: Buffer): number {
  return binding.Core.sendNow(fd, data);
}

/** Valkey glob matching, from the core (one implementation for the whole server). */
export function globMatch(pattern: string, subject: string, nocase: boolean): boolean {
  return binding.Core.globMatch(pattern, subject, nocase);
}

/** Valkey's `sdssplitargs` over one line's bytes (null for unbalanced quotes), from the core. */
export function splitArgs(line: Buffer): Buffer[] | null {
  return binding.Core.splitArgs(line);
}

/** Valkey's "== CRITICAL ==" line for the error reply `reply` `from` sends `to` after `command` (null: no error). */
export function criticalLine(from: string, to: string, reply: Buffer, command: string): string | null {
  return binding.Core.criticalLine(from, to, reply, command);
}

/** The allocator behind the core's allocations ("libc", "jemalloc", "mimalloc"). */
export function memAllocator(): string {
  return binding.Core.memAllocator();
}

/** A `rename-command` directive refused by the core: its index in the list and Valkey's message. */
export interface RenameCommandError {
  index: number;
  message: string;
}

/** `rename-command` OLD/NEW pairs as the core takes them. */
function renamePairs(pairs: ReadonlyArray<readonly [string, string]>): Buffer[][] {
  return pairs.map(([from, to]) => [Buffer.from(from, 'latin1'), Buffer.from(to, 'latin1')]);
}

/**
 * Applies `rename-command` directives to the process-wide command table (before the first
 * command): null, or the first refused directive.
 */
export function applyRenameCommands(pairs: ReadonlyArray<readonly [string, string]>): RenameCommandError | null {
  return binding.Core.applyRenameCommands(renamePairs(pairs)) ?? null;
}

/** Checks `rename-command` directives as applyRenameCommands would, applying nothing. */
export function checkRenameCommands(pairs: ReadonlyArray<readonly [string, string]>): RenameCommandError | null {
  return binding.Core.checkRenameCommands(renamePairs(pairs)) ?? null;
}

/** The command table, for generated documentation. */
export function commandTable(): CommandRow[] {
  return binding.Core.commandTable();
}
