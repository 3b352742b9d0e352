//! Bitmap commands over string values (Valkey `bitops.c`): SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP. BITFIELD lives in [`super::bitfield`].
//!
//! Bits are numbered from the most significant bit of the first byte, as Valkey numbers
//! them. Offsets from clients are bounded by `proto-max-bulk-len` before any string grows.

use std::borrow::Cow;

use forkv_keyspace::{StrValue, Value};

use super::{is, parse_i64, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[
    spec("setbit", 4, WRITE | DENYOOM, (1, 1, 1), "bitmap", "2.2.0", "O(1)", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", Core(setbit)),
    spec("getbit", 3, READONLY | FAST, (1, 1, 1), "bitmap", "2.2.0", "O(1)", "Returns a bit value by offset.", Core(getbit)),
    spec("bitcount", -2, READONLY, (1, 1, 1), "bitmap", "2.6.0", "O(N)", "Counts the number of set bits (population counting) in a string.", Core(bitcount)),
    spec("bitpos", -3, READONLY, (1, 1, 1), "bitmap", "2.8.7", "O(N)", "Finds the first set (1) or clear (0) bit in a string.", Core(bitpos)),
    spec("bitop", -4, WRITE | DENYOOM, (2, -1, 1), "bitmap", "2.6.0", "O(N)", "Performs bitwise operations on multiple strings, and stores the result.", Core(bitop)),
];

/// Error for a bad bit offset (Valkey's `getBitOffsetFromArgument`).
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Parses a bit offset: a non-negative integer whose byte (`offset >> 3`) is below
/// `proto-max-bulk-len`. With `hash_bits > 0` the `#n` form means `n * hash_bits`
/// (BITFIELD's field-index offsets).
pub fn parse_bit_offset(arg: &[u8], hash_bits: u32, max_bytes: usize) -> Result<u64, CmdError> {
    let (usehash, digits) = match arg {
        [b'#', rest @ ..] if hash_bits > 0 => (true, rest),
        _ => (false, arg),
    };
    let mut off = forkv_keyspace::value::parse_canonical_i64(digits).ok_or(Cow::Borrowed(BIT_OFFSET))?;
    if usehash {
        off = off.checked_mul(i64::from(hash_bits)).ok_or(Cow::Borrowed(BIT_OFFSET))?;
    }
    if off < 0 || (off >> 3) as u64 >= max_bytes as u64 {
        return Err(BIT_OFFSET.into());
    }
    Ok(off as u64)
}

/// Opens a string key for a bit write, creating it or zero-padding it so that bit
/// `maxbit` exists (Valkey's `lookupStringForBitCommand`). The caller has bounded
/// `maxbit`. A created key has already been counted as one change.
pub fn string_for_bit_write<'a>(ctx: &'a mut Ctx<'_>, key: &[u8], maxbit: u64) -> Result<BitTarget<'a>, CmdError> {
    let db = ctx.db();
    let need = (maxbit >> 3) as usize + 1;
    let (created, grown) = match ctx.ks.lookup_write(db, key) {
        None => {
            ctx.ks.set(db, key, Value::Str(StrValue::raw(vec![0u8; need])), false);
            (true, true)
        }
        Some(Value::Str(s)) => {
            let raw = s.make_raw();
            if raw.len() < need {
                raw.resize(need, 0);
                (false, true)
            } else {
                (false, false)
            }
        }
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    match ctx.ks.lookup_write(db, key) {
        Some(Value::Str(s)) => Ok(BitTarget { bytes: s.make_raw(), created, grown }),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// A string opened for a bit write.
pub struct BitTarget<'a> {
    pub bytes: &'a mut Vec<u8>,
    /// The key did not exist (its creation is already counted as a change).
    pub created: bool,
    /// The key was created or zero-padded.
    pub grown: bool,
}

/// Reads a string key's bytes for a bit read: `Ok(None)` when absent.
pub fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let db = ctx.db();
    match ctx.ks.lookup_read(db, key).as_deref() {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.as_bytes().into_owned())),
        Some(_) => Err(errors::WRONGTYPE.into()),
    }
}

fn setbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    const BIT_ERR: &str = "ERR bit is not an integer or out of range";
    let offset = parse_bit_offset(argv[2], 0, ctx.cfg.proto_max_bulk_len)?;
    let on = forkv_keyspace::value::parse_canonical_i64(argv[3]).ok_or(Cow::Borrowed(BIT_ERR))?;
    if on & !1 != 0 {
        return Err(BIT_ERR.into());
    }
    let t = string_for_bit_write(ctx, argv[1], offset)?;
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u32;
    let old = (t.bytes[byte] >> shift) & 1;
    let changed = t.grown || i64::from(old) != on;
    if changed {
        t.bytes[byte] = (t.bytes[byte] & !(1 << shift)) | ((on as u8) << shift);
    }
    if changed && !t.created {
        let db = ctx.db();
        ctx.ks.touch(db, argv[1], 1);
    }
    ctx.reply.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = parse_bit_offset(argv[2], 0, ctx.cfg.proto_max_bulk_len)?;
    let db = ctx.db();
    let bit = match ctx.ks.lookup_read(db, argv[1]).as_deref() {
        None => 0,
        Some(Value::Str(s)) => {
            let bytes = s.as_bytes();
            let byte = (offset >> 3) as usize;
            bytes.get(byte).map_or(0, |b| (b >> (7 - (offset & 7))) & 1)
        }
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    ctx.reply.int(i64::from(bit));
    Ok(())
}

/// A BITCOUNT/BITPOS range resolved against a string: inclusive byte bounds plus, in BIT
/// mode, masks of the bits outside the range in the first and last byte.
struct Span {
    start: i64,
    end: i64,
    /// Bits of the first byte before the range (BIT mode), else 0.
    first_out: u8,
    /// Bits of the last byte after the range (BIT mode), else 0.
    last_out: u8,
}

/// Parses the optional `BYTE|BIT` unit argument.
fn parse_unit(arg: Option<&&[u8]>) -> Result<bool, CmdError> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "bit") => Ok(true),
        Some(a) if is(a, "byte") => Ok(false),
        Some(_) => Err(errors::SYNTAX.into()),
    }
}

/// Resolves `start`/`end` (negative from the end) against a string of `len` bytes, in
/// bits when `isbit`, as Valkey's bitcount/bitpos do.
fn resolve_span(mut start: i64, mut end: i64, len: i64, isbit: bool) -> Span {
    let total = if isbit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_out, mut last_out) = (0u8, 0u8);
    if isbit && start <= end {
        first_out = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_out = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Span { start, end, first_out, last_out }
}

fn bitcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 5 {
        return Err(errors::SYNTAX.into());
    }
    let mut range = None;
    if argv.len() >= 3 {
        let start = parse_i64(argv[2])?;
        let isbit = parse_unit(argv.get(4))?;
        let end = argv.get(3).map(|a| parse_i64(a)).transpose()?;
        range = Some((start, end, isbit));
    }
    let Some(bytes) = read_string(ctx, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let len = bytes.len() as i64;
    let span = match range {
        None => Span { start: 0, end: len - 1, first_out: 0, last_out: 0 },
        Some((start, end, isbit)) => {
            let end = end.unwrap_or(len - 1);
            if start < 0 && end < 0 && start > end {
                ctx.reply.int(0);
                return Ok(());
            }
            resolve_span(start, end, len, isbit)
        }
    };
    if span.start > span.end {
        ctx.reply.int(0);
        return Ok(());
    }
    let (s, e) = (span.start as usize, span.end as usize);
    let mut count: i64 = bytes[s..=e].iter().map(|b| i64::from(b.count_ones())).sum();
    count -= i64::from((bytes[s] & span.first_out).count_ones());
    count -= i64::from((bytes[e] & span.last_out).count_ones());
    ctx.reply.int(count);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let bit = parse_i64(argv[2])?;
    if bit != 0 && bit != 1 {
        return Err("ERR The bit argument must be 1 or 0.".into());
    }
    if argv.len() > 6 {
        return Err(errors::SYNTAX.into());
    }
    let mut range = None;
    if argv.len() >= 4 {
        let start = parse_i64(argv[3])?;
        let isbit = parse_unit(argv.get(5))?;
        let end = argv.get(4).map(|a| parse_i64(a)).transpose()?;
        range = Some((start, end, isbit));
    }
    let end_given = argv.len() >= 5;
    let Some(bytes) = read_string(ctx, argv[1])? else {
        ctx.reply.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    let len = bytes.len() as i64;
    let span = match range {
        None => Span { start: 0, end: len - 1, first_out: 0, last_out: 0 },
        Some((start, end, isbit)) => resolve_span(start, end.unwrap_or(len - 1), len, isbit),
    };
    if span.start > span.end {
        ctx.reply.int(-1);
        return Ok(());
    }
    ctx.reply.int(find_bit(&bytes, &span, bit == 1, end_given));
    Ok(())
}

/// The first bit equal to `want` within the span. When none: -1, except for a search of
/// clear bits without an explicit end, where the string counts as zero-padded and the
/// answer is the first bit after it.
fn find_bit(bytes: &[u8], span: &Span, want: bool, end_given: bool) -> i64 {
    let (s, e) = (span.start as usize, span.end as usize);
    for (i, &raw) in bytes[s..=e].iter().enumerate() {
        let idx = s + i;
        // Bits outside the range are forced to the value not searched for.
        let mut outside = 0u8;
        if idx == s {
            outside |= span.first_out;
        }
        if idx == e {
            outside |= span.last_out;
        }
        let b = if want { raw & !outside } else { raw | outside };
        let hit = if want { b } else { !b };
        if hit != 0 {
            return (idx as i64) * 8 + i64::from(hit.leading_zeros());
        }
    }
    if want || end_given {
        -1
    } else {
        (span.end + 1) * 8
    }
}

/// A BITOP operation.
#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let op = match argv[1] {
        a if is(a, "and") => BitOp::And,
        a if is(a, "or") => BitOp::Or,
        a if is(a, "xor") => BitOp::Xor,
        a if is(a, "not") => BitOp::Not,
        _ => return Err(errors::SYNTAX.into()),
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        sources.push(read_string(ctx, key)?.unwrap_or_default());
    }
    let maxlen = sources.iter().map(Vec::len).max().unwrap_or(0);
    let db = ctx.db();
    if maxlen == 0 {
        if ctx.ks.delete(db, argv[2]) {
            ctx.notify(forkv_keyspace::notify::GENERIC, "del", argv[2]);
        }
        ctx.reply.int(0);
        return Ok(());
    }
    let mut res = vec![0u8; maxlen];
    for (j, out) in res.iter_mut().enumerate() {
        let byte_of = |src: &Vec<u8>| src.get(j).copied().unwrap_or(0);
        let mut acc = byte_of(&sources[0]);
        match op {
            BitOp::Not => acc = !acc,
            BitOp::And => sources[1..].iter().for_each(|s| acc &= byte_of(s)),
            BitOp::Or => sources[1..].iter().for_each(|s| acc |= byte_of(s)),
            BitOp::Xor => sources[1..].iter().for_each(|s| acc ^= byte_of(s)),
        }
        *out = acc;
    }
    ctx.ks.set(db, argv[2], Value::Str(StrValue::raw(res)), false);
    ctx.notify(forkv_keyspace::notify::STRING, "set", argv[2]);
    ctx.reply.int(maxlen as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_offsets_are_bounded() {
        assert_eq!(parse_bit_offset(b"0", 0, 8).ok(), Some(0));
        assert_eq!(parse_bit_offset(b"63", 0, 8).ok(), Some(63));
        assert!(parse_bit_offset(b"64", 0, 8).is_err());
        assert!(parse_bit_offset(b"-1", 0, 8).is_err());
        assert!(parse_bit_offset(b"#2", 0, 8).is_err());
        assert_eq!(parse_bit_offset(b"#2", 8, 8).ok(), Some(16));
        assert!(parse_bit_offset(b"#9223372036854775807", 64, usize::MAX).is_err());
    }

    #[test]
    fn spans_in_bits_mask_the_edges() {
        let s = resolve_span(3, 12, 2, true);
        assert_eq!((s.start, s.end, s.first_out, s.last_out), (0, 1, 0b1110_0000, 0b0000_0111));
        let s = resolve_span(-1, -1, 3, false);
        assert_eq!((s.start, s.end), (2, 2));
    }

    #[test]
    fn find_bit_pads_with_zeros_only_without_end() {
        let all = Span { start: 0, end: 0, first_out: 0, last_out: 0 };
        assert_eq!(find_bit(&[0xff], &all, false, false), 8);
        assert_eq!(find_bit(&[0xff], &all, false, true), -1);
        assert_eq!(find_bit(&[0x10], &all, true, false), 3);
    }
}
