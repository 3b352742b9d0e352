//! Persistence entry points of `Core`: conversions to the server's SAVE, BGSAVE, child
//! polling and RDB policy (`forkv_server::persist::policy`), and to its loading of RDB
//! files (`forkv_server::persist::load`).
//!
//! The fork happens on the JS main thread, inside a synchronous napi call: no
//! command can be half-applied, so the child sees a consistent keyspace (DESIGN.md §2).

use std::path::{Path, PathBuf};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_server::job_report::{fork_error_text, kind_name, JobEnd, JobReport};
use forkv_server::persist::load::LoadDone;
use forkv_server::persist::policy::SaveRule;
use forkv_server::persist::shutdown::ShutdownSteps;
use forkv_server::snapshot::{RdbSaveOptions, RdbTarget};
use forkv_server::Server;
use forkv_snapshot::ForkError;

use crate::core::Core;

/// A log line the child sent, to be printed by the host's logger.
#[napi(object)]
pub struct ChildLogLine {
    pub level: String,
    pub message: String,
}

/// How a child ended.
#[napi(object)]
pub struct ChildDone {
    pub pid: i32,
    /// "rdb" or "aof".
    pub kind: String,
    /// An RDB child of a diskless full sync (it wrote to the replicas, not to a file).
    pub transfer: bool,
    /// "ok", "err", "signal", "cancelled".
    pub outcome: String,
    pub message: String,
    pub signal: i32,
}

/// What a poll found: log lines, current progress, and the exit if the child ended.
#[napi(object)]
pub struct ChildPoll {
    pub logs: Vec<ChildLogLine>,
    pub done: Option<ChildDone>,
}

/// The running child (its progress is INFO's, assembled in the core).
#[napi(object)]
pub struct ChildProgress {
    pub pid: i32,
    pub kind: String,
    /// A diskless full sync's child (writes to the replicas, not to a file).
    pub transfer: bool,
}


/// What the host needs of a finished load (its log lines are the core's): the
/// replication AUX fields of an RDB file a replica saved.
#[napi(object)]
pub struct LoadReport {
    /// The `repl-stream-db` AUX field, when present.
    pub repl_stream_db: Option<u32>,
    /// The `repl-id` and `repl-offset` AUX fields, when both are present and valid.
    pub repl_id: Option<String>,
    pub repl_offset: Option<f64>,
}

/// One `save <seconds> <changes>` rule.
#[napi(object)]
pub struct SaveRuleArg {
    pub seconds: f64,
    pub changes: f64,
}

/// What LASTSAVE and the write gate need of the RDB policy (the INFO fields are the
/// core's: `refreshPersistenceInfo`).
#[napi(object)]
pub struct RdbStatus {
    pub last_save_time: f64,
    /// MISCONF: writes are refused.
    pub denies_writes: bool,
}

/// What FLUSHALL's persistence reset did.
#[napi(object)]
pub struct FlushAllReport {
    /// The cancelled snapshot child's messages and exit.
    pub cancelled: Option<ChildPoll>,
    /// The save of the empty dataset (true: saved), when there are save rules.
    pub saved: Option<bool>,
}

/// A diskless transfer child: its pid and the read end of its pipe.
#[napi(object)]
pub struct TransferFork {
    pub pid: i32,
    pub fork_usec: f64,
    pub fd: i32,
}

/// What the shutdown's persistence steps did.
#[napi(object)]
pub struct ShutdownStepsDone {
    /// The server may exit; false: refused (logged).
    pub ok: bool,
    /// The killed child's exit (its lines are logged on the engine's queue).
    pub killed: Option<ChildDone>,
}

fn log_lines(logs: Vec<(forkv_snapshot::LogLevel, String)>) -> Vec<ChildLogLine> {
    logs.into_iter().map(|(level, message)| ChildLogLine { level: level.name().into(), message }).collect()
}

fn done_of(e: JobEnd) -> ChildDone {
    ChildDone {
        pid: e.pid,
        kind: kind_name(e.kind).into(),
        transfer: e.transfer,
        outcome: e.outcome.into(),
        message: e.message,
        signal: e.signal,
    }
}

fn poll_of(p: JobReport) -> ChildPoll {
    ChildPoll { logs: log_lines(p.logs), done: p.done.map(done_of) }
}

/// The snapshot target of the host's save options.
fn rdb_target(server: &Server, o: &Object) -> Result<RdbTarget> {
    Ok(server.rdb_target_of(&crate::host_types::input::<RdbSaveOptions>(o)?))
}

#[napi]
impl Core {
    /// SAVE (and the shutdown, FLUSHALL, DEBUG RELOAD saves): writes the RDB file in this
    /// process, blocking (as Valkey's SAVE does), with the policy's bookkeeping and its
    /// log lines. True when saved.
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions")]
    pub fn save_rdb(&mut self, opts: Object) -> Result<bool> {
        let opts = crate::host_types::input::<RdbSaveOptions>(&opts)?;
        let target = self.server.rdb_target_of(&opts);
        Ok(self.server.save_now_logged(&target, opts.exit_on_sigint == Some(true)).is_ok())
    }

    /// After FLUSHALL (see [`forkv_server::Server::reset_rdb_after_flushall`]).
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions")]
    pub fn rdb_reset_after_flushall(&mut self, opts: Object) -> Result<FlushAllReport> {
        let r = self.server.reset_rdb_after_flushall_logged(&rdb_target(&self.server, &opts)?);
        Ok(FlushAllReport { cancelled: r.cancelled.map(|p| poll_of(p.into())), saved: r.saved.map(|s| s.is_ok()) })
    }

    /// BGSAVE: forks; the child writes the snapshot as of this instant. Throws (logged)
    /// when the fork fails.
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions")]
    pub fn bgsave(&mut self, opts: Object) -> Result<()> {
        let target = rdb_target(&self.server, &opts)?;
        self.server.bgsave_logged(target).map_err(fork_error)?;
        Ok(())
    }

    /// BGSAVE [SCHEDULE|CANCEL]: the policy's verdict (`start`, `in-progress`, `scheduled`,
    /// `another-child`, `cancelled-child`, `cancelled-schedule`, `nothing-to-cancel`); a
    /// cancelled child has been signalled.
    #[napi]
    pub fn bgsave_request(&mut self, schedule: bool, cancel: bool) -> String {
        self.server.bgsave_request_logged(schedule, cancel).name().into()
    }

    /// The cron's RDB decision (a scheduled BGSAVE, or a due save rule, whose line the core
    /// logs): true when a BGSAVE is to start now.
    #[napi]
    pub fn rdb_cron(&mut self) -> bool {
        self.server.rdb_cron_logged().is_some()
    }

    /// `save` and `stop-writes-on-bgsave-error` as configured.
    #[napi]
    pub fn rdb_set_save_rules(&mut self, rules: Vec<SaveRuleArg>, stop_writes_on_error: bool) {
        let rules = rules.iter().map(|r| SaveRule { seconds: r.seconds as i64, changes: r.changes.max(0.0) as u64 }).collect();
        self.server.rdb_set_save_rules(rules, stop_writes_on_error);
    }

    /// The policy's state (LASTSAVE, MISCONF).
    #[napi]
    pub fn rdb_status(&self) -> RdbStatus {
        RdbStatus { last_save_time: self.server.rdb_last_save_time() as f64, denies_writes: self.server.rdb_denies_writes() }
    }

    /// Refreshes INFO's persistence section from the core's state (see
    /// [`forkv_server::Server::persistence_info`]): what a script's INFO sees until the next.
    #[napi]
    pub fn refresh_persistence_info(&mut self) {
        self.server.refresh_persistence_info();
    }

    /// The diskless full sync: forks a child writing the `$EOF:<mark>` line, the snapshot
    /// and `<mark>` into a pipe whose read end (`fd`, now owned by the caller) the host copies
    /// to the replicas.
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions, mark: string")]
    pub fn bgsave_to_replicas(&mut self, opts: Object, mark: String) -> Result<TransferFork> {
        let target = rdb_target(&self.server, &opts)?;
        let (forked, read_end) = self.server.transfer_logged(target, &mark).map_err(fork_error)?;
        Ok(TransferFork { pid: forked.pid, fork_usec: forked.fork_usec as f64, fd: std::os::fd::IntoRawFd::into_raw_fd(read_end) })
    }

    /// The shutdown's persistence steps in Valkey's order, logged on the engine's queue
    /// (see [`forkv_server::Server::shutdown_persistence`]); `aof`: the AOF's configuration,
    /// for the files of a killed rewrite.
    #[napi(ts_args_type = "steps: import('./host-types').ShutdownSteps, aof: import('./host-types').AofOptions")]
    pub fn shutdown_persistence(&mut self, steps: Object, aof: Object) -> Result<ShutdownStepsDone> {
        let aof = self.server.aof_settings(&crate::host_types::input(&aof)?);
        let plan = self.server.shutdown_plan(&crate::host_types::input::<ShutdownSteps>(&steps)?, aof);
        let r = self.server.shutdown_persistence(&plan);
        Ok(ShutdownStepsDone { ok: r.ok, killed: r.killed.map(|k| done_of(JobEnd::of(&k.exit, k.target))) })
    }

    /// Drains the child's messages and reaps it if it ended (never waits).
    #[napi]
    pub fn poll_child(&mut self) -> Option<ChildPoll> {
        self.server.poll_job_report().map(poll_of)
    }

    /// The running child, if any.
    #[napi]
    pub fn child_progress(&self) -> Option<ChildProgress> {
        self.server.job_progress().map(|p| ChildProgress { pid: p.pid, kind: kind_name(p.kind).into(), transfer: p.transfer })
    }

    /// Cancels the running child with SIGUSR1 (BGSAVE CANCEL, SHUTDOWN, FLUSHALL).
    #[napi]
    pub fn kill_child(&mut self) -> bool {
        self.server.cancel_job()
    }

    /// Waits up to `ms` for the running child to end (SHUTDOWN after a cancel).
    #[napi]
    pub fn wait_child(&mut self, ms: u32) -> Option<ChildPoll> {
        self.server.wait_job_report(Duration::from_millis(u64::from(ms))).map(poll_of)
    }

    /// DEBUG RELOAD's load, logged (see [`forkv_server::Server::debug_reload_logged`]).
    #[napi]
    pub fn load_rdb_now(&mut self, path: String, noflush: bool, merge: bool) -> Result<()> {
        self.server.debug_reload_logged(Path::new(&path), noflush, merge).map_err(Error::from_reason)
    }

    /// Starts loading an RDB file on the loader thread (start-up, a replica's full sync);
    /// `poll_load` installs it (see [`forkv_server::Server::start_rdb_load`]).
    #[napi]
    pub fn start_load(&mut self, path: String, key_load_delay_us: f64, events_interval_bytes: f64) {
        self.server.start_rdb_load(PathBuf::from(path), key_load_delay_us as i64, events_interval_bytes as u64);
    }

    /// `startLoad` for a replica's full sync (its end is logged as a replica's).
    #[napi]
    pub fn start_replica_load(&mut self, path: String, key_load_delay_us: f64, events_interval_bytes: f64) {
        self.server.start_replica_load(PathBuf::from(path), key_load_delay_us as i64, events_interval_bytes as u64);
    }

    /// Starts loading an RDB from a primary's socket, fed with `feed_load` and ended with
    /// `end_load_input`; `poll_load` installs it (see
    /// [`forkv_server::Server::start_rdb_stream_load`]).
    #[napi]
    pub fn start_stream_load(&mut self, key_load_delay_us: f64, events_interval_bytes: f64, size_hint_max: f64, async_loading: bool) {
        self.server.start_rdb_stream_load(key_load_delay_us as i64, events_interval_bytes as u64, size_hint_max as u64, async_loading);
    }

    /// One chunk of the snapshot for the load from a socket.
    #[napi]
    pub fn feed_load(&mut self, chunk: Buffer) {
        self.server.feed_load_input(&chunk);
    }

    /// The snapshot's input ended (its end, or the link was lost).
    #[napi]
    pub fn end_load_input(&mut self) {
        self.server.end_load_input();
    }

    /// Bytes fed to the load from a socket and not read by it yet.
    #[napi]
    pub fn load_input_queued(&self) -> f64 {
        self.server.load_input_queued() as f64
    }

    /// True while a replica loads beside the data it serves (INFO `async_loading`).
    #[napi]
    pub fn async_loading(&self) -> bool {
        self.server.is_async_loading()
    }

    /// The event points the running load passed (the host serves held client input at
    /// each new one); null when nothing loads (see [`forkv_server::Server::load_events`]).
    #[napi]
    pub fn load_events(&self) -> Option<f64> {
        self.server.load_events().map(|e| e as f64)
    }

    /// `None` while loading; then the load's report, or an error with the reason (see
    /// [`forkv_server::Server::poll_load`]).
    #[napi]
    pub fn poll_load(&mut self) -> Result<Option<LoadReport>> {
        Ok(self.server.poll_load().map_err(Error::from_reason)?.map(|d| report(&d)))
    }
}

/// A load's report for the host.
fn report(d: &LoadDone) -> LoadReport {
    let s = &d.summary;
    LoadReport {
        repl_stream_db: s.repl_stream_db,
        repl_id: s.repl_position.as_ref().map(|(id, _)| id.clone()),
        repl_offset: s.repl_position.as_ref().map(|(_, off)| *off as f64),
    }
}

/// A fork failure as the error the host logs (see [`fork_error_text`]).
fn fork_error(e: ForkError) -> Error {
    Error::from_reason(fork_error_text(&e))
}
