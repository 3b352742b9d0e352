//! `syslog-enabled yes` across Node-API (the calls are `forkv_snapshot::syslog`'s).

use napi_derive::napi;

/// Opens the system log with `ident` and `facility` (a `syslog-facility` name). Returns
/// null, or why it cannot.
#[napi]
pub fn syslog_open(ident: String, facility_name: String) -> Option<String> {
    forkv_snapshot::syslog::open(&ident, &facility_name).err()
}

/// Sends one line at a Valkey level ("debug", "verbose", "notice", "warning").
#[napi]
pub fn syslog_write(level: String, message: String) {
    forkv_snapshot::syslog::write(&level, &message);
}
