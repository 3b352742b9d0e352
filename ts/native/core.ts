// Typed access to the native core. The generated loader (binding.cjs) picks the
// platform binary; this wrapper hides the status byte that feed/resume append to
// their reply (one napi crossing per socket read, no result object per call).
import type { Core as NativeCore, ClientState, CoreStats, DbInfo, CommandRow, EngineSettings } from './binding.cjs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('./binding.cjs') = require('./binding.cjs');

export type { ClientState, CoreStats, DbInfo, CommandRow, EngineSettings };

/** What to do after handing input to the core. */
export const enum Step {
  /** Write the reply and wait for input. */
  Done = 0,
  /** Write the reply, run `takeHost()` in the host, then `resume`. */
  Host = 1,
  /** Write the reply, then close the connection. */
  Close = 2,
}

export interface FeedResult {
  reply: Buffer;
  step: Step;
}

function split(out: Buffer): FeedResult {
  const n = out.length - 1;
  return { reply: out.subarray(0, n), step: out[n] as Step };
}

/** One keyspace with its clients. */
export class Core {
  readonly native: NativeCore;

  constructor(databases: number) {
    this.native = new binding.Core(databases);
  }

  feed(id: number, chunk: Buffer): FeedResult {
    return split(this.native.feed(id, chunk));
  }

  resume(id: number, hostReply: Buffer): FeedResult {
    return split(this.native.resume(id, hostReply));
  }

  takeHost(): Buffer[] {
    return this.native.takeHost();
  }
}

/** Valkey glob matching, from the core (one implementation for the whole server). */
export function globMatch(pattern: string, subject: string, nocase: boolean): boolean {
  return binding.Core.globMatch(pattern, subject, nocase);
}

/** The command table, for generated documentation. */
export function commandTable(): CommandRow[] {
  return binding.Core.commandTable();
}
