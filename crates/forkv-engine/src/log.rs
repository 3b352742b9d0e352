//! Log lines the engine produces for the host's logger.
//!
//! The engine does no I/O, but some events must reach the server log in Valkey's words
//! (a command that panicked, a payload that failed its integrity check). They queue
//! here; the binding flags the reply of the call that produced them and the host drains
//! the queue into its logger (which owns the logfile, the level and the format).

/// Valkey's log levels, by the names `loglevel` takes: the one type the fork children's
/// records use too.
pub use forkv_snapshot::LogLevel;

/// One line for the host's logger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// Lines waiting for the host. Bounded: a flood of identical failures must not grow
/// memory without limit while the host is busy; the overflow is counted and reported.
pub struct LogQueue {
    lines: Vec<LogLine>,
    dropped: u64,
    /// `hide-user-data-from-log` (default yes): lines about a command show no argument
    /// (keys, values) and no client name (see [`crate::panicked`]).
    pub hide_user_data: bool,
    /// `crash-log-enabled` (default yes): a caught panic is logged with its crash report
    /// (the command's arguments, as Valkey's report shows the current client's argv); with
    /// no, only the panic's own line.
    pub crash_log: bool,
}

impl Default for LogQueue {
    fn default() -> Self {
        LogQueue { lines: Vec::new(), dropped: 0, hide_user_data: true, crash_log: true }
    }
}

/// Most lines kept between two drains.
const MAX_QUEUED: usize = 1024;

impl LogQueue {
    /// Queues a line.
    pub fn push(&mut self, level: LogLevel, message: String) {
        if self.lines.len() >= MAX_QUEUED {
            self.dropped += 1;
            return;
        }
        self.lines.push(LogLine { level, message });
    }

    /// True when lines are waiting.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.dropped == 0
    }

    /// Takes every waiting line (plus one that counts the lines dropped, if any).
    pub fn take(&mut self) -> Vec<LogLine> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(LogLine {
                level: LogLevel::Warning,
                message: format!("{} more log lines were dropped (queue full)", self.dropped),
            });
            self.dropped = 0;
        }
        lines
    }
}

/// The message of a caught panic's payload (`panic!` with a literal or a format).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_is_bounded_and_reports_drops() {
        let mut q = LogQueue::default();
        for i in 0..MAX_QUEUED + 5 {
            q.push(LogLevel::Notice, format!("line {i}"));
        }
        let lines = q.take();
        assert_eq!(lines.len(), MAX_QUEUED + 1);
        assert!(lines[MAX_QUEUED].message.starts_with("5 more log lines"));
        assert!(q.is_empty());
    }

    #[test]
    fn panic_payloads_give_their_message() {
        let r = std::panic::catch_unwind(|| panic!("boom {}", 1));
        let Err(p) = r else { panic!("expected a panic") };
        assert_eq!(panic_message(p.as_ref()), "boom 1");
    }
}
