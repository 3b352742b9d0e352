// Host command registry: the names the core hands over (see the command table's
// `Exec::Host` entries in crates/forkv-engine/src/cmd/host.rs and debug.rs).
import type { Connection } from '../net/connection';
import { error, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { acl } from './acl';
import { client } from './client';
import { auth, hello, reset } from './connection';
import { config, debug, info, shutdown } from './server';
import type { HostHandler } from './types';
import { int } from '../resp/encode';

const HANDLERS: Record<string, HostHandler> = {
  acl,
  auth,
  client,
  config,
  debug,
  hello,
  info,
  reset,
  shutdown,
  save: (c) => c.server.rdb.saveCommand(),
  bgsave: (c) => c.server.rdb.bgsaveCommand(c),
  lastsave: (c) => int(c.server.rdb.lastSaveTime),
  bgrewriteaof: (c) => c.server.aof.rewriteCommand(),
  sync: (c) => c.server.replication.fullSync.syncCommand(c, false),
  psync: (c) => c.server.replication.fullSync.syncCommand(c, true),
  role: (c) => (c.server.replica.isReplica ? c.server.replica.roleReply() : c.server.replication.roleReply()),
  wait: (c) => c.server.replication.acks.waitCommand(c),
  waitaof: (c) => c.server.replication.acks.waitaofCommand(c),
  replicaof: (c) => c.server.replica.replicaofCommand(c),
  slaveof: (c) => c.server.replica.replicaofCommand(c),
  failover: (c) => c.server.failover.command(c),
};

/** Names with a host handler (tests check the command table against this). */
export function hostCommandNames(): string[] {
  return Object.keys(HANDLERS);
}

/** Registers more host handlers (persistence commands add theirs). */
export function registerHostCommands(more: Record<string, HostHandler>): void {
  Object.assign(HANDLERS, more);
}

export function runHostCommand(server: Server, conn: Connection, argv: Buffer[]): Reply | Promise<Reply> {
  const name = (argv[0]?.toString('latin1') ?? '').toLowerCase();
  const h = HANDLERS[name];
  if (!h) return error(`ERR unknown command '${name}', with args beginning with: `);
  return h({ server, conn, argv });
}
