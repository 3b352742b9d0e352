//! Reading one value (strings and every collection encoding) into keyspace types.
//!
//! Shared by the file loader and DUMP payload parsing. Whatever encoding a server chose
//! (plain, ziplist, listpack, intset, zipmap, quicklist), the result is a plain
//! [`Value`] built under the keyspace's encoding limits, so a zipmap or ziplist hash with
//! more fields than `hash-max-listpack-entries` becomes a hashtable on load, as in
//! Valkey.

use std::io::Read;

use forkv_keyspace::{EncodingLimits, HashValue, ListValue, SetValue, StrValue, Value, ZSetValue};

use crate::consts::*;
use crate::encodings::{intset, listpack, ziplist, zipmap, EncodingError, Item};
use crate::error::{RdbError, RdbErrorKind};
use crate::len::{decode_int, format_i64, int_encoding_size, Length};
use crate::lzf;
use crate::source::Source;

/// LZF never expands more than 88 times (a 3-byte back reference yields 264 bytes).
const LZF_MAX_RATIO: u64 = 88;

/// Reads one string in any encoding (plain, integer, LZF) and appends it to `out`.
/// `scratch` holds compressed bytes between calls.
pub(crate) fn read_string_into<R: Read>(
    src: &mut Source<R>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<(), RdbError> {
    match src.length()? {
        Length::Plain(n) => src.read_into(n, out),
        Length::Encoded(enc) if enc == RDB_ENC_LZF => {
            let clen = src.plain_length()?;
            let len = src.plain_length()?;
            let at = src.offset();
            scratch.clear();
            src.read_into(clen, scratch)?;
            if u128::from(len) > u128::from(clen) * u128::from(LZF_MAX_RATIO) {
                return Err(RdbError::corrupt(
                    at,
                    format!("Invalid LZF compressed string: {clen} bytes cannot expand to {len}"),
                ));
            }
            let len = usize::try_from(len)
                .map_err(|_| RdbError::corrupt(at, "Invalid LZF compressed string"))?;
            lzf::decompress(scratch, out, len)
                .map_err(|e| RdbError::corrupt(at, format!("Invalid LZF compressed string: {e}")))
        }
        Length::Encoded(enc) => {
            let size = int_encoding_size(enc)
                .ok_or_else(|| src.corrupt(format!("Unknown RDB string encoding type {enc}")))?;
            let mut b = [0u8; 4];
            let bytes = b.get_mut(..size).unwrap_or_default();
            src.read_exact(bytes)?;
            let mut digits = [0u8; 20];
            out.extend_from_slice(format_i64(decode_int(bytes), &mut digits));
            Ok(())
        }
    }
}

/// Reads one string into a new vector.
pub(crate) fn read_string<R: Read>(
    src: &mut Source<R>,
    scratch: &mut Vec<u8>,
) -> Result<Vec<u8>, RdbError> {
    let mut out = Vec::new();
    read_string_into(src, &mut out, scratch)?;
    Ok(out)
}

/// Fails for a key, hash field, set or zset member longer than the keyspace's tables hold
/// ([`forkv_keyspace::MAX_KEY_LEN`], 4 GB), so a load is refused instead of storing it.
pub(crate) fn check_member<R: Read>(src: &Source<R>, m: &[u8]) -> Result<(), RdbError> {
    forkv_keyspace::KeyTooLong::check(m).map_err(|_| {
        RdbError::new(
            src.offset(),
            RdbErrorKind::Unsupported(format!(
                "a key, field or member of {} bytes (forkv's limit is 4 GB)",
                m.len()
            )),
        )
    })
}

/// Reusable buffers for element reads, so a million-element list is not a million
/// temporary vectors, and the encoding limits the values are built under.
#[derive(Default)]
pub(crate) struct Scratch {
    elem: Vec<u8>,
    second: Vec<u8>,
    lzf: Vec<u8>,
    lim: EncodingLimits,
}

impl Scratch {
    /// Buffers for values built under `lim` (the keyspace's configured thresholds).
    pub(crate) fn with_limits(lim: EncodingLimits) -> Self {
        Scratch { lim, ..Scratch::default() }
    }

    /// Drops buffers that a huge element made huge, so they do not stay allocated.
    fn trim(&mut self) {
        for b in [&mut self.elem, &mut self.second, &mut self.lzf] {
            if b.capacity() > 1 << 20 {
                *b = Vec::new();
            }
        }
    }
}

/// Fails for a type byte that [`read_object`] would not load, so the caller can report
/// it at the type byte's offset before reading the key.
pub(crate) fn check_type(t: u8) -> Result<(), RdbErrorKind> {
    match t {
        RDB_TYPE_STRING..=RDB_TYPE_ZSET_2
        | RDB_TYPE_HASH_ZIPMAP..=RDB_TYPE_LIST_QUICKLIST
        | RDB_TYPE_HASH_LISTPACK..=RDB_TYPE_LIST_QUICKLIST_2
        | RDB_TYPE_SET_LISTPACK
        | RDB_TYPE_STREAM_LISTPACKS
        | RDB_TYPE_STREAM_LISTPACKS_2
        | RDB_TYPE_STREAM_LISTPACKS_3 => Ok(()),
        RDB_TYPE_MODULE_PRE_GA
        | RDB_TYPE_MODULE_2
        | RDB_TYPE_HASH_2
        | RDB_TYPE_PATH_HASH => Err(RdbErrorKind::UnsupportedType(t)),
        _ => Err(RdbErrorKind::UnknownType(t)),
    }
}

/// Reads the value of RDB type `t`. `Ok(None)` is an empty collection, which Valkey
/// skips with a log line rather than failing (old servers could write them).
pub(crate) fn read_object<R: Read>(
    t: u8,
    src: &mut Source<R>,
    s: &mut Scratch,
) -> Result<Option<Value>, RdbError> {
    check_type(t).map_err(|kind| src.error(kind))?;
    let value = match t {
        RDB_TYPE_STRING => {
            // Read into the reused buffer: the string is copied into its exact-size
            // block once (a large one takes the buffer instead).
            s.elem.clear();
            read_string_into(src, &mut s.elem, &mut s.lzf)?;
            Some(Value::Str(StrValue::from_scratch(&mut s.elem)))
        }
        RDB_TYPE_LIST => read_list(src, s)?,
        RDB_TYPE_SET => read_set(src, s)?,
        RDB_TYPE_ZSET | RDB_TYPE_ZSET_2 => read_zset(t, src, s)?,
        RDB_TYPE_HASH => read_hash(src, s)?,
        RDB_TYPE_LIST_QUICKLIST | RDB_TYPE_LIST_QUICKLIST_2 => read_quicklist(t, src, s)?,
        RDB_TYPE_HASH_ZIPMAP
        | RDB_TYPE_LIST_ZIPLIST
        | RDB_TYPE_SET_INTSET
        | RDB_TYPE_ZSET_ZIPLIST
        | RDB_TYPE_HASH_ZIPLIST
        | RDB_TYPE_HASH_LISTPACK
        | RDB_TYPE_ZSET_LISTPACK
        | RDB_TYPE_SET_LISTPACK => read_blob_object(t, src, s)?,
        RDB_TYPE_STREAM_LISTPACKS | RDB_TYPE_STREAM_LISTPACKS_2 | RDB_TYPE_STREAM_LISTPACKS_3 => {
            crate::stream::read_stream(t, src, &mut s.lzf)?
        }
        _ => return Err(src.error(RdbErrorKind::UnknownType(t))),
    };
    s.trim();
    Ok(value)
}

fn read_list<R: Read>(src: &mut Source<R>, s: &mut Scratch) -> Result<Option<Value>, RdbError> {
    let n = src.plain_length()?;
    let mut list = ListValue::new();
    for _ in 0..n {
        s.elem.clear();
        read_string_into(src, &mut s.elem, &mut s.lzf)?;
        list.push(&s.elem, false, &s.lim);
    }
    Ok((n > 0).then(|| Value::List(Box::new(list))))
}

fn read_set<R: Read>(src: &mut Source<R>, s: &mut Scratch) -> Result<Option<Value>, RdbError> {
    let n = src.plain_length()?;
    let mut set = SetValue::new();
    for _ in 0..n {
        s.elem.clear();
        read_string_into(src, &mut s.elem, &mut s.lzf)?;
        check_member(src, &s.elem)?;
        if !set.add(&s.elem, &s.lim) {
            return Err(src.corrupt("Duplicate set members detected"));
        }
    }
    Ok((n > 0).then(|| Value::Set(Box::new(set))))
}

fn read_hash<R: Read>(src: &mut Source<R>, s: &mut Scratch) -> Result<Option<Value>, RdbError> {
    let n = src.plain_length()?;
    let mut hash = HashValue::new();
    for _ in 0..n {
        s.elem.clear();
        read_string_into(src, &mut s.elem, &mut s.lzf)?;
        check_member(src, &s.elem)?;
        s.second.clear();
        read_string_into(src, &mut s.second, &mut s.lzf)?;
        if !hash.set(&s.elem, &s.second, &s.lim) {
            return Err(src.corrupt("Duplicate hash fields detected"));
        }
    }
    Ok((n > 0).then(|| Value::Hash(Box::new(hash))))
}

fn read_zset<R: Read>(
    t: u8,
    src: &mut Source<R>,
    s: &mut Scratch,
) -> Result<Option<Value>, RdbError> {
    let n = src.plain_length()?;
    let mut zset = ZSetValue::new();
    for _ in 0..n {
        s.elem.clear();
        read_string_into(src, &mut s.elem, &mut s.lzf)?;
        check_member(src, &s.elem)?;
        let score = if t == RDB_TYPE_ZSET_2 {
            f64::from_le_bytes(src.array::<8>()?)
        } else {
            read_text_double(src)?
        };
        if score.is_nan() {
            return Err(src.corrupt("Zset with NAN score detected"));
        }
        if !zset.set_score(&s.elem, score, &s.lim) {
            return Err(src.corrupt("Duplicate zset fields detected"));
        }
    }
    Ok((n > 0).then(|| Value::ZSet(Box::new(zset))))
}

/// A score of the old ZSET type: a length byte (253 NaN, 254 +inf, 255 -inf) then text.
fn read_text_double<R: Read>(src: &mut Source<R>) -> Result<f64, RdbError> {
    match src.byte()? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => {
            let mut buf = [0u8; 252];
            let text = buf.get_mut(..usize::from(n)).unwrap_or_default();
            src.read_exact(text)?;
            parse_score(text).ok_or_else(|| src.corrupt("Invalid double value in sorted set"))
        }
    }
}

/// Parses a score written as text (old zset type, ziplist/listpack scores), as `strtod`.
fn parse_score(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.trim().parse::<f64>().ok()
}

fn read_quicklist<R: Read>(
    t: u8,
    src: &mut Source<R>,
    s: &mut Scratch,
) -> Result<Option<Value>, RdbError> {
    let nodes = src.plain_length()?;
    let mut list = ListValue::new();
    for _ in 0..nodes {
        let container = if t == RDB_TYPE_LIST_QUICKLIST_2 {
            let c = src.plain_length()?;
            if c != QUICKLIST_NODE_CONTAINER_PLAIN && c != QUICKLIST_NODE_CONTAINER_PACKED {
                return Err(src.corrupt("Quicklist integrity check failed."));
            }
            c
        } else {
            QUICKLIST_NODE_CONTAINER_PACKED
        };
        let at = src.offset();
        s.elem.clear();
        read_string_into(src, &mut s.elem, &mut s.lzf)?;
        if s.elem.is_empty() {
            return Err(RdbError::corrupt(at, "Quicklist node is empty"));
        }
        if container == QUICKLIST_NODE_CONTAINER_PLAIN {
            list.push(&s.elem, false, &s.lim);
            continue;
        }
        let lim = s.lim;
        let push = |item: Item<'_>| -> Result<(), EncodingError> {
            item.with_bytes(|b| list.push(b, false, &lim));
            Ok(())
        };
        let result = if t == RDB_TYPE_LIST_QUICKLIST_2 {
            listpack::for_each(&s.elem, push)
                .map_err(|e| blob_error(at, "Listpack integrity check failed", e))
        } else {
            ziplist::for_each(&s.elem, push)
                .map_err(|e| blob_error(at, "Ziplist integrity check failed", e))
        };
        result?;
    }
    Ok((!list.is_empty()).then(|| Value::List(Box::new(list))))
}

/// Semantic problems found while converting a blob (duplicates, bad scores) next to
/// structural ones.
enum BlobProblem {
    Structure(EncodingError),
    Meaning(&'static str),
}

impl From<EncodingError> for BlobProblem {
    fn from(e: EncodingError) -> Self {
        BlobProblem::Structure(e)
    }
}

fn blob_error(at: u64, what: &str, e: EncodingError) -> RdbError {
    RdbError::corrupt(at, format!("{what}: {e}"))
}

/// Types whose whole value is one compact blob.
fn read_blob_object<R: Read>(
    t: u8,
    src: &mut Source<R>,
    s: &mut Scratch,
) -> Result<Option<Value>, RdbError> {
    let at = src.offset();
    s.elem.clear();
    read_string_into(src, &mut s.elem, &mut s.lzf)?;
    let blob = &s.elem[..];
    let lim = s.lim;
    let what = match t {
        RDB_TYPE_HASH_ZIPMAP => "Zipmap integrity check failed",
        RDB_TYPE_LIST_ZIPLIST => "List ziplist integrity check failed",
        RDB_TYPE_SET_INTSET => "Intset integrity check failed",
        RDB_TYPE_SET_LISTPACK => "Set listpack integrity check failed",
        RDB_TYPE_ZSET_ZIPLIST => "Zset ziplist integrity check failed",
        RDB_TYPE_ZSET_LISTPACK => "Zset listpack integrity check failed",
        RDB_TYPE_HASH_ZIPLIST => "Hash ziplist integrity check failed",
        _ => "Hash listpack integrity check failed",
    };
    let fail = |p: BlobProblem| match p {
        BlobProblem::Structure(e) => blob_error(at, what, e),
        BlobProblem::Meaning(m) => RdbError::corrupt(at, format!("{what}: {m}")),
    };
    let value = match t {
        RDB_TYPE_LIST_ZIPLIST => {
            let mut list = ListValue::new();
            ziplist::for_each(blob, |item| -> Result<(), BlobProblem> {
                item.with_bytes(|b| list.push(b, false, &lim));
                Ok(())
            })
            .map_err(fail)?;
            (!list.is_empty()).then(|| Value::List(Box::new(list)))
        }
        RDB_TYPE_SET_INTSET | RDB_TYPE_SET_LISTPACK => {
            let mut set = SetValue::new();
            let add = |item: Item<'_>| -> Result<(), BlobProblem> {
                if item.with_bytes(|b| set.add(b, &lim)) {
                    Ok(())
                } else {
                    Err(BlobProblem::Meaning("duplicate member"))
                }
            };
            if t == RDB_TYPE_SET_INTSET {
                intset::for_each(blob, add)
            } else {
                listpack::for_each(blob, add)
            }
            .map_err(fail)?;
            if t == RDB_TYPE_SET_INTSET {
                // Valkey keeps the width the intset was saved with (checked valid above).
                if let Some(&w) = blob.first() {
                    set.keep_intset_width(w);
                }
            }
            (!set.is_empty()).then(|| Value::Set(Box::new(set)))
        }
        RDB_TYPE_HASH_ZIPMAP => {
            let mut hash = HashValue::new();
            zipmap::for_each_pair(blob, |f, v| -> Result<(), BlobProblem> {
                if hash.set(f, v, &lim) {
                    Ok(())
                } else {
                    Err(BlobProblem::Meaning("duplicate field"))
                }
            })
            .map_err(fail)?;
            (!hash.is_empty()).then(|| Value::Hash(Box::new(hash)))
        }
        RDB_TYPE_HASH_ZIPLIST | RDB_TYPE_HASH_LISTPACK => {
            let mut hash = HashValue::new();
            let mut field: Option<Vec<u8>> = None;
            let add = |item: Item<'_>| -> Result<(), BlobProblem> {
                match field.take() {
                    None => field = Some(item.with_bytes(|b| b.to_vec())),
                    Some(f) => {
                        if !item.with_bytes(|v| hash.set(&f, v, &lim)) {
                            // Valkey's words for a listpack hash (its conversion panics on it).
                            return Err(BlobProblem::Meaning(if t == RDB_TYPE_HASH_LISTPACK {
                                "listpack with dup elements"
                            } else {
                                "duplicate field"
                            }));
                        }
                    }
                }
                Ok(())
            };
            if t == RDB_TYPE_HASH_ZIPLIST {
                ziplist::for_each(blob, add)
            } else {
                listpack::for_each(blob, add)
            }
            .map_err(fail)?;
            if field.is_some() {
                return Err(fail(BlobProblem::Meaning("odd number of entries")));
            }
            (!hash.is_empty()).then(|| Value::Hash(Box::new(hash)))
        }
        _ => {
            // RDB_TYPE_ZSET_ZIPLIST | RDB_TYPE_ZSET_LISTPACK: member, score, member, ...
            let mut zset = ZSetValue::new();
            let mut member: Option<Vec<u8>> = None;
            let add = |item: Item<'_>| -> Result<(), BlobProblem> {
                match member.take() {
                    None => member = Some(item.with_bytes(|b| b.to_vec())),
                    Some(m) => {
                        let score = match item {
                            Item::Int(v) => v as f64,
                            Item::Str(text) => parse_score(text)
                                .ok_or(BlobProblem::Meaning("score is not a number"))?,
                        };
                        if score.is_nan() {
                            return Err(BlobProblem::Meaning("NAN score"));
                        }
                        if !zset.set_score(&m, score, &lim) {
                            return Err(BlobProblem::Meaning("duplicate member"));
                        }
                    }
                }
                Ok(())
            };
            if t == RDB_TYPE_ZSET_ZIPLIST {
                ziplist::for_each(blob, add)
            } else {
                listpack::for_each(blob, add)
            }
            .map_err(fail)?;
            if member.is_some() {
                return Err(fail(BlobProblem::Meaning("odd number of entries")));
            }
            (!zset.is_empty()).then(|| Value::ZSet(Box::new(zset)))
        }
    };
    Ok(value)
}
