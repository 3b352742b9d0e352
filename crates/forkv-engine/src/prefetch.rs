//! Key prefetching for pipelined batches.
//!
//! With `-P 16` a read brings sixteen commands at once, and each one's key lookup waits on
//! the same chain of cache misses (bucket slot, entry, key bytes; see
//! `forkv_keyspace::dict`'s prefetch stages). Before running the batch, this pass parses
//! up to [`BATCH`] of its commands, finds each one's first key through the command
//! table's key positions, and runs the three prefetch stages over all of them, one stage
//! at a time, so the misses overlap. It changes no state: the commands then run exactly as
//! they would without it (a key hinted in the wrong database only costs a wasted load).

use std::ops::Range;

use forkv_keyspace::Keyspace;

use crate::resp::{self, Args, Parsed};
use crate::table;

/// Commands of one batch whose keys are prefetched together: enough to hide the
/// latency of a miss behind the others, few enough for the hints to stay in L1.
const BATCH: usize = 16;

/// Prefetches the first key of each of the first [`BATCH`] commands in `buf`, when it
/// holds more than one. `ranges` is scratch space for the parser.
pub(crate) fn prefetch_batch(ks: &Keyspace, db: usize, buf: &[u8], max_bulk: usize, ranges: &mut Vec<Range<usize>>) {
    let mut hashes = [0usize; BATCH];
    let mut n = 0;
    let mut pos = 0;
    let dict = &ks.db(db).keys;
    while n < BATCH && pos < buf.len() {
        let rest = &buf[pos..];
        let Parsed::Command { args, len } = resp::parse_for(rest, max_bulk, false, ranges) else {
            break;
        };
        let Args::Slices(slices) = args else {
            break;
        };
        if pos == 0 && len == buf.len() {
            // A lone command: nothing to overlap its misses with.
            *ranges = slices;
            return;
        }
        if let Some(key) = first_key(rest, &slices) {
            if let Some(h) = dict.prefetch_slot(key) {
                hashes[n] = h;
                n += 1;
            }
        }
        *ranges = slices;
        pos += len;
    }
    for &h in &hashes[..n] {
        dict.prefetch_entry(h);
    }
    for &h in &hashes[..n] {
        dict.prefetch_key(h);
    }
}

/// The first key of a command whose key positions start at argument 1.
fn first_key<'a>(buf: &'a [u8], args: &[Range<usize>]) -> Option<&'a [u8]> {
    let name = buf.get(args.first()?.clone())?;
    let spec = table::lookup(name)?;
    if spec.first_key != 1 {
        return None;
    }
    buf.get(args.get(1)?.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            out.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
            for a in *c {
                out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        out
    }

    #[test]
    fn the_first_key_follows_the_command_tables_key_positions() {
        let buf = pipeline(&[&["GET", "k1"], &["PING"], &["MSET", "a", "1"], &["OBJECT", "ENCODING", "k"]]);
        let mut ranges = Vec::new();
        let mut found = Vec::new();
        let mut pos = 0;
        while let Parsed::Command { args: Args::Slices(s), len } = resp::parse_for(&buf[pos..], 1 << 20, false, &mut ranges) {
            found.push(first_key(&buf[pos..], &s).map(<[u8]>::to_vec));
            pos += len;
        }
        assert_eq!(found, vec![Some(b"k1".to_vec()), None, Some(b"a".to_vec()), None]);
    }

    #[test]
    fn any_buffer_is_safe_to_prefetch_and_changes_nothing() {
        let ks = Keyspace::new(16);
        let full = pipeline(&[&["GET", "k1"], &["GET", "k2"], &["SET", "k3", "v"]]);
        let mut ranges = Vec::new();
        for end in 0..=full.len() {
            // Every prefix: complete, incomplete and empty batches.
            prefetch_batch(&ks, 0, &full[..end], 1 << 20, &mut ranges);
        }
        prefetch_batch(&ks, 0, b"*2\r\n$3\r\nGET\r\n$999\r\nxx", 16, &mut ranges);
        prefetch_batch(&ks, 0, b"GET k1 k2\r\nGET k3\r\n", 1 << 20, &mut ranges);
        assert_eq!(ks.len(0), 0);
    }
}
