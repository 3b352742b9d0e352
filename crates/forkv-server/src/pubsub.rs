//! Pub/sub (Valkey's `pubsub.c`): the subscription registry, the commands that change or
//! read it, and delivery of messages to subscribers.
//!
//! Three namespaces are kept apart, as in Valkey: channels, patterns and shard channels.
//! The registry is two-sided: per name, the subscribing clients in subscription order;
//! per client, its names in subscription order (UNSUBSCRIBE without arguments answers
//! in that order). Names and patterns are bytes; patterns match with the keyspace's
//! glob, the one implementation shared with KEYS and CONFIG GET.
//!
//! A message is encoded once per receiver in the receiver's protocol (a RESP3 push or a
//! RESP2 array, Valkey's `addReplyPushLen`) and appended to its [`Outbox`]. The engine's
//! per-client "subscribed mode" flag (`Client::pubsub`, the RESP2 command gate) is kept
//! in step here whenever a client's subscription count becomes zero or non-zero.

use std::collections::HashMap;

use forkv_engine::reply::Reply;
use forkv_engine::Engine;
use forkv_keyspace::glob::glob_match;

use crate::outbox::Outbox;

/// One of the three subscription namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// SUBSCRIBE / PUBLISH.
    Channel = 0,
    /// PSUBSCRIBE: glob patterns matched against PUBLISH's channel.
    Pattern = 1,
    /// SSUBSCRIBE / SPUBLISH (separate from channels).
    Shard = 2,
}

impl Space {
    const ALL: [Space; 3] = [Space::Channel, Space::Pattern, Space::Shard];

    /// The confirmation verbs of SUBSCRIBE-like and UNSUBSCRIBE-like commands.
    fn verbs(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Space::Channel => (b"subscribe", b"unsubscribe"),
            Space::Pattern => (b"psubscribe", b"punsubscribe"),
            Space::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// A client's names in one namespace, with their subscription order.
#[derive(Default)]
struct Names {
    seq: Map<Vec<u8>, u64>,
    next: u64,
}

impl Names {
    fn insert(&mut self, name: &[u8]) -> bool {
        if self.seq.contains_key(name) {
            return false;
        }
        self.seq.insert(name.to_vec(), self.next);
        self.next += 1;
        true
    }

    fn in_order(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<(&Vec<u8>, &u64)> = self.seq.iter().collect();
        v.sort_by_key(|(_, s)| **s);
        v.into_iter().map(|(n, _)| n.clone()).collect()
    }
}

/// Counts for INFO (`pubsub_channels`, `pubsub_patterns`, `pubsubshard_channels`,
/// `pubsub_clients`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PubSubStats {
    pub channels: usize,
    pub patterns: usize,
    pub shard_channels: usize,
    pub clients: usize,
}

/// The server's subscriptions.
#[derive(Default)]
pub struct PubSub {
    /// Per namespace: name -> subscribing clients, in subscription order.
    subscribers: [Map<Vec<u8>, Vec<u64>>; 3],
    /// Per client with at least one subscription: its names per namespace.
    clients: Map<u64, [Names; 3]>,
}

impl PubSub {
    /// A client's subscription count in one namespace (CLIENT LIST `sub=`, `psub=`, `ssub=`).
    pub fn count(&self, id: u64, space: Space) -> usize {
        self.clients.get(&id).map_or(0, |s| s[space as usize].seq.len())
    }

    /// A client's subscriptions in all three namespaces (one lookup: the per-turn client
    /// memory figure needs it).
    pub fn total_count(&self, id: u64) -> usize {
        self.clients.get(&id).map_or(0, |s| s.iter().map(|n| n.seq.len()).sum())
    }

    /// The count SUBSCRIBE-like replies carry: channels + patterns, or shard channels.
    fn reply_count(&self, id: u64, space: Space) -> usize {
        match space {
            Space::Shard => self.count(id, Space::Shard),
            _ => self.count(id, Space::Channel) + self.count(id, Space::Pattern),
        }
    }

    /// Clients with a subscription some check refuses: `keep(client, name, is_pattern)`
    /// is asked for each of their channels, patterns and shard channels.
    pub fn clients_refused(&self, mut keep: impl FnMut(u64, &[u8], bool) -> bool) -> Vec<u64> {
        self.clients
            .iter()
            .filter(|(id, spaces)| {
                spaces.iter().enumerate().any(|(space, names)| {
                    let pattern = space == Space::Pattern as usize;
                    names.seq.keys().any(|name| !keep(**id, name, pattern))
                })
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// True when the client has any subscription (Valkey's CLIENT_PUBSUB flag).
    pub fn is_subscribed(&self, id: u64) -> bool {
        self.clients.contains_key(&id)
    }

    /// INFO counters.
    pub fn stats(&self) -> PubSubStats {
        PubSubStats {
            channels: self.subscribers[Space::Channel as usize].len(),
            patterns: self.subscribers[Space::Pattern as usize].len(),
            shard_channels: self.subscribers[Space::Shard as usize].len(),
            clients: self.clients.len(),
        }
    }

    fn add(&mut self, id: u64, space: Space, name: &[u8]) {
        let mine = &mut self.clients.entry(id).or_default()[space as usize];
        if mine.insert(name) {
            self.subscribers[space as usize].entry(name.to_vec()).or_default().push(id);
        }
    }

    fn remove(&mut self, id: u64, space: Space, name: &[u8]) {
        let Some(subs) = self.clients.get_mut(&id) else {
            return;
        };
        if subs[space as usize].seq.remove(name).is_none() {
            return;
        }
        let by_name = &mut self.subscribers[space as usize];
        if let Some(list) = by_name.get_mut(name) {
            list.retain(|&c| c != id);
            if list.is_empty() {
                by_name.remove(name);
            }
        }
    }

    /// Forgets a client with no subscriptions left and tells the engine its mode.
    fn sync_mode(&mut self, engine: &mut Engine, id: u64) {
        let on = self.clients.get(&id).is_some_and(|s| s.iter().any(|n| !n.seq.is_empty()));
        if !on {
            self.clients.remove(&id);
        }
        if let Some(c) = engine.client_mut(id) {
            c.pubsub = on;
        }
    }

    /// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: one confirmation per name.
    pub fn subscribe(&mut self, engine: &mut Engine, id: u64, space: Space, names: &[&[u8]], out: &mut Vec<u8>) {
        let proto = proto_of(engine, id);
        for name in names {
            self.add(id, space, name);
            let n = self.reply_count(id, space);
            confirmation(out, proto, space.verbs().0, Some(name), n);
        }
        self.sync_mode(engine, id);
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: one confirmation per name; without
    /// names, every current subscription of the namespace (one reply with a null name
    /// when there is none).
    pub fn unsubscribe(&mut self, engine: &mut Engine, id: u64, space: Space, names: &[&[u8]], out: &mut Vec<u8>) {
        let proto = proto_of(engine, id);
        let verb = space.verbs().1;
        let all;
        let list: Vec<&[u8]> = if names.is_empty() {
            all = self.clients.get(&id).map(|s| s[space as usize].in_order()).unwrap_or_default();
            all.iter().map(Vec::as_slice).collect()
        } else {
            names.to_vec()
        };
        for name in &list {
            self.remove(id, space, name);
            let n = self.reply_count(id, space);
            confirmation(out, proto, verb, Some(name), n);
        }
        if list.is_empty() {
            confirmation(out, proto, verb, None, self.reply_count(id, space));
        }
        self.sync_mode(engine, id);
    }

    /// Drops every subscription of a client without notification (RESET, close).
    pub fn drop_client(&mut self, engine: &mut Engine, id: u64) {
        let Some(subs) = self.clients.get(&id) else {
            return;
        };
        let names: Vec<(Space, Vec<Vec<u8>>)> = Space::ALL.iter().map(|&s| (s, subs[s as usize].in_order())).collect();
        for (space, list) in names {
            for name in list {
                self.remove(id, space, &name);
            }
        }
        self.sync_mode(engine, id);
    }

    /// PUBLISH: the channel's subscribers, then every (pattern, client) whose pattern
    /// matches; SPUBLISH: the shard channel's subscribers. Returns the deliveries made.
    pub fn publish(&self, engine: &Engine, outbox: &mut Outbox, space: Space, channel: &[u8], message: &[u8]) -> usize {
        let mut receivers = 0;
        let kind: &[u8] = if space == Space::Shard { b"smessage" } else { b"message" };
        if let Some(list) = self.subscribers[space as usize].get(channel) {
            for &c in list {
                let mut r = Reply::new(outbox.buffer(c), proto_of(engine, c));
                r.push(3);
                r.bulk(kind);
                r.bulk(channel);
                r.bulk(message);
                receivers += 1;
            }
        }
        if space == Space::Channel {
            for (pattern, list) in &self.subscribers[Space::Pattern as usize] {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                for &c in list {
                    let mut r = Reply::new(outbox.buffer(c), proto_of(engine, c));
                    r.push(4);
                    r.bulk(b"pmessage");
                    r.bulk(pattern);
                    r.bulk(channel);
                    r.bulk(message);
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// Active channels (or shard channels) matching an optional pattern.
    pub fn channels(&self, space: Space, pattern: Option<&[u8]>) -> Vec<&[u8]> {
        self.subscribers[space as usize]
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
            .map(Vec::as_slice)
            .collect()
    }

    /// Subscribers of one channel (patterns not included, as Valkey counts).
    pub fn numsub(&self, space: Space, channel: &[u8]) -> usize {
        self.subscribers[space as usize].get(channel).map_or(0, Vec::len)
    }
}

fn proto_of(engine: &Engine, id: u64) -> u8 {
    engine.client(id).map_or(2, |c| c.proto)
}

/// `[verb, name|null, count]` as a push (RESP3) or an array (RESP2).
fn confirmation(out: &mut Vec<u8>, proto: u8, verb: &[u8], name: Option<&[u8]>, count: usize) {
    let mut r = Reply::new(out, proto);
    r.push(3);
    r.bulk(verb);
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.int(count as i64);
}

const PUBSUB_HELP: &[&str] = &[
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
];

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP (the engine has checked
/// the subcommand's name and arity).
pub fn introspect(ps: &PubSub, proto: u8, argv: &[&[u8]], out: &mut Vec<u8>) {
    let mut r = Reply::new(out, proto);
    let sub = argv.get(1).map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    match sub.as_slice() {
        b"channels" | b"shardchannels" => {
            if argv.len() > 3 {
                r.error(&format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                    String::from_utf8_lossy(argv[1])
                ));
                return;
            }
            let space = if sub == b"channels" { Space::Channel } else { Space::Shard };
            let names = ps.channels(space, argv.get(2).copied());
            r.array(names.len());
            for n in names {
                r.bulk(n);
            }
        }
        b"numsub" | b"shardnumsub" => {
            // A flat array of channel, count pairs (not a map, even in RESP3).
            let space = if sub == b"numsub" { Space::Channel } else { Space::Shard };
            r.array(2 * (argv.len() - 2));
            for ch in &argv[2..] {
                r.bulk(ch);
                r.int(ps.numsub(space, ch) as i64);
            }
        }
        b"numpat" => r.int(ps.stats().patterns as i64),
        b"help" => r.help("PUBSUB", PUBSUB_HELP),
        _ => r.error(&format!(
            "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(argv.get(1).copied().unwrap_or_default())
        )),
    }
}
