//! An error reply to a command that came from the primary (Valkey's `afterErrorReply`):
//! the primary never reads it, so the replica's data may now differ from its primary's.
//! Valkey logs it as critical, counts it (INFO `unexpected_error_replies`) and, under
//! `propagation-error-behavior panic` or `panic-on-replicas`, panics. The engine only
//! records the panic; the host stops the server (forkv shares its process with the
//! embedding application, so the process itself is not aborted).
//!
//! The AOF's replay client is the other source Valkey watches: see forkv-server's
//! `aof_load`, which applies the same behaviour with [`PropagationErrorBehavior::panics_for_aof`].

use crate::log::LogLevel;
use crate::Engine;

/// `propagation-error-behavior`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PropagationErrorBehavior {
    /// Log and go on (Valkey's default).
    #[default]
    Ignore,
    /// Panic on an error to the primary or to the AOF's replay.
    Panic,
    /// Panic on an error to the primary only.
    PanicOnReplicas,
}

impl PropagationErrorBehavior {
    /// The directive's value as CONFIG shows it.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ignore" => Some(Self::Ignore),
            "panic" => Some(Self::Panic),
            "panic-on-replicas" => Some(Self::PanicOnReplicas),
            _ => None,
        }
    }

    /// An error sent to the primary panics.
    pub fn panics_for_primary(self) -> bool {
        self != Self::Ignore
    }

    /// An error sent to the AOF's replay panics.
    pub fn panics_for_aof(self) -> bool {
        self == Self::Panic
    }
}

/// The text of the error at the start of `reply` (a RESP error), at most 4096 bytes as
/// Valkey logs it; None when the reply is not an error.
pub fn error_text(reply: &[u8]) -> Option<String> {
    let rest = reply.strip_prefix(b"-")?;
    let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len()).min(4096);
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// ERR replies Valkey makes from a string that spells its code (`-ERR ...`): its shared
/// error objects (`createSharedObjects`) and the few `addReplyError` calls with the code
/// written out. Every other ERR reply is `addReplyError` of the bare message.
const SPELLED_ERR: &[&str] = &[
    "ERR",
    "ERR no such key",
    "ERR syntax error",
    "ERR source and destination objects are the same",
    "ERR index out of range",
    "ERR operation not permitted",
];

/// The error as Valkey's `afterErrorReply` logs it: the string the reply was made from,
/// not the reply. `addReplyError("value is not ...")` is logged bare, without the `ERR `
/// its reply gets; an error with its code spelled out (shared objects, every other code
/// than ERR) keeps it, with the leading `-`: `'-WRONGTYPE Operation ...'`.
pub fn logged_error(error: &str) -> String {
    match error.strip_prefix("ERR ") {
        Some(message) if !SPELLED_ERR.contains(&error) && !error.starts_with("ERR invalid longitude,latitude pair ") => message.to_string(),
        _ => format!("-{error}"),
    }
}

/// The critical line Valkey logs: `from` sent the error reply `error` (its text, see
/// [`error_text`]) to `to` after `command`.
pub fn critical_line(from: &str, to: &str, error: &str, command: &str) -> String {
    let error = logged_error(error);
    format!("== CRITICAL == This {from} is sending an error to its {to}: '{error}' after processing the command '{command}'")
}

/// The message of the panic that follows under a panicking behaviour.
pub fn panic_message(from: &str, to: &str, command: &str) -> String {
    format!("This {from} panicked sending an error to its {to} after processing the command '{command}'")
}

impl Engine {
    /// The primary's command `command` was answered with `reply` (its start): logged,
    /// counted and, under a panicking behaviour, a panic is requested of the host.
    pub(crate) fn after_reply_to_primary(&mut self, command: &str, reply: &[u8]) {
        let Some(error) = error_text(reply) else {
            return;
        };
        self.logs.push(LogLevel::Warning, critical_line("replica", "primary", &error, command));
        self.stats.unexpected_error_replies += 1;
        if self.cfg.propagation_error_behavior.panics_for_primary() && self.panic_request.is_none() {
            self.panic_request = Some(panic_message("replica", "primary", command));
        }
    }

    /// The panic requested by an error reply to the primary, for the host to carry out.
    pub fn take_panic_request(&mut self) -> Option<String> {
        self.panic_request.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::run;

    /// A primary link whose command is refused before it runs: logged, counted and, under
    /// `panic`, a panic is requested, as after a command that ran.
    fn refused_by_the_replica(behavior: PropagationErrorBehavior, argv: &[&str]) -> (String, u64, Option<String>) {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.cfg.propagation_error_behavior = behavior;
        if let Some(c) = e.client_mut(1) {
            c.primary = true;
        }
        run(&mut e, argv);
        let lines: Vec<String> = e.logs.take().into_iter().map(|l| l.message).collect();
        (lines.join("\n"), e.stats.unexpected_error_replies, e.take_panic_request())
    }

    #[test]
    fn refusals_before_the_command_runs_count_as_errors_to_the_primary() {
        let (log, n, panic) = refused_by_the_replica(PropagationErrorBehavior::Ignore, &["NOSUCHCMD", "a"]);
        assert!(log.contains("== CRITICAL == This replica is sending an error to its primary: 'unknown command 'NOSUCHCMD', with args beginning with: 'a' ' after processing the command '<unknown>'"), "{log}");
        assert_eq!((n, panic), (1, None));
        let (log, n, panic) = refused_by_the_replica(PropagationErrorBehavior::Panic, &["GET"]);
        assert!(log.contains("'wrong number of arguments for 'get' command' after processing the command 'get'"), "{log}");
        assert_eq!(n, 1);
        assert_eq!(panic.as_deref(), Some("This replica panicked sending an error to its primary after processing the command 'get'"));
    }

    #[test]
    fn the_error_and_the_lines_in_valkeys_words() {
        assert_eq!(error_text(b"-WRONGTYPE Operation\r\n").as_deref(), Some("WRONGTYPE Operation"));
        assert_eq!(error_text(b":1\r\n"), None);
        assert_eq!(
            critical_line("replica", "primary", "ERR x", "incr"),
            "== CRITICAL == This replica is sending an error to its primary: 'x' after processing the command 'incr'"
        );
        // valkey-server 8.0.1 replaying an AOF logs these (its AOF-loading-client).
        assert_eq!(logged_error("ERR value is not an integer or out of range"), "value is not an integer or out of range");
        assert_eq!(logged_error("ERR syntax error"), "-ERR syntax error");
        assert_eq!(logged_error("ERR no such key"), "-ERR no such key");
        assert_eq!(logged_error("ERR index out of range"), "-ERR index out of range");
        assert_eq!(logged_error("ERR invalid longitude,latitude pair 200.000000,100.000000"), "-ERR invalid longitude,latitude pair 200.000000,100.000000");
        assert_eq!(logged_error("WRONGTYPE Key is not a valid HyperLogLog string value."), "-WRONGTYPE Key is not a valid HyperLogLog string value.");
        assert_eq!(logged_error("ERR"), "-ERR");
        assert_eq!(PropagationErrorBehavior::parse("panic-on-replicas"), Some(PropagationErrorBehavior::PanicOnReplicas));
        assert!(PropagationErrorBehavior::PanicOnReplicas.panics_for_primary() && !PropagationErrorBehavior::PanicOnReplicas.panics_for_aof());
        assert!(!PropagationErrorBehavior::Ignore.panics_for_primary());
    }
}
