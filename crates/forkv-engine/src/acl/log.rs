//! ACL LOG: the last refusals (command, key, channel) and failed AUTHs, newest first,
//! with Valkey's fields. A refusal equal to a recent one (same reason, context, object
//! and user, within 60 seconds) counts into it instead of adding an entry.

/// One ACL LOG entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    pub object: String,
    pub username: String,
    /// The client as CLIENT LIST describes it (the fields the engine knows).
    pub client_info: String,
    pub entry_id: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// The log, newest entry first.
#[derive(Default)]
pub struct AclLog {
    entries: std::collections::VecDeque<LogEntry>,
    next_id: u64,
    /// `acllog-max-len`.
    pub max_len: usize,
    /// Refusals recorded since start (or CONFIG RESETSTAT), by reason: INFO's
    /// `acl_access_denied_*` (Valkey counts every entry added, grouped or not).
    pub denied: DeniedCounts,
}

/// INFO stats' `acl_access_denied_auth/cmd/key/channel`.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeniedCounts {
    pub auth: u64,
    pub cmd: u64,
    pub key: u64,
    pub channel: u64,
}

/// Entries this close in time merge (Valkey's ACL_LOG_GROUPING_MAX_TIME_DELTA).
const GROUPING_MS: u64 = 60_000;

impl AclLog {
    /// An empty log holding up to 128 entries (Valkey's default `acllog-max-len`).
    pub fn new() -> Self {
        AclLog { entries: Default::default(), next_id: 0, max_len: 128, denied: DeniedCounts::default() }
    }

    /// Records a refusal.
    pub fn add(&mut self, reason: &'static str, context: &'static str, object: String, username: String, client_info: String, now_ms: u64) {
        match reason {
            "auth" => self.denied.auth += 1,
            "command" => self.denied.cmd += 1,
            "key" => self.denied.key += 1,
            "channel" => self.denied.channel += 1,
            _ => {}
        }
        let similar = self.entries.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now_ms.saturating_sub(e.created_ms) < GROUPING_MS
        });
        // A repeated refusal updates its entry and moves it to the head, as Valkey does.
        if let Some(mut e) = similar.and_then(|i| self.entries.remove(i)) {
            e.count += 1;
            e.updated_ms = now_ms;
            e.client_info = client_info;
            self.entries.push_front(e);
            return;
        }
        self.entries.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            client_info,
            entry_id: self.next_id,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        self.next_id += 1;
        self.entries.truncate(self.max_len);
    }

    /// Entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// ACL LOG RESET.
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Applies a new `acllog-max-len`. As in Valkey, the entries already logged stay
    /// until the next refusal is logged (which trims the log to the new length).
    pub fn set_max_len(&mut self, n: usize) {
        self.max_len = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_equal_refusals() {
        let mut log = AclLog::new();
        log.add("command", "toplevel", "set".into(), "u".into(), "id=1".into(), 1000);
        log.add("command", "toplevel", "set".into(), "u".into(), "id=2".into(), 2000);
        log.add("key", "toplevel", "k".into(), "u".into(), "id=2".into(), 3000);
        let e: Vec<_> = log.entries().collect();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].reason, e[0].entry_id), ("key", 1));
        assert_eq!((e[1].count, e[1].updated_ms, e[1].client_info.as_str()), (2, 2000, "id=2"));
        // A repeat moves its entry to the head.
        log.add("command", "toplevel", "set".into(), "u".into(), "id=4".into(), 4000);
        assert_eq!(log.entries().map(|e| (e.entry_id, e.count)).collect::<Vec<_>>(), [(0, 3), (1, 1)]);
        log.add("command", "toplevel", "set".into(), "u".into(), "id=3".into(), 70_000);
        assert_eq!(log.entries().count(), 3);
        // A smaller max length trims at the next refusal, not before.
        log.set_max_len(0);
        assert_eq!(log.entries().count(), 3);
        log.add("key", "lua", "k".into(), "u".into(), "id=5".into(), 71_000);
        assert_eq!(log.entries().count(), 0);
    }
}
