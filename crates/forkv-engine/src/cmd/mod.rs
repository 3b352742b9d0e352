//! Command families, one file each (as Valkey's `t_*.c` and mini-redis's `cmd/`): every
//! file starts with its registration lines, then one handler per command that parses its
//! arguments, applies them to the keyspace and writes the reply.

pub mod bitfield;
pub mod bitops;
pub mod acl;
pub mod blocking;
pub mod cluster;
pub mod coll;
pub mod command;
pub mod command_doc;
mod command_docs;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod function;
pub mod host;
pub mod geo;
pub mod geohash;
pub mod replication;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod latency_histogram;
pub mod lcs;
pub mod list;
pub mod lolwut;
pub mod memory;
pub mod migrate;
pub mod module;
pub mod multi;
pub mod pubsub;
pub mod script;
pub mod script_debug;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use std::borrow::Cow;

use forkv_keyspace::Keyspace;

use crate::client::Client;
use crate::errors;
use crate::propagate::Propagator;
use crate::reply::Reply;

/// What a handler sees: the keyspace, the calling client, its reply stream, the
/// command log for the AOF and the server log.
pub struct Ctx<'a> {
    pub ks: &'a mut Keyspace,
    pub client: &'a mut Client,
    pub reply: Reply<'a>,
    pub cfg: &'a crate::EngineConfig,
    pub prop: &'a mut Propagator,
    /// Server-wide DEBUG toggles.
    pub debug: &'a mut crate::debug_flags::DebugFlags,
    /// Lines for the server log.
    pub logs: &'a mut crate::log::LogQueue,
    /// MIGRATE's cached connections to target servers.
    pub migrate: &'a mut crate::migrate::MigrateSockets,
    /// The users and their permissions (read-only: SORT's BY and GET need them).
    pub acl: &'a crate::acl::Acl,
}

/// A handler's error: the reply to send (without `-` and CRLF).
pub type CmdError = Cow<'static, str>;
/// What a handler returns; `Err` is written as an error reply by the engine.
pub type CmdResult = Result<(), CmdError>;
/// A command implementation.
pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> CmdResult;

impl Ctx<'_> {
    /// The client's selected database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Logs a command other than the one executing (or instead of it, after
    /// [`Ctx::suppress_propagation`]) to the AOF, in the client's database.
    pub fn also_propagate(&mut self, argv: &[&[u8]]) {
        self.prop.log(self.client.db, argv);
    }

    /// Raises a keyspace event of `class` on `key` in the client's database.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.ks.notify.raise(class, event, self.client.db, key);
    }

    /// Do not log the executing command itself (a handler that logs its effect instead).
    pub fn suppress_propagation(&mut self) {
        self.prop.suppress_current = true;
    }

    /// Deletes `key` because a command gave it an expiry already in the past (EXPIRE,
    /// SET, GETEX), and logs that deletion instead of the command: UNLINK under
    /// `lazyfree-lazy-expire yes`, else DEL (Valkey's
    /// `deleteExpiredKeyFromOverwriteAndPropagate`). Returns whether the key existed.
    pub fn delete_expired_by_command(&mut self, key: &[u8]) -> bool {
        let db = self.db();
        self.suppress_propagation();
        let lazy = self.ks.lazyfree.expire;
        if !self.ks.delete_freeing(db, key, lazy) {
            return false;
        }
        self.notify(forkv_keyspace::notify::GENERIC, "del", key);
        let cmd: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.also_propagate(&[cmd, key]);
        true
    }

    /// Logs the deletion of `key` that the server decided on (RESTORE with a past TTL,
    /// SPOP of the whole set): UNLINK under `lazyfree-lazy-server-del yes`, else DEL.
    pub fn propagate_server_del(&mut self, key: &[u8]) {
        let cmd: &[u8] = if self.ks.lazyfree.server_del { b"UNLINK" } else { b"DEL" };
        self.also_propagate(&[cmd, key]);
    }
}

/// ASCII case-insensitive comparison of an argument with an option name.
pub fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Parses an integer argument strictly (Valkey's `string2ll`).
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    forkv_keyspace::value::parse_canonical_i64(arg).ok_or(Cow::Borrowed(errors::NOT_INT))
}

/// Parses a non-negative integer argument with a specific error message.
pub fn parse_i64_with(arg: &[u8], err: &'static str) -> Result<i64, CmdError> {
    forkv_keyspace::value::parse_canonical_i64(arg).ok_or(Cow::Borrowed(err))
}

/// Parses a float argument like Valkey's `string2ld`/`strtod`: decimal or exponent forms,
/// C99 hexadecimal floats (`0x1.8p1`), `inf`/`-inf`/`+inf`; no spaces, no NaN.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_whitespace()) || s.ends_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            let unsigned = lower.trim_start_matches(['+', '-']);
            if let Some(hex) = unsigned.strip_prefix("0x") {
                if lower.len() - unsigned.len() > 1 {
                    return None;
                }
                let v = parse_hex_float(hex)?;
                if lower.starts_with('-') {
                    -v
                } else {
                    v
                }
            } else {
                if lower.contains("inf") || lower.contains("nan") {
                    return None;
                }
                lower.parse::<f64>().ok()?
            }
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// The value of a C99 hexadecimal float after its `0x`: hex digits with an optional
/// point, then an optional binary exponent `p[+-]digits`. `None` when malformed, and when
/// the value overflows or underflows to zero (`strtod` sets ERANGE, which Valkey refuses).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (digits, exp) = match s.find('p') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut mantissa = 0u64;
    let mut scale: i64 = 0; // binary exponent adjustment for digits kept or dropped
    for (c, fractional) in int.chars().map(|c| (c, false)).chain(frac.chars().map(|c| (c, true))) {
        let d = u64::from(c.to_digit(16)?);
        if mantissa >> 60 == 0 {
            mantissa = mantissa * 16 + d;
            if fractional {
                scale -= 4;
            }
        } else if !fractional {
            // Past 60 bits the digit only scales the value (its bits are below precision).
            scale += 4;
        }
    }
    let exp: i64 = match exp {
        Some(e) => {
            let digits = e.trim_start_matches(['+', '-']);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || e.len() - digits.len() > 1 {
                return None;
            }
            // Clamp: anything this far out over- or underflows anyway.
            let n = digits.parse::<i64>().unwrap_or(i64::MAX).min(100_000);
            if e.starts_with('-') {
                -n
            } else {
                n
            }
        }
        None => 0,
    };
    if mantissa == 0 {
        return Some(0.0);
    }
    let e = i32::try_from((exp + scale).clamp(-200_000, 200_000)).ok()?;
    // Scale in two steps so an intermediate power of two does not overflow early.
    let half = e / 2;
    let v = mantissa as f64 * 2f64.powi(half) * 2f64.powi(e - half);
    (v.is_finite() && v != 0.0).then_some(v)
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch, from the system clock.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Turns an owned error string into a handler error.
pub fn err(msg: String) -> CmdError {
    Cow::Owned(msg)
}

#[cfg(test)]
mod float_tests {
    use super::parse_f64;

    #[test]
    fn hex_floats_parse_as_strtod_does() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0x1p4"), Some(16.0));
        assert_eq!(parse_f64(b"0x.8"), Some(0.5));
        assert_eq!(parse_f64(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_f64(b"-0X1P-2"), Some(-0.25));
        assert_eq!(parse_f64(b"0x7FFFFFFFFFFFFF"), Some(36028797018963967.0));
        assert_eq!(parse_f64(b"0x0"), Some(0.0));
        for bad in [&b"0x"[..], b"0x.", b"0xg", b"0x1p", b"0x1p+", b"--0x1", b"0x1p99999", b"0x1p-99999", b"0x1 "] {
            assert_eq!(parse_f64(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"nan"), None);
    }
}
