//! Append-only file entry points of `Core`: conversions to the server's AOF loading
//! (`forkv_server::persist::load`) and orchestration (`forkv_server::persist::aof_job`:
//! open, flush, close, BGREWRITEAOF start and finish).

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_server::persist::aof_config::{fsync_policy, AofConfig};
use forkv_server::persist::aof_state::{SwitchOn, TurnFlush};

use crate::core::Core;

/// What the turn's flush did (see [`forkv_server::persist::aof_state::TurnFlush`]).
#[napi(object)]
pub struct AofFlushResult {
    /// "off" (nothing to write), "written" or "failed" (the core logs the error).
    pub outcome: String,
    /// Written after a failed write: the error is solved.
    pub recovered: bool,
    /// Failed after a write that had not: the error is new (logged once).
    pub first: bool,
}

/// Whether the AOF is on, and its write status.
#[napi(object)]
pub struct AofStatusReport {
    /// "off", "wait" (switched on, waiting for the first rewrite) or "on".
    pub state: String,
    /// The MISCONF error writes are refused with, if any.
    pub write_gate: Option<String>,
}

/// What CONFIG SET appendonly yes did.
#[napi(object)]
pub struct AofSwitchOn {
    /// "forked" (the first rewrite started), "scheduled" (after the running child) or
    /// "failed" (the AOF stays off).
    pub outcome: String,
    /// The first rewrite's pid when forked.
    pub pid: Option<i32>,
}

/// WAITAOF's view of the local AOF: bytes appended so far and how many of them are fsynced
/// (Valkey's `fsynced_reploff`, counted in this process's AOF bytes; -1 while the AOF
/// waits for its first rewrite).
#[napi(object)]
pub struct AofSyncMarks {
    pub appended: f64,
    pub synced: f64,
}

/// What the cron does about AOF rewrites.
#[napi(object)]
pub struct AofRewriteCron {
    pub start: bool,
    /// Set for an automatic rewrite: the growth over the base, in percent (for the log).
    pub auto_growth: Option<f64>,
    /// The back-off just started a wait of this many minutes (log it).
    pub limited_minutes: Option<f64>,
}

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
    #[napi(ts_args_type = "opts: import('./host-types').AofOptions")]
    pub fn aof_switch_on(&mut self, opts: Object) -> Result<AofSwitchOn> {
        let settings = self.server.aof_settings(&config(&opts)?);
        Ok(match self.server.aof_switch_on(settings) {
            SwitchOn::Forked(f) => AofSwitchOn { outcome: "forked".into(), pid: Some(f.pid) },
            SwitchOn::Scheduled => AofSwitchOn { outcome: "scheduled".into(), pid: None },
            SwitchOn::Failed => AofSwitchOn { outcome: "failed".into(), pid: None },
        })
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
    #[napi]
    pub fn aof_status(&self) -> AofStatusReport {
        let st = self.server.aof_status();
        AofStatusReport { state: st.state().name().into(), write_gate: st.write_gate() }
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
    #[napi]
    pub fn aof_flush(&mut self, force: bool) -> AofFlushResult {
        let r = AofFlushResult { outcome: String::new(), recovered: false, first: false };
        match self.server.aof_flush_turn_logged(force) {
            TurnFlush::Off => AofFlushResult { outcome: "off".into(), ..r },
            TurnFlush::Written { recovered, .. } => AofFlushResult { outcome: "written".into(), recovered, ..r },
            TurnFlush::Failed { first, .. } => AofFlushResult { outcome: "failed".into(), first, ..r },
        }
    }

    /// WAITAOF: moves the propagated writes into the AOF buffer, then reports how far
    /// the AOF goes and how far it is fsynced; None while the AOF is off.
    #[napi]
    pub fn aof_sync_marks(&mut self) -> Option<AofSyncMarks> {
        let (appended, synced) = self.server.aof_sync_marks()?;
        // -1 while the AOF waits for its first rewrite (Valkey's fsynced_reploff -1).
        Some(AofSyncMarks { appended: appended as f64, synced: synced.map_or(-1.0, |s| s as f64) })
    }

    /// BGREWRITEAOF: the policy's verdict (`start`, `in-progress`, `scheduled`).
    #[napi]
    pub fn aof_rewrite_request(&mut self) -> String {
        self.server.aof_rewrite_request().name().into()
    }

    /// The cron's rewrite decision: a scheduled rewrite, or an automatic one per
    /// `auto-aof-rewrite-percentage`/`-min-size` while the AOF is on, unless backing off.
    #[napi]
    pub fn aof_rewrite_cron(&mut self, percentage: f64, min_size: f64) -> AofRewriteCron {
        let c = self.server.aof_rewrite_cron_logged(percentage.max(0.0) as u64, min_size.max(0.0) as u64);
        AofRewriteCron { start: c.start, auto_growth: c.auto_growth.map(|g| g as f64), limited_minutes: c.limited_minutes.map(|m| m as f64) }
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
