//! Start-up system checks for the CLI (`forkv-server`): transparent huge pages, memory
//! overcommit and the open-files limit. The checks and Valkey's texts live in
//! `forkv_snapshot::syscheck`; this module only carries them across Node-API.

use napi_derive::napi;

use forkv_snapshot::syscheck;

/// What `linuxMemoryWarnings` found.
#[napi(object)]
pub struct MemoryWarnings {
    /// Lines to log at warning level, already prefixed `WARNING ` as Valkey prints them.
    pub warnings: Vec<String>,
}

/// One line to log, with its Valkey level ("debug", "verbose", "notice", "warning").
#[napi(object)]
pub struct SyscheckMessage {
    pub level: String,
    pub message: String,
}

/// What `adjustOpenFilesLimit` did.
#[napi(object)]
pub struct OpenFilesAdjustment {
    /// The `maxclients` the server can serve (reduced when the limit could not be raised).
    pub maxclients: u32,
    /// The soft limit in force afterwards (`Infinity` for RLIM_INFINITY).
    pub limit: f64,
    /// Lines to log, with Valkey's levels and texts.
    pub messages: Vec<SyscheckMessage>,
    /// The limit is too low to start at all (Valkey exits with status 1).
    pub fatal: bool,
}

fn limit_to_f64(v: u64) -> f64 {
    if v == u64::MAX {
        f64::INFINITY
    } else {
        v as f64
    }
}

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`).
/// Returns null on success, or the OS error text.
#[napi]
pub fn disable_thp_for_process() -> Option<String> {
    syscheck::disable_thp_for_process().err().map(|e| e.to_string())
}

/// The `oom_score_adj` fork children write for themselves (Valkey's CONFIG_OOM_BGCHILD
/// class), or null to leave them the inherited score (`oom-score-adj no`).
#[napi]
pub fn set_child_oom_score_adj(score: Option<i32>) {
    forkv_snapshot::oom::set_child_oom_score_adj(score);
}

/// `vm.overcommit_memory` (0, 1 or 2), or null when unreadable.
#[napi]
pub fn overcommit_memory() -> Option<u32> {
    syscheck::overcommit_memory()
}

/// The THP mode ("always", "madvise", "never"), or null when unknown.
#[napi]
pub fn thp_mode() -> Option<String> {
    syscheck::thp_enabled_mode().map(|m| m.name().to_string())
}

/// Valkey's `linuxMemoryWarnings`: the overcommit warning, and the THP warning when THP is
/// `always` and could not be disabled (`disable_thp` false or prctl failed).
#[napi]
pub fn linux_memory_warnings(disable_thp: bool, product: String) -> MemoryWarnings {
    MemoryWarnings { warnings: syscheck::linux_memory_warnings(disable_thp, &product).warnings }
}

/// Valkey's `adjustOpenFilesLimit`: raises the soft `RLIMIT_NOFILE` to `maxclients + 32` (or as
/// high as the system allows) and says how far `maxclients` must be reduced.
#[napi]
pub fn adjust_open_files_limit(maxclients: u32) -> OpenFilesAdjustment {
    let r = syscheck::adjust_open_files_limit(maxclients);
    OpenFilesAdjustment {
        maxclients: r.maxclients,
        limit: limit_to_f64(r.limit),
        messages: r
            .messages
            .into_iter()
            .map(|(level, message)| SyscheckMessage {
                level: level.name().to_string(),
                message,
            })
            .collect(),
        fatal: r.fatal,
    }
}
