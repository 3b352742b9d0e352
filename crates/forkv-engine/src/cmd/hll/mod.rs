//! HyperLogLog commands (Valkey `hyperloglog.c`): PFADD, PFCOUNT, PFMERGE, PFDEBUG,
//! PFSELFTEST. The values are plain strings in Valkey's format ([`sketch`]), so GET,
//! DUMP/RESTORE, RDB and AOF carry them unchanged between forkv, Valkey and Redis.

pub mod sketch;

use std::borrow::Cow;

use forkv_keyspace::{StrValue, Value};

use super::{is, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};
use sketch::{Invalid, CORRUPTED, HDR, NOT_HLL, REGISTERS};

pub const COMMANDS: &[CommandSpec] = &[
    spec("pfadd", -2, WRITE | DENYOOM | FAST, (1, 1, 1), "hyperloglog", "2.8.9", "O(1) to add every element.", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", Core(pfadd)),
    spec("pfcount", -2, READONLY | MAY_REPLICATE, (1, -1, 1), "hyperloglog", "2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", Core(pfcount)),
    spec("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), "hyperloglog", "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.", "Merges one or more HyperLogLog values into a single key.", Core(pfmerge)),
    spec("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), "hyperloglog", "2.8.9", "N/A", "Internal commands for debugging HyperLogLog values.", Core(pfdebug)),
    spec("pfselftest", 1, ADMIN, (0, 0, 0), "hyperloglog", "2.8.9", "N/A", "An internal command for testing HyperLogLog values.", Core(pfselftest)),
];

fn corrupted(_: Invalid) -> CmdError {
    Cow::Borrowed(CORRUPTED)
}

/// Checks a value as Valkey's `isHLLObjectOrReply` does: a string (not int-encoded) with a
/// valid header.
fn check_hll(v: &Value) -> Result<(), CmdError> {
    match v {
        Value::Str(StrValue::Int(_)) => Err(NOT_HLL.into()),
        Value::Str(s) if sketch::is_valid_header(&s.as_bytes()) => Ok(()),
        Value::Str(_) => Err(NOT_HLL.into()),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// Opens an existing HyperLogLog for writing, after checking it.
fn hll_bytes_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Vec<u8>>, CmdError> {
    let db = ctx.db();
    match ctx.ks.lookup_write(db, key) {
        None => Ok(None),
        Some(v) => {
            check_hll(v)?;
            match v {
                Value::Str(s) => Ok(Some(s.make_raw())),
                _ => Err(errors::WRONGTYPE.into()),
            }
        }
    }
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let max_bytes = ctx.cfg.hll_sparse_max_bytes;
    let db = ctx.db();
    let mut updated: u64 = 0;
    let mut failed = false;
    let mut apply = |s: &mut Vec<u8>, updated: &mut u64| {
        for ele in &argv[2..] {
            match sketch::add(s, ele, max_bytes) {
                Ok(true) => *updated += 1,
                Ok(false) => {}
                Err(Invalid) => {
                    failed = true;
                    return;
                }
            }
        }
        if *updated > 0 {
            sketch::invalidate_cache(s);
        }
    };
    match hll_bytes_mut(ctx, argv[1])? {
        Some(s) => {
            apply(s, &mut updated);
            if updated > 0 {
                ctx.ks.touch(db, argv[1], updated);
            }
        }
        None => {
            let mut s = sketch::new_sparse();
            updated = 1;
            apply(&mut s, &mut updated);
            // Storing the new key counts as one change.
            ctx.ks.set(db, argv[1], Value::Str(StrValue::raw(s)), false);
            if updated > 1 {
                ctx.ks.touch(db, argv[1], updated - 1);
            }
        }
    }
    if failed {
        return Err(CORRUPTED.into());
    }
    ctx.reply.int(i64::from(updated > 0));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if argv.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        for key in &argv[1..] {
            let Some(v) = ctx.ks.lookup_read(db, key) else { continue };
            let v = &*v;
            check_hll(v)?;
            if let Value::Str(s) = v {
                sketch::merge_into(&mut max, &s.as_bytes()).map_err(corrupted)?;
            }
        }
        ctx.reply.int(sketch::estimate(&sketch::histogram_raw(&max)) as i64);
        return Ok(());
    }
    let card = match ctx.ks.lookup_read(db, argv[1]).as_deref() {
        None => {
            ctx.reply.int(0);
            return Ok(());
        }
        Some(v) => {
            check_hll(v)?;
            match v {
                Value::Str(s) => {
                    let b = s.as_bytes();
                    match sketch::cached_card(&b) {
                        Some(c) => {
                            ctx.reply.int(c as i64);
                            return Ok(());
                        }
                        None => sketch::count(&b).map_err(corrupted)?,
                    }
                }
                _ => return Err(errors::WRONGTYPE.into()),
            }
        }
    };
    // Caching the cardinality changes the string: it is a write, propagated as Valkey
    // does (the command itself is read-only, so the engine would not log it).
    if let Some(s) = hll_bytes_mut(ctx, argv[1])? {
        sketch::set_cached_card(s, card);
        ctx.ks.touch(db, argv[1], 1);
        ctx.also_propagate(argv);
    }
    ctx.reply.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let max_bytes = ctx.cfg.hll_sparse_max_bytes;
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for key in &argv[1..] {
        let Some(v) = ctx.ks.lookup_read(db, key) else { continue };
        let v = &*v;
        check_hll(v)?;
        if let Value::Str(s) = v {
            let b = s.as_bytes();
            use_dense |= b[4] == sketch::DENSE;
            sketch::merge_into(&mut max, &b).map_err(corrupted)?;
        }
    }
    if ctx.ks.lookup_write(db, argv[1]).is_none() {
        ctx.ks.set(db, argv[1], Value::Str(StrValue::raw(sketch::new_sparse())), false);
    }
    let Some(s) = hll_bytes_mut(ctx, argv[1])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    if use_dense && s[4] == sketch::SPARSE {
        *s = sketch::sparse_to_dense(s).map_err(corrupted)?;
    }
    for (j, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if s[4] == sketch::DENSE {
            sketch::dense_set(&mut s[HDR..], j, m);
        } else {
            // Valkey ignores a corrupted destination here (it was merged above already).
            let _ = sketch::sparse_set(s, j, m, max_bytes);
        }
    }
    sketch::invalidate_cache(s);
    ctx.ks.touch(db, argv[1], 1);
    ctx.reply.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sub = argv[1];
    let Some(s) = hll_bytes_mut(ctx, argv[2])? else {
        return Err("ERR The specified key does not exist".into());
    };
    if is(sub, "getreg") {
        let converted = s[4] == sketch::SPARSE;
        if converted {
            *s = sketch::sparse_to_dense(s).map_err(corrupted)?;
        }
        let regs: Vec<u8> = (0..REGISTERS).map(|i| sketch::dense_get(&s[HDR..], i)).collect();
        if converted {
            ctx.ks.touch(db, argv[2], 1);
        }
        ctx.reply.array(REGISTERS);
        for r in regs {
            ctx.reply.int(i64::from(r));
        }
    } else if is(sub, "decode") {
        if s[4] != sketch::SPARSE {
            return Err("ERR HLL encoding is not sparse".into());
        }
        let text = sketch::decode_sparse(s);
        ctx.reply.bulk(text.as_bytes());
    } else if is(sub, "encoding") {
        let name = if s[4] == sketch::DENSE { "dense" } else { "sparse" };
        ctx.reply.simple(name);
    } else if is(sub, "todense") {
        let converted = s[4] == sketch::SPARSE;
        if converted {
            *s = sketch::sparse_to_dense(s).map_err(corrupted)?;
            ctx.ks.touch(db, argv[2], 1);
        }
        ctx.reply.int(i64::from(converted));
    } else {
        return Err(Cow::Owned(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(sub))));
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let seed = ctx.ks.random();
    selftest(seed, ctx.cfg.hll_sparse_max_bytes).map_err(Cow::Owned)?;
    ctx.reply.ok();
    Ok(())
}

/// PFSELFTEST: register access, then the estimate's error with a dense and a sparse
/// HyperLogLog fed the same 10 million elements (they must agree).
pub fn selftest(seed: u64, max_bytes: usize) -> Result<(), String> {
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64*: any decent generator will do for random register values.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut dense = sketch::sparse_to_dense(&sketch::new_sparse()).map_err(|_| "TESTFAILED init".to_string())?;
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = (next() & 63) as u8;
            *b = r;
            sketch::dense_put(&mut dense[HDR..], i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = sketch::dense_get(&dense[HDR..], i);
            if v != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}"));
            }
        }
    }
    dense[HDR..].fill(0);
    let mut sparse = sketch::new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let base = next();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ base).to_le_bytes();
        let _ = sketch::add(&mut dense, &ele, max_bytes);
        let _ = sketch::add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < (max_bytes / 2) as u64 && sparse[4] != sketch::SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let d = sketch::count(&dense).map_err(|_| "TESTFAILED dense invalid".to_string())?;
        let s = sketch::count(&sparse).map_err(|_| "TESTFAILED sparse invalid".to_string())?;
        if d != s {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - d as i64).unsigned_abs();
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}
