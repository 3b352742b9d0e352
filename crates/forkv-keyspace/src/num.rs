//! Number formatting shared by the reply encoder, the RDB and the AOF writers (one
//! implementation each; the fork child uses them too, so they never allocate).
//!
//! Doubles follow Valkey 8: `fpconv_dtoa` (the shortest digits that round-trip, laid out
//! plain or in exponent form by their magnitude) for the AOF rewrite's scores
//! (`rioWriteBulkDouble`), and `d2string` (integers printed as integers, the rest as
//! `fpconv_dtoa`) for replies. Checked against valkey-server 8.0.1: `1e-5` is `0.00001`,
//! `1.5e-7` is `1.5e-7`, `1e17` is `100000000000000000`, `1.5e19` is `1.5e+19`.

/// Formats `v` in decimal into `buf` and returns the digits (the used tail of `buf`).
pub fn format_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut u = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Room for any double [`fpconv_dtoa`] or [`d2string`] writes (24 bytes at most).
pub const DOUBLE_MAX_LEN: usize = 32;

/// A fixed buffer as a `fmt::Write` sink (formatting without allocating).
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl std::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Valkey's `fpconv_dtoa`: writes `d` into `buf` and returns the length used.
pub fn fpconv_dtoa(d: f64, buf: &mut [u8; DOUBLE_MAX_LEN]) -> usize {
    use std::fmt::Write as _;
    let mut n = 0;
    if d.is_sign_negative() && !d.is_nan() {
        buf[0] = b'-';
        n = 1;
    }
    let put = |buf: &mut [u8; DOUBLE_MAX_LEN], at: usize, s: &[u8]| {
        buf[at..at + s.len()].copy_from_slice(s);
        at + s.len()
    };
    if d.is_nan() {
        return put(buf, 0, b"nan");
    }
    if d.is_infinite() {
        return put(buf, n, b"inf");
    }
    if d == 0.0 {
        return put(buf, n, b"0");
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: d[.ddd]e<E>.
    let mut sci = [0u8; DOUBLE_MAX_LEN];
    let mut c = Cursor { buf: &mut sci, len: 0 };
    if write!(c, "{:e}", d.abs()).is_err() {
        return put(buf, 0, b"nan");
    }
    let sci_len = c.len;
    let sci = &sci[..sci_len];
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let mut digits = [0u8; 20];
    let mut nd = 0;
    for &b in &sci[..e_at] {
        if b.is_ascii_digit() && nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let e10: i32 = std::str::from_utf8(&sci[(e_at + 1).min(sci.len())..]).ok().and_then(|e| e.parse().ok()).unwrap_or(0);
    // fpconv's terms: the digits are an integer scaled by 10^k.
    let k = e10 - (nd as i32 - 1);
    let exp = e10.abs();
    let digits = &digits[..nd];
    if k >= 0 && exp < nd as i32 + 7 {
        // Plain integer: the digits, then k zeros.
        n = put(buf, n, digits);
        for _ in 0..k {
            n = put(buf, n, b"0");
        }
        return n;
    }
    if k < 0 && (k > -7 || exp < 4) {
        let offset = nd as i32 + k;
        if offset <= 0 {
            // Below 1: 0.000ddd
            n = put(buf, n, b"0.");
            for _ in 0..-offset {
                n = put(buf, n, b"0");
            }
            return put(buf, n, digits);
        }
        let (int, frac) = digits.split_at(offset as usize);
        n = put(buf, n, int);
        n = put(buf, n, b".");
        return put(buf, n, frac);
    }
    // Exponent form: d[.ddd]e±X, the exponent without padding.
    n = put(buf, n, &digits[..1]);
    if nd > 1 {
        n = put(buf, n, b".");
        n = put(buf, n, &digits[1..]);
    }
    n = put(buf, n, if e10 < 0 { b"e-" } else { b"e+" });
    let mut eb = [0u8; 20];
    put(buf, n, format_i64(i64::from(exp), &mut eb))
}

/// Valkey's `d2string`: a double that is an integer of magnitude at most `i64::MAX / 2`
/// prints as that integer, any other as [`fpconv_dtoa`]; both zeros print `0`.
pub fn d2string(d: f64, buf: &mut [u8; DOUBLE_MAX_LEN]) -> usize {
    if d == 0.0 {
        buf[0] = b'0';
        return 1;
    }
    const HALF: i64 = i64::MAX / 2;
    if d >= -(HALF as f64) && d <= HALF as f64 {
        let l = d as i64;
        if l as f64 == d {
            let mut ib = [0u8; 20];
            let s = format_i64(l, &mut ib);
            buf[..s.len()].copy_from_slice(s);
            return s.len();
        }
    }
    fpconv_dtoa(d, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(d: f64) -> String {
        let mut b = [0u8; DOUBLE_MAX_LEN];
        let n = fpconv_dtoa(d, &mut b);
        String::from_utf8_lossy(&b[..n]).into_owned()
    }

    fn d2(d: f64) -> String {
        let mut b = [0u8; DOUBLE_MAX_LEN];
        let n = d2string(d, &mut b);
        String::from_utf8_lossy(&b[..n]).into_owned()
    }

    /// Replies of valkey-server 8.0.1 (ZADD z <value> m; ZSCORE z m).
    #[test]
    fn d2string_matches_valkey_replies() {
        for (d, want) in [
            (1e-5, "0.00001"),
            (1e-7, "1e-7"),
            (1e7, "10000000"),
            (1e8, "100000000"),
            (1.25e-6, "1.25e-6"),
            (-2.5e-300, "-2.5e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            (5e-324, "5e-324"),
            (12.5, "12.5"),
            (0.000123, "0.000123"),
            (1e17, "100000000000000000"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.25, "-0.25"),
            (4611686018427387904.0, "4611686018427387904"),
            (9.999999999999999e16, "99999999999999984"),
            (1e-4, "0.0001"),
            (1.5e-7, "1.5e-7"),
            (-1e-5, "-0.00001"),
            (1.5e19, "1.5e+19"),
            (0.0, "0"),
            (-0.0, "0"),
        ] {
            assert_eq!(d2(d), want, "{d:e}");
        }
        assert_eq!(d2(f64::INFINITY), "inf");
        assert_eq!(d2(f64::NEG_INFINITY), "-inf");
    }

    /// A rewritten AOF of valkey-server 8.0.1 (`aof-use-rdb-preamble no`): ZADD scores.
    #[test]
    fn fpconv_matches_valkey_aof_scores() {
        for (d, want) in [
            (1.5e-7, "1.5e-7"),
            (0.1, "0.1"),
            (3.0, "3"),
            (1e20, "1e+20"),
            (1e8, "1e+8"),
            (1e-300, "1e-300"),
            (1e-5, "0.00001"),
            (12.5, "12.5"),
            (1e17, "1e+17"),
            (4611686018427387904.0, "4611686018427388000"),
        ] {
            assert_eq!(fp(d), want, "{d:e}");
        }
    }

    #[test]
    fn every_output_round_trips() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = if i % 2 == 0 { f64::from_bits(x) } else { (x >> 20) as f64 / f64::from(1u32 << (i % 24)) };
            if d.is_nan() || d.is_infinite() {
                continue;
            }
            for s in [fp(d), d2(d)] {
                let back: f64 = s.parse().unwrap_or(f64::NAN);
                assert!(back == d, "{s} for {:#x}", d.to_bits());
            }
        }
    }

    #[test]
    fn formats_every_boundary() {
        let mut b = [0u8; 20];
        for v in [0, 1, -1, 9, 10, -10, i64::MAX, i64::MIN, 1234567890] {
            assert_eq!(format_i64(v, &mut b), v.to_string().as_bytes());
        }
    }
}
