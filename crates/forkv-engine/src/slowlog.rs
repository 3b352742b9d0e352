//! SLOWLOG: the commands whose execution took at least `slowlog-log-slower-than`
//! microseconds, newest first, at most `slowlog-max-len` of them (Valkey's slowlog.c).
//!
//! Each entry keeps an id (growing, never reused until restart), the Unix time it was
//! logged, the execution time in microseconds, the arguments (at most 32, the last
//! slot saying `... (N more arguments)`; each at most 128 bytes followed by
//! `... (N more bytes)`; secrets redacted as for MONITOR), the client's address and its
//! name. Commands flagged `skip_slowlog` (EXEC: its commands are logged one by one) are
//! never logged; commands a script calls are logged under the script's caller; a
//! blocking command is logged once it is served.

use std::collections::VecDeque;

use crate::reply::Reply;
use crate::table::flags::{ADMIN, LOADING, SKIP_SLOWLOG, STALE};
use crate::table::{container, spec, CommandSpec, Exec};
use crate::{Engine, Outcome};

/// Arguments kept per entry (Valkey's SLOWLOG_ENTRY_MAX_ARGC).
const MAX_ARGC: usize = 32;
/// Bytes kept per argument (Valkey's SLOWLOG_ENTRY_MAX_STRING).
const MAX_STRING: usize = 128;

const SL: u32 = ADMIN | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[container("slowlog", -2, 0, "server", "2.2.12", "A container for slow log commands.", SUBCOMMANDS)];

const SUBCOMMANDS: &[CommandSpec] = &[
    spec("slowlog|get", -2, SL, (0, 0, 0), "server", "2.2.12", "O(N) where N is the number of entries returned", "Returns the slow log's entries.", Exec::Engine(get)),
    spec("slowlog|len", 2, SL, (0, 0, 0), "server", "2.2.12", "O(1)", "Returns the number of entries in the slow log.", Exec::Engine(len)),
    spec("slowlog|reset", 2, SL, (0, 0, 0), "server", "2.2.12", "O(N) where N is the number of entries in the slowlog", "Clears all entries from the slow log.", Exec::Engine(reset)),
    spec("slowlog|help", 2, LOADING | STALE, (0, 0, 0), "server", "6.2.0", "O(1)", "Show helpful text about the different subcommands", Exec::Engine(help)),
];

/// One logged command.
pub struct Entry {
    pub id: u64,
    /// Unix time in seconds.
    pub time: i64,
    /// Execution time in microseconds.
    pub duration: u64,
    pub argv: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

/// The slow log and its two settings.
pub struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
    /// `slowlog-log-slower-than` in microseconds; negative disables the log.
    pub slower_than: i64,
    /// `slowlog-max-len`.
    pub max_len: usize,
    /// The CONFIG parameters whose values are secrets (the host's SENSITIVE_CONFIG list).
    pub sensitive_configs: Vec<String>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog { entries: VecDeque::new(), next_id: 0, slower_than: 10_000, max_len: 128, sensitive_configs: Vec::new() }
    }
}

impl SlowLog {
    /// Sets `slowlog-max-len`, dropping the oldest entries beyond it.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
        self.entries.truncate(max_len);
    }

    /// Logs a command that took `duration` microseconds if it qualifies
    /// (Valkey's slowlogPushEntryIfNeeded).
    pub fn push_if_needed(&mut self, spec: &CommandSpec, argv: &[&[u8]], duration: u64, peer: &str, name: &str) {
        if self.slower_than < 0 || self.max_len == 0 || spec.flags & SKIP_SLOWLOG != 0 {
            return;
        }
        if duration < self.slower_than as u64 {
            return;
        }
        let entry = Entry { id: self.next_id, time: crate::cmd::now_ms() / 1000, duration, argv: self.trimmed(argv), peer: peer.to_string(), name: name.to_string() };
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(self.max_len);
    }

    /// The arguments as an entry keeps them: trimmed and redacted.
    fn trimmed(&self, argv: &[&[u8]]) -> Vec<Vec<u8>> {
        let redacted = crate::redact::redacted_args(argv, &self.sensitive_configs);
        let kept = argv.len().min(MAX_ARGC);
        let mut out = Vec::with_capacity(kept);
        for (i, a) in argv.iter().take(kept).enumerate() {
            if kept != argv.len() && i == kept - 1 {
                out.push(format!("... ({} more arguments)", argv.len() - kept + 1).into_bytes());
            } else if redacted.contains(&i) {
                out.push(b"(redacted)".to_vec());
            } else if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
                out.push(s);
            } else {
                out.push(a.to_vec());
            }
        }
        out
    }

    /// Entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// SLOWLOG RESET.
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

fn proto(e: &Engine, id: u64) -> u8 {
    e.client(id).map_or(2, |c| c.proto)
}

fn get(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let mut count = 10usize;
    if let Some(arg) = argv.get(2) {
        match forkv_keyspace::value::parse_canonical_i64(arg) {
            Some(-1) => count = usize::MAX,
            Some(n) if n >= 0 => count = usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                Reply::new(&mut e.out, proto).error("ERR count should be greater than or equal to -1");
                return Outcome::Done;
            }
        }
    }
    let n = count.min(e.slowlog.len());
    let mut r = Reply::new(&mut e.out, proto);
    r.array(n);
    for entry in e.slowlog.entries.iter().take(n) {
        r.array(6);
        r.int(entry.id as i64);
        r.int(entry.time);
        r.int(entry.duration as i64);
        r.array(entry.argv.len());
        for a in &entry.argv {
            r.bulk(a);
        }
        r.bulk(entry.peer.as_bytes());
        r.bulk(entry.name.as_bytes());
    }
    Outcome::Done
}

fn len(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let n = e.slowlog.len();
    Reply::new(&mut e.out, proto).int(n as i64);
    Outcome::Done
}

fn reset(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    e.slowlog.reset();
    Reply::new(&mut e.out, proto).ok();
    Outcome::Done
}

fn help(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    const LINES: &[&str] = &[
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ];
    let proto = proto(e, id);
    Reply::new(&mut e.out, proto).help("SLOWLOG", LINES);
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[Vec<u8>]) -> Vec<String> {
        v.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn arguments_are_trimmed_as_valkey() {
        let log = SlowLog::default();
        let many: Vec<String> = (0..33).map(|i| i.to_string()).collect();
        let argv: Vec<&[u8]> = many.iter().map(|s| s.as_bytes()).collect();
        let t = strs(&log.trimmed(&argv));
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], "30");
        assert_eq!(t[31], "... (2 more arguments)");
        let long = vec![b'A'; 129];
        let t = strs(&log.trimmed(&[b"sadd", b"set", &long]));
        assert_eq!(t[2], format!("{}... (1 more bytes)", "A".repeat(128)));
        assert_eq!(strs(&log.trimmed(&[b"auth", b"pw"])), ["auth", "(redacted)"]);
    }

    #[test]
    fn threshold_length_and_skip_slowlog() {
        let mut log = SlowLog { slower_than: 100, ..SlowLog::default() };
        let get = crate::table::lookup(b"get").expect("get");
        let exec = crate::table::lookup(b"exec").expect("exec");
        log.push_if_needed(get, &[b"get", b"a"], 99, "p", "n");
        assert!(log.is_empty());
        log.push_if_needed(exec, &[b"exec"], 1000, "p", "n");
        assert!(log.is_empty(), "EXEC is skip_slowlog");
        log.set_max_len(2);
        for k in [b"a", b"b", b"c"] {
            log.push_if_needed(get, &[b"get", k], 100, "p", "n");
        }
        let ids: Vec<u64> = log.entries().map(|e| e.id).collect();
        assert_eq!(ids, [2, 1], "newest first, the oldest dropped");
        log.slower_than = -1;
        log.push_if_needed(get, &[b"get", b"d"], 1_000_000, "p", "n");
        assert_eq!(log.len(), 2, "-1 disables");
        log.set_max_len(0);
        assert!(log.is_empty());
    }
}
