// Connection commands the host owns besides CLIENT (client.ts): HELLO, AUTH and RESET (the
// host has the names and library info; the core has db, protocol, user and parse state).
import { array, bulk, error, int, map, ok, simple, type Reply } from '../resp/encode';
import { VERSION } from '../version';
import { validName } from './client';
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
