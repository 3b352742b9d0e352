// The contract of a host command handler: the engine has already checked arity,
// subcommand, auth and loading state; the handler returns the reply (or a promise of it
// for work that completes later, such as SAVE waiting for disk).
import type { Connection } from '../net/connection';
import type { Reply } from '../resp/encode';
import type { Server } from '../server';

export interface HostCall {
  server: Server;
  conn: Connection;
  argv: Buffer[];
}

export type HostHandler = (call: HostCall) => Reply | Promise<Reply>;

/** An argument as text (latin1 keeps every byte). */
export const arg = (call: HostCall, i: number): string => call.argv[i]?.toString('latin1') ?? '';

/** An argument lower-cased, for option matching. */
export const opt = (call: HostCall, i: number): string => arg(call, i).toLowerCase();
