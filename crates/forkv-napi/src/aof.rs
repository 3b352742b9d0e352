//! Append-only file entry points of `Core`: conversions to the server's AOF loading
//! (`forkv_server::persist::load`) and orchestration (`forkv_server::persist::aof_job`:
//! open, flush, close, BGREWRITEAOF start and finish).

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_server::persist::aof_config::{fsync_policy, AofConfig};
use forkv_server::host_records::{AofFlushResult, AofStatusReport, AofSwitchOn, AofSyncMarks};

use crate::core::Core;
use crate::host_types::{record, record_opt};

/// The AOF configuration of the host's object.
fn config(o: &Object) -> Result<AofConfig> {
    crate::host_types::input(o)
}

#[napi]
impl Core {
    /// Starts loading the AOF directory on the loader thread (start-up with appendonly
    /// yes); `poll_load` installs it (see [`forkv_server::Server::start_aof_load`]).
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn start_aof_load(&mut self, opts: Object) -> Result<()> {
        self.server.start_aof_load(&config(&opts)?.source());
        Ok(())
    }

    /// DEBUG LOADAOF's load (see [`forkv_server::Server::start_aof_reload`]); after
    /// `poll_load`, `aof_adopt_reload`.
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn start_aof_reload(&mut self, opts: Object) -> Result<()> {
        self.server.start_aof_reload(&config(&opts)?.source());
        Ok(())
    }

    /// See [`forkv_server::Server::aof_adopt_reload`].
    #[napi]
    pub fn aof_adopt_reload(&mut self) {
        self.server.aof_adopt_reload();
    }

    /// Opens the AOF for appending after loading (or with nothing to load): see
    /// [`forkv_server::Server::aof_open_loaded`].
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn aof_open(&mut self, opts: Object) -> Result<()> {
        let settings = self.server.aof_settings(&config(&opts)?);
        self.server.aof_open_loaded(settings).map_err(Error::from_reason)
    }

    /// CONFIG SET appendonly yes (see [`forkv_server::Server::aof_switch_on`]), logged on
    /// the engine's queue.
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions", ts_return_type = "import('./host-types').AofSwitchOn")]
    pub fn aof_switch_on<'env>(&mut self, env: &'env Env, opts: Object) -> Result<Object<'env>> {
        let settings = self.server.aof_settings(&config(&opts)?);
        record(env, &AofSwitchOn::from(self.server.aof_switch_on(settings)))
    }

    /// CONFIG SET appendonly no (see [`forkv_server::Server::aof_switch_off`]), logged on
    /// the engine's queue.
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn aof_switch_off(&mut self, opts: Object) -> Result<()> {
        let settings = self.server.aof_settings(&config(&opts)?);
        self.server.aof_switch_off(&settings).map_err(Error::from_reason)
    }

    /// Forks the rewrite the AOF's state calls for, logged on the engine's queue (see
    /// [`forkv_server::Server::aof_fork_rewrite_logged`]); false when it did not start.
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn aof_fork_rewrite(&mut self, opts: Object) -> Result<bool> {
        let settings = self.server.aof_settings(&config(&opts)?);
        Ok(self.server.aof_fork_rewrite_logged(settings).is_some())
    }

    /// The AOF's state and write status.
    #[napi(ts_return_type = "import('./host-types').AofStatusReport")]
    pub fn aof_status<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        record(env, &AofStatusReport::from(self.server.aof_status()))
    }

    /// CONFIG SET aof-disable-auto-gc no: deletes the history files kept meanwhile.
    /// Returns how many were scheduled for deletion.
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn aof_delete_history(&mut self, opts: Object) -> Result<u32> {
        let settings = self.server.aof_settings(&config(&opts)?);
        Ok(self.server.aof_delete_history(&settings))
    }

    /// CONFIG SET aof-timestamp-enabled.
    #[napi]
    pub fn aof_set_timestamps(&mut self, on: bool) {
        self.server.aof_set_timestamps(on);
    }

    /// DEBUG AOF-FLUSH-SLEEP <microseconds>: sleep before each AOF write that has data (0
    /// turns it off).
    #[napi]
    pub fn aof_set_flush_sleep(&mut self, micros: f64) {
        self.server.aof_set_flush_sleep(Duration::from_micros(micros.max(0.0) as u64));
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    #[napi]
    pub fn aof_set_fsync(&mut self, fsync: String) {
        self.server.aof_set_fsync(fsync_policy(&fsync));
    }

    /// The turn's flush (see [`forkv_server::Server::aof_flush_turn`]). Call once per
    /// event-loop turn, before replies go out.
    #[napi(ts_return_type = "import('./host-types').AofFlushResult")]
    pub fn aof_flush<'env>(&mut self, env: &'env Env, force: bool) -> Result<Object<'env>> {
        record(env, &AofFlushResult::from(self.server.aof_flush_turn_logged(force)))
    }

    /// WAITAOF: moves the propagated writes into the AOF buffer, then reports how far
    /// the AOF goes and how far it is fsynced; None while the AOF is off.
    #[napi(ts_return_type = "import('./host-types').AofSyncMarks | null")]
    pub fn aof_sync_marks<'env>(&mut self, env: &'env Env) -> Result<Option<Object<'env>>> {
        record_opt(env, self.server.aof_sync_marks().map(AofSyncMarks::of))
    }

    /// BGREWRITEAOF: the policy's verdict (`start`, `in-progress`, `scheduled`).
    #[napi]
    pub fn aof_rewrite_request(&mut self) -> String {
        self.server.aof_rewrite_request().name().into()
    }

    /// The cron's rewrite decision: a scheduled rewrite, or an automatic one per
    /// `auto-aof-rewrite-percentage`/`-min-size` while the AOF is on, unless backing off.
    #[napi(ts_return_type = "import('./host-types').AofRewriteCron")]
    pub fn aof_rewrite_cron<'env>(&mut self, env: &'env Env, percentage: f64, min_size: f64) -> Result<Object<'env>> {
        record(env, &self.server.aof_rewrite_cron_logged(percentage.max(0.0) as u64, min_size.max(0.0) as u64))
    }

    /// After `pollChild` reported the rewrite child's end: logs it, installs its base or
    /// removes its files, on the engine's queue (see
    /// [`forkv_server::Server::aof_rewrite_reaped_logged`]). True when its base was installed.
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn aof_rewrite_done(&mut self, opts: Object) -> Result<bool> {
        let settings = self.server.aof_settings(&config(&opts)?);
        Ok(self.server.aof_rewrite_reaped_logged(&settings).is_some_and(|r| r.ok))
    }
}
