//! BITFIELD and BITFIELD_RO (Valkey `bitops.c`): integers of 1..64 bits (unsigned up to
//! 63, as RESP integers are signed) at arbitrary bit offsets of a string, with WRAP, SAT
//! and FAIL overflow handling. All arguments are parsed before anything is touched.

use std::borrow::Cow;

use super::bitops::{parse_bit_offset, string_for_bit_write, BitTarget};
use super::{is, parse_i64, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};
use forkv_keyspace::Value;

pub const COMMANDS: &[CommandSpec] = &[
    spec("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), "bitmap", "3.2.0", "O(1) for each subcommand specified", "Performs arbitrary bitfield integer operations on strings.", Core(bitfield)),
    spec("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), "bitmap", "6.0.0", "O(1) for each subcommand specified", "Performs arbitrary read-only bitfield integer operations on strings.", Core(bitfield_ro)),
];

/// What happens when a SET or INCRBY does not fit the field.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum OpKind {
    Get,
    Set,
    IncrBy,
}

/// One parsed subcommand.
struct Op {
    kind: OpKind,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Parses `i<1..64>` / `u<1..63>`.
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    const ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(ERR.into()),
    };
    let bits = forkv_keyspace::value::parse_canonical_i64(&arg[1..]).ok_or(Cow::Borrowed(ERR))?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(ERR.into());
    }
    Ok((signed, bits as u32))
}

fn parse_ops(argv: &[&[u8]], max_bytes: usize) -> Result<Vec<Op>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let sub = argv[j];
        let kind = if is(sub, "get") && rem >= 2 {
            OpKind::Get
        } else if is(sub, "set") && rem >= 3 {
            OpKind::Set
        } else if is(sub, "incrby") && rem >= 3 {
            OpKind::IncrBy
        } else if is(sub, "overflow") && rem >= 1 {
            let t = argv[j + 1];
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX.into());
        };
        let (signed, bits) = parse_type(argv[j + 1])?;
        let offset = parse_bit_offset(argv[j + 2], bits, max_bytes)?;
        let value = if kind == OpKind::Get { 0 } else { parse_i64(argv[j + 3])? };
        ops.push(Op { kind, offset, value, overflow, bits, signed });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Ok(ops)
}

fn bitfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], readonly_cmd: bool) -> CmdResult {
    let ops = parse_ops(argv, ctx.cfg.proto_max_bulk_len)?;
    let highest = ops
        .iter()
        .filter(|o| o.kind != OpKind::Get)
        .map(|o| o.offset + u64::from(o.bits) - 1)
        .max();
    let Some(highest) = highest else {
        return reply_gets(ctx, argv[1], &ops);
    };
    if readonly_cmd {
        return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
    }
    let BitTarget { bytes, created, grown } = string_for_bit_write(ctx, argv[1], highest)?;
    let mut results: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let mut changes: u64 = 0;
    for op in &ops {
        match op.kind {
            OpKind::Get => results.push(Some(get_field(bytes, op.offset, op.bits, op.signed))),
            OpKind::Set | OpKind::IncrBy => {
                let r = apply_write(bytes, op);
                if let Some((_, changed)) = r {
                    if grown || changed {
                        changes += 1;
                    }
                }
                results.push(r.map(|(v, _)| v));
            }
        }
    }
    // A created key already counted one change.
    let extra = if created { changes.saturating_sub(1) } else { changes };
    if extra > 0 {
        let db = ctx.db();
        ctx.ks.touch(db, argv[1], extra);
    }
    ctx.reply.array(results.len());
    for r in results {
        match r {
            Some(v) => ctx.reply.int(v),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// Only GETs: reads without creating the key (a missing key reads as zeros).
fn reply_gets(ctx: &mut Ctx<'_>, key: &[u8], ops: &[Op]) -> CmdResult {
    let db = ctx.db();
    let bytes: Vec<u8> = match ctx.ks.lookup_read(db, key).as_deref() {
        None => Vec::new(),
        Some(Value::Str(s)) => s.as_bytes().into_owned(),
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    ctx.reply.array(ops.len());
    for op in ops {
        // Copy the (at most 9) bytes the field spans, zero-padded past the end.
        let first = (op.offset >> 3) as usize;
        let mut buf = [0u8; 9];
        for (i, b) in buf.iter_mut().enumerate() {
            match first.checked_add(i).and_then(|k| bytes.get(k)) {
                Some(v) => *b = *v,
                None => break,
            }
        }
        let v = get_field(&buf, op.offset & 7, op.bits, op.signed);
        ctx.reply.int(v);
    }
    Ok(())
}

/// Executes a SET or INCRBY: `Some((reply, changed))`, or `None` when it overflowed with
/// FAIL (nothing written).
fn apply_write(bytes: &mut [u8], op: &Op) -> Option<(i64, bool)> {
    if op.signed {
        let old = get_signed(bytes, op.offset, op.bits);
        let (new, overflowed, reply_new) = match op.kind {
            OpKind::IncrBy => {
                let (of, lim) = signed_overflow(old, op.value, op.bits, op.overflow);
                (if of { lim } else { old.wrapping_add(op.value) }, of, true)
            }
            _ => {
                let (of, lim) = signed_overflow(op.value, 0, op.bits, op.overflow);
                (if of { lim } else { op.value }, of, false)
            }
        };
        if overflowed && op.overflow == Overflow::Fail {
            return None;
        }
        set_unsigned(bytes, op.offset, op.bits, new as u64);
        Some((if reply_new { new } else { old }, old != new))
    } else {
        let old = get_unsigned(bytes, op.offset, op.bits);
        let (new, overflowed, reply_new) = match op.kind {
            OpKind::IncrBy => {
                let (of, lim) = unsigned_overflow(old, op.value, op.bits, op.overflow);
                (if of { lim } else { old.wrapping_add(op.value as u64) }, of, true)
            }
            _ => {
                let (of, lim) = unsigned_overflow(op.value as u64, 0, op.bits, op.overflow);
                (if of { lim } else { op.value as u64 }, of, false)
            }
        };
        if overflowed && op.overflow == Overflow::Fail {
            return None;
        }
        set_unsigned(bytes, op.offset, op.bits, new);
        Some((if reply_new { new as i64 } else { old as i64 }, old != new))
    }
}

fn get_field(bytes: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    if signed {
        get_signed(bytes, offset, bits)
    } else {
        get_unsigned(bytes, offset, bits) as i64
    }
}

/// Reads `bits` bits big-endian from bit `offset`; bits past the end read as 0.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v: u64 = 0;
    for j in 0..u64::from(bits) {
        let pos = offset + j;
        let bit = bytes.get((pos >> 3) as usize).map_or(0, |b| (b >> (7 - (pos & 7))) & 1);
        v = (v << 1) | u64::from(bit);
    }
    v
}

/// Reads a two's complement field of `bits` bits.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(bytes, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` bits of `value` big-endian at bit `offset` (the bytes exist).
pub fn set_unsigned(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let on = (value >> (bits - 1 - j)) & 1 == 1;
        let pos = offset + u64::from(j);
        if let Some(b) = bytes.get_mut((pos >> 3) as usize) {
            let mask = 1u8 << (7 - (pos & 7));
            if on {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
    }
}

/// Whether `value + incr` leaves an unsigned field of `bits` bits, and the value to
/// store instead under WRAP/SAT (Valkey's `checkUnsignedBitfieldOverflow`).
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max: u64 = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || {
        let mask = if bits >= 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        return (true, if ow == Overflow::Wrap { wrap() } else { max });
    }
    if incr < 0 && incr < minincr {
        return (true, if ow == Overflow::Wrap { wrap() } else { 0 });
    }
    (false, 0)
}

/// Whether `value + incr` leaves a signed field of `bits` bits, and the value to store
/// instead under WRAP/SAT (Valkey's `checkSignedBitfieldOverflow`).
pub fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max: i64 = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        return (true, if ow == Overflow::Wrap { wrap() } else { max });
    }
    if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
        return (true, if ow == Overflow::Wrap { wrap() } else { min });
    }
    (false, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_across_byte_edges() {
        let mut b = vec![0u8; 10];
        set_unsigned(&mut b, 5, 13, 0x1abc);
        assert_eq!(get_unsigned(&b, 5, 13), 0x1abc);
        set_unsigned(&mut b, 3, 64, (-5i64) as u64);
        assert_eq!(get_signed(&b, 3, 64), -5);
        set_unsigned(&mut b, 0, 8, 0xff);
        assert_eq!(get_signed(&b, 0, 8), -1);
    }

    #[test]
    fn overflow_rules_match_valkey() {
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), (true, 0));
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Sat), (true, 255));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), (true, 0));
        assert_eq!(unsigned_overflow(3, -1, 8, Overflow::Sat), (false, 0));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), (true, -128));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), (true, -128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Sat), (true, i64::MAX));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), (true, i64::MIN));
        assert_eq!(signed_overflow(5, 10, 64, Overflow::Fail), (false, 0));
    }
}
