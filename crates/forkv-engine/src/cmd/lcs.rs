//! LCS (Valkey `t_string.c` `lcsCommand`): the longest common subsequence of two string
//! keys, its length, or the matching ranges, by the classic dynamic-programming table.
//! The table's size is checked against `proto-max-bulk-len` before it is allocated.

use std::borrow::Cow;

use forkv_keyspace::Value;

use super::{is, parse_i64, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[spec(
    "lcs",
    -3,
    READONLY,
    (1, 2, 1),
    "string",
    "7.0.0",
    "O(N*M) where N and M are the lengths of s1 and s2, respectively",
    "Finds the longest common substring.",
    Core(lcs),
)];

/// One matching range: positions in the first and second string, inclusive.
#[derive(Debug, PartialEq)]
pub struct Match {
    pub a: (u32, u32),
    pub b: (u32, u32),
}

/// The LCS of `a` and `b`, the length, and the matching ranges from the end backwards
/// (as Valkey emits them), keeping those of at least `minlen` bytes.
pub struct LcsResult {
    pub text: Vec<u8>,
    pub len: u32,
    pub matches: Vec<Match>,
}

fn value_of(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<u8>, CmdError> {
    let db = ctx.db();
    match ctx.ks.lookup_read(db, key).as_deref() {
        None => Ok(Vec::new()),
        Some(Value::Str(s)) => Ok(s.as_bytes().into_owned()),
        Some(_) => Err("ERR The specified keys must contain string values".into()),
    }
}

fn lcs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // Both keys are looked up (and type-checked) before the options are parsed.
    let a = value_of(ctx, argv[1]);
    let b = value_of(ctx, argv[2]);
    let (a, b) = (a?, b?);
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j];
        let more = j + 1 < argv.len();
        if is(opt, "IDX") {
            getidx = true;
        } else if is(opt, "LEN") {
            getlen = true;
        } else if is(opt, "WITHMATCHLEN") {
            withmatchlen = true;
        } else if is(opt, "MINMATCHLEN") && more {
            minlen = parse_i64(argv[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    if getidx && getlen {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    if a.len() >= (u32::MAX - 1) as usize || b.len() >= (u32::MAX - 1) as usize {
        return Err("ERR String too long for LCS".into());
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let bytes = cells.checked_mul(4);
    match bytes {
        Some(n) if n <= ctx.cfg.proto_max_bulk_len as u64 => {}
        Some(_) => return Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into()),
        None => return Err("ERR Insufficient memory, failed allocating transient memory for LCS".into()),
    }
    let r = compute(&a, &b, minlen as u64, getidx || !getlen).map_err(Cow::Borrowed)?;
    if getidx {
        ctx.reply.map(2);
        ctx.reply.bulk(b"matches");
        ctx.reply.array(r.matches.len());
        for m in &r.matches {
            ctx.reply.array(2 + usize::from(withmatchlen));
            ctx.reply.array(2);
            ctx.reply.int(i64::from(m.a.0));
            ctx.reply.int(i64::from(m.a.1));
            ctx.reply.array(2);
            ctx.reply.int(i64::from(m.b.0));
            ctx.reply.int(i64::from(m.b.1));
            if withmatchlen {
                ctx.reply.int(i64::from(m.a.1 - m.a.0 + 1));
            }
        }
        ctx.reply.bulk(b"len");
        ctx.reply.int(i64::from(r.len));
    } else if getlen {
        ctx.reply.int(i64::from(r.len));
    } else {
        ctx.reply.bulk(&r.text);
    }
    Ok(())
}

/// Fills the table and walks it back. The caller has bounded the table's size.
pub fn compute(a: &[u8], b: &[u8], minlen: u64, walk: bool) -> Result<LcsResult, &'static str> {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact((alen + 1) * w)
        .map_err(|_| "ERR Insufficient memory, failed allocating transient memory for LCS")?;
    t.resize((alen + 1) * w, 0);
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let len = t[alen * w + blen];
    let mut text = vec![0u8; if walk { len as usize } else { 0 }];
    let mut matches = Vec::new();
    let mut idx = len as usize;
    let (mut i, mut j) = (alen, blen);
    // `None` while no range is open; else (a_start, a_end, b_start, b_end).
    let mut range: Option<(usize, usize, usize, usize)> = None;
    while walk && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                Some(r) if r.0 == i && r.2 == j => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit = true,
            }
            if let Some(r) = range {
                if r.0 == 0 || r.2 == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = range.take() {
                let mlen = (r.1 - r.0 + 1) as u64;
                if minlen == 0 || mlen >= minlen {
                    matches.push(Match { a: (r.0 as u32, r.1 as u32), b: (r.2 as u32, r.3 as u32) });
                }
            }
        }
    }
    Ok(LcsResult { text, len, matches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_of_the_valkey_example() {
        let r = compute(b"ohmytext", b"mynewtext", 0, true).map_err(|e| e.to_string());
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.text, b"mytext");
        assert_eq!(r.len, 6);
        assert_eq!(r.matches, vec![Match { a: (4, 7), b: (5, 8) }, Match { a: (2, 3), b: (0, 1) }]);
        let r = compute(b"ohmytext", b"mynewtext", 4, true).map_err(|e| e.to_string());
        assert_eq!(r.map(|r| r.matches.len()).ok(), Some(1));
    }
}
