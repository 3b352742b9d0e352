//! Start-up system checks for the CLI (`forkv-server`): transparent huge pages, memory
//! overcommit and the open-files limit. The checks and Valkey's texts live in
//! `forkv_snapshot::syscheck`; this module only carries them across Node-API.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_server::host_records::{MemoryWarnings, OpenFilesAdjustment};

use forkv_snapshot::syscheck;

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
#[napi(ts_return_type = "import('./host-types').MemoryWarnings")]
pub fn linux_memory_warnings(env: &Env, disable_thp: bool, product: String) -> Result<Object<'_>> {
    crate::host_types::record(env, &MemoryWarnings { warnings: syscheck::linux_memory_warnings(disable_thp, &product).warnings })
}

/// Valkey's `adjustOpenFilesLimit`: raises the soft `RLIMIT_NOFILE` to `maxclients + 32` (or as
/// high as the system allows) and says how far `maxclients` must be reduced.
#[napi(ts_return_type = "import('./host-types').OpenFilesAdjustment")]
pub fn adjust_open_files_limit(env: &Env, maxclients: u32) -> Result<Object<'_>> {
    crate::host_types::record(env, &OpenFilesAdjustment::from(syscheck::adjust_open_files_limit(maxclients)))
}
