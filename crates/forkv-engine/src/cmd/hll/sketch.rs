//! Valkey's HyperLogLog string format, byte for byte (`hyperloglog.c`), so that a value
//! written here reads the same in Valkey and Redis and the reverse.
//!
//! A HyperLogLog is a string: a 16-byte header (`HYLL`, the encoding byte, three unused
//! bytes, and the cached cardinality as 8 little-endian bytes whose top bit set means
//! "stale"), then 16384 registers of 6 bits. Dense: the registers packed LSB first
//! (12288 bytes). Sparse: run-length opcodes — ZERO `00xxxxxx` (1..64 zero registers),
//! XZERO `01xxxxxx yyyyyyyy` (1..16384 zero registers), VAL `1vvvvvxx` (1..4 registers of
//! value 1..32). Every read of client-supplied bytes is bounds-checked: a corrupted value
//! is reported as invalid, never read past.

/// Register index bits.
pub const P: u32 = 14;
/// Hash bits left for the run of zeros.
pub const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register.
const BITS: usize = 6;
/// Largest register value.
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Header length.
pub const HDR: usize = 16;
/// Length of a dense HyperLogLog string.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
/// Encoding byte values.
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;

const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// The reply for a value that fails [`is_valid_header`].
pub const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// The reply for a sparse representation that does not decode.
pub const CORRUPTED: &str = "INVALIDOBJ Corrupted HLL object detected";

/// Marker for a representation that does not decode.
#[derive(Debug, PartialEq)]
pub struct Invalid;

/// MurmurHash64A (endian-neutral), as Valkey hashes HyperLogLog elements.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= u64::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the length of its `0..01` pattern (1..=Q+1).
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & ((1 << P) - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HyperLogLog: sparse, all registers in XZERO opcodes, cache valid (0).
pub fn new_sparse() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(b"HYLL");
    s.push(SPARSE);
    s.extend_from_slice(&[0u8; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut s, n);
        left -= n;
    }
    s
}

/// Valkey's `isHLLObjectOrReply` checks: magic, a known encoding, exact dense length.
pub fn is_valid_header(s: &[u8]) -> bool {
    s.len() >= HDR && &s[..4] == b"HYLL" && s[4] <= MAX_ENCODING && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// The cached cardinality, when valid.
pub fn cached_card(s: &[u8]) -> Option<u64> {
    if s[15] & 0x80 != 0 {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[8..16]);
    Some(u64::from_le_bytes(b))
}

/// Stores a freshly computed cardinality in the header.
pub fn set_cached_card(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// Reads dense register `i` from the packed register bytes.
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u16::from(REGISTER_MAX)) as u8
}

/// Writes dense register `i`.
pub fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = u16::from(val);
    let lo = (u16::from(regs[byte]) & !(u16::from(REGISTER_MAX) << fb)) | (v << fb);
    regs[byte] = lo as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        let fb8 = 8 - fb;
        let keep = !(u16::from(REGISTER_MAX) >> fb8) as u8;
        *next = (*next & keep) | (v >> fb8) as u8;
    }
}

/// Raises dense register `i` to `count`; true when it changed.
pub fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// One decoded sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Opcode {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Opcode {
    fn span(self) -> usize {
        match self {
            Opcode::Zero(n) | Opcode::XZero(n) | Opcode::Val(_, n) => n,
        }
    }

    fn width(self) -> usize {
        if matches!(self, Opcode::XZero(_)) {
            2
        } else {
            1
        }
    }
}

/// Decodes the opcode at `p`; `None` when an XZERO is cut short.
fn opcode_at(s: &[u8], p: usize) -> Option<Opcode> {
    let b = *s.get(p)?;
    Some(if b & 0xc0 == 0 {
        Opcode::Zero(usize::from(b & 0x3f) + 1)
    } else if b & 0xc0 == 0x40 {
        let lo = *s.get(p + 1)?;
        Opcode::XZero(((usize::from(b & 0x3f) << 8) | usize::from(lo)) + 1)
    } else {
        Opcode::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1)
    })
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | 0x40);
    out.push((l & 0xff) as u8);
}

fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    ((val - 1) << 2) | (len - 1) as u8 | 0x80
}

/// Calls `f(first_register, opcode)` for each opcode of a sparse body; fails when the
/// opcodes do not cover exactly [`REGISTERS`] registers.
fn walk_sparse(s: &[u8], mut f: impl FnMut(usize, Opcode)) -> Result<(), Invalid> {
    let mut p = HDR;
    let mut idx = 0usize;
    while p < s.len() {
        let op = opcode_at(s, p).ok_or(Invalid)?;
        if idx + op.span() > REGISTERS {
            return Err(Invalid);
        }
        f(idx, op);
        idx += op.span();
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(Invalid);
    }
    Ok(())
}

/// Converts a sparse HyperLogLog to dense, keeping the header (and its cache).
pub fn sparse_to_dense(s: &[u8]) -> Result<Vec<u8>, Invalid> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&s[..HDR]);
    d[4] = DENSE;
    let regs = &mut d[HDR..];
    walk_sparse(s, |first, op| {
        if let Opcode::Val(v, n) = op {
            for i in first..first + n {
                dense_put(regs, i, v);
            }
        }
    })?;
    Ok(d)
}

/// Raises register `index` to `count` in a sparse HyperLogLog, in place, exactly as
/// Valkey's `hllSparseSet` edits the opcodes (so the bytes match). Promotes the value to
/// dense when `count` does not fit a VAL opcode or the string would outgrow `max_bytes`.
/// Returns whether a register changed.
pub fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Invalid> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found = None;
    while p < s.len() {
        let op = opcode_at(s, p).ok_or(Invalid)?;
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.width();
        first += op.span();
    }
    let op = found.ok_or(Invalid)?;
    let last = first + op.span() - 1;
    // Step 2: trivial in-place cases, else build the replacement sequence.
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    match op {
        Opcode::Val(old, _) if old >= count => return Ok(false),
        Opcode::Val(_, 1) | Opcode::Zero(1) => {
            s[p] = val_byte(count, 1);
        }
        Opcode::Zero(_) | Opcode::XZero(_) => {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        }
        Opcode::Val(cur, _) => {
            if index != first {
                seq.push(val_byte(cur, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(cur, last - index));
            }
        }
    }
    if !seq.is_empty() {
        // Step 3: splice the sequence in place of the opcode.
        let oldlen = op.width();
        if seq.len() > oldlen && s.len() + seq.len() - oldlen > max_bytes {
            return promote(s, index, count);
        }
        s.splice(p..p + oldlen, seq);
    }
    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to 5 opcodes.
    let mut q = prev.unwrap_or(HDR);
    let mut scan = 5;
    while q < s.len() && scan > 0 {
        scan -= 1;
        let b = s[q];
        if b & 0xc0 == 0x40 {
            q += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            q += 1;
            continue;
        }
        if let Some(&nb) = s.get(q + 1) {
            if nb & 0x80 != 0 {
                let (v1, l1) = (((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1);
                let (v2, l2) = (((nb >> 2) & 0x1f) + 1, usize::from(nb & 3) + 1);
                if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                    s[q + 1] = val_byte(v1, l1 + l2);
                    s.remove(q);
                    // Retry from the same opcode: it may merge with the next one too.
                    continue;
                }
            }
        }
        q += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

/// Converts to dense and sets the register there (always a change).
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Invalid> {
    *s = sparse_to_dense(s)?;
    dense_set(&mut s[HDR..], index, count);
    Ok(true)
}

/// Adds one element; true when a register changed.
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Invalid> {
    let (index, count) = pattern(ele);
    match s[4] {
        DENSE => Ok(dense_set(&mut s[HDR..], index, count)),
        SPARSE => sparse_set(s, index, count, max_bytes),
        _ => Err(Invalid),
    }
}

/// Raises `max[i]` to each register of `s` (one byte per register).
pub fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), Invalid> {
    if s[4] == DENSE {
        let regs = &s[HDR..];
        for (i, m) in max.iter_mut().take(REGISTERS).enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    walk_sparse(s, |first, op| {
        if let Opcode::Val(v, n) = op {
            for m in &mut max[first..first + n] {
                *m = (*m).max(v);
            }
        }
    })
}

/// Register value histogram of a HyperLogLog string.
fn histogram(s: &[u8]) -> Result<[u32; 64], Invalid> {
    let mut h = [0u32; 64];
    if s[4] == DENSE {
        let regs = &s[HDR..];
        for i in 0..REGISTERS {
            h[usize::from(dense_get(regs, i))] += 1;
        }
    } else {
        walk_sparse(s, |_, op| match op {
            Opcode::Zero(n) | Opcode::XZero(n) => h[0] += n as u32,
            Opcode::Val(v, n) => h[usize::from(v)] += n as u32,
        })?;
    }
    Ok(h)
}

/// Histogram of one-byte-per-register values (PFCOUNT of several keys).
pub fn histogram_raw(regs: &[u8]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in regs.iter() {
        h[usize::from(r & 63)] += 1;
    }
    h
}

/// The cardinality estimate of a HyperLogLog string.
pub fn count(s: &[u8]) -> Result<u64, Invalid> {
    Ok(estimate(&histogram(s)?))
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284), as Valkey's `hllCount` computes it.
pub fn estimate(h: &[u32; 64]) -> u64 {
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - f64::from(h[q + 1])) / m);
    for j in (1..=q).rev() {
        z += f64::from(h[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// PFDEBUG DECODE's text for a sparse HyperLogLog.
pub fn decode_sparse(s: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while p < s.len() {
        let Some(op) = opcode_at(s, p) else { break };
        out.push(match op {
            Opcode::Zero(n) => format!("z:{n}"),
            Opcode::XZero(n) => format!("Z:{n}"),
            Opcode::Val(v, n) => format!("v:{v},{n}"),
        });
        p += op.width();
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_known_values() {
        // The empty input reduces to the finalizer of seed ^ 0.
        let mut h: u64 = 0xadc8_3b19;
        h ^= h >> 47;
        h = h.wrapping_mul(0xc6a4_a793_5bd1_e995);
        h ^= h >> 47;
        assert_eq!(murmur64a(b"", 0xadc8_3b19), h);
    }

    #[test]
    fn new_sketch_is_two_xzero_opcodes() {
        let s = new_sparse();
        assert_eq!(s.len(), HDR + 2);
        assert_eq!(decode_sparse(&s), "Z:16384");
        assert_eq!(count(&s), Ok(0));
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sp = new_sparse();
        let mut de = sparse_to_dense(&sp).unwrap_or_default();
        for i in 0..5000u32 {
            let e = i.to_string();
            assert!(add(&mut sp, e.as_bytes(), 100_000).is_ok());
            assert!(add(&mut de, e.as_bytes(), 100_000).is_ok());
        }
        assert_eq!(sp[4], SPARSE);
        assert_eq!(count(&sp), count(&de));
        let est = count(&de).unwrap_or(0) as f64;
        assert!((est - 5000.0).abs() < 5000.0 * 0.05, "{est}");
        assert_eq!(sparse_to_dense(&sp).map(|d| d[HDR..].to_vec()), Ok(de[HDR..].to_vec()));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn corrupted_sparse_is_invalid() {
        let mut s = new_sparse();
        s.push(0x00);
        assert_eq!(count(&s), Err(Invalid));
        let mut s = new_sparse();
        s.truncate(HDR + 1);
        assert_eq!(count(&s), Err(Invalid));
        assert_eq!(sparse_set(&mut s, 5, 3, 3000), Err(Invalid));
    }
}
