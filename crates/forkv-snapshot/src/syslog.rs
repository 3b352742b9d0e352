//! `syslog-enabled yes`: every log line also goes to the system logger through the C
//! library's syslog(3), opened with `syslog-ident` and `syslog-facility` (LOG_PID,
//! LOG_NDELAY, LOG_NOWAIT), levels mapped as Valkey maps them (debug, info, notice,
//! warning). The C library writes to `/dev/log`, which Node itself cannot (it has no
//! unix datagram sockets); the binding only carries these two calls across.

use std::ffi::{c_char, c_int, CString};
use std::sync::Mutex;

/// openlog(3) keeps the ident pointer: the string lives here until the next open.
static IDENT: Mutex<Option<CString>> = Mutex::new(None);

/// The facility of a `syslog-facility` name, or None for a name Valkey does not accept.
pub fn facility(name: &str) -> Option<c_int> {
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

/// The syslog priority of a Valkey level name ("debug", "verbose", "notice", "warning"),
/// as Valkey's `syslogLevelMap`: verbose is LOG_INFO, anything else LOG_WARNING.
pub fn priority(level: &str) -> c_int {
    match level {
        "debug" => libc::LOG_DEBUG,
        "verbose" => libc::LOG_INFO,
        "notice" => libc::LOG_NOTICE,
        _ => libc::LOG_WARNING,
    }
}

/// Opens the system log with `ident` and the facility named `facility_name`; the error
/// says why it cannot.
pub fn open(ident: &str, facility_name: &str) -> Result<(), String> {
    let fac = facility(facility_name).ok_or_else(|| format!("unknown syslog facility '{facility_name}'"))?;
    let ident = CString::new(ident).map_err(|_| "syslog-ident contains a NUL byte".to_string())?;
    let mut kept = IDENT.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: `ident` is a valid C string that stays alive in IDENT after this call.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY | libc::LOG_NOWAIT, fac) };
    *kept = Some(ident);
    Ok(())
}

/// Sends one line at a Valkey level (NUL bytes in it are dropped).
pub fn write(level: &str, message: &str) {
    let Ok(msg) = CString::new(message.replace('\0', "")) else {
        return;
    };
    const FORMAT: &[u8] = b"%s\0";
    // SAFETY: a constant "%s" format with one valid C string argument.
    unsafe { libc::syslog(priority(level), FORMAT.as_ptr().cast::<c_char>(), msg.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_and_levels_map_as_valkeys() {
        assert_eq!(facility("user"), Some(libc::LOG_USER));
        assert_eq!(facility("local0"), Some(libc::LOG_LOCAL0));
        assert_eq!(facility("local7"), Some(libc::LOG_LOCAL7));
        assert_eq!(facility("daemon"), None, "Valkey accepts user and local0-7 only");
        assert_eq!(priority("debug"), libc::LOG_DEBUG);
        assert_eq!(priority("verbose"), libc::LOG_INFO);
        assert_eq!(priority("notice"), libc::LOG_NOTICE);
        assert_eq!(priority("warning"), libc::LOG_WARNING);
    }

    #[test]
    fn a_bad_facility_or_ident_is_refused_before_opening() {
        assert_eq!(open("forkv", "local9"), Err("unknown syslog facility 'local9'".into()));
        assert_eq!(open("for\0kv", "user"), Err("syslog-ident contains a NUL byte".into()));
        assert!(IDENT.lock().unwrap_or_else(|p| p.into_inner()).is_none(), "nothing was opened");
    }
}
