//! LZF compression, compatible with liblzf as Redis and Valkey use it.
//!
//! The compressed stream is a sequence of tokens, each starting with a control byte:
//!
//! * `000LLLLL` — a literal run: the next `L + 1` bytes (1 to 32) are copied as they are.
//! * `LLLOOOOO [EEEEEEEE] OOOOOOOO` — a back reference: copy `len + 2` bytes starting
//!   `offset + 1` bytes back in the output, where `len` is the top three bits (when they
//!   are all ones, an extra byte follows and is added, so up to 7 + 255) and `offset` is
//!   the low five bits followed by the last byte (13 bits, up to 8191). The copy may
//!   overlap the bytes it produces, which is how runs are encoded.
//!
//! Any stream following these rules decodes with liblzf's `lzf_decompress`. The
//! compressor is a port of Valkey's `lzf_compress` and produces its bytes (DUMP payloads
//! and DEBUG OBJECT `serializedlength` are compared with Valkey's).
//!
//! The decompressor trusts nothing: every read is bounds-checked, a reference before the
//! start of the output or output beyond the declared size is an error, never a panic.

/// Longest literal run one control byte can announce.
const MAX_LIT: usize = 32;
/// Farthest back a reference can reach (13-bit offset, plus one).
const MAX_DISTANCE: usize = 1 << 13;
/// Longest back reference: 2 + 7 + 255 bytes.
const MAX_REF: usize = 2 + 7 + 255;
/// Hash table size (log2), liblzf's `HLOG` as Valkey builds it: 64K slots of `u32`
/// (256 KiB), allocated once per compressor.
const HLOG: u32 = 16;

/// Why an LZF stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// The stream ends inside a token.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The stream decodes to more bytes than declared.
    TooLong,
    /// The stream decodes to fewer bytes than declared.
    TooShort,
}

impl std::fmt::Display for LzfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzfError::Truncated => "compressed data ends inside a token",
            LzfError::BadReference => "back reference before the start of the output",
            LzfError::TooLong => "data decompresses to more bytes than declared",
            LzfError::TooShort => "data decompresses to fewer bytes than declared",
        })
    }
}

/// Decompresses `input`, appending exactly `expected_len` bytes to `out`.
///
/// The caller bounds `expected_len` (a declared length from a file) before reserving
/// memory for it; this function only reserves what it is asked to produce.
pub fn decompress(input: &[u8], out: &mut Vec<u8>, expected_len: usize) -> Result<(), LzfError> {
    let start = out.len();
    let limit = start.checked_add(expected_len).ok_or(LzfError::TooLong)?;
    out.reserve(expected_len);
    let mut ip = 0;
    while let Some(&ctrl) = input.get(ip) {
        ip += 1;
        let ctrl = usize::from(ctrl);
        if ctrl < MAX_LIT {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > limit {
                return Err(LzfError::TooLong);
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
                ip += 1;
            }
            let low = usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
            ip += 1;
            let distance = ((ctrl & 0x1f) << 8) + low + 1;
            let len = len + 2;
            let produced = out.len() - start;
            if distance > produced {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > limit {
                return Err(LzfError::TooLong);
            }
            // An overlapping copy repeats the last `distance` bytes; copying from the
            // same source start in growing chunks gives exactly the byte-by-byte result.
            let from = out.len() - distance;
            let mut remaining = len;
            while remaining > 0 {
                let n = remaining.min(out.len() - from);
                out.extend_from_within(from..from + n);
                remaining -= n;
            }
        }
    }
    if out.len() != limit {
        return Err(LzfError::TooShort);
    }
    Ok(())
}

/// A reusable LZF compressor.
///
/// Its hash table is allocated once. Instead of clearing the table for every input
/// (64 KiB of writes per string would dominate for many short strings), each call gets
/// a fresh range of "generation" numbers: a slot written by an earlier call holds a
/// number below the current base and is ignored.
pub struct Compressor {
    table: Vec<u32>,
    next_base: u32,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor with its hash table allocated.
    pub fn new() -> Self {
        Compressor {
            table: vec![0; 1 << HLOG],
            next_base: 1,
        }
    }

    /// Compresses `input` into `out` (cleared first), producing exactly the bytes of
    /// Valkey's `lzf_compress` (liblzf 3.6 built with `VERY_FAST`, `HLOG` 16 and a hash
    /// table of offsets), so that compressed strings in RDB files and DUMP payloads are
    /// Valkey's byte for byte. Returns false, leaving `out` in an unspecified state,
    /// where liblzf returns 0 with an output buffer of `max_out` bytes (its early checks
    /// are conservative: it may give up although the result would have fit); the caller
    /// then stores the data uncompressed, as Valkey does.
    ///
    /// Quirks kept on purpose, as they shape the output: the first byte of the input is
    /// never the target of a back reference (a slot holding offset 0 reads as empty), and
    /// after a match only the last two positions it covered are hashed.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
        out.clear();
        let n = input.len();
        let Ok(n32) = u32::try_from(n) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        if max_out == 0 {
            return false;
        }
        let base = match self.next_base.checked_add(n32).and_then(|b| b.checked_add(1)) {
            Some(next) => {
                let base = self.next_base;
                self.next_base = next;
                base
            }
            None => {
                self.table.fill(0);
                self.next_base = n32.saturating_add(2);
                1
            }
        };
        // Room for what liblzf may write: up to `max_out`, plus the header byte of a run
        // started at the very end (written only to be dropped or to fail the call).
        out.resize(max_out.saturating_add(2), 0);
        let buf = out.as_mut_slice();
        let at = |i: usize| input.get(i).copied().map_or(0u32, u32::from);
        let idx = |h: u32| ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & ((1 << HLOG) - 1)) as usize;

        let mut lit: usize = 0;
        let mut op: usize = 1; // the run header sits at op - lit - 1
        let mut ip: usize = 0;
        let mut hval: u32 = (at(0) << 8) | at(1);
        while ip + 2 < n {
            hval = (hval << 8) | at(ip + 2);
            let h = idx(hval);
            let slot = self.table[h];
            self.table[h] = base + ip as u32;
            // A slot of this call holds base + position; position 0 counts as empty.
            let reference = (slot > base).then(|| (slot - base) as usize).filter(|&r| {
                r < ip && ip - r - 1 < MAX_DISTANCE && input[r + 2] == input[ip + 2] && input[r..r + 2] == input[ip..ip + 2]
            });
            if let Some(r) = reference {
                let off = ip - r - 1;
                let maxlen = (n - ip - 2).min(MAX_REF);
                if op + 4 >= max_out && op - usize::from(lit == 0) + 4 >= max_out {
                    return false;
                }
                buf[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
                op -= usize::from(lit == 0); // undo an empty run
                // liblzf's match loop, to the letter: past 16 bytes of room it first
                // compares 16 bytes without looking at `maxlen`, and its do-while takes
                // the third byte (known equal) even when `maxlen` is smaller.
                let eq = |len: usize| input[r + len] == input[ip + len];
                let mut len = 2;
                let mut mismatch = false;
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if !eq(len) {
                            mismatch = true;
                            break;
                        }
                    }
                }
                if !mismatch {
                    len += 1;
                    while len < maxlen && eq(len) {
                        len += 1;
                    }
                }
                len -= 2; // now octets - 1
                ip += 1;
                if len < 7 {
                    buf[op] = ((off >> 8) + (len << 5)) as u8;
                    op += 1;
                } else {
                    buf[op] = ((off >> 8) + (7 << 5)) as u8;
                    buf[op + 1] = (len - 7) as u8;
                    op += 2;
                }
                buf[op] = off as u8;
                op += 1;
                lit = 0;
                op += 1; // start run
                ip += len + 1;
                if ip + 2 >= n {
                    break;
                }
                // VERY_FAST: hash the last two positions of the match.
                ip -= 2;
                hval = (at(ip) << 8) | at(ip + 1);
                for _ in 0..2 {
                    hval = (hval << 8) | at(ip + 2);
                    self.table[idx(hval)] = base + ip as u32;
                    ip += 1;
                }
            } else {
                if op >= max_out {
                    return false;
                }
                lit += 1;
                buf[op] = input[ip];
                op += 1;
                ip += 1;
                if lit == MAX_LIT {
                    buf[op - lit - 1] = (lit - 1) as u8;
                    lit = 0;
                    op += 1;
                }
            }
        }
        if op + 3 > max_out {
            return false;
        }
        while ip < n {
            lit += 1;
            buf[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                buf[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
        buf[op - lit - 1] = (lit as u8).wrapping_sub(1);
        op -= usize::from(lit == 0);
        out.truncate(op);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(c: &mut Compressor, data: &[u8]) {
        let mut packed = Vec::new();
        assert!(c.compress(data, &mut packed, data.len() * 2 + 16));
        let mut back = Vec::new();
        decompress(&packed, &mut back, data.len()).expect("decodes");
        assert_eq!(back, data);
    }

    #[test]
    fn small_and_edge_sizes() {
        let mut c = Compressor::new();
        for len in 0..600 {
            let data: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            roundtrip(&mut c, &data);
            let noisy: Vec<u8> = (0..len).map(|i| ((i * 7919) >> 3) as u8).collect();
            roundtrip(&mut c, &noisy);
        }
    }

    #[test]
    fn longest_reference_and_farthest_offset() {
        let mut c = Compressor::new();
        roundtrip(&mut c, &[b'a'; 10_000]);
        let mut far: Vec<u8> = (0..MAX_DISTANCE as u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let head = far[..300].to_vec();
        far.extend_from_slice(&head);
        roundtrip(&mut c, &far);
    }

    #[test]
    fn random_mixtures_of_runs_copies_and_noise() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut c = Compressor::new();
        for _ in 0..300 {
            let target = (next() % 20_000) as usize;
            let mut data: Vec<u8> = Vec::with_capacity(target);
            while data.len() < target {
                let n = (next() % 400) as usize + 1;
                match next() % 3 {
                    0 => data.extend(std::iter::repeat_n(next() as u8, n)),
                    1 if !data.is_empty() => {
                        let from = (next() as usize) % data.len();
                        let n = n.min(data.len() - from);
                        data.extend_from_within(from..from + n);
                    }
                    _ => data.extend((0..n).map(|_| next() as u8)),
                }
            }
            roundtrip(&mut c, &data);
        }
    }

    #[test]
    fn hand_written_stream() {
        // "abcabcabcX": literal "abc", reference len 6 distance 3, literal "X".
        let stream = [2, b'a', b'b', b'c', (4 << 5), 2, 0, b'X'];
        let mut out = Vec::new();
        decompress(&stream, &mut out, 10).expect("decodes");
        assert_eq!(out, b"abcabcabcX");
    }

    #[test]
    fn refuses_bad_streams() {
        let mut out = Vec::new();
        assert_eq!(
            decompress(&[5, b'a'], &mut out, 6),
            Err(LzfError::Truncated)
        );
        out.clear();
        assert_eq!(
            decompress(&[0, b'a', 0x20, 5], &mut out, 4),
            Err(LzfError::BadReference)
        );
        out.clear();
        assert_eq!(
            decompress(&[1, b'a', b'b'], &mut out, 1),
            Err(LzfError::TooLong)
        );
        out.clear();
        assert_eq!(
            decompress(&[1, b'a', b'b'], &mut out, 3),
            Err(LzfError::TooShort)
        );
        out.clear();
        assert_eq!(
            decompress(&[0, b'a', 0xe0], &mut out, 40),
            Err(LzfError::Truncated)
        );
    }

    #[test]
    fn respects_the_output_limit() {
        let mut c = Compressor::new();
        let noise: Vec<u8> = (0..100u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let mut out = Vec::new();
        assert!(!c.compress(&noise, &mut out, noise.len() - 4));
        assert!(c.compress(&[b'x'; 100], &mut out, 96));
        assert!(out.len() <= 96);
    }

    #[test]
    fn generations_do_not_leak_between_inputs() {
        let mut c = Compressor::new();
        c.next_base = u32::MAX - 50;
        for round in 0..20u8 {
            let data: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(round) ^ round).collect();
            roundtrip(&mut c, &data);
        }
    }
}
