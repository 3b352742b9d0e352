//! Decimal integer formatting shared by the reply encoder, the RDB and the AOF writers
//! (one implementation; the fork child uses it too, so it never allocates).

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

#[cfg(test)]
mod tests {
    use super::format_i64;

    #[test]
    fn formats_every_boundary() {
        let mut b = [0u8; 20];
        for v in [0, 1, -1, 9, 10, -10, i64::MAX, i64::MIN, 1234567890] {
            assert_eq!(format_i64(v, &mut b), v.to_string().as_bytes());
        }
    }
}
