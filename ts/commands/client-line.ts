// One client as CLIENT LIST, CLIENT INFO and the server's log lines show it (Valkey's
// catClientInfoString): Valkey 8.0's fields in its order, from the host's connection
// (addresses, names, traffic, pending output) and the core's client state (db, flags,
// subscriptions, MULTI, memory).
import type { ClientState } from '../native/core';
import type { ClientView } from '../net/connection';
import { splitPending } from '../net/output-limits';
import type { Server } from '../server';

/**
 * CLIENT LIST flags in Valkey's order: O monitor / S replica, M our primary, P pubsub,
 * x MULTI, b blocked (or held by CLIENT PAUSE), t tracking, R tracking redirect broken,
 * B tracking in BCAST mode, d dirty CAS, U unix socket, r READONLY, e no-evict, T no-touch.
 */
function clientFlags(subscribed: boolean, st: ClientState | null | undefined, unix: boolean, replica: boolean, primary: boolean): string {
  let f = '';
  if (st?.monitor) f += 'O';
  else if (replica) f += 'S';
  if (primary) f += 'M';
  if (subscribed) f += 'P';
  if (st && st.multi >= 0) f += 'x';
  if (st?.blocked) f += 'b';
  if (st?.tracking) f += 't';
  if (st?.trackingBrokenRedir) f += 'R';
  if (st?.trackingBcast) f += 'B';
  if (st?.dirtyCas) f += 'd';
  if (unix) f += 'U';
  if (st?.readonly) f += 'r';
  if (st?.noEvict) f += 'e';
  if (st?.noTouch) f += 'T';
  return f === '' ? 'N' : f;
}

/** Valkey's `events`: r while the socket is read, w while output waits for the kernel. */
function socketEvents(c: ClientView): string {
  return (c.socket.isPaused() ? '' : 'r') + (c.socket.writableLength > 0 ? 'w' : '');
}

/** What a log line shows for user data with `hide-user-data-from-log yes`. */
const REDACTED = '*redacted*';

/**
 * One CLIENT LIST / CLIENT INFO line, Valkey 8.0's fields in its order. `current`: the
 * argv of the command running for `c` (CLIENT LIST/INFO itself), for `argv-mem`.
 *
 * forkv's output buffers are not Valkey's, so its reply-buffer fields say this:
 * - `rbs`: the size of the reply buffer the core assembles replies in. One client runs at
 *   a time, so all clients share it, and it is no part of any client's `tot-mem`.
 * - `rbp`: the largest batch of replies (what the commands of one read produced) written
 *   to this client in the last 5 s (Valkey resets its peak every 5 s too; DEBUG
 *   REPLYBUFFER PEAK-RESET-TIME changes that).
 * - Pending output is what the socket holds that the kernel has not taken yet (Node's
 *   stream queue, the corked batch included). Valkey keeps it in a 16 KB reply buffer,
 *   then a reply list; forkv splits it the same way (see net/output-limits):
 *   `obl` is the part the reply buffer would hold (up to 16 KB), `omem` the rest (what
 *   client-output-buffer-limit counts), and `tot-mem` counts both once.
 * - `tot-mem`: the client's memory as client eviction counts it (net/client-eviction:
 *   the query buffer's allocation, MULTI queue, WATCHed keys, subscriptions, tracking
 *   prefixes, pending output) plus the argv of the command running.
 * - `qbuf`: bytes read from the socket and not yet run (an incomplete command, or input
 *   held while the client waits); `qbuf-free`: the rest of the query buffer's allocation.
 * - `oll`: the number of writes in that queue.
 */
export function clientLine(server: Server, c: ClientView, current: Buffer[] | null = null, hideUserData = false): string {
  const st = server.core.native.clientState(c.id);
  // A replica's link to its primary: flag M, and no user (Valkey's primary client runs as
  // the superuser, user NULL).
  const primary = isPrimaryClient(server, c);
  const now = Date.now();
  // The running command's argv, or the arguments read so far of an incomplete one.
  const argvMem = current === null ? (st?.partialArgv ?? 0) : current.reduce((n, a) => n + a.length, 0);
  const multiMem = st?.multiMem ?? 0;
  const pending = splitPending(c.socket.writableLength);
  const omem = pending.list;
  const fields: Array<[string, string | number]> = [
    ['id', c.id],
    ['addr', c.addr],
    ['laddr', c.laddr],
    ['fd', c.fd],
    // A log line with `hide-user-data-from-log yes` shows neither name nor user (Valkey's
    // catClientInfoString with hide_user_data).
    ['name', hideUserData ? REDACTED : c.name],
    ['age', Math.floor((now - c.createdAt) / 1000)],
    ['idle', Math.floor((now - c.lastInteraction) / 1000)],
    ['flags', clientFlags(st !== null && st !== undefined && st.sub + st.psub + st.ssub > 0, st, c.kind === 'unix', server.replication.isReplicaClient(c.id), primary)],
    ['db', st?.db ?? 0],
    ['sub', st?.sub ?? 0],
    ['psub', st?.psub ?? 0],
    ['ssub', st?.ssub ?? 0],
    ['multi', st?.multi ?? -1],
    ['watch', st?.watch ?? 0],
    ['qbuf', st?.qbuf ?? 0],
    ['qbuf-free', st?.qbufFree ?? 0],
    ['argv-mem', argvMem],
    ['multi-mem', multiMem],
    ['rbs', server.core.native.stats().replyBufferSize],
    ['rbp', c.replyPeak(now, server.replyPeakResetMs)],
    ['obl', pending.buffer],
    ['oll', c.queuedWrites],
    ['omem', omem],
    ['tot-mem', server.core.native.clientMemory(c.id) + argvMem + pending.buffer + omem],
    ['events', socketEvents(c)],
    ['cmd', st?.lastCmd ?? 'NULL'],
    ['user', hideUserData ? REDACTED : primary ? '(superuser)' : (st?.user ?? 'default')],
    ['redir', st?.redir ?? -1],
    ['resp', c.proto],
    ['lib-name', c.libName],
    ['lib-ver', c.libVer],
    ['tot-net-in', c.inputBytes],
    ['tot-net-out', c.outputBytes],
    ['tot-cmds', st?.totCmds ?? 0],
  ];
  return fields.map(([k, v]) => `${k}=${v}`).join(' ');
}

/** The client is this replica's link to its primary. */
export function isPrimaryClient(server: Server, c: ClientView): boolean {
  return c.id !== 0 && c.id === server.replica.primaryClientId;
}

