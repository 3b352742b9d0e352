// CLIENT and its subcommands (Valkey's clientCommand): ID, GETNAME, SETNAME, SETINFO, INFO,
// LIST, KILL, UNBLOCK. The host has the sockets, names and library info; the core has db,
// protocol and parse state. The line CLIENT LIST and CLIENT INFO print is client-line.ts's.
import type { ClientView, Connection } from '../net/connection';
import { bulk, error, int, nil, ok, verbatim, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { clientLine, isPrimaryClient } from './client-line';
import { arg, opt, type HostCall } from './types';

/** Client and library names: printable ASCII, no spaces (Valkey's validateClientAttr). */
export function validName(s: string): boolean {
  return /^[\x21-\x7e]*$/.test(s);
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

/** Valkey's client type: our primary, a replica, pubsub when subscribed, else normal. */
function clientType(server: Server, c: ClientView): string {
  if (isPrimaryClient(server, c)) return 'master';
  if (server.replication.isReplicaClient(c.id)) return 'replica';
  return server.isSubscribed(c) ? 'pubsub' : 'normal';
}

/**
 * Every client Valkey lists, in id order: our open connections (the caller's own, even
 * closing) and, on a replica whose link is up, the primary client.
 */
function allClients(server: Server, caller: Connection): ClientView[] {
  // A connection being closed is gone for Valkey (freed before the next command runs),
  // though its socket may still be flushing here.
  const all: ClientView[] = [...server.clients.values()].filter((c) => !c.closed || c === caller);
  const primary = server.replica.primaryClientView();
  if (primary !== null) all.push(primary);
  return all.sort((a, b) => a.id - b.id);
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
  for (const c of allClients(server, call.conn)) {
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
    for (const c of allClients(server, conn)) {
      if (c.addr === addr) {
        killClient(server, c, conn);
        return ok;
      }
    }
    return error('ERR No such client');
  }
  if ((argv.length - 2) % 2 !== 0) return error('ERR syntax error');
  const filters: Array<(c: ClientView) => boolean> = [];
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
        filters.push((c) => c.addr === v);
        break;
      case 'laddr':
        filters.push((c) => c.laddr === v);
        break;
      case 'type': {
        const t = v.toLowerCase();
        if (!CLIENT_TYPES.includes(t)) return error(`ERR Unknown client type '${v}'`);
        const want = canonicalType(t);
        filters.push((c) => clientType(server, c) === want);
        break;
      }
      case 'user': {
        if (!server.core.native.aclUserExists(v)) return error(`ERR No such user '${v}'`);
        // The primary client has no user (Valkey's NULL): no USER filter matches it.
        filters.push((c) => !isPrimaryClient(server, c) && server.core.native.clientState(c.id)?.user === v);
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
  for (const c of allClients(server, conn)) {
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

/**
 * Closes a client; the caller's own connection closes after this reply is written. The
 * link to our primary is dropped: it reconnects and continues (Valkey's cached primary).
 */
function killClient(server: Server, victim: ClientView, caller: Connection): void {
  if (victim === caller) {
    server.core.native.closeAfterReply(caller.id);
    return;
  }
  if (isPrimaryClient(server, victim)) {
    server.replica.killLink();
    return;
  }
  const conn = server.clients.get(victim.id);
  if (conn === undefined) return;
  killClientConnection(server, conn);
}

function killClientConnection(server: Server, victim: Connection): void {
  server.clientOutput.closeAfterWrite(victim);
  // Valkey frees a killed client at once (freeClient), its pending output dropped: a
  // client that never reads (a stopped replica holding megabytes) must not stay
  // connected, and counted in INFO's mem_clients_*, until its output drains. With
  // nothing pending, the socket goes once its end is handed to the kernel.
  const s = victim.socket;
  if (s.writableFinished || s.writableLength > 0) s.destroy();
  else s.once('finish', () => s.destroy());
}
