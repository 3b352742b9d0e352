// The replication stream as a replica reads it: where each command ends (the replica's
// offset counts the bytes of the commands it has processed, never of a half-received
// one), and which commands are `REPLCONF GETACK`, which the replica answers with its
// offset instead of running (Valkey's replconfCommand for a primary client).

/** One complete command of the stream. */
export interface StreamCommand {
  /** Offset just past the command in the scanned buffer. */
  end: number;
  /** `REPLCONF GETACK <anything>`: answered with `REPLCONF ACK`, not run. */
  getack: boolean;
}

const CR = 0x0d;
const LF = 0x0a;

/** The decimal integer in `buf[from, to)`, or -1 when it is not one. */
function parseLen(buf: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 12) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** True when `buf[from, from+len)` equals `word` ignoring ASCII case. */
function wordIs(buf: Buffer, from: number, len: number, word: string): boolean {
  if (len !== word.length) return false;
  for (let i = 0; i < len; i++) if ((buf[from + i]! | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * The complete commands at the start of `buf`, in order. A primary sends multibulk
 * commands; a bare newline (a keepalive) is a command of its own that does nothing.
 * Throws on bytes that are not the replication protocol (the link is then dropped).
 */
export function scanCommands(buf: Buffer): StreamCommand[] {
  const out: StreamCommand[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === LF) {
      out.push({ end: ++pos, getack: false });
      continue;
    }
    if (buf[pos] === CR) {
      if (pos + 1 >= buf.length) break;
      if (buf[pos + 1] !== LF) throw new Error('Protocol error: stray CR in the replication stream');
      pos += 2;
      out.push({ end: pos, getack: false });
      continue;
    }
    if (buf[pos] !== 0x2a /* '*' */) throw new Error(`Protocol error: expected '*', got '${String.fromCharCode(buf[pos]!)}' in the replication stream`);
    const nl = buf.indexOf(LF, pos);
    if (nl < 0) break;
    const argc = parseLen(buf, pos + 1, nl - 1);
    if (argc < 0 || buf[nl - 1] !== CR) throw new Error('Protocol error: invalid multibulk length in the replication stream');
    let p = nl + 1;
    let complete = true;
    let getack = argc === 3;
    for (let i = 0; i < argc; i++) {
      if (p >= buf.length) {
        complete = false;
        break;
      }
      if (buf[p] !== 0x24 /* '$' */) throw new Error('Protocol error: expected \'$\' in the replication stream');
      const bl = buf.indexOf(LF, p);
      if (bl < 0) {
        complete = false;
        break;
      }
      const len = parseLen(buf, p + 1, bl - 1);
      if (len < 0 || buf[bl - 1] !== CR) throw new Error('Protocol error: invalid bulk length in the replication stream');
      const start = bl + 1;
      if (start + len + 2 > buf.length) {
        complete = false;
        break;
      }
      if (getack && i === 0) getack = wordIs(buf, start, len, 'replconf');
      else if (getack && i === 1) getack = wordIs(buf, start, len, 'getack');
      p = start + len + 2;
    }
    if (!complete) break;
    pos = p;
    out.push({ end: pos, getack });
  }
  return out;
}

/**
 * `REPLCONF ACK <offset>` as a replica sends it, with `FACK <aof offset>` (how far its AOF
 * is fsynced) when its AOF is on.
 */
export function ackCommand(offset: number, fack: number | null): Buffer {
  const o = String(offset);
  if (fack === null) return Buffer.from(`*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$${o.length}\r\n${o}\r\n`, 'latin1');
  const f = String(fack);
  return Buffer.from(`*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$${o.length}\r\n${o}\r\n$4\r\nFACK\r\n$${f.length}\r\n${f}\r\n`, 'latin1');
}

/** What the replica's AOF reports: bytes appended and how many are fsynced. */
export interface AofMarks {
  appended: number;
  synced: number;
}

/**
 * The replica's fsynced offset for FACK (Valkey's fsynced_reploff on a replica): after
 * each applied piece of the stream the AOF position it ends at is remembered with its
 * stream offset; an offset counts once the AOF is fsynced past its position.
 */
export class FsyncedOffset {
  private marks: Array<{ appended: number; offset: number }> = [];
  private best = 0;

  /** The stream up to `offset` was applied; `m` is the AOF after it (null: AOF off). */
  mark(offset: number, m: AofMarks | null): void {
    if (m === null) return;
    const last = this.marks[this.marks.length - 1];
    if (last && last.appended === m.appended) last.offset = offset;
    else this.marks.push({ appended: m.appended, offset });
  }

  /** The FACK to send at stream offset `offset`, or null while the AOF is off. */
  fack(offset: number, m: AofMarks | null): number | null {
    if (m === null) {
      this.marks = [];
      return null;
    }
    while (this.marks.length > 0 && this.marks[0]!.appended <= m.synced) this.best = Math.max(this.best, this.marks.shift()!.offset);
    // Everything appended is fsynced: the offset itself is (PINGs add no AOF bytes).
    if (m.synced >= m.appended) this.best = Math.max(this.best, offset);
    return this.best;
  }

  /** A new replication history (full sync, new primary): offsets start over. */
  reset(): void {
    this.marks = [];
    this.best = 0;
  }
}

/** A command as a RESP multibulk. */
export function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}
