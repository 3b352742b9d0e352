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

use forkv_server::host_records::{ChildPoll, ChildProgress, FlushAllReport, LoadReport, RdbStatus, ShutdownStepsDone, TransferFork};
use forkv_server::job_report::fork_error_text;
use forkv_server::persist::policy::SaveRule;
use forkv_server::persist::shutdown::ShutdownSteps;
use forkv_server::snapshot::{RdbSaveOptions, RdbTarget};
use forkv_server::Server;
use forkv_snapshot::ForkError;

use crate::core::Core;
use crate::host_types::{input, record, record_opt};

/// The snapshot target of the host's save options.
fn rdb_target(server: &Server, o: &Object) -> Result<RdbTarget> {
    Ok(server.rdb_target_of(&input::<RdbSaveOptions>(o)?))
}

#[napi]
impl Core {
    /// SAVE (and the shutdown, FLUSHALL, DEBUG RELOAD saves): writes the RDB file in this
    /// process, blocking (as Valkey's SAVE does), with the policy's bookkeeping and its
    /// log lines. True when saved.
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions")]
    pub fn save_rdb(&mut self, opts: Object) -> Result<bool> {
        let opts = input::<RdbSaveOptions>(&opts)?;
        let target = self.server.rdb_target_of(&opts);
        Ok(self.server.save_now_logged(&target, opts.exit_on_sigint == Some(true)).is_ok())
    }

    /// After FLUSHALL (see [`forkv_server::Server::reset_rdb_after_flushall`]).
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions", ts_return_type = "import('./host-types').FlushAllReport")]
    pub fn rdb_reset_after_flushall<'env>(&mut self, env: &'env Env, opts: Object) -> Result<Object<'env>> {
        let r = self.server.reset_rdb_after_flushall_logged(&rdb_target(&self.server, &opts)?);
        record(env, &FlushAllReport::from(r))
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
    #[napi(ts_args_type = "rules: import('./host-types').SaveRuleArg[], stopWritesOnError: boolean")]
    pub fn rdb_set_save_rules(&mut self, rules: Vec<Object>, stop_writes_on_error: bool) -> Result<()> {
        let rules = rules.iter().map(input::<SaveRule>).collect::<Result<_>>()?;
        self.server.rdb_set_save_rules(rules, stop_writes_on_error);
        Ok(())
    }

    /// The policy's state (LASTSAVE, MISCONF).
    #[napi(ts_return_type = "import('./host-types').RdbStatus")]
    pub fn rdb_status<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        record(env, &RdbStatus { last_save_time: self.server.rdb_last_save_time() })
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
    #[napi(ts_args_type = "opts: import('./host-types').RdbSaveOptions, mark: string", ts_return_type = "import('./host-types').TransferFork")]
    pub fn bgsave_to_replicas<'env>(&mut self, env: &'env Env, opts: Object, mark: String) -> Result<Object<'env>> {
        let target = rdb_target(&self.server, &opts)?;
        let (forked, read_end) = self.server.transfer_logged(target, &mark).map_err(fork_error)?;
        record(env, &TransferFork::handed_over(forked, read_end))
    }

    /// The shutdown's persistence steps in Valkey's order, logged on the engine's queue
    /// (see [`forkv_server::Server::shutdown_persistence`]); `aof`: the AOF's configuration,
    /// for the files of a killed rewrite.
    #[napi(
        ts_args_type = "steps: import('./host-types').ShutdownSteps, aof: import('./host-types').AofOptions",
        ts_return_type = "import('./host-types').ShutdownStepsDone"
    )]
    pub fn shutdown_persistence<'env>(&mut self, env: &'env Env, steps: Object, aof: Object) -> Result<Object<'env>> {
        let aof = self.server.aof_settings(&input(&aof)?);
        let plan = self.server.shutdown_plan(&input::<ShutdownSteps>(&steps)?, aof);
        record(env, &ShutdownStepsDone::from(self.server.shutdown_persistence(&plan)))
    }

    /// Drains the child's messages and reaps it if it ended (never waits).
    #[napi(ts_return_type = "import('./host-types').ChildPoll | null")]
    pub fn poll_child<'env>(&mut self, env: &'env Env) -> Result<Option<Object<'env>>> {
        record_opt(env, self.server.poll_job_report().map(ChildPoll::from))
    }

    /// The running child, if any.
    #[napi(ts_return_type = "import('./host-types').ChildProgress | null")]
    pub fn child_progress<'env>(&self, env: &'env Env) -> Result<Option<Object<'env>>> {
        record_opt(env, self.server.job_progress().map(ChildProgress::from))
    }

    /// Cancels the running child with SIGUSR1 (BGSAVE CANCEL, SHUTDOWN, FLUSHALL).
    #[napi]
    pub fn kill_child(&mut self) -> bool {
        self.server.cancel_job()
    }

    /// Waits up to `ms` for the running child to end (SHUTDOWN after a cancel).
    #[napi(ts_return_type = "import('./host-types').ChildPoll | null")]
    pub fn wait_child<'env>(&mut self, env: &'env Env, ms: u32) -> Result<Option<Object<'env>>> {
        record_opt(env, self.server.wait_job_report(Duration::from_millis(u64::from(ms))).map(ChildPoll::from))
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
    #[napi(ts_return_type = "import('./host-types').LoadReport | null")]
    pub fn poll_load<'env>(&mut self, env: &'env Env) -> Result<Option<Object<'env>>> {
        record_opt(env, self.server.poll_load().map_err(Error::from_reason)?.as_ref().map(LoadReport::from))
    }
}

/// A fork failure as the error the host logs (see [`fork_error_text`]).
fn fork_error(e: ForkError) -> Error {
    Error::from_reason(fork_error_text(&e))
}
