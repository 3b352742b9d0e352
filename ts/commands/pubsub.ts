// Pub/sub (Valkey pubsub.c). Delivery crosses connections, so the subscription registry
// lives here in the host, which owns the sockets; the command table entries are in Rust
// (crates/forkv-engine/src/cmd/pubsub.rs), and so is the "subscribed mode" gate: the
// registry tells the core whenever a client's subscription count becomes zero or
// non-zero (`setClientPubsub`), and the core refuses other commands from a RESP2
// subscriber where commands are dispatched.
//
// Channel names and patterns are binary: they are kept as latin1 strings (one char per
// byte) and patterns are matched on bytes with the core's glob.
import type { Connection } from '../net/connection';
import { globMatchBytes } from '../native/core';
import { array, bulk, error, int, simple, type Reply } from '../resp/encode';
import type { Server } from '../server';
import { opt, type HostCall } from './types';

/** The three subscription namespaces. Shard channels are separate from channels. */
type Space = 'channel' | 'pattern' | 'shard';

interface ClientSubs {
  channel: Set<string>;
  pattern: Set<string>;
  shard: Set<string>;
}

/** An element of a pub/sub push frame. */
type Part = Buffer | string | number | null;

/** A push frame: `>n` in RESP3, a plain array in RESP2 (as Valkey's addReplyPushLen). */
export function pushFrame(proto: number, parts: Part[]): Buffer {
  const out: Buffer[] = [Buffer.from(`${proto >= 3 ? '>' : '*'}${parts.length}\r\n`)];
  for (const p of parts) {
    if (p === null) out.push(Buffer.from(proto >= 3 ? '_\r\n' : '$-1\r\n'));
    else if (typeof p === 'number') out.push(Buffer.from(`:${p}\r\n`));
    else {
      const b = typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
      out.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(out);
}

/** The server's subscriptions: channel/pattern/shard channel -> subscribers. */
export class PubSub {
  private readonly subscribers: Record<Space, Map<string, Set<Connection>>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map(),
  };
  /** Pattern bytes, kept so that PUBLISH does not convert them per message. */
  private readonly patternBytes = new Map<string, Buffer>();
  private readonly byClient = new Map<number, ClientSubs>();

  constructor(private readonly server: Server) {
    server.addStatsProvider(() => [
      ['pubsub_channels', this.subscribers.channel.size],
      ['pubsub_patterns', this.subscribers.pattern.size],
      ['pubsubshard_channels', this.subscribers.shard.size],
    ]);
  }

  private subsOf(conn: Connection): ClientSubs {
    let s = this.byClient.get(conn.id);
    if (!s) {
      s = { channel: new Set(), pattern: new Set(), shard: new Set() };
      this.byClient.set(conn.id, s);
    }
    return s;
  }

  /** Subscriptions of one kind for CLIENT LIST (sub=, psub=, ssub=). */
  count(conn: Connection, space: Space): number {
    return this.byClient.get(conn.id)?.[space].size ?? 0;
  }

  /** Channels + patterns: the count SUBSCRIBE/PSUBSCRIBE replies carry. */
  private plainCount(conn: Connection): number {
    return this.count(conn, 'channel') + this.count(conn, 'pattern');
  }

  /** Count reported in replies of a namespace (shard channels count apart). */
  private replyCount(conn: Connection, space: Space): number {
    return space === 'shard' ? this.count(conn, 'shard') : this.plainCount(conn);
  }

  /** True when the client has any subscription (Valkey's CLIENT_PUBSUB flag). */
  isSubscribed(conn: Connection): boolean {
    return this.plainCount(conn) + this.count(conn, 'shard') > 0;
  }

  /** Clients with at least one subscription (INFO pubsub_clients). */
  clientCount(): number {
    let n = 0;
    for (const s of this.byClient.values()) if (s.channel.size + s.pattern.size + s.shard.size > 0) n++;
    return n;
  }

  /** Keeps the core's subscribed-mode flag in step with the registry. */
  private syncMode(conn: Connection): void {
    const on = this.isSubscribed(conn);
    if (!on) this.byClient.delete(conn.id);
    this.server.core.native.setClientPubsub(conn.id, on);
  }

  private add(conn: Connection, space: Space, name: string): void {
    const mine = this.subsOf(conn)[space];
    if (mine.has(name)) return;
    mine.add(name);
    let set = this.subscribers[space].get(name);
    if (!set) {
      set = new Set();
      this.subscribers[space].set(name, set);
      if (space === 'pattern') this.patternBytes.set(name, Buffer.from(name, 'latin1'));
    }
    set.add(conn);
  }

  private remove(conn: Connection, space: Space, name: string): boolean {
    const mine = this.byClient.get(conn.id)?.[space];
    if (!mine?.delete(name)) return false;
    const set = this.subscribers[space].get(name);
    set?.delete(conn);
    if (set?.size === 0) {
      this.subscribers[space].delete(name);
      this.patternBytes.delete(name);
    }
    return true;
  }

  /** SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE: one confirmation per name. */
  subscribe(conn: Connection, space: Space, names: string[]): Buffer {
    const verb = VERB[space].sub;
    const frames = names.map((name) => {
      this.add(conn, space, name);
      return pushFrame(conn.proto, [verb, name, this.replyCount(conn, space)]);
    });
    this.syncMode(conn);
    return Buffer.concat(frames);
  }

  /**
   * UNSUBSCRIBE/PUNSUBSCRIBE/SUNSUBSCRIBE: one confirmation per name (all current
   * subscriptions when none is given; a single one with a null name when there are none).
   */
  unsubscribe(conn: Connection, space: Space, names: string[] | null): Buffer {
    const verb = VERB[space].unsub;
    const list = names ?? [...(this.byClient.get(conn.id)?.[space] ?? [])];
    const frames = list.map((name) => {
      this.remove(conn, space, name);
      return pushFrame(conn.proto, [verb, name, this.replyCount(conn, space)]);
    });
    if (frames.length === 0) frames.push(pushFrame(conn.proto, [verb, null, this.replyCount(conn, space)]));
    this.syncMode(conn);
    return Buffer.concat(frames);
  }

  /** Drops every subscription without notification (RESET, connection close). */
  dropClient(conn: Connection): void {
    const s = this.byClient.get(conn.id);
    if (!s) return;
    for (const space of SPACES) for (const name of [...s[space]]) this.remove(conn, space, name);
    this.byClient.delete(conn.id);
    if (!conn.closed) this.server.core.native.setClientPubsub(conn.id, false);
  }

  /**
   * PUBLISH: delivers to the channel's subscribers, then to every (client, pattern)
   * pair whose pattern matches; returns how many deliveries were made.
   */
  publish(channel: Buffer, message: Buffer): number {
    const name = channel.toString('latin1');
    let receivers = 0;
    for (const c of this.subscribers.channel.get(name) ?? []) {
      this.server.deliver(c, pushFrame(c.proto, ['message', channel, message]));
      receivers++;
    }
    for (const [pattern, subs] of this.subscribers.pattern) {
      const bytes = this.patternBytes.get(pattern);
      if (!bytes || !globMatchBytes(bytes, channel)) continue;
      for (const c of subs) {
        this.server.deliver(c, pushFrame(c.proto, ['pmessage', bytes, channel, message]));
        receivers++;
      }
    }
    return receivers;
  }

  /** SPUBLISH: shard channel subscribers only. */
  spublish(channel: Buffer, message: Buffer): number {
    let receivers = 0;
    for (const c of this.subscribers.shard.get(channel.toString('latin1')) ?? []) {
      this.server.deliver(c, pushFrame(c.proto, ['smessage', channel, message]));
      receivers++;
    }
    return receivers;
  }

  /** Active channels (or shard channels) matching an optional pattern. */
  channels(space: 'channel' | 'shard', pattern: Buffer | null): Buffer[] {
    const out: Buffer[] = [];
    for (const name of this.subscribers[space].keys()) {
      const b = Buffer.from(name, 'latin1');
      if (pattern === null || globMatchBytes(pattern, b)) out.push(b);
    }
    return out;
  }

  /** Subscriber count of one channel (patterns not included, as Valkey counts). */
  numsub(space: 'channel' | 'shard', channel: Buffer): number {
    return this.subscribers[space].get(channel.toString('latin1'))?.size ?? 0;
  }

  /** Distinct patterns with subscribers. */
  numpat(): number {
    return this.subscribers.pattern.size;
  }
}

const SPACES: Space[] = ['channel', 'pattern', 'shard'];

const VERB: Record<Space, { sub: string; unsub: string }> = {
  channel: { sub: 'subscribe', unsub: 'unsubscribe' },
  pattern: { sub: 'psubscribe', unsub: 'punsubscribe' },
  shard: { sub: 'ssubscribe', unsub: 'sunsubscribe' },
};

const names = (call: HostCall): string[] => call.argv.slice(1).map((b) => b.toString('latin1'));

/** The frames are already encoded for the client's protocol. */
const raw = (v: Buffer): Reply => ({ t: 'raw', v });

export const subscribe = (call: HostCall): Reply => raw(call.server.pubsub.subscribe(call.conn, 'channel', names(call)));
export const psubscribe = (call: HostCall): Reply => raw(call.server.pubsub.subscribe(call.conn, 'pattern', names(call)));
export const ssubscribe = (call: HostCall): Reply => raw(call.server.pubsub.subscribe(call.conn, 'shard', names(call)));

const unsub = (call: HostCall, space: Space): Reply =>
  raw(call.server.pubsub.unsubscribe(call.conn, space, call.argv.length > 1 ? names(call) : null));

export const unsubscribe = (call: HostCall): Reply => unsub(call, 'channel');
export const punsubscribe = (call: HostCall): Reply => unsub(call, 'pattern');
export const sunsubscribe = (call: HostCall): Reply => unsub(call, 'shard');

export const publish = (call: HostCall): Reply =>
  int(call.server.pubsub.publish(call.argv[1] as Buffer, call.argv[2] as Buffer));

export const spublish = (call: HostCall): Reply =>
  int(call.server.pubsub.spublish(call.argv[1] as Buffer, call.argv[2] as Buffer));

const PUBSUB_HELP = [
  'PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CHANNELS [<pattern>]',
  "    Return the currently active channels matching a <pattern> (default: '*').",
  'NUMPAT',
  '    Return number of subscriptions to patterns.',
  'NUMSUB [<channel> ...]',
  '    Return the number of subscribers for the specified channels, excluding',
  '    pattern subscriptions(default: no channels).',
  'SHARDCHANNELS [<pattern>]',
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  'SHARDNUMSUB [<shardchannel> ...]',
  '    Return the number of subscribers for the specified shard level channel(s)',
  'HELP',
  '    Prints this help.',
];

/** PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP. */
export function pubsub(call: HostCall): Reply {
  const { server, argv } = call;
  const ps = server.pubsub;
  const sub = opt(call, 1);
  const syntax = (): Reply =>
    error(`ERR unknown subcommand or wrong number of arguments for '${argv[1]?.toString('latin1') ?? ''}'. Try PUBSUB HELP.`);
  switch (sub) {
    case 'channels':
    case 'shardchannels': {
      if (argv.length > 3) return syntax();
      const space = sub === 'channels' ? 'channel' : 'shard';
      return array(ps.channels(space, argv[2] ?? null).map((b) => bulk(b)));
    }
    case 'numsub':
    case 'shardnumsub': {
      // A flat array of channel, count pairs (not a map, even in RESP3).
      const space = sub === 'numsub' ? 'channel' : 'shard';
      return array(argv.slice(2).flatMap((ch) => [bulk(ch), int(ps.numsub(space, ch))]));
    }
    case 'numpat':
      return int(ps.numpat());
    case 'help':
      return array(PUBSUB_HELP.map((l) => simple(l)));
    default:
      return error(`ERR unknown subcommand '${argv[1]?.toString('latin1') ?? ''}'. Try PUBSUB HELP.`);
  }
}
