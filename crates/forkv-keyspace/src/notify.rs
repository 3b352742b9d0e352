//! Keyspace notifications (Valkey's notify.c): the event classes of
//! `notify-keyspace-events` and the queue of events raised while commands run.
//!
//! The flags are parsed and printed by the host's configuration store (the bits are
//! Valkey's `NOTIFY_*` values); this crate only reads them.
//!
//! The keyspace raises the events it alone sees (`new` when a key is added, `expired`
//! when a TTL deletes one, `keymiss` on a failed read lookup, `del` when a write empties
//! a collection); command handlers raise the rest. The server drains the queue after
//! each command (and after the cron) and publishes each event on
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` through its pub/sub, so
//! events from MULTI and scripts are delivered the same way.

use crate::value::Bytes;

/// `K`: events on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: events on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: expired events.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: evicted events.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: key misses (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module key type events.
pub const MODULE: u32 = 1 << 13;
/// `n`: new keys (not part of `A`).
pub const NEW: u32 = 1 << 14;
/// `A`: alias for `g$lshzxetd`.
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// One raised event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The database the key lives in.
    pub db: usize,
    /// The event name (`set`, `expired`, `lpush`, ...).
    pub event: &'static str,
    /// The key.
    pub key: Bytes,
}

/// The configured classes and the events raised since the server last drained them.
#[derive(Default)]
pub struct Notifier {
    flags: u32,
    events: Vec<KeyEvent>,
}

impl Notifier {
    /// Sets the `notify-keyspace-events` flags.
    pub fn set_flags(&mut self, flags: u32) {
        self.flags = flags;
        if !self.active() {
            self.events.clear();
        }
    }

    /// The configured flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// True when some event can be published (a channel kind and a class are on).
    pub fn active(&self) -> bool {
        self.flags & (KEYSPACE | KEYEVENT) != 0 && self.flags & !(KEYSPACE | KEYEVENT) != 0
    }

    /// True when events of `class` are published.
    pub fn wants(&self, class: u32) -> bool {
        self.flags & class != 0 && self.flags & (KEYSPACE | KEYEVENT) != 0
    }

    /// Raises an event of `class` (dropped when that class is off).
    pub fn raise(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        if self.wants(class) {
            self.events.push(KeyEvent { db, event, key: key.into() });
        }
    }

    /// The events waiting, in the order raised.
    pub fn events(&self) -> &[KeyEvent] {
        &self.events
    }

    /// Number of events waiting (a position for [`Notifier::insert_at`]).
    pub fn mark(&self) -> usize {
        self.events.len()
    }

    /// Raises an event at position `at` of the queue (ahead of events raised after a
    /// [`Notifier::mark`]).
    pub fn insert_at(&mut self, at: usize, class: u32, event: &'static str, db: usize, key: &[u8]) {
        if self.wants(class) {
            let at = at.min(self.events.len());
            self.events.insert(at, KeyEvent { db, event, key: key.into() });
        }
    }

    /// True when events wait.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Takes the waiting events, in the order raised.
    pub fn take(&mut self) -> Vec<KeyEvent> {
        std::mem::take(&mut self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_only_configured_classes() {
        let mut n = Notifier::default();
        n.raise(STRING, "set", 0, b"k");
        assert!(!n.has_events());
        n.set_flags(KEYSPACE | LIST);
        n.raise(STRING, "set", 0, b"k");
        n.raise(LIST, "lpush", 0, b"k");
        let m = n.mark();
        n.raise(LIST, "rpop", 0, b"l");
        n.insert_at(m, LIST, "lpop", 0, b"l");
        let got: Vec<&str> = n.take().iter().map(|e| e.event).collect();
        assert_eq!(got, vec!["lpush", "lpop", "rpop"]);
    }
}
