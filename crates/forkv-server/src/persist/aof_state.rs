//! Whether the AOF is on, as Valkey's `aof_state`, and its write status: the gate that
//! refuses writes after a failed AOF write (Valkey's `writeCommandsDeniedByDiskError`
//! with `aof_last_write_status`), lifted by the next write that succeeds.
//!
//! The state moves with what the server does: opening the AOF at start-up turns it on,
//! closing it turns it off, switching it on at runtime waits for the first rewrite
//! (`AOF_WAIT_REWRITE`: writes go to a temp incr file, nothing is in the manifest yet) and
//! that rewrite's success turns it on. [`Server::aof_switch_on`] and
//! [`Server::aof_switch_off`] are CONFIG SET appendonly's steps, with their log lines on
//! the engine's queue; the host replies.

use forkv_engine::log::LogLevel;
use forkv_engine::write_gate::DiskError;
use forkv_snapshot::ChildKind;

use super::aof_job::{AofSettings, RewriteDone};
use crate::snapshot::Forked;
use crate::Server;

/// What [`Server::aof_switch_on`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchOn {
    /// The first rewrite was forked now.
    Forked(Forked),
    /// Another child runs: the cron forks the first rewrite once it is done.
    Scheduled,
    /// The first rewrite could not start: the AOF stays off.
    Failed,
}

/// Valkey's `aof_state`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AofState {
    #[default]
    Off,
    /// Switched on at runtime; on once the first rewrite has written a base.
    WaitRewrite,
    On,
}

impl AofState {
    /// The state's name for the host (`off`, `wait`, `on`).
    pub fn name(self) -> &'static str {
        match self {
            AofState::Off => "off",
            AofState::WaitRewrite => "wait",
            AofState::On => "on",
        }
    }
}

/// The state and the last write's error.
#[derive(Debug, Default)]
pub struct AofStatus {
    state: AofState,
    /// The error of the last write, until a write succeeds (`aof_last_write_status:err`).
    write_error: Option<String>,
}

impl AofStatus {
    pub fn state(&self) -> AofState {
        self.state
    }

    /// On or being switched on (INFO `aof_enabled`).
    pub fn enabled(&self) -> bool {
        self.state != AofState::Off
    }

    /// INFO `aof_last_write_status`.
    pub fn last_write_ok(&self) -> bool {
        self.write_error.is_none()
    }

    /// The write gate's AOF part: the last write failed while the AOF is on.
    pub fn write_denied(&self) -> Option<DiskError> {
        let e = self.write_error.as_ref().filter(|_| self.enabled())?;
        Some(DiskError::Aof(e.clone()))
    }

    /// The error writes are refused with for the AOF's sake (see [`Self::write_denied`]).
    pub fn write_gate(&self) -> Option<String> {
        self.write_denied().map(|d| d.error().into_owned())
    }

    fn set_state(&mut self, state: AofState) {
        self.state = state;
    }
}

/// What the turn's flush did, for the host's log lines and its held replies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurnFlush {
    /// The AOF is off: nothing to write.
    Off,
    /// Written (or postponed behind an everysec fsync); `recovered`: the previous write
    /// had failed ("AOF write error looks solved").
    Written { written: u64, postponed: bool, recovered: bool },
    /// The write failed; `first`: the previous one had not (the error is logged once).
    Failed { error: String, first: bool },
}

impl Server {
    /// The AOF's state and write status.
    pub fn aof_status(&self) -> &AofStatus {
        &self.aof_status
    }

    /// Moves the AOF to `state`; the write gate follows (an AOF off refuses nothing).
    pub(crate) fn set_aof_state(&mut self, state: AofState) {
        self.aof_status.set_state(state);
        self.refresh_write_gate();
    }

    /// The turn's flush (Valkey's `flushAppendOnlyFile` from beforeSleep and the cron):
    /// writes what is pending per the fsync policy and keeps the write status, which
    /// gates writes ([`AofStatus::write_gate`]).
    pub fn aof_flush_turn(&mut self, force: bool) -> TurnFlush {
        if !self.aof_status.enabled() {
            return TurnFlush::Off;
        }
        let flush = match self.aof_flush(force) {
            Ok(f) => TurnFlush::Written { written: f.written, postponed: f.postponed, recovered: self.aof_status.write_error.take().is_some() },
            Err(error) => {
                let first = self.aof_status.write_error.replace(error.clone()).is_none();
                TurnFlush::Failed { error, first }
            }
        };
        // The gate follows a new error, a changed one, or the recovery.
        if matches!(flush, TurnFlush::Failed { .. } | TurnFlush::Written { recovered: true, .. }) {
            self.refresh_write_gate();
        }
        flush
    }

    /// CONFIG SET appendonly yes (Valkey's `startAppendOnly`): the AOF waits for its first
    /// rewrite, which [`Server::aof_fork_rewrite`] forks now or the cron once another child
    /// is done. Then [`Server::aof_switch_on_result`].
    pub fn aof_begin_switch_on(&mut self) {
        self.set_aof_state(AofState::WaitRewrite);
    }

    /// The end of a switch-on: when the first rewrite could not start, the AOF stays off;
    /// otherwise a past write error is forgotten (the files start over), and true is
    /// returned when there was one ("AOF reopen, just ignore the last error.").
    pub fn aof_switch_on_result(&mut self, started: bool) -> bool {
        if !started {
            self.set_aof_state(AofState::Off);
            return false;
        }
        let had_error = self.aof_status.write_error.take().is_some();
        self.refresh_write_gate();
        had_error
    }

    /// Forks the rewrite the state calls for: the first one of a switch-on (see
    /// [`Server::aof_start_initial_rewrite`]) or BGREWRITEAOF's (see
    /// [`Server::aof_rewrite_start`]).
    pub fn aof_fork_rewrite(&mut self, settings: AofSettings) -> Result<Forked, String> {
        if self.aof_status.state() == AofState::WaitRewrite {
            self.aof_start_initial_rewrite(settings)
        } else {
            self.aof_rewrite_start(settings)
        }
    }

    /// CONFIG SET appendonly yes (Valkey's `startAppendOnly`): the AOF waits for its first
    /// rewrite, forked now, or by the cron once another child (a snapshot) is done. A
    /// rewrite already running (BGREWRITEAOF with the AOF off) keeps no incr file, so it
    /// cannot serve: it is killed and a new one forked. Logged on the engine's queue.
    pub fn aof_switch_on(&mut self, settings: AofSettings) -> SwitchOn {
        self.aof_begin_switch_on();
        let running = self.jobs.child().map(|c| c.kind());
        let outcome = if running == Some(ChildKind::Rdb) {
            self.rewrite_policy.scheduled = true;
            self.log(LogLevel::Notice, "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
            SwitchOn::Scheduled
        } else {
            if running == Some(ChildKind::AofRewrite) {
                self.log(LogLevel::Notice, "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
                if let Some(p) = self.aof_kill_rewrite_child(&settings) {
                    self.log_child(p);
                }
            }
            match self.aof_fork_rewrite_logged(settings) {
                Some(f) => SwitchOn::Forked(f),
                None => {
                    self.aof_switch_on_result(false);
                    self.log(LogLevel::Warning, "The server needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
                    return SwitchOn::Failed;
                }
            }
        };
        if self.aof_switch_on_result(true) {
            self.log(LogLevel::Warning, "AOF reopen, just ignore the last error.");
        }
        outcome
    }

    /// CONFIG SET appendonly no (Valkey's `stopAppendOnly`): writes, fsyncs and closes the
    /// AOF, then kills a running rewrite (its files go). The error is the close's.
    pub fn aof_switch_off(&mut self, settings: &AofSettings) -> Result<(), String> {
        self.aof_close().map_err(|e| e.to_string())?;
        if let Some(p) = self.aof_kill_rewrite_child(settings) {
            self.log_child(p);
        }
        self.log(LogLevel::Notice, "AOF disabled");
        Ok(())
    }

    /// [`Server::aof_fork_rewrite`] with its log line ("... started by pid N", or why it
    /// could not start); None when it did not start.
    pub fn aof_fork_rewrite_logged(&mut self, settings: AofSettings) -> Option<Forked> {
        match self.aof_fork_rewrite(settings) {
            Ok(f) => {
                self.log(LogLevel::Notice, &format!("Background append only file rewriting started by pid {}", f.pid));
                Some(f)
            }
            Err(e) => {
                self.log(LogLevel::Warning, &format!("Can't rewrite append only file in background: {e}"));
                None
            }
        }
    }

    /// A rewrite child ended (`end`, as the job slot reported it): logs its end, installs
    /// its base or removes its files ([`Server::aof_rewrite_done`]) and logs what that did,
    /// with Valkey's lines (`backgroundRewriteDoneHandler`).
    pub fn aof_rewrite_done_logged(&mut self, settings: &AofSettings, end: &crate::job_report::JobEnd) -> RewriteDone {
        let ok = end.outcome == "ok";
        match end.outcome {
            "err" if end.message.is_empty() => self.log(LogLevel::Warning, "Background AOF rewrite terminated with error"),
            "err" => self.log(LogLevel::Warning, &format!("Background AOF rewrite terminated with error: {}", end.message)),
            "signal" | "cancelled" => self.log(LogLevel::Warning, &format!("Background AOF rewrite terminated by signal {}", end.signal)),
            _ => {}
        }
        let r = self.aof_rewrite_done(settings, end.pid, ok);
        if !ok || !r.ok {
            if let Some(e) = &r.error {
                self.log(LogLevel::Warning, e);
            }
            if let Some(t) = &r.temp_incr_removed {
                self.log(LogLevel::Notice, &format!("Removing the temp incr aof file {t} in the background"));
            }
            // Still being switched on: the policy scheduled the next rewrite for the cron.
            return r;
        }
        self.log(LogLevel::Notice, "Background AOF rewrite terminated with success");
        self.log(LogLevel::Notice, &format!("Successfully renamed the temporary AOF base file {} into {}", forkv_aof::manifest::temp_rewrite_bg_name(end.pid as u32), r.new_base));
        if let Some(incr) = &r.new_incr {
            self.log(LogLevel::Notice, &format!("Successfully renamed the temporary AOF incr file {} into {incr}", forkv_aof::manifest::temp_incr_name(&settings.filename)));
        }
        if r.history_deleted > 0 {
            self.log(LogLevel::Notice, &format!("Removed {} AOF history file(s)", r.history_deleted));
        }
        self.log(LogLevel::Notice, "Background AOF rewrite finished successfully");
        r
    }

    /// The rewrite child the last job report ended ([`Server::poll_job_report`]): its end
    /// handled as [`Server::aof_rewrite_done_logged`]; None when no rewrite ended since.
    pub fn aof_rewrite_reaped_logged(&mut self, settings: &AofSettings) -> Option<RewriteDone> {
        let end = self.rewrite_end.take()?;
        Some(self.aof_rewrite_done_logged(settings, &end))
    }

    /// SHUTDOWN while the first rewrite of a switch-on runs: it writes the only copy of the
    /// data the AOF will have, so exiting now leaves no usable AOF (Valkey's
    /// `finishShutdown` refuses unless FORCE).
    pub fn aof_initial_rewrite_running(&self) -> bool {
        self.aof_status.state() == AofState::WaitRewrite && self.jobs.child().is_some_and(|c| c.kind() == forkv_snapshot::ChildKind::AofRewrite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_follows_the_write_status_while_the_aof_is_on() {
        let mut s = AofStatus::default();
        assert!(!s.enabled() && s.last_write_ok() && s.write_gate().is_none());
        s.write_error = Some("No space left on device".into());
        assert!(s.write_gate().is_none(), "off: nothing is written, nothing is refused");
        s.set_state(AofState::On);
        assert_eq!(s.write_gate().as_deref(), Some("MISCONF Errors writing to the AOF file: No space left on device"));
        assert!(!s.last_write_ok());
        s.set_state(AofState::WaitRewrite);
        assert!(s.enabled() && s.write_gate().is_some());
    }
}
