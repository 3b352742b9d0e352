//! Rewriting the keyspace as commands (a `.base.aof` file, `aof-use-rdb-preamble no`).
//!
//! Mirrors Valkey's `rewriteAppendOnlyFileRio`: a `SELECT` per non-empty database, `SET` for
//! strings, variadic `RPUSH` / `SADD` / `HSET` / `ZADD` with at most
//! [`AOF_REWRITE_ITEMS_PER_CMD`] items per command, then `PEXPIREAT` for keys with a TTL.
//! Valkey writes `HMSET`; `HSET` with several pairs is the same operation (Redis >= 4.0).
//! Keys already expired at `now_ms` are skipped, and a database whose keys are all expired
//! gets no `SELECT`.
//!
//! This runs in a fork child: it only reads the keyspace through `&Keyspace` (no locks, no
//! writes into shared pages), writes to `out` (give it a `BufWriter<File>` created in the
//! child), formats numbers on the stack and never touches stdout.

use std::io::{self, Write};

use forkv_keyspace::{Keyspace, StreamId, StreamValue, Value};

use crate::resp::{write_bulk, write_bulk_f64, write_bulk_i64, write_header};

/// Items per variadic command (Valkey `AOF_REWRITE_ITEMS_PER_CMD`).
pub const AOF_REWRITE_ITEMS_PER_CMD: usize = 64;

/// How often (in keys) the progress hook is called.
pub const PROGRESS_EVERY_KEYS: u64 = 1024;

/// Writes commands that rebuild `ks` into `out`. `hook(keys_done)` is called every
/// [`PROGRESS_EVERY_KEYS`] keys and once at the end (child-info progress; an `Err` aborts
/// the rewrite, e.g. on cancel). Returns the number of keys written.
pub fn rewrite_keyspace_as_commands<W: Write + ?Sized>(
    out: &mut W,
    ks: &Keyspace,
    now_ms: i64,
    hook: &mut dyn FnMut(u64) -> io::Result<()>,
) -> io::Result<u64> {
    let mut keys_done: u64 = 0;
    for dbi in 0..ks.db_count() {
        let db = ks.db(dbi);
        if db.keys.is_empty() {
            continue;
        }
        let mut selected = false;
        for (key, value) in db.keys.iter_ref() {
            let expire = db.expire_of(key);
            if expire.is_some_and(|at| at < now_ms) {
                continue;
            }
            if !selected {
                out.write_all(b"*2\r\n$6\r\nSELECT\r\n")?;
                write_bulk_i64(out, dbi as i64)?;
                selected = true;
            }
            write_value(out, key, &value)?;
            if let Some(at) = expire {
                out.write_all(b"*3\r\n$9\r\nPEXPIREAT\r\n")?;
                write_bulk(out, key)?;
                write_bulk_i64(out, at)?;
            }
            keys_done += 1;
            if keys_done.is_multiple_of(PROGRESS_EVERY_KEYS) {
                hook(keys_done)?;
            }
        }
    }
    hook(keys_done)?;
    Ok(keys_done)
}

/// Writes `FUNCTION LOAD <code>` for each function library, as Valkey's
/// `rewriteFunctions` does ahead of the keys.
pub fn rewrite_functions_as_commands<W: Write + ?Sized>(out: &mut W, codes: &[Vec<u8>]) -> io::Result<()> {
    for code in codes {
        out.write_all(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n")?;
        write_bulk(out, code)?;
    }
    Ok(())
}

/// Writes the commands that recreate one key (without its TTL).
pub fn write_value<W: Write + ?Sized>(out: &mut W, key: &[u8], value: &Value) -> io::Result<()> {
    match value {
        Value::Str(s) => {
            out.write_all(b"*3\r\n$3\r\nSET\r\n")?;
            write_bulk(out, key)?;
            write_bulk(out, &s.as_bytes())
        }
        Value::List(l) => write_batched(out, b"RPUSH", key, l.len(), 1, l.iter(), |w, item| {
            write_bulk(w, &item)
        }),
        Value::Set(s) => write_batched(out, b"SADD", key, s.len(), 1, s.iter(), |w, item| {
            write_bulk(w, item)
        }),
        Value::Hash(h) => write_batched(out, b"HSET", key, h.len(), 2, h.iter(), |w, (f, v)| {
            write_bulk(w, f)?;
            write_bulk(w, v)
        }),
        Value::ZSet(z) => write_batched(out, b"ZADD", key, z.len(), 2, z.iter(), |w, (m, s)| {
            write_bulk_f64(w, s)?;
            write_bulk(w, m)
        }),
        Value::Stream(s) => write_stream(out, key, s),
    }
}

/// A stream ID as a bulk string, formatted on the stack.
fn write_bulk_id<W: Write + ?Sized>(out: &mut W, id: StreamId) -> io::Result<()> {
    let mut buf = [0u8; 44];
    let len = {
        let mut cur = &mut buf[..];
        write!(cur, "{}-{}", id.ms, id.seq)?;
        44 - cur.len()
    };
    write_bulk(out, &buf[..len])
}

/// A stream as Valkey's `rewriteStreamObject` writes it: one XADD per entry (or
/// `XADD key MAXLEN 0 0-1 x y` for an empty stream), XSETID with the metadata, then per
/// group XGROUP CREATE ... ENTRIESREAD, and per consumer either its pending entries as
/// `XCLAIM ... 0 id TIME t RETRYCOUNT n JUSTID FORCE` or XGROUP CREATECONSUMER.
fn write_stream<W: Write + ?Sized>(out: &mut W, key: &[u8], s: &StreamValue) -> io::Result<()> {
    if s.is_empty() {
        out.write_all(b"*7\r\n$4\r\nXADD\r\n")?;
        write_bulk(out, key)?;
        out.write_all(b"$6\r\nMAXLEN\r\n$1\r\n0\r\n$3\r\n0-1\r\n$1\r\nx\r\n$1\r\ny\r\n")?;
    } else {
        for e in s.range(StreamId::MIN, StreamId::MAX, false) {
            write_header(out, b'*', 3 + e.len() * 2)?;
            write_bulk(out, b"XADD")?;
            write_bulk(out, key)?;
            write_bulk_id(out, e.id)?;
            for (f, v) in e.pairs() {
                write_bulk(out, f)?;
                write_bulk(out, v)?;
            }
        }
    }
    out.write_all(b"*7\r\n$6\r\nXSETID\r\n")?;
    write_bulk(out, key)?;
    write_bulk_id(out, s.last_id)?;
    write_bulk(out, b"ENTRIESADDED")?;
    write_bulk_i64(out, i64::try_from(s.entries_added).unwrap_or(i64::MAX))?;
    write_bulk(out, b"MAXDELETEDID")?;
    write_bulk_id(out, s.max_deleted_id)?;
    for (name, g) in &s.groups {
        out.write_all(b"*7\r\n$6\r\nXGROUP\r\n$6\r\nCREATE\r\n")?;
        write_bulk(out, key)?;
        write_bulk(out, name)?;
        write_bulk_id(out, g.last_id)?;
        write_bulk(out, b"ENTRIESREAD")?;
        write_bulk_i64(out, g.entries_read)?;
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                out.write_all(b"*5\r\n$6\r\nXGROUP\r\n$14\r\nCREATECONSUMER\r\n")?;
                write_bulk(out, key)?;
                write_bulk(out, name)?;
                write_bulk(out, cname)?;
                continue;
            }
            for id in &c.pel {
                let Some(n) = g.pel.get(id) else { continue };
                out.write_all(b"*12\r\n$6\r\nXCLAIM\r\n")?;
                write_bulk(out, key)?;
                write_bulk(out, name)?;
                write_bulk(out, cname)?;
                write_bulk(out, b"0")?;
                write_bulk_id(out, *id)?;
                write_bulk(out, b"TIME")?;
                write_bulk_i64(out, n.delivery_time)?;
                write_bulk(out, b"RETRYCOUNT")?;
                write_bulk_i64(out, i64::try_from(n.delivery_count).unwrap_or(i64::MAX))?;
                write_bulk(out, b"JUSTID")?;
                write_bulk(out, b"FORCE")?;
            }
        }
    }
    Ok(())
}

/// Emits `items` as `<cmd> key item...` commands of at most [`AOF_REWRITE_ITEMS_PER_CMD`]
/// items (each item being `width` arguments). The header of each command announces the
/// items remaining, capped, as Valkey; if the iterator yields fewer than `len` items the
/// last command would be short, so `len` must be exact.
fn write_batched<W, I, T>(
    out: &mut W,
    cmd: &[u8],
    key: &[u8],
    len: usize,
    width: usize,
    items: I,
    mut write_item: impl FnMut(&mut W, T) -> io::Result<()>,
) -> io::Result<()>
where
    W: Write + ?Sized,
    I: Iterator<Item = T>,
{
    let mut remaining = len;
    let mut in_cmd = 0usize;
    for item in items.take(len) {
        if in_cmd == 0 {
            let n = remaining.min(AOF_REWRITE_ITEMS_PER_CMD);
            write_header(out, b'*', 2 + n * width)?;
            write_bulk(out, cmd)?;
            write_bulk(out, key)?;
        }
        write_item(out, item)?;
        in_cmd += 1;
        remaining -= 1;
        if in_cmd == AOF_REWRITE_ITEMS_PER_CMD {
            in_cmd = 0;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::reader::{AofCommandReader, ReadOutcome};
    use forkv_keyspace::{ListValue, Value};

    fn commands(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut r = AofCommandReader::new(data);
        let mut out = Vec::new();
        loop {
            match r.next_command().unwrap() {
                ReadOutcome::Command(c) => out.push(c),
                ReadOutcome::Eof => return out,
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn batches_of_64_and_select_per_db() {
        let mut ks = Keyspace::new(4);
        let mut l = ListValue::new();
        for i in 0..130 {
            l.push_back(format!("{i}").as_bytes());
        }
        ks.set(2, b"list", Value::List(Box::new(l)), false);
        ks.set(3, b"s", Value::string(b"12345"), false);
        ks.set(3, b"gone", Value::string(b"x"), false);
        ks.set_expire(3, b"gone", 999);
        ks.set(1, b"only-expired", Value::string(b"x"), false);
        ks.set_expire(1, b"only-expired", 5);
        let mut out = Vec::new();
        let mut calls = Vec::new();
        let n = rewrite_keyspace_as_commands(&mut out, &ks, 1000, &mut |k| {
            calls.push(k);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(calls, [2]);
        let cmds = commands(&out);
        let shape: Vec<(String, usize)> = cmds
            .iter()
            .map(|c| (String::from_utf8_lossy(&c[0]).into_owned(), c.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("SELECT".into(), 2),
                ("RPUSH".into(), 66),
                ("RPUSH".into(), 66),
                ("RPUSH".into(), 4),
                ("SELECT".into(), 2),
                ("SET".into(), 3),
            ]
        );
        assert_eq!(cmds[0][1], b"2");
        assert_eq!(cmds[3][3], b"129");
        assert_eq!(cmds[5][2], b"12345");
    }

    #[test]
    fn hook_error_aborts() {
        let mut ks = Keyspace::new(1);
        for i in 0..2000 {
            ks.set(0, format!("k{i}").as_bytes(), Value::string(b"v"), false);
        }
        let mut out = Vec::new();
        let r = rewrite_keyspace_as_commands(&mut out, &ks, 0, &mut |_| {
            Err(io::Error::other("cancel"))
        });
        assert!(r.is_err());
    }
}
