//! Client-side caching (Valkey's `tracking.c`): which clients may hold which keys, and
//! the invalidation messages they get when those keys change.
//!
//! # Two ways to track
//!
//! A client in the default mode (`CLIENT TRACKING ON`) is remembered in the *key table*
//! for every key a read-only command served it (OPTIN: only after `CLIENT CACHING YES`;
//! OPTOUT: unless `CLIENT CACHING NO` was given). When such a key is modified, each
//! client remembered for it gets one invalidation and the key leaves the table: a client
//! has to read the key again to hear about it again. The table is global (keys of every
//! database share it, as in Valkey) and bounded by `tracking-table-max-keys`: past it,
//! keys are dropped as if they had been modified, so that no client keeps a copy the
//! server no longer watches for it.
//!
//! A client in BCAST mode registers key *prefixes* instead (the empty prefix matches
//! every key). Modified keys are collected per prefix and sent as one array per prefix
//! once the batch of commands that modified them is over ([`Engine::tracking_broadcast`],
//! Valkey's beforeSleep).
//!
//! # Where the messages go
//!
//! A RESP3 client gets `>2 invalidate [keys]` pushes on its own connection. A client
//! with `REDIRECT <id>` has them sent to that client instead: as a push if it speaks
//! RESP3, as a `message` on `__redis__:invalidate` if it is a RESP2 client in pub/sub
//! mode. When the redirect target is gone, a RESP3 tracking client gets a
//! `tracking-redir-broken` push instead. FLUSHALL/FLUSHDB send every tracking client a
//! null key list (all keys are invalid) and empty the table.
//!
//! A message to the client whose command caused it is held until that command's reply
//! is out (after the whole EXEC or script: Valkey's `tracking_pending_keys`), so it never
//! lands inside a reply; messages to other clients are queued in
//! [`Tracking::take_deliveries`] for the server crate to hand to the host.
//!
//! Modified keys come from the keyspace's one mutation choke point (the touch record,
//! see [`forkv_keyspace::Touched`]), so writes from scripts, MULTI, expiry and eviction
//! all invalidate. NOLOOP hides the changes a client made itself; deletions the server
//! decided (expiry, eviction) are nobody's in BCAST mode.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use forkv_keyspace::{Bytes, Touched};

use crate::cmd::script::SCRIPT_CLIENT;
use crate::reply::Reply;
use crate::table::{flags, CommandSpec};
use crate::{Engine, Outcome};

/// The pub/sub channel RESP2 redirect targets subscribe to.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking settings (Valkey's CLIENT_TRACKING_* flags and fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTracking {
    /// CLIENT TRACKING ON.
    pub on: bool,
    /// Broadcasting mode: prefixes, not the keys read.
    pub bcast: bool,
    /// Only keys read right after CLIENT CACHING YES are tracked.
    pub optin: bool,
    /// Keys read right after CLIENT CACHING NO are not tracked.
    pub optout: bool,
    /// No messages about the client's own changes.
    pub noloop: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) applies to the next command.
    pub caching: bool,
    /// The redirect target was found gone when a message was due.
    pub broken_redir: bool,
    /// Client id the messages go to; 0: this client.
    pub redirect: u64,
    /// BCAST prefixes, in byte order.
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// Who caused the key changes being processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// No client (the cron: active expiry, the key-table limit).
    Outside,
    /// Client `id`, before its command runs (eviction, the key-table limit): its own
    /// messages go out at once, ahead of the reply.
    Before(u64),
    /// Client `id`'s command: its own messages wait until the reply is out.
    During(u64),
}

impl Origin {
    fn current(self) -> Option<u64> {
        match self {
            Origin::Outside => None,
            Origin::Before(id) | Origin::During(id) => Some(id),
        }
    }
}

/// The keys a message carries.
enum Keys<'a> {
    One(&'a [u8]),
    /// All keys (a flush): a null, in the tracking client's protocol.
    All,
    /// An already encoded array (BCAST).
    Encoded(&'a [u8]),
}

/// The modified keys of one prefix, and the clients registered for it.
#[derive(Default)]
struct Prefix {
    /// Key -> the client whose command changed it last (None: the server), for NOLOOP.
    keys: BTreeMap<Vec<u8>, Option<u64>>,
    clients: BTreeSet<u64>,
}

/// Counts for INFO (`tracking_clients`, `tracking_total_keys`, `tracking_total_items`,
/// `tracking_total_prefixes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackingInfo {
    pub clients: u64,
    pub total_keys: u64,
    pub total_items: u64,
    pub total_prefixes: u64,
}

/// The server-wide tracking state.
pub struct Tracking {
    /// Key -> ids of the clients that may cache it. SipHash with a random key: the keys
    /// are client data.
    table: HashMap<Bytes, HashSet<u64>>,
    /// Ids stored across the table (`tracking_total_items`).
    total_items: u64,
    prefixes: BTreeMap<Vec<u8>, Prefix>,
    /// Clients with tracking on.
    clients: u64,
    /// `tracking-table-max-keys` (0: no limit).
    pub max_keys: usize,
    /// Consecutive limit passes that could not get under the limit (raises the effort).
    limit_misses: u32,
    /// Messages for the client whose command is running: (client, key; None for all).
    pending: Vec<(u64, Option<Bytes>)>,
    /// Encoded messages for other clients, in order.
    deliveries: Vec<(u64, Vec<u8>)>,
    /// The client whose script is running (its calls track and loop as that client).
    pub(crate) script_caller: Option<u64>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            table: HashMap::new(),
            total_items: 0,
            prefixes: BTreeMap::new(),
            clients: 0,
            max_keys: 1_000_000,
            limit_misses: 0,
            pending: Vec::new(),
            deliveries: Vec::new(),
            script_caller: None,
        }
    }
}

impl Tracking {
    /// True when some client tracks keys (the write path then reports its changes here).
    pub fn active(&self) -> bool {
        self.clients > 0
    }

    /// True while the write path must report its changes here: some client tracks, or
    /// the key table still holds keys (of clients that turned tracking off or left: their
    /// ids go lazily, when the key changes or a flush empties the table).
    pub fn in_use(&self) -> bool {
        self.clients > 0 || !self.table.is_empty()
    }

    /// INFO counters.
    pub fn info(&self) -> TrackingInfo {
        TrackingInfo {
            clients: self.clients,
            total_keys: self.table.len() as u64,
            total_items: self.total_items,
            total_prefixes: self.prefixes.len() as u64,
        }
    }

    /// True when messages for other clients are waiting.
    pub fn has_deliveries(&self) -> bool {
        !self.deliveries.is_empty()
    }

    /// Takes the messages for other clients: (client id, bytes), in order.
    pub fn take_deliveries(&mut self) -> Vec<(u64, Vec<u8>)> {
        std::mem::take(&mut self.deliveries)
    }

    /// Remembers that client `id` may cache `key`.
    fn remember(&mut self, id: u64, key: &[u8]) {
        let ids = match self.table.get_mut(key) {
            Some(ids) => ids,
            None => self.table.entry(Bytes::from(key)).or_default(),
        };
        if ids.insert(id) {
            self.total_items += 1;
        }
    }

    /// Records a modified key for the BCAST prefixes it matches.
    fn remember_for_broadcast(&mut self, key: &[u8], by: Option<u64>) {
        for (prefix, state) in &mut self.prefixes {
            if key.starts_with(prefix) {
                state.keys.insert(key.to_vec(), by);
            }
        }
    }

    fn add_prefix(&mut self, id: u64, prefix: &[u8]) {
        self.prefixes.entry(prefix.to_vec()).or_default().clients.insert(id);
    }

    fn remove_prefixes(&mut self, id: u64, prefixes: &BTreeSet<Vec<u8>>) {
        for p in prefixes {
            if let Some(state) = self.prefixes.get_mut(p) {
                state.clients.remove(&id);
                if state.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
    }
}

/// Valkey's prefix-overlap check for `CLIENT TRACKING ON BCAST PREFIX ...`.
fn check_prefix_collisions(existing: &BTreeSet<Vec<u8>>, new: &[&[u8]]) -> Result<(), String> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(e)
            ));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(q)
            ));
        }
    }
    Ok(())
}

/// The options of CLIENT TRACKING after ON|OFF.
#[derive(Default)]
struct TrackingOptions<'a> {
    redirect: u64,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<&'a [u8]>,
}

impl Engine {
    /// The client a command runs for, as tracking sees it: a script's calls count as
    /// the client running the script.
    fn tracking_client(&self, id: u64) -> u64 {
        if id == SCRIPT_CLIENT {
            self.csc.script_caller.unwrap_or(id)
        } else {
            id
        }
    }

    /// The origin of the changes a command of client `id` makes.
    pub(crate) fn tracking_origin(&self, id: u64) -> Origin {
        Origin::During(self.tracking_client(id))
    }

    /// After a read-only command of client `id` (or a script's read-only call): the
    /// keys it read are remembered for the client, unless OPTIN/OPTOUT says otherwise
    /// (Valkey's trackingRememberKeys).
    pub(crate) fn tracking_after_read(&mut self, id: u64, spec: &CommandSpec, argv: &[&[u8]]) {
        if spec.flags & flags::READONLY == 0 || spec.flags & flags::PUBSUB != 0 {
            return;
        }
        let owner = self.tracking_client(id);
        let Some(t) = self.clients.get(&owner).map(|c| &c.tracking) else {
            return;
        };
        if !t.on || t.bcast || (t.optin && !t.caching) || (t.optout && t.caching) {
            return;
        }
        for i in crate::cmd::command::key_positions(spec, argv) {
            self.csc.remember(owner, argv[i]);
        }
    }

    /// A top-level command of client `id` is over: CLIENT CACHING applied to it (kept
    /// through MULTI and across other CLIENT subcommands, as Valkey's resetClient).
    pub(crate) fn tracking_command_done(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            if c.tracking.caching && c.multi.is_none() && !c.last_cmd.starts_with("client|") {
                c.tracking.caching = false;
            }
        }
    }

    /// Sends the invalidations of the modified keys (and, after a flush, the null
    /// "all keys" message) to the clients that may cache them.
    pub(crate) fn tracking_invalidate(&mut self, touched: &[Touched], flushed: bool, origin: Origin) {
        if flushed {
            self.tracking_invalidate_all(origin);
        }
        for t in touched {
            if !self.csc.prefixes.is_empty() {
                let by = if t.by_server { None } else { origin.current() };
                self.csc.remember_for_broadcast(&t.key, by);
            }
            self.tracking_invalidate_key(&t.key, origin);
        }
    }

    /// Valkey's trackingInvalidateKey without the broadcast part: every client the key
    /// table remembers for `key` gets a message, and the key leaves the table.
    fn tracking_invalidate_key(&mut self, key: &[u8], origin: Origin) {
        let Some(ids) = self.csc.table.remove(key) else {
            return;
        };
        self.csc.total_items -= ids.len() as u64;
        let current = origin.current();
        let direct = direct_output(origin);
        for target in ids {
            let Some(t) = self.clients.get(&target).map(|c| &c.tracking) else {
                continue;
            };
            // Keys left from before a switch to BCAST are not reported.
            if !t.on || t.bcast {
                continue;
            }
            if t.noloop && Some(target) == current {
                continue;
            }
            match origin {
                Origin::During(id) if id == target => self.csc.pending.push((target, Some(Bytes::from(key)))),
                _ => self.send_tracking_message(target, Keys::One(key), direct),
            }
        }
    }

    /// FLUSHALL/FLUSHDB: a null key list to every tracking client; the table empties.
    fn tracking_invalidate_all(&mut self, origin: Origin) {
        let mut ids: Vec<u64> = self.clients.values().filter(|c| c.tracking.on && c.id != SCRIPT_CLIENT).map(|c| c.id).collect();
        ids.sort_unstable();
        let direct = direct_output(origin);
        for target in ids {
            match origin {
                Origin::During(id) if id == target => self.csc.pending.push((target, None)),
                _ => self.send_tracking_message(target, Keys::All, direct),
            }
        }
        self.csc.table.clear();
        self.csc.total_items = 0;
    }

    /// Sends the messages held for client `id` while its command ran; its reply is in
    /// the output buffer now (Valkey's trackingHandlePendingKeyInvalidations).
    pub(crate) fn tracking_flush_pending(&mut self, id: u64) {
        if self.csc.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.csc.pending);
        for (target, key) in pending {
            // The output buffer is `id`'s; anything else goes out as a delivery.
            let direct = (target == id).then_some(id);
            match &key {
                Some(k) => self.send_tracking_message(target, Keys::One(k), direct),
                None => self.send_tracking_message(target, Keys::All, direct),
            }
        }
    }

    /// Valkey's sendTrackingMessage: to the client or its redirect target, as a RESP3
    /// push or a RESP2 pub/sub message, or the `tracking-redir-broken` notice. A message
    /// for `direct` (the client whose output buffer is open) is written there.
    fn send_tracking_message(&mut self, id: u64, keys: Keys<'_>, direct: Option<u64>) {
        let Some(c) = self.clients.get(&id) else {
            return;
        };
        let (redirect, own_proto) = (c.tracking.redirect, c.proto);
        let (to, proto, pubsub) = if redirect != 0 {
            // A target that is closing (QUIT) is as good as gone: Valkey frees it right
            // after its last reply.
            match self.clients.get(&redirect).filter(|r| !r.closing) {
                Some(r) => (redirect, r.proto, r.pubsub),
                None => {
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.tracking.broken_redir = true;
                    }
                    if own_proto >= 3 {
                        let mut buf = Vec::new();
                        let mut r = Reply::new(&mut buf, 3);
                        r.push(2);
                        r.bulk(b"tracking-redir-broken");
                        r.int(redirect as i64);
                        self.route(id, buf, direct);
                    }
                    return;
                }
            }
        } else {
            (id, own_proto, false)
        };
        let mut buf = Vec::new();
        let mut r = Reply::new(&mut buf, proto);
        if proto >= 3 {
            r.push(2);
            r.bulk(b"invalidate");
        } else if redirect != 0 && pubsub {
            r.array(3);
            r.bulk(b"message");
            r.bulk(INVALIDATE_CHANNEL);
        } else {
            // RESP2 without redirection cannot carry pushes.
            return;
        }
        match keys {
            Keys::One(k) => {
                r.array(1);
                r.bulk(k);
            }
            // Valkey writes the null of the tracking client's protocol.
            Keys::All => r.raw(if own_proto >= 3 { b"_\r\n" } else { b"$-1\r\n" }),
            Keys::Encoded(bytes) => r.raw(bytes),
        }
        self.route(to, buf, direct);
    }

    fn route(&mut self, to: u64, bytes: Vec<u8>, direct: Option<u64>) {
        if Some(to) == direct {
            self.out.extend_from_slice(&bytes);
        } else {
            self.csc.deliveries.push((to, bytes));
        }
    }

    /// Sends each BCAST prefix's modified keys to its clients, one array per prefix
    /// (NOLOOP clients without their own changes), and starts the next batch (Valkey's
    /// trackingBroadcastInvalidationMessages, run before the event loop sleeps).
    pub fn tracking_broadcast(&mut self) {
        if self.csc.prefixes.values().all(|p| p.keys.is_empty()) {
            return;
        }
        let mut sends: Vec<(u64, Vec<u8>)> = Vec::new();
        for state in self.csc.prefixes.values_mut() {
            if state.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut state.keys);
            let encode = |skip: Option<u64>| -> Option<Vec<u8>> {
                let kept: Vec<&Vec<u8>> = keys.iter().filter(|(_, by)| skip.is_none() || **by != skip).map(|(k, _)| k).collect();
                if kept.is_empty() {
                    return None;
                }
                let mut buf = Vec::new();
                let mut r = Reply::new(&mut buf, 2);
                r.array(kept.len());
                for k in kept {
                    r.bulk(k);
                }
                Some(buf)
            };
            let common = encode(None);
            for &id in &state.clients {
                let noloop = self.clients.get(&id).is_some_and(|c| c.tracking.noloop);
                let bytes = if noloop { encode(Some(id)) } else { common.clone() };
                if let Some(b) = bytes {
                    sends.push((id, b));
                }
            }
        }
        for (id, bytes) in sends {
            self.send_tracking_message(id, Keys::Encoded(&bytes), None);
        }
    }

    /// Keeps the key table within `tracking-table-max-keys` by invalidating keys as if
    /// they had been modified, with an effort that grows while it keeps falling short
    /// (Valkey's trackingLimitUsedSlots).
    pub fn tracking_limit(&mut self, origin: Origin) {
        let max = self.csc.max_keys;
        if max == 0 || self.csc.table.len() <= max {
            self.csc.limit_misses = 0;
            return;
        }
        let effort = 100 * (self.csc.limit_misses as usize + 1);
        // Without a random walk, the hash table's own (randomly keyed) order picks.
        let victims: Vec<Bytes> = self.csc.table.keys().take(effort.min(self.csc.table.len() - max)).cloned().collect();
        for key in victims {
            self.tracking_invalidate_key(&key, origin);
        }
        if self.csc.table.len() <= max {
            self.csc.limit_misses = 0;
        } else {
            self.csc.limit_misses += 1;
        }
    }

    /// Background changes (the active expire cycle) and the key-table limit, outside any
    /// command: their invalidations are queued at once, and the BCAST batch is sent.
    pub fn tracking_cron(&mut self) {
        self.process_touches_from(crate::cmd::multi::BulkChange::Unknown, Origin::Outside);
        if self.csc.active() {
            self.tracking_limit(Origin::Outside);
        }
        self.tracking_broadcast();
    }

    /// Turns tracking off for a client (CLIENT TRACKING OFF, disconnection). Its ids in
    /// the key table go lazily, as in Valkey.
    pub fn disable_tracking(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if !c.tracking.on {
            return;
        }
        let prefixes = std::mem::take(&mut c.tracking.prefixes);
        c.tracking = ClientTracking::default();
        self.csc.remove_prefixes(id, &prefixes);
        self.csc.clients -= 1;
        self.update_tracking();
    }

    /// CLIENT TRACKING ON (Valkey's enableTracking): flags replaced, prefixes added.
    fn enable_tracking(&mut self, id: u64, o: &TrackingOptions<'_>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let t = &mut c.tracking;
        if !t.on {
            self.csc.clients += 1;
        }
        t.on = true;
        t.broken_redir = false;
        t.redirect = o.redirect;
        t.bcast = o.bcast;
        t.optin = o.optin;
        t.optout = o.optout;
        t.noloop = o.noloop;
        if o.bcast {
            let mut added: Vec<&[u8]> = o.prefixes.clone();
            if added.is_empty() {
                added.push(b"");
            }
            for p in added {
                t.prefixes.insert(p.to_vec());
                self.csc.add_prefix(id, p);
            }
        }
        self.update_tracking();
    }
}

/// The client whose output buffer may take a message at once: the one about to run a
/// command (its messages precede its reply). While a command runs, the buffer holds a
/// reply being built, so nothing is written into it.
fn direct_output(origin: Origin) -> Option<u64> {
    match origin {
        Origin::Before(id) => Some(id),
        Origin::Outside | Origin::During(_) => None,
    }
}

fn reply_for(e: &mut Engine, id: u64) -> Reply<'_> {
    let proto = e.clients.get(&id).map_or(2, |c| c.proto);
    Reply::new(&mut e.out, proto)
}

fn fail(e: &mut Engine, id: u64, msg: &str) -> Outcome {
    e.stats.total_error_replies += 1;
    reply_for(e, id).error(msg);
    Outcome::Done
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP].
pub(crate) fn client_tracking(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let mut o = TrackingOptions::default();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = argv[j];
        if a.eq_ignore_ascii_case(b"redirect") && more {
            j += 1;
            if o.redirect != 0 {
                return fail(e, id, "ERR A client can only redirect to a single other client");
            }
            let Some(n) = forkv_keyspace::value::parse_canonical_i64(argv[j]) else {
                return fail(e, id, crate::errors::NOT_INT);
            };
            let exists = u64::try_from(n).ok().filter(|&n| n != SCRIPT_CLIENT).is_some_and(|n| e.clients.contains_key(&n));
            if !exists {
                return fail(e, id, "ERR The client ID you want redirect to does not exist");
            }
            o.redirect = n as u64;
        } else if a.eq_ignore_ascii_case(b"bcast") {
            o.bcast = true;
        } else if a.eq_ignore_ascii_case(b"optin") {
            o.optin = true;
        } else if a.eq_ignore_ascii_case(b"optout") {
            o.optout = true;
        } else if a.eq_ignore_ascii_case(b"noloop") {
            o.noloop = true;
        } else if a.eq_ignore_ascii_case(b"prefix") && more {
            j += 1;
            o.prefixes.push(argv[j]);
        } else {
            return fail(e, id, crate::errors::SYNTAX);
        }
        j += 1;
    }
    let mode = argv[2];
    if mode.eq_ignore_ascii_case(b"on") {
        let Some(cur) = e.clients.get(&id).map(|c| &c.tracking) else {
            return Outcome::Close;
        };
        if !o.bcast && !o.prefixes.is_empty() {
            return fail(e, id, "ERR PREFIX option requires BCAST mode to be enabled");
        }
        if cur.on && cur.bcast != o.bcast {
            return fail(e, id, "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if o.bcast && (o.optin || o.optout) {
            return fail(e, id, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if o.optin && o.optout {
            return fail(e, id, "ERR You can't use both OPTIN and OPTOUT");
        }
        if (o.optin && cur.optout) || (o.optout && cur.optin) {
            return fail(e, id, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if o.bcast {
            if let Err(msg) = check_prefix_collisions(&cur.prefixes, &o.prefixes) {
                return fail(e, id, &msg);
            }
        }
        e.enable_tracking(id, &o);
    } else if mode.eq_ignore_ascii_case(b"off") {
        e.disable_tracking(id);
    } else {
        return fail(e, id, crate::errors::SYNTAX);
    }
    reply_for(e, id).ok();
    Outcome::Done
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked (OPTIN/OPTOUT).
pub(crate) fn client_caching(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let Some(t) = e.clients.get(&id).map(|c| c.tracking.clone()) else {
        return Outcome::Close;
    };
    if !t.on {
        return fail(e, id, "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    let opt = argv[2];
    if opt.eq_ignore_ascii_case(b"yes") {
        if !t.optin {
            return fail(e, id, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
        }
    } else if opt.eq_ignore_ascii_case(b"no") {
        if !t.optout {
            return fail(e, id, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
        }
    } else {
        return fail(e, id, crate::errors::SYNTAX);
    }
    if let Some(c) = e.clients.get_mut(&id) {
        c.tracking.caching = true;
    }
    reply_for(e, id).ok();
    Outcome::Done
}

/// CLIENT GETREDIR: the redirect target, 0 without one, -1 when tracking is off.
pub(crate) fn client_getredir(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let n = e.clients.get(&id).map_or(-1, |c| if c.tracking.on { c.tracking.redirect as i64 } else { -1 });
    reply_for(e, id).int(n);
    Outcome::Done
}

/// CLIENT TRACKINGINFO: flags (a set), redirect and prefixes, as Valkey.
pub(crate) fn client_trackinginfo(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let Some(t) = e.clients.get(&id).map(|c| c.tracking.clone()) else {
        return Outcome::Close;
    };
    let mut names: Vec<&[u8]> = vec![if t.on { b"on" } else { b"off" }];
    if t.bcast {
        names.push(b"bcast");
    }
    if t.optin {
        names.push(b"optin");
        if t.caching {
            names.push(b"caching-yes");
        }
    }
    if t.optout {
        names.push(b"optout");
        if t.caching {
            names.push(b"caching-no");
        }
    }
    if t.noloop {
        names.push(b"noloop");
    }
    if t.broken_redir {
        names.push(b"broken_redirect");
    }
    let mut r = reply_for(e, id);
    r.map(3);
    r.bulk(b"flags");
    r.set(names.len());
    for n in names {
        r.bulk(n);
    }
    r.bulk(b"redirect");
    r.int(if t.on { t.redirect as i64 } else { -1 });
    r.bulk(b"prefixes");
    r.array(t.prefixes.len());
    for p in &t.prefixes {
        r.bulk(p);
    }
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::cmd;


    fn run(e: &mut Engine, id: u64, args: &[&str]) -> String {
        e.clear_reply();
        e.feed(id, &cmd(args));
        String::from_utf8_lossy(e.reply()).into_owned()
    }

    fn engine(clients: &[u64]) -> Engine {
        let mut e = Engine::new(16);
        for &c in clients {
            e.add_client(c);
        }
        e
    }

    fn deliveries(e: &mut Engine) -> Vec<(u64, String)> {
        e.csc.take_deliveries().into_iter().map(|(id, b)| (id, String::from_utf8_lossy(&b).into_owned())).collect()
    }

    #[test]
    fn a_read_key_is_invalidated_once_when_another_client_writes_it() {
        let mut e = engine(&[1, 2]);
        if let Some(c) = e.client_mut(1) {
            c.proto = 3;
        }
        assert_eq!(run(&mut e, 1, &["CLIENT", "TRACKING", "on"]), "+OK\r\n");
        run(&mut e, 2, &["SET", "k", "v"]);
        run(&mut e, 1, &["GET", "k"]);
        assert_eq!(e.csc.info(), TrackingInfo { clients: 1, total_keys: 1, total_items: 1, total_prefixes: 0 });
        run(&mut e, 2, &["SET", "k", "w"]);
        assert_eq!(deliveries(&mut e), vec![(1, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n".to_string())]);
        assert_eq!(e.csc.info().total_keys, 0);
        run(&mut e, 2, &["SET", "k", "x"]);
        assert!(deliveries(&mut e).is_empty(), "the key must be read again to be tracked again");
    }

    #[test]
    fn own_writes_come_after_the_reply_and_noloop_hides_them() {
        let mut e = engine(&[1]);
        if let Some(c) = e.client_mut(1) {
            c.proto = 3;
        }
        run(&mut e, 1, &["CLIENT", "TRACKING", "on"]);
        run(&mut e, 1, &["GET", "k"]);
        assert_eq!(run(&mut e, 1, &["SET", "k", "1"]), "+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        run(&mut e, 1, &["CLIENT", "TRACKING", "on", "NOLOOP"]);
        run(&mut e, 1, &["GET", "k"]);
        assert_eq!(run(&mut e, 1, &["SET", "k", "2"]), "+OK\r\n");
    }

    #[test]
    fn resp2_redirect_goes_to_the_invalidate_channel() {
        let mut e = engine(&[1, 2, 3]);
        if let Some(c) = e.client_mut(2) {
            c.pubsub = true;
        }
        assert_eq!(run(&mut e, 1, &["CLIENT", "TRACKING", "on", "REDIRECT", "9"]), "-ERR The client ID you want redirect to does not exist\r\n");
        run(&mut e, 1, &["CLIENT", "TRACKING", "on", "REDIRECT", "2"]);
        assert_eq!(run(&mut e, 1, &["CLIENT", "GETREDIR"]), ":2\r\n");
        run(&mut e, 1, &["MGET", "a", "b"]);
        run(&mut e, 3, &["SET", "b", "1"]);
        assert_eq!(deliveries(&mut e), vec![(2, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nb\r\n".to_string())]);
        // The target goes away: a RESP2 client hears nothing, but the flag is set.
        e.remove_client(2);
        run(&mut e, 1, &["GET", "a"]);
        run(&mut e, 3, &["SET", "a", "1"]);
        assert!(deliveries(&mut e).is_empty());
        assert!(e.client(1).is_some_and(|c| c.tracking.broken_redir));
    }

    #[test]
    fn bcast_prefixes_collect_keys_until_the_broadcast() {
        let mut e = engine(&[1, 2]);
        if let Some(c) = e.client_mut(1) {
            c.proto = 3;
        }
        assert_eq!(run(&mut e, 1, &["CLIENT", "TRACKING", "on", "PREFIX", "a"]), "-ERR PREFIX option requires BCAST mode to be enabled\r\n");
        assert!(run(&mut e, 1, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"]).starts_with("-ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'."));
        run(&mut e, 1, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:"]);
        assert!(run(&mut e, 1, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"]).starts_with("-ERR Prefix 'a' overlaps with an existing prefix 'a:'."));
        run(&mut e, 2, &["MSET", "a:1", "x", "c:1", "x", "a:2", "x"]);
        assert!(deliveries(&mut e).is_empty());
        e.tracking_broadcast();
        assert_eq!(deliveries(&mut e), vec![(1, ">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\na:1\r\n$3\r\na:2\r\n".to_string())]);
        assert_eq!(e.csc.info().total_prefixes, 2);
        run(&mut e, 1, &["CLIENT", "TRACKING", "off"]);
        assert_eq!(e.csc.info(), TrackingInfo::default());
    }

    #[test]
    fn flush_sends_null_and_empties_the_table() {
        let mut e = engine(&[1, 2]);
        if let Some(c) = e.client_mut(1) {
            c.proto = 3;
        }
        run(&mut e, 1, &["CLIENT", "TRACKING", "on"]);
        run(&mut e, 1, &["MGET", "a", "b"]);
        run(&mut e, 2, &["FLUSHALL"]);
        assert_eq!(deliveries(&mut e), vec![(1, ">2\r\n$10\r\ninvalidate\r\n_\r\n".to_string())]);
        assert_eq!(e.csc.info().total_keys, 0);
        // Keys of a client that left stay until they change or a flush empties the table.
        run(&mut e, 1, &["MGET", "a", "b"]);
        e.remove_client(1);
        assert_eq!(e.csc.info().total_keys, 2);
        run(&mut e, 2, &["SET", "a", "1"]);
        assert_eq!(e.csc.info().total_keys, 1);
        run(&mut e, 2, &["FLUSHDB"]);
        assert_eq!(e.csc.info().total_keys, 0);
        assert!(deliveries(&mut e).is_empty());
    }

    #[test]
    fn optin_tracks_only_after_caching_yes_and_the_table_limit_evicts() {
        let mut e = engine(&[1, 2]);
        if let Some(c) = e.client_mut(1) {
            c.proto = 3;
        }
        run(&mut e, 1, &["CLIENT", "TRACKING", "on", "OPTIN"]);
        run(&mut e, 1, &["GET", "a"]);
        assert_eq!(e.csc.info().total_keys, 0);
        assert_eq!(run(&mut e, 1, &["CLIENT", "CACHING", "no"]), "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n");
        run(&mut e, 1, &["CLIENT", "CACHING", "yes"]);
        assert!(run(&mut e, 1, &["CLIENT", "TRACKINGINFO"]).contains("caching-yes"));
        run(&mut e, 1, &["MGET", "a", "b", "c"]);
        run(&mut e, 1, &["GET", "d"]);
        assert_eq!(e.csc.info().total_keys, 3);
        e.csc.max_keys = 1;
        e.tracking_limit(Origin::Outside);
        assert_eq!(e.csc.info().total_keys, 1);
        assert_eq!(deliveries(&mut e).len(), 2);
    }
}
