//! The shutdown's persistence steps, in the order of Valkey's `finishShutdown`, with its
//! log lines:
//!
//! 1. a running RDB child (a BGSAVE or a diskless transfer) is killed;
//! 2. with the AOF on, a rewrite child is killed, unless it is the first rewrite of an AOF
//!    switched on at runtime (it writes the only base the AOF will have: the shutdown is
//!    refused without FORCE); then the AOF is written and fsynced;
//! 3. the final RDB snapshot is saved, with save rules or SAVE and without NOSAVE (never
//!    while loading: the keyspace holds part of the file at most); a failed save refuses
//!    the shutdown without FORCE;
//! 4. the pid file is removed.
//!
//! A killed child is reaped here (its rename must not land after the final save, and its
//! temp files go): its lines and, for an RDB child, its end are logged here, and its exit
//! is handed to the host (replicas waiting for a killed snapshot hear of it). A refused
//! shutdown leaves the server running as it was (the AOF stays open). The host
//! waits for the replicas before this (SHUTDOWN's `shutdown-timeout`) and only closes the
//! sockets and exits after it.

use std::path::PathBuf;
use std::time::Duration;

use forkv_engine::log::LogLevel;
use forkv_snapshot::{ChildExit, ChildKind};

use super::aof_job::AofSettings;
use super::aof_state::AofState;
use crate::jobs::{JobPoll, JobTarget};
use crate::host_types::host_type;
use crate::snapshot::{rdb_child_end_line, RdbSaveOptions, RdbTarget};
use crate::Server;

/// How long the shutdown waits for a killed child to exit.
const CHILD_EXIT_WAIT: Duration = Duration::from_secs(5);

/// SHUTDOWN's flags and what the steps need from the configuration.
pub struct ShutdownPlan {
    /// SHUTDOWN SAVE (`Some(true)`) or NOSAVE (`Some(false)`); `None`: the save rules decide.
    pub save: Option<bool>,
    /// SHUTDOWN FORCE: a failed save or a running first rewrite does not stop the exit.
    pub force: bool,
    /// The shutdown follows a signal: a SIGINT during the final save removes its temp file
    /// and exits at once (Valkey's second SIGINT).
    pub exit_on_sigint: bool,
    /// Where the final snapshot goes (`dir`, `dbfilename`, format).
    pub rdb: RdbTarget,
    /// The AOF's configuration, for the files of a killed rewrite.
    pub aof: AofSettings,
    /// The pid file this process wrote, removed last.
    pub pidfile: Option<PathBuf>,
}

host_type! {
#[input = "ShutdownSteps"]
/// SHUTDOWN's flags and configuration as the host hands them over (the server makes its `ShutdownPlan` of them).
#[derive(Clone, Debug, PartialEq)]
pub struct ShutdownSteps {
    /// SAVE (true), NOSAVE (false), or neither (the save rules decide).
    pub save: Option<bool>,
    pub force: bool,
    /// The shutdown follows a signal: a SIGINT during the final save exits at once.
    pub exit_on_sigint: bool,
    pub rdb: RdbSaveOptions,
    /// The pid file this process wrote.
    pub pidfile: Option<String>,
}
}

impl Server {
    /// The plan of the host's shutdown steps; `aof`: the AOF's settings, for the files of a
    /// killed rewrite.
    pub fn shutdown_plan(&self, steps: &ShutdownSteps, aof: AofSettings) -> ShutdownPlan {
        ShutdownPlan {
            save: steps.save,
            force: steps.force,
            exit_on_sigint: steps.exit_on_sigint,
            rdb: self.rdb_target_of(&steps.rdb),
            aof,
            pidfile: steps.pidfile.as_ref().map(PathBuf::from),
        }
    }
}

/// What the shutdown did.
pub struct ShutdownReport {
    /// True when the server may exit; false when a step refused (logged).
    pub ok: bool,
    /// The killed child's exit (logged; the host tells the replicas waiting for a killed
    /// RDB child).
    pub killed: Option<KilledJob>,
}

/// A child the shutdown killed and reaped.
pub struct KilledJob {
    pub exit: ChildExit,
    /// Where it wrote (a diskless transfer's replicas, or a file).
    pub target: JobTarget,
}

impl Server {
    /// Valkey's `finishShutdown`: the persistence steps before exiting, logged on the
    /// engine's log queue. See the module's documentation for the order.
    pub fn shutdown_persistence(&mut self, plan: &ShutdownPlan) -> ShutdownReport {
        let mut killed = None;
        if self.running_child() == Some(ChildKind::Rdb) {
            self.log(LogLevel::Warning, "There is a child saving an .rdb. Killing it!");
            let socket = self.jobs.is_transfer();
            // Waited for (Valkey only signals it): its rename must not land after the
            // final save below, and the slot removes its temp file when it is reaped.
            self.jobs.cancel();
            killed = self.wait_job(CHILD_EXIT_WAIT).and_then(|p| self.log_child(p));
            if let Some(k) = &killed {
                let (level, line) = rdb_child_end_line(&k.exit, socket);
                self.log(level, &line);
            }
        }
        if self.aof_status().enabled() {
            if self.running_child() == Some(ChildKind::AofRewrite) {
                if self.aof_status().state() == AofState::WaitRewrite {
                    if !plan.force {
                        self.log(LogLevel::Warning, "Writing initial AOF, can't exit.");
                        return self.shutdown_refused(killed);
                    }
                    self.log(LogLevel::Warning, "Writing initial AOF. Exit anyway.");
                }
                self.log(LogLevel::Warning, "There is a child rewriting the AOF. Killing it!");
                killed = self.aof_kill_rewrite_child(&plan.aof).and_then(|p| self.log_child(p));
            }
            self.log(LogLevel::Notice, "Calling fsync() on the AOF file.");
            if let Err(e) = self.aof_write_and_fsync() {
                self.log(LogLevel::Warning, &format!("Fail to fsync the AOF file: {e}."));
            }
        } else if self.running_child() == Some(ChildKind::AofRewrite) {
            // A BGREWRITEAOF with the AOF off: its files would be left behind.
            killed = self.aof_kill_rewrite_child(&plan.aof).and_then(|p| self.log_child(p));
        }
        // Loading (start-up, a replica's full sync, DEBUG RELOAD/LOADAOF): the keyspace
        // holds part of the data at most.
        let save = !self.is_loading() && plan.save.unwrap_or_else(|| self.rdb_policy.has_rules());
        if save {
            self.log(LogLevel::Notice, "Saving the final RDB snapshot before exiting.");
            let saved = if plan.exit_on_sigint { self.save_now_exiting_on_sigint(&plan.rdb) } else { self.save_now(&plan.rdb) };
            match saved {
                Ok(_) => self.log(LogLevel::Notice, "DB saved on disk"),
                Err(e) => {
                    self.log(LogLevel::Warning, &format!("Error saving DB on disk: {e}"));
                    if !plan.force {
                        self.log(LogLevel::Warning, "Error trying to save the DB, can't exit.");
                        return self.shutdown_refused(killed);
                    }
                    self.log(LogLevel::Warning, "Error trying to save the DB. Exit anyway.");
                }
            }
        }
        // Exiting: the AOF is complete on disk; close it (an embedded server's process
        // goes on).
        if self.aof.is_open() {
            if let Err(e) = self.aof_close() {
                self.log(LogLevel::Warning, &format!("Error closing the AOF file: {e}"));
            }
        }
        if let Some(p) = &plan.pidfile {
            self.log(LogLevel::Notice, "Removing the pid file.");
            let _ = std::fs::remove_file(p);
        }
        self.log(LogLevel::Warning, "forkv is now ready to exit, bye bye...");
        ShutdownReport { ok: true, killed }
    }

    /// Valkey's `killAppendOnlyChild`: stops the running rewrite, waits for it and removes
    /// its files (the AOF in force stays as it was). Returns the child's poll, or None when
    /// no rewrite runs.
    pub fn aof_kill_rewrite_child(&mut self, settings: &AofSettings) -> Option<JobPoll> {
        let pid = self.jobs.child().filter(|c| c.kind() == ChildKind::AofRewrite)?.pid();
        self.log(LogLevel::Notice, &format!("Killing running AOF rewrite child: {pid}"));
        self.jobs.cancel();
        let poll = self.wait_job(CHILD_EXIT_WAIT);
        if poll.as_ref().is_some_and(|p| p.done.is_some()) {
            self.aof_rewrite_done(settings, pid, false);
        }
        poll
    }

    /// Logs the lines a killed child sent; returns its exit.
    pub(crate) fn log_child(&mut self, poll: JobPoll) -> Option<KilledJob> {
        for (level, message) in poll.logs {
            self.engine.logs.push(level, message);
        }
        poll.done.map(|exit| KilledJob { exit, target: poll.target })
    }

    fn shutdown_refused(&mut self, killed: Option<KilledJob>) -> ShutdownReport {
        self.log(LogLevel::Warning, "Errors trying to shut down the server. Check the logs for more information.");
        ShutdownReport { ok: false, killed }
    }

    fn running_child(&self) -> Option<ChildKind> {
        self.jobs.child().map(|c| c.kind())
    }

    /// Queues a line for the host's logger.
    pub(crate) fn log(&mut self, level: LogLevel, message: &str) {
        self.engine.logs.push(level, message.to_string());
    }
}
