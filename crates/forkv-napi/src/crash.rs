//! The crash report across Node-API (the handlers are `forkv_snapshot::crash_report`'s).

use napi_derive::napi;

/// Installs the crash report's signal handlers (the fatal ones when `crash_log`, as
/// `crash-log-enabled`; SIGALRM's always), writing to the log descriptor `log_fd` and naming
/// the server `name`. Returns null, or why it could not.
#[napi]
pub fn install_crash_report(log_fd: i32, name: String, crash_log: bool) -> Option<String> {
    forkv_snapshot::crash_report::install(log_fd, &name, crash_log).err().map(|e| e.to_string())
}
