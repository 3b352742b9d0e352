// Connection commands the host owns: HELLO, AUTH, RESET and CLIENT (the host has the
// sockets, names and library info; the core has db, protocol and parse state).
import type { ClientState } from '../native/core';
import type { Connection } from '../net/connection';
import { splitPending } from '../net/output-limits';
import { array, bulk, error, int, map, nil, ok, simple, verbatim, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { VERSION } from '../version';
import { arg, opt, type HostCall } from './types';

// --- ACL seam (issue 14): AUTH, HELLO AUTH and RESET verify and switch users in the
// engine's ACL (crates/forkv-engine/src/acl) through two binding methods.
export function auth(call: HostCall): Reply {
  const { server, argv, conn } = call;
  if (argv.length > 3) return error('ERR syntax error');
  const [user, pass] = argv.length === 3 ? [argv[1] ?? null, argv[2]] : [null, argv[1]];
  if (pass === undefined) return error('ERR syntax error');
  const err = server.core.native.aclAuth(conn.id, user, pass);
  return err === null || err === undefined ? ok : error(err);
}

export function hello(call: HostCall): Reply {
  const { server, conn, argv } = call;
  let proto = conn.proto;
  let i = 1;
  if (argv.length >= 2) {
    const v = arg(call, 1);
    if (!/^-?\d+$/.test(v)) return error('ERR Protocol version is not an integer or out of range');
    proto = Number(v);
    if (proto < 2 || proto > 3) return error('NOPROTO unsupported protocol version');
    i = 2;
  }
  let name: string | null = null;
  let authed = server.core.native.clientState(conn.id)?.authenticated ?? false;
  // Valkey reads every option first: of several AUTH options only the last is tried.
  let auth: [Buffer | null, Buffer] | null = null;
  for (; i < argv.length; i++) {
    const o = opt(call, i);
    const more = argv.length - i - 1;
    if (o === 'auth' && more >= 2) {
      auth = [argv[i + 1] ?? null, argv[i + 2] ?? Buffer.alloc(0)];
      i += 2;
    } else if (o === 'setname' && more >= 1) {
      name = arg(call, i + 1);
      if (!validName(name)) return error('ERR Client names cannot contain spaces, newlines or special characters.');
      i += 1;
    } else {
      return error(`ERR Syntax error in HELLO option '${arg(call, i)}'`);
    }
  }
  if (auth !== null) {
    const err = server.core.native.aclAuth(conn.id, auth[0], auth[1]);
    if (err !== null && err !== undefined) return error(err);
    authed = true;
  }
  if (!authed) {
    return error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
  }
  if (name !== null) {
    conn.name = name;
    server.core.native.setClientName(conn.id, name);
  }
  conn.proto = proto;
  server.core.native.setClientProto(conn.id, proto);
  const { helloServer: serverName, helloVersion: version } = helloIdentity(server.config.getBool('extended-redis-compatibility'));
  return map([
    [bulk('server'), bulk(serverName)],
    [bulk('version'), bulk(version)],
    [bulk('proto'), int(proto)],
    [bulk('id'), int(conn.id)],
    [bulk('mode'), bulk('standalone')],
    [bulk('role'), bulk('master')],
    [bulk('modules'), array([])],
  ]);
}

export function reset(call: HostCall): Reply {
  const { server, conn } = call;
  conn.proto = 2;
  conn.name = '';
  server.core.native.setClientName(conn.id, '');
  server.core.native.setClientProto(conn.id, 2);
  server.core.native.setClientDb(conn.id, 0);
  // Out of MULTI, nothing watched, no subscriptions, no key tracking (silently, as Valkey's RESET).
  server.core.native.resetTransaction(conn.id);
  server.core.native.resetPubsub(conn.id);
  server.core.native.resetMonitor(conn.id);
  server.core.native.resetTracking(conn.id);
  // RESET goes back to the default user (deauthenticated when it has a password).
  server.core.native.aclResetClient(conn.id);
  server.emit('client-reset', conn);
  return simple('RESET');
}

/**
 * The server name and version HELLO answers with: Valkey's own pairing, its name with its
 * own version (7.2.4 is INFO's redis_version); extended-redis-compatibility answers as
 * Redis 7.2.4, for clients that check the name. (The engine answers HELLO while a script
 * is busy: it gets the same pair.)
 */
export function helloIdentity(redisCompat: boolean): { helloServer: string; helloVersion: string } {
  return redisCompat ? { helloServer: 'redis', helloVersion: VERSION.redisCompat } : { helloServer: 'valkey', helloVersion: VERSION.valkeyCompat };
}

/** Client and library names: printable ASCII, no spaces (Valkey's validateClientAttr). */
function validName(s: string): boolean {
  return /^[\x21-\x7e]*$/.test(s);
}

/**
 * CLIENT LIST flags in Valkey's order: O monitor / S replica, P pubsub, x MULTI, b blocked
 * (or held by CLIENT PAUSE), t tracking, R tracking redirect broken, B tracking in BCAST mode,
 * d dirty CAS, U unix socket, r READONLY, e no-evict, T no-touch.
 */
function clientFlags(subscribed: boolean, st: ClientState | null | undefined, unix: boolean, replica: boolean): string {
  let f = '';
  if (st?.monitor) f += 'O';
  else if (replica) f += 'S';
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
function socketEvents(c: Connection): string {
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
export function clientLine(server: Server, c: Connection, current: Buffer[] | null = null, hideUserData = false): string {
  const st = server.core.native.clientState(c.id);
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
    ['flags', clientFlags(st !== null && st !== undefined && st.sub + st.psub + st.ssub > 0, st, c.kind === 'unix', server.replication.isReplicaClient(c.id))],
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
    ['user', hideUserData ? REDACTED : (st?.user ?? 'default')],
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


export function client(call: HostCall): Reply {
  const { server, conn, argv } = call;
  const sub = opt(call, 1);
  switch (sub) {
    case 'id':
      return int(conn.id);
    case 'getname':
      return conn.name === '' ? nil : bulk(conn.name);
    case 'setname': {
      const name = arg(call, 2);
      if (!validName(name)) return error('ERR Client names cannot contain spaces, newlines or special characters.');
      conn.name = name;
      server.core.native.setClientName(conn.id, name);
      return ok;
    }
    case 'setinfo': {
      const attr = opt(call, 2);
      const value = arg(call, 3);
      if (attr !== 'lib-name' && attr !== 'lib-ver') return error(`ERR Unrecognized option '${arg(call, 2)}'`);
      if (!validName(value)) return error(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
      if (attr === 'lib-name') conn.libName = value;
      else conn.libVer = value;
      return ok;
    }
    case 'info':
      return verbatim(`${clientLine(server, conn, argv)}\n`);
    case 'list':
      return clientList(call);
    case 'kill':
      return clientKill(call);
    case 'unblock':
      return clientUnblock(call);
    default:
      return error(`ERR unknown subcommand '${argv[1]?.toString('latin1') ?? ''}'. Try CLIENT HELP.`);
  }
}

/** The client types CLIENT LIST/KILL TYPE accept (Valkey's getClientTypeByName). */
const CLIENT_TYPES = ['normal', 'master', 'primary', 'replica', 'slave', 'pubsub'];

/** One name per type: `slave` is `replica`, `primary` is `master`. */
function canonicalType(t: string): string {
  if (t === 'slave') return 'replica';
  if (t === 'primary') return 'master';
  return t;
}

/** Valkey's client type: a replica, pubsub when subscribed, else normal. */
function clientType(server: Server, c: Connection): string {
  if (server.replication.isReplicaClient(c.id)) return 'replica';
  return server.isSubscribed(c) ? 'pubsub' : 'normal';
}

function clientList(call: HostCall): Reply {
  const { server, argv } = call;
  let ids: Set<number> | null = null;
  let type: string | null = null;
  let i = 2;
  while (i < argv.length) {
    const o = opt(call, i);
    if (o === 'type' && i + 1 < argv.length) {
      const t = opt(call, i + 1);
      if (!CLIENT_TYPES.includes(t)) return error(`ERR Unknown client type '${arg(call, i + 1)}'`);
      type = canonicalType(t);
      i += 2;
    } else if (o === 'id' && i + 1 < argv.length) {
      ids ??= new Set();
      for (i = i + 1; i < argv.length; i++) {
        const v = arg(call, i);
        if (!/^\d+$/.test(v) || Number(v) <= 0) return error('ERR Invalid client ID');
        ids.add(Number(v));
      }
    } else {
      return error('ERR syntax error');
    }
  }
  const lines: string[] = [];
  for (const c of server.clients.values()) {
    // A connection being closed is gone for Valkey (freed before the next command runs),
    // though its socket may still be flushing here.
    if (c.closed && c !== call.conn) continue;
    if (ids !== null && !ids.has(c.id)) continue;
    if (type !== null && clientType(server, c) !== type) continue;
    lines.push(`${clientLine(server, c, c === call.conn ? argv : null)}\n`);
  }
  return verbatim(lines.join(''));
}

function clientKill(call: HostCall): Reply {
  const { server, conn, argv } = call;
  // Old form: CLIENT KILL ip:port -> +OK or "No such client".
  if (argv.length === 3) {
    const addr = arg(call, 2);
    for (const c of server.clients.values()) {
      if (c.addr === addr) {
        killClient(server, c, conn);
        return ok;
      }
    }
    // The link to our primary (it reconnects and continues with a partial resync).
    if (server.replica.linkAddr === addr && server.replica.killLink() > 0) return ok;
    return error('ERR No such client');
  }
  if ((argv.length - 2) % 2 !== 0) return error('ERR syntax error');
  const filters: Array<(c: Connection) => boolean> = [];
  let killsPrimaryLink = false;
  let killsLinkByAddr = false;
  let skipme = true;
  for (let i = 2; i < argv.length; i += 2) {
    const o = opt(call, i);
    const v = arg(call, i + 1);
    switch (o) {
      case 'id': {
        // Valkey's getRangeLongFromObjectOrReply(1, LONG_MAX).
        if (!/^\d+$/.test(v) || Number(v) < 1 || BigInt(v) > 0x7fffffffffffffffn) return error('ERR client-id should be greater than 0');
        const id = Number(v);
        filters.push((c) => c.id === id);
        break;
      }
      case 'addr':
        if (v === server.replica.linkAddr) killsLinkByAddr = true;
        filters.push((c) => c.addr === v);
        break;
      case 'laddr':
        filters.push((c) => c.laddr === v);
        break;
      case 'type': {
        const t = v.toLowerCase();
        if (!CLIENT_TYPES.includes(t)) return error(`ERR Unknown client type '${v}'`);
        const want = canonicalType(t);
        if (want === 'master') killsPrimaryLink = true;
        filters.push((c) => clientType(server, c) === want);
        break;
      }
      case 'user': {
        if (!server.core.native.aclUserExists(v)) return error(`ERR No such user '${v}'`);
        filters.push((c) => server.core.native.clientState(c.id)?.user === v);
        break;
      }
      case 'skipme':
        if (v.toLowerCase() === 'yes') skipme = true;
        else if (v.toLowerCase() === 'no') skipme = false;
        else return error('ERR syntax error');
        break;
      case 'maxage': {
        if (!/^-?\d+$/.test(v) || BigInt(v) > 0x7fffffffffffffffn || BigInt(v) < -0x8000000000000000n) return error('ERR maxage is not an integer or out of range');
        const age = Number(v);
        if (age <= 0) return error('ERR maxage should be greater than 0');
        // Valkey compares whole seconds of age: older than maxage.
        filters.push((c) => Math.floor((Date.now() - c.createdAt) / 1000) >= age);
        break;
      }
      default:
        return error('ERR syntax error');
    }
  }
  let killed = 0;
  // The link to our primary is no socket connection of ours: TYPE master alone drops it
  // (it reconnects and continues).
  // So does ADDR alone naming its address.
  if ((killsPrimaryLink || killsLinkByAddr) && filters.length === 1) killed += server.replica.killLink();
  for (const c of [...server.clients.values()]) {
    if (skipme && c === conn) continue;
    if (filters.every((f) => f(c))) {
      killClient(server, c, conn);
      killed++;
    }
  }
  return int(killed);
}

/** CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocking command. */
function clientUnblock(call: HostCall): Reply {
  const { server, argv } = call;
  if (argv.length > 4) return error(`ERR unknown subcommand or wrong number of arguments for '${arg(call, 1)}'. Try CLIENT HELP.`);
  let asError = false;
  if (argv.length === 4) {
    const reason = opt(call, 3);
    if (reason !== 'timeout' && reason !== 'error') return error('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
    asError = reason === 'error';
  }
  const id = arg(call, 2);
  // Valkey's string2ll: canonical decimal within the signed 64-bit range.
  if (!/^-?(0|[1-9]\d{0,18})$/.test(id) || BigInt(id) > 0x7fffffffffffffffn || BigInt(id) < -0x8000000000000000n) {
    return error('ERR value is not an integer or out of range');
  }
  const n = Number(id);
  // The target's reply and its pipelined input are handled when the server serves
  // woken clients, right after this command.
  return int(n > 0 && n <= 0xffffffff && server.core.native.unblockClient(n, asError) ? 1 : 0);
}

/** Closes a client; the caller's own connection closes after this reply is written. */
function killClient(server: Server, victim: Connection, caller: Connection): void {
  if (victim === caller) {
    server.core.native.closeAfterReply(caller.id);
    return;
  }
  server.closeAfterWrite(victim);
  // Valkey frees a killed client at once (freeClient), its pending output dropped: a
  // client that never reads (a stopped replica holding megabytes) must not stay
  // connected, and counted in INFO's mem_clients_*, until its output drains. With
  // nothing pending, the socket goes once its end is handed to the kernel.
  const s = victim.socket;
  if (s.writableFinished || s.writableLength > 0) s.destroy();
  else s.once('finish', () => s.destroy());
}
