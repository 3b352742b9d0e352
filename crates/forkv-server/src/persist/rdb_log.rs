//! The RDB side's log lines, in Valkey's words (`saveCommand`, `rdbSaveBackground`,
//! `bgsaveCommand`, `serverCron`, `debugCommand`): each entry point here is the policy's
//! own ([`super::policy`]) with its lines on the engine's queue, which the host drains.

use forkv_engine::log::LogLevel;
use forkv_snapshot::ForkError;

use super::policy::{BgsaveVerdict, CronStart, FlushAllReset};
use crate::job_report::fork_error_text;
use crate::snapshot::{Forked, RdbTarget};
use crate::Server;

impl Server {
    /// [`Server::save_now`] (or its SIGINT-guarded form) with its line: "DB saved on
    /// disk", or why it failed.
    pub fn save_now_logged(&mut self, target: &RdbTarget, exit_on_sigint: bool) -> Result<(u64, u64), String> {
        let r = if exit_on_sigint { self.save_now_exiting_on_sigint(target) } else { self.save_now(target) };
        self.log_save(&r);
        r
    }

    fn log_save(&mut self, r: &Result<(u64, u64), String>) {
        match r {
            Ok(_) => self.log(LogLevel::Notice, "DB saved on disk"),
            Err(e) => self.log(LogLevel::Warning, &format!("Error saving DB on disk: {e}")),
        }
    }

    /// [`Server::bgsave_now`] with its line: the child's pid, or why it could not fork.
    pub fn bgsave_logged(&mut self, target: RdbTarget) -> Result<Forked, ForkError> {
        let r = self.bgsave_now(target);
        match &r {
            Ok(f) => self.log(LogLevel::Notice, &format!("Background saving started by pid {}", f.pid)),
            Err(e) => self.log(LogLevel::Warning, &format!("Can't save in background: {}", fork_error_text(e))),
        }
        r
    }

    /// [`Server::transfer_now`] with its line: the child's pid, or why it could not fork.
    pub fn transfer_logged(&mut self, target: RdbTarget, mark: &str) -> Result<(Forked, std::os::fd::OwnedFd), ForkError> {
        let r = self.transfer_now(target, mark);
        match &r {
            Ok((f, _)) => self.log(LogLevel::Notice, &format!("Background RDB transfer started by pid {}", f.pid)),
            Err(e) => self.log(LogLevel::Warning, &format!("Can't save in background: {}", fork_error_text(e))),
        }
        r
    }

    /// [`Server::bgsave_request`], logging a cancelled child.
    pub fn bgsave_request_logged(&mut self, schedule: bool, cancel: bool) -> BgsaveVerdict {
        let v = self.bgsave_request(schedule, cancel);
        if v == BgsaveVerdict::CancelledChild {
            self.log(LogLevel::Notice, "Background saving cancelled by the user");
        }
        v
    }

    /// [`Server::rdb_cron`], logging the save rule that is due.
    pub fn rdb_cron_logged(&mut self) -> Option<CronStart> {
        let start = self.rdb_cron();
        if let Some(CronStart::Rule(r)) = &start {
            self.log(LogLevel::Notice, &format!("{} changes in {} seconds. Saving...", r.changes, r.seconds));
        }
        start
    }

    /// [`Server::reset_rdb_after_flushall`], logging its save (the cancelled child's
    /// messages are the host's to print, as every child's).
    pub fn reset_rdb_after_flushall_logged(&mut self, target: &RdbTarget) -> FlushAllReset {
        let r = self.reset_rdb_after_flushall(target);
        if let Some(cancelled) = &r.cancelled {
            self.log_rdb_child_end(cancelled);
        }
        if let Some(saved) = &r.saved {
            self.log_save(saved);
        }
        r
    }

    /// DEBUG RELOAD's load ([`Server::load_rdb_now`]) with its line.
    pub fn debug_reload_logged(&mut self, path: &std::path::Path, noflush: bool, merge: bool) -> Result<(), String> {
        match self.load_rdb_now(path, noflush, merge) {
            Ok(_) => {
                self.log(LogLevel::Notice, "DB reloaded by DEBUG RELOAD");
                Ok(())
            }
            Err(e) => {
                self.log(LogLevel::Warning, &format!("DEBUG RELOAD failed: {e}"));
                Err(e)
            }
        }
    }
}
