//! MONITOR: every command the server executes, as a line of text for the clients that
//! asked to watch (Valkey's `replicationFeedMonitors`).
//!
//! This is a consumer of *executed* commands, not of the propagation stream: reads are
//! shown too, and commands appear as their clients sent them. A line is recorded once a
//! command ran (or, for a command the host runs, when it is handed over), in Valkey's
//! format:
//!
//! ```text
//! +1796543739.422744 [0 127.0.0.1:33906] "set" "foo" "bar"
//! +1796543739.422819 [0 lua] "set" "foo" "bar"
//! ```
//!
//! the time of the call, the client's database after the command, its address (`lua`
//! for commands a script calls), and each argument quoted as `sdscatrepr` quotes it.
//! Commands flagged `admin` or `skip_monitor` are never shown (EVAL is fed explicitly
//! before its script runs, so that it precedes the commands the script calls), and the
//! secrets of AUTH, HELLO ... AUTH and MIGRATE ... AUTH/AUTH2 are shown as `(redacted)`
//! (Valkey's `redactClientCommandArgument`, see [`crate::redact`]).
//!
//! The engine only records the lines; the server crate, which knows the monitoring
//! clients, copies them to each one's delivery buffer.

use crate::table::flags::{ADMIN, SKIP_MONITOR};
use crate::table::{spec, CommandSpec, Exec};

pub const COMMANDS: &[CommandSpec] = &[spec(
    "monitor",
    1,
    ADMIN | crate::table::flags::NOSCRIPT | crate::table::flags::LOADING | crate::table::flags::STALE,
    (0, 0, 0),
    "server",
    "1.0.0",
    "",
    "Listens for all requests received by the server in real-time.",
    Exec::Server,
)];

/// What Valkey shows instead of a secret argument.
const REDACTED: &[u8] = b"(redacted)";

/// The lines recorded for the monitoring clients.
#[derive(Default)]
pub struct MonitorFeed {
    /// At least one client monitors: lines are recorded.
    on: bool,
    /// Formatted lines (each `+...\r\n`) not yet handed to the monitors.
    lines: Vec<u8>,
}

impl MonitorFeed {
    /// True while lines are recorded.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Starts or stops recording (the server calls this as monitors come and go).
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
        if !on {
            self.lines.clear();
        }
    }

    /// True when lines wait for the monitors.
    pub fn has_lines(&self) -> bool {
        !self.lines.is_empty()
    }

    /// Takes the lines recorded so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.lines)
    }

    /// Records `argv`, run by `spec` in database `db` by the client at `peer`, unless the
    /// command is hidden from monitors.
    pub fn feed(&mut self, spec: &CommandSpec, db: usize, peer: &str, argv: &[&[u8]]) {
        if !self.on || spec.flags & (ADMIN | SKIP_MONITOR) != 0 {
            return;
        }
        self.feed_always(db, peer, argv);
    }

    /// Records `argv` whatever its flags (EVAL before its script runs).
    pub fn feed_always(&mut self, db: usize, peer: &str, argv: &[&[u8]]) {
        if !self.on {
            return;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        format_line(&mut self.lines, now.as_secs(), now.subsec_micros(), db, peer, argv);
    }
}

/// Appends one monitor line: `+<sec>.<usec> [<db> <peer>] "arg" "arg"\r\n`.
pub fn format_line(out: &mut Vec<u8>, sec: u64, usec: u32, db: usize, peer: &str, argv: &[&[u8]]) {
    out.extend_from_slice(format!("+{sec}.{usec:06} [{db} {peer}] ").as_bytes());
    // Admin commands (CONFIG SET, ACL) never reach MONITOR: no sensitive configs to know.
    let redacted = crate::redact::redacted_args(argv, &[]);
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let shown = if redacted.contains(&i) { REDACTED } else { a };
        out.extend_from_slice(forkv_aof::manifest::repr(shown).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(db: usize, peer: &str, argv: &[&[u8]]) -> String {
        let mut out = Vec::new();
        format_line(&mut out, 1796543739, 4227, db, peer, argv);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn lines_are_valkeys() {
        assert_eq!(line(0, "127.0.0.1:33906", &[b"set", b"foo", b"bar"]), "+1796543739.004227 [0 127.0.0.1:33906] \"set\" \"foo\" \"bar\"\r\n");
        assert_eq!(line(3, "lua", &[b"SET", b"a \"b\"\\", b"\n\r\t\x07\x08\x01\xff"]), "+1796543739.004227 [3 lua] \"SET\" \"a \\\"b\\\"\\\\\" \"\\n\\r\\t\\a\\b\\x01\\xff\"\r\n");
        assert_eq!(line(0, "lua", &[b"ping"]), "+1796543739.004227 [0 lua] \"ping\"\r\n");
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(line(0, "p", &[b"auth", b"a", b"b"]), "+1796543739.004227 [0 p] \"auth\" \"(redacted)\" \"(redacted)\"\r\n");
    }

    #[test]
    fn hidden_commands_and_off_record_nothing() {
        let mut f = MonitorFeed::default();
        let get = crate::table::lookup(b"get").expect("get");
        f.feed(get, 0, "p", &[b"get", b"k"]);
        assert!(!f.has_lines(), "off: nothing recorded");
        f.set_on(true);
        let monitor = crate::table::lookup(b"monitor").expect("monitor");
        f.feed(monitor, 0, "p", &[b"monitor"]);
        let eval = crate::table::lookup(b"eval").expect("eval");
        f.feed(eval, 0, "p", &[b"eval", b"return 1", b"0"]);
        assert!(!f.has_lines(), "admin and skip_monitor commands are hidden");
        f.feed(get, 0, "p", &[b"get", b"k"]);
        let text = String::from_utf8(f.take()).unwrap_or_default();
        assert!(text.ends_with(" [0 p] \"get\" \"k\"\r\n"), "{text}");
        assert!(!f.has_lines());
    }
}
