//! `syslog-enabled yes`: every log line also goes to the system logger through the C
//! library's syslog(3), opened with `syslog-ident` and `syslog-facility` (LOG_PID,
//! LOG_NDELAY, LOG_NOWAIT), levels mapped as Valkey maps them (debug, info, notice,
//! warning). The C library writes to `/dev/log`, which Node itself cannot (it has no
//! unix datagram sockets).

use std::ffi::{c_char, CString};
use std::sync::Mutex;

use napi_derive::napi;

/// openlog(3) keeps the ident pointer: the string lives here until the next open.
static IDENT: Mutex<Option<CString>> = Mutex::new(None);

fn facility(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "user" => libc::LOG_USER,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    })
}

/// Opens the system log with `ident` and `facility` (a `syslog-facility` name). Returns
/// null, or why it cannot.
#[napi]
pub fn syslog_open(ident: String, facility_name: String) -> Option<String> {
    let Some(fac) = facility(&facility_name) else {
        return Some(format!("unknown syslog facility '{facility_name}'"));
    };
    let Ok(ident) = CString::new(ident) else {
        return Some("syslog-ident contains a NUL byte".into());
    };
    let mut kept = IDENT.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: `ident` is a valid C string that stays alive in IDENT after this call.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY | libc::LOG_NOWAIT, fac) };
    *kept = Some(ident);
    None
}

/// Sends one line at a Valkey level ("debug", "verbose", "notice", "warning").
#[napi]
pub fn syslog_write(level: String, message: String) {
    let priority = match level.as_str() {
        "debug" => libc::LOG_DEBUG,
        "verbose" => libc::LOG_INFO,
        "notice" => libc::LOG_NOTICE,
        _ => libc::LOG_WARNING,
    };
    let Ok(msg) = CString::new(message.replace('\0', "")) else {
        return;
    };
    const FORMAT: &[u8] = b"%s\0";
    // SAFETY: a constant "%s" format with one valid C string argument.
    unsafe { libc::syslog(priority, FORMAT.as_ptr().cast::<c_char>(), msg.as_ptr()) };
}
