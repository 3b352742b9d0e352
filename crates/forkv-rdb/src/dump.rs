//! DUMP / RESTORE payloads.
//!
//! A payload is one value as it appears in an RDB file, framed without magic or key:
//!
//! ```text
//! <type byte> <value> <RDB version: u16 little-endian> <CRC-64 of all before: u64 LE>
//! ```
//!
//! (Valkey `createDumpPayload` / `verifyDumpPayload`.) A loader refuses a payload whose
//! version it does not know or whose checksum is wrong, with the error
//! "DUMP payload version or checksum are wrong"; a payload that passes that check but
//! does not parse is "Bad data format" in RESTORE's reply.

use forkv_keyspace::{EncodingLimits, Value};

use crate::consts::*;
use crate::crc64;
use crate::error::{RdbError, RdbErrorKind};
use crate::object::{read_object, Scratch};
use crate::sink::Sink;
use crate::source::Source;
use crate::writer::{value_type_for, ValueWriter};

/// Length of the footer: version (2) + CRC (8).
const FOOTER: usize = 10;

/// The footer version of DUMP payloads: 10, the version of Redis 7.0, so that Redis 7.0
/// and every Valkey RESTORE them. The value is in the form Valkey 8 gives it (quicklist-2
/// lists, listpack hashes and sorted sets, intsets: the same bytes after the type byte),
/// except the two forms Redis 7.0 cannot read: a listpack set is a plain set (type 2)
/// and a stream is type 19 (no consumer active times). Valkey 8's footer says 11.
pub const DUMP_VERSION: u16 = 10;

/// The DUMP payload of `v` ([`DUMP_VERSION`], LZF compression on, as a server with
/// default settings produces).
pub fn dump_payload(v: &Value) -> Vec<u8> {
    dump_payload_for(v, forkv_keyspace::types::DEFAULT_PACKED_THRESHOLD)
}

/// [`dump_payload`] with list elements of at least `packed_threshold` bytes in plain
/// quicklist nodes (DEBUG QUICKLIST-PACKED-THRESHOLD).
pub fn dump_payload_for(v: &Value, packed_threshold: usize) -> Vec<u8> {
    dump_payload_in(v, DUMP_VERSION, true, packed_threshold)
}

/// [`dump_payload_for`] with LZF compression on or off (`rdbcompression`).
pub fn dump_payload_compressed(v: &Value, packed_threshold: usize, compression: bool) -> Vec<u8> {
    dump_payload_in(v, DUMP_VERSION, compression, packed_threshold)
}

/// The DUMP payload of `v` with an explicit footer version (which picks the forms, see
/// [`crate::writer::value_type_for`]) and compression setting.
pub fn dump_payload_with(v: &Value, version: u16, compression: bool) -> Vec<u8> {
    dump_payload_in(v, version, compression, forkv_keyspace::types::DEFAULT_PACKED_THRESHOLD)
}

fn dump_payload_in(v: &Value, version: u16, compression: bool, packed_threshold: usize) -> Vec<u8> {
    let mut out = Vec::new();
    // Streams need version 10 at least.
    let version = version.max(crate::writer::min_version_for(v) as u16);
    let t = value_type_for(v, u32::from(version));
    out.push(t);
    let mut w = ValueWriter::new(Sink::new(&mut out, false, 1024), compression);
    w.packed_threshold = packed_threshold;
    // Writing into a Vec cannot fail.
    let _ = w.value(v, t).and_then(|()| w.sink.finish(&[]));
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// How RESTORE parses a payload.
#[derive(Debug, Clone, Copy)]
pub struct DumpOptions {
    /// Check the CRC-64 in the footer (off after `DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`;
    /// the version is checked either way, as in Valkey's `verifyDumpPayload`).
    pub verify_checksum: bool,
    /// The thresholds the value is built under (the keyspace's configured ones).
    pub limits: EncodingLimits,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions { verify_checksum: true, limits: EncodingLimits::default() }
    }
}

/// Parses a DUMP payload (from this crate, Redis or Valkey) into a value, with the
/// default [`DumpOptions`].
pub fn parse_dump_payload(payload: &[u8]) -> Result<Value, RdbError> {
    parse_dump_payload_with(payload, &DumpOptions::default())
}

/// Parses a DUMP payload into a value.
///
/// Errors: [`RdbErrorKind::DumpVersionOrChecksum`] for a short payload, an unknown
/// version or a wrong CRC; any other kind means the body is malformed ("Bad data
/// format"). An empty collection is malformed too (RESTORE cannot create an empty key).
/// Every payload is validated deeply (each compact blob is walked entry by entry while
/// the value is rebuilt), whatever `sanitize-dump-payload` says.
pub fn parse_dump_payload_with(payload: &[u8], opts: &DumpOptions) -> Result<Value, RdbError> {
    let footer_wrong = || RdbError::new(0, RdbErrorKind::DumpVersionOrChecksum);
    let body_len = payload.len().checked_sub(FOOTER).ok_or_else(footer_wrong)?;
    let (body, footer) = payload.split_at(body_len);
    let version = u32::from(u16::from_le_bytes([footer[0], footer[1]]));
    let known = (1..=RDB_VERSION_MAX_REDIS).contains(&version)
        || (RDB_VERSION_VALKEY_MIN..=RDB_VERSION_VALKEY_MAX).contains(&version);
    if !known {
        return Err(footer_wrong());
    }
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&footer[2..]);
    if opts.verify_checksum && crc64::crc64(&payload[..body_len + 2]) != u64::from_le_bytes(stored) {
        return Err(footer_wrong());
    }

    let mut src = Source::new(body);
    let t = src.byte()?;
    let mut scratch = Scratch::with_limits(opts.limits);
    let value = read_object(t, &mut src, &mut scratch)?
        .ok_or_else(|| src.corrupt("empty collection in DUMP payload"))?;
    if !src.at_end()? {
        return Err(src.corrupt("trailing bytes after the value in DUMP payload"));
    }
    Ok(value)
}

/// The footer version of FUNCTION DUMP payloads: 10, the first with
/// `RDB_OPCODE_FUNCTION2`, so that Redis 7.0 and every Valkey restore them.
pub const FUNCTION_DUMP_VERSION: u16 = 10;

/// The FUNCTION DUMP payload of libraries given by their codes (Valkey's
/// `functionDumpCommand`): per library `RDB_OPCODE_FUNCTION2` and its code as an RDB
/// string, then the footer a key's DUMP has.
pub fn function_dump_payload(codes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ValueWriter::new(Sink::new(&mut out, false, 1024), true);
    // Writing into a Vec cannot fail.
    let _ = codes
        .iter()
        .try_for_each(|code| w.sink.byte(RDB_OPCODE_FUNCTION2).and_then(|()| w.raw_string(code)))
        .and_then(|()| w.sink.finish(&[]));
    out.extend_from_slice(&FUNCTION_DUMP_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a FUNCTION RESTORE payload. Errors are Valkey's replies without
/// the `ERR ` code.
pub fn parse_function_dump_payload(payload: &[u8], verify_checksum: bool) -> Result<Vec<Vec<u8>>, String> {
    const WRONG: &str = "DUMP payload version or checksum are wrong";
    let body_len = payload.len().checked_sub(FOOTER).ok_or(WRONG)?;
    let (body, footer) = payload.split_at(body_len);
    let version = u32::from(u16::from_le_bytes([footer[0], footer[1]]));
    let known = (1..=RDB_VERSION_MAX_REDIS).contains(&version)
        || (RDB_VERSION_VALKEY_MIN..=RDB_VERSION_VALKEY_MAX).contains(&version);
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&footer[2..]);
    if !known || (verify_checksum && crc64::crc64(&payload[..body_len + 2]) != u64::from_le_bytes(stored)) {
        return Err(WRONG.into());
    }
    let mut src = Source::new(body);
    let mut scratch = Vec::new();
    let mut codes = Vec::new();
    while !src.at_end().map_err(|_| "can not read data type")? {
        match src.byte().map_err(|_| "can not read data type")? {
            RDB_OPCODE_FUNCTION2 => {}
            RDB_OPCODE_FUNCTION_PRE_GA => return Err("Pre-GA function format not supported".into()),
            _ => return Err("given type is not a function".into()),
        }
        let code = crate::object::read_string(&mut src, &mut scratch).map_err(|_| "Failed loading library payload")?;
        codes.push(code);
    }
    Ok(codes)
}

#[cfg(test)]
mod function_tests {
    use super::*;

    /// `FUNCTION DUMP` of valkey-server 8.0.1 with one library (LZF-free, short code).
    const VALKEY_801: &[u8] = b"\xf5\x3f#!lua name=lib2 \nserver.register_function('f1', function() end)\x0b\x00\x42\x1c\xbb\xaa\xe2\x12\xbd\xf3";

    #[test]
    fn function_payloads_round_trip_and_read_valkeys() {
        assert_eq!(
            parse_function_dump_payload(VALKEY_801, true),
            Ok(vec![b"#!lua name=lib2 \nserver.register_function('f1', function() end)".to_vec()])
        );
        let codes = vec![b"#!lua name=a\n".repeat(10), b"#!lua name=b\nx".to_vec()];
        let p = function_dump_payload(&codes);
        assert_eq!(p[0], RDB_OPCODE_FUNCTION2);
        assert_eq!(parse_function_dump_payload(&p, true), Ok(codes));
        assert_eq!(parse_function_dump_payload(&function_dump_payload(&[]), true), Ok(vec![]));
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(parse_function_dump_payload(&bad, true).err().as_deref(), Some("DUMP payload version or checksum are wrong"));
        assert_eq!(parse_function_dump_payload(b"bad_payload", true).err().as_deref(), Some("DUMP payload version or checksum are wrong"));
        let key = dump_payload(&forkv_keyspace::Value::Str(forkv_keyspace::StrValue::from_bytes(b"v")));
        assert_eq!(parse_function_dump_payload(&key, true).err().as_deref(), Some("given type is not a function"));
    }
}
