// Helpers shared by the snapshot and AOF harnesses: waiting for a background child to
// finish by polling INFO at a fixed interval, and watching a file for its atomic rename.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

import { RawClient, sleep, info as infoOf } from './client';

export interface ChildWait {
  /** performance.now() when the poll reply that showed the child finished arrived. */
  doneAt: number;
  polls: number;
  /** The largest value of each numeric `track` field seen while polling. */
  peaks: Record<string, number>;
  /** The last INFO section read (the one that showed it finished). */
  last: Map<string, string>;
}

/**
 * Polls `INFO <section>` every `pollMs` until every field in `idle` has its idle value
 * (e.g. rdb_bgsave_in_progress=0), recording the peak of each `track` field on the way.
 */
export async function waitForChild(
  client: RawClient,
  section: string,
  idle: Record<string, string>,
  o: { pollMs: number; timeoutMs: number; track?: string[]; onPoll?: () => void },
): Promise<ChildWait> {
  const deadline = performance.now() + o.timeoutMs;
  const peaks: Record<string, number> = {};
  let polls = 0;
  for (;;) {
    const info = await infoOf(client, section);
    const at = performance.now();
    polls++;
    o.onPoll?.();
    for (const f of o.track ?? []) {
      const v = Number(info.get(f));
      if (Number.isFinite(v)) peaks[f] = Math.max(peaks[f] ?? 0, v);
    }
    if (Object.entries(idle).every(([k, v]) => info.get(k) === v)) return { doneAt: at, polls, peaks, last: info };
    if (at > deadline) throw new Error(`background child still running after ${o.timeoutMs} ms (INFO ${section})`);
    await sleep(o.pollMs);
  }
}

/** Inode and size of a file, or null when it does not exist. */
export function fileId(p: string): { ino: number; size: number; mtimeMs: number } | null {
  try {
    const s = fs.statSync(p);
    return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return null;
  }
}

/** Watches `p` every `pollMs` for a new inode (an atomic rename over it); `at` is when it was seen. */
export class RenameWatch {
  private timer: NodeJS.Timeout;
  at: number | null = null;
  private readonly before: number | null;
  constructor(
    private readonly p: string,
    pollMs: number,
  ) {
    this.before = fileId(p)?.ino ?? null;
    this.timer = setInterval(() => {
      const id = fileId(this.p);
      if (this.at === null && id !== null && id.ino !== this.before) {
        this.at = performance.now();
        clearInterval(this.timer);
      }
    }, pollMs);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** Total size of the files directly inside `dir` (the AOF directory), bytes. */
export function dirSize(dir: string): number {
  let total = 0;
  try {
    for (const f of fs.readdirSync(dir)) {
      const s = fs.statSync(`${dir}/${f}`);
      if (s.isFile()) total += s.size;
    }
  } catch {
    return NaN;
  }
  return total;
}
