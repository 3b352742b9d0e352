//! Helpers shared by the collection families (list, hash, set, zset): typed key lookup
//! with WRONGTYPE, the write bookkeeping that keeps `dirty` exact, Valkey's integer
//! argument parsers with their exact error wording, random numbers, and SCAN replies.

use std::borrow::Cow;

use forkv_keyspace::{HashValue, Keyspace, ListValue, SetValue, StreamValue, VRef, Value, ZSetValue};

use super::{is, CmdError, Ctx};
use crate::errors;

/// A collection type stored in a [`Value`] variant.
pub trait Coll: Sized {
    /// The variant's payload, if `v` holds this type.
    fn of(v: &Value) -> Option<&Self>;
    /// Mutable access to the payload.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    /// Wraps a payload into a value.
    fn wrap(self) -> Value;
}

macro_rules! coll {
    ($t:ty, $variant:ident) => {
        impl Coll for $t {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn wrap(self) -> Value {
                Value::$variant(Box::new(self))
            }
        }
    };
}

coll!(ListValue, List);
coll!(HashValue, Hash);
coll!(SetValue, Set);
coll!(ZSetValue, ZSet);
coll!(StreamValue, Stream);

/// Looks a key up for reading (counts hits/misses): `Ok(None)` when absent, WRONGTYPE
/// when it holds another type.
pub fn read<'a, T: Coll>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a T>, CmdError> {
    match ks.lookup_read(db, key) {
        None => Ok(None),
        // A value read as a view is a string packed in its entry: never a collection.
        Some(VRef::View(..)) => Err(Cow::Borrowed(errors::WRONGTYPE)),
        Some(VRef::Ref(v)) => T::of(v).map(Some).ok_or(Cow::Borrowed(errors::WRONGTYPE)),
    }
}

/// Looks a key up for writing: `Ok(None)` when absent, WRONGTYPE for another type.
pub fn write<'a, T: Coll>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut T>, CmdError> {
    match ks.lookup_write(db, key) {
        None => Ok(None),
        Some(v) => T::of_mut(v)
            .map(Some)
            .ok_or(Cow::Borrowed(errors::WRONGTYPE)),
    }
}

/// Checks that a key is absent or of type `T` (WRONGTYPE otherwise), without counting a
/// hit or miss.
pub fn check_type<T: Coll>(ks: &mut Keyspace, db: usize, key: &[u8]) -> Result<bool, CmdError> {
    Ok(write::<T>(ks, db, key)?.is_some())
}

/// Returns the collection at `key`, creating it with `make` when absent. The flag says
/// whether it was created (creation already counted one change).
pub fn write_or_create<'a, T: Coll>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    make: impl FnOnce() -> T,
) -> Result<(&'a mut T, bool), CmdError> {
    let created = !check_type::<T>(ks, db, key)?;
    if created {
        ks.set(db, key, make().wrap(), false);
    }
    match write::<T>(ks, db, key)? {
        Some(c) => Ok((c, created)),
        None => Err(Cow::Borrowed("ERR internal error: created key vanished")),
    }
}

/// Reports a write to the keyspace choke point so that `dirty` grows by exactly
/// `changes` (as Valkey's `server.dirty += n`), and deletes the key when the write left
/// the collection empty. `created` says the key was created by this command (that
/// already counted one change).
pub fn commit(
    ks: &mut Keyspace,
    db: usize,
    key: &[u8],
    changes: u64,
    created: bool,
    emptied: bool,
) {
    let mut n = changes.saturating_sub(u64::from(created));
    if emptied {
        // The delete itself counts one change.
        n = n.saturating_sub(1);
    }
    if n > 0 {
        ks.touch(db, key, n);
    }
    if emptied {
        ks.delete(db, key);
        ks.notify.raise(forkv_keyspace::notify::GENERIC, "del", db, key);
    }
}

/// Valkey's `getLongFromObjectOrReply`: an i64, or `msg` (default NOT_INT) on failure.
pub fn parse_long(arg: &[u8], msg: Option<&'static str>) -> Result<i64, CmdError> {
    forkv_keyspace::value::parse_canonical_i64(arg)
        .ok_or(Cow::Borrowed(msg.unwrap_or(errors::NOT_INT)))
}

/// Valkey's `getRangeLongFromObjectOrReply`: an i64 within `min..=max`.
pub fn parse_range(
    arg: &[u8],
    min: i64,
    max: i64,
    msg: Option<&'static str>,
) -> Result<i64, CmdError> {
    let v = parse_long(arg, msg)?;
    if v < min || v > max {
        return Err(match msg {
            Some(m) => Cow::Borrowed(m),
            None => Cow::Owned(format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        });
    }
    Ok(v)
}

/// Valkey's `getPositiveLongFromObjectOrReply`: `0..=i64::MAX`.
pub fn parse_positive(arg: &[u8], msg: Option<&'static str>) -> Result<i64, CmdError> {
    parse_range(
        arg,
        0,
        i64::MAX,
        Some(msg.unwrap_or(errors::NOT_POSITIVE_COUNT)),
    )
}

/// A counter-based generator seeded from the keyspace's RNG.
///
/// The keyspace's xorshift64* has weak low bits and correlated consecutive outputs,
/// which skews draws that use two numbers in a row (a table bucket, then a position in
/// its chain). SplitMix64 on a fresh seed does not.
pub struct Rng(u64);

impl Rng {
    /// Seeds from the keyspace generator (one draw).
    pub fn from_ks(ks: &mut Keyspace) -> Rng {
        Rng(ks.random())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Writes a SCAN-family reply: `[cursor, [items...]]`.
pub fn reply_scan(ctx: &mut Ctx<'_>, cursor: u64, items: &[Vec<u8>]) {
    ctx.reply.array(2);
    ctx.reply.bulk(cursor.to_string().as_bytes());
    ctx.reply.array(items.len());
    for i in items {
        ctx.reply.bulk(i);
    }
}

/// Runs a cursor scan over a big encoding the way Valkey's `scanGenericCommand` does:
/// visit buckets until `count` items were found or `count * 10` buckets were visited.
/// `step(cursor, out)` scans one bucket and returns the next cursor.
pub fn scan_loop(
    mut cursor: u64,
    count: usize,
    mut step: impl FnMut(u64, &mut Vec<Vec<u8>>) -> u64,
) -> (u64, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut budget = count.saturating_mul(10);
    loop {
        cursor = step(cursor, &mut out);
        budget = budget.saturating_sub(1);
        if cursor == 0 || out.len() >= count || budget == 0 {
            break;
        }
    }
    (cursor, out)
}

/// Parses `numkeys` for the *MPOP / *INTERCARD commands with Valkey's wording.
pub fn parse_numkeys(arg: &[u8]) -> Result<usize, CmdError> {
    Ok(parse_range(
        arg,
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )? as usize)
}

/// Which collection command is scanning: decides whether `NOVALUES` (HSCAN only) and
/// `NOSCORES` (ZSCAN only) are accepted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScanKind {
    /// SSCAN.
    Set,
    /// HSCAN.
    Hash,
    /// ZSCAN.
    ZSet,
}

/// Valkey's error for `NOVALUES` outside HSCAN.
pub const NOVALUES_ONLY_HSCAN: &str = "ERR NOVALUES option can only be used in HSCAN";
/// Valkey's error for `NOSCORES` outside ZSCAN.
pub const NOSCORES_ONLY_ZSCAN: &str = "ERR NOSCORES option can only be used in ZSCAN";

/// Options of HSCAN/SSCAN/ZSCAN: `[MATCH pattern] [COUNT count]`, plus `NOVALUES` for
/// HSCAN and `NOSCORES` for ZSCAN (Valkey 8).
pub struct ScanArgs<'a> {
    /// Buckets-worth of work hint (default 10).
    pub count: usize,
    /// Glob the member must match (`None` matches everything).
    pub pattern: Option<&'a [u8]>,
    /// HSCAN NOVALUES: fields only.
    pub novalues: bool,
    /// ZSCAN NOSCORES: members only.
    pub noscores: bool,
}

impl ScanArgs<'_> {
    /// True when `item` passes MATCH.
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| forkv_keyspace::glob::glob_match(p, item, false))
    }
}

/// Parses SCAN-family options from `argv[from..]` with Valkey's errors (checked in
/// argument order, as `scanGenericCommand` does).
pub fn parse_scan_args<'a>(
    argv: &[&'a [u8]],
    from: usize,
    kind: ScanKind,
) -> Result<ScanArgs<'a>, CmdError> {
    let mut o = ScanArgs {
        count: 10,
        pattern: None,
        novalues: false,
        noscores: false,
    };
    let mut i = from;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if is(argv[i], "COUNT") && more {
            let n = parse_long(argv[i + 1], None)?;
            if n < 1 {
                return Err(errors::SYNTAX.into());
            }
            o.count = n as usize;
            i += 2;
        } else if is(argv[i], "MATCH") && more {
            o.pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
            i += 2;
        } else if is(argv[i], "NOVALUES") {
            if kind != ScanKind::Hash {
                return Err(NOVALUES_ONLY_HSCAN.into());
            }
            o.novalues = true;
            i += 1;
        } else if is(argv[i], "NOSCORES") {
            if kind != ScanKind::ZSet {
                return Err(NOSCORES_ONLY_ZSCAN.into());
            }
            o.noscores = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(o)
}

/// LMPOP/ZMPOP/BLMPOP/BZMPOP's optional `COUNT n` after the direction argument at
/// `argv[from..]` (default 1), with Valkey's errors.
pub fn parse_mpop_count(argv: &[&[u8]], from: usize) -> Result<usize, super::CmdError> {
    let mut count: Option<usize> = None;
    let mut j = from;
    while j < argv.len() {
        if count.is_none() && super::is(argv[j], "COUNT") && j + 1 < argv.len() {
            count = Some(parse_range(argv[j + 1], 1, i64::MAX, Some("ERR count should be greater than 0"))? as usize);
            j += 2;
        } else {
            return Err(crate::errors::SYNTAX.into());
        }
    }
    Ok(count.unwrap_or(1))
}
