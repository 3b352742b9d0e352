//! Valkey's text helpers from `sds.c` that more than one part of forkv needs:
//! `sdssplitargs`, the tokenizer of valkey.conf lines, AOF manifest lines, inline
//! commands and the `#!lua` line of a function library. One implementation, faithful to
//! Valkey's (checked against valkey-server 8.0.1), so all of them quote alike.

/// C `isspace` in the C locale.
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits a line into arguments with `sdssplitargs` rules: blanks separate tokens, `"..."`
/// supports `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and `\<any>` escapes, `'...'` supports `\'`;
/// a closing quote must be followed by a blank or the end. `None` on unbalanced quotes.
/// The input is treated as a C string (it ends at the first NUL).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = line
        .iter()
        .position(|&c| c == 0)
        .map_or(line, |i| &line[..i]);
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut p = 0usize;
    loop {
        while at(p) != 0 && is_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(out);
        }
        let (mut inq, mut insq, mut done) = (false, false, false);
        let mut cur = Vec::new();
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        cur.push(h * 16 + l);
                        p += 3;
                    } else {
                        // `\x` not followed by two hex digits: a plain escaped 'x'.
                        p += 1;
                        cur.push(b'x');
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        out.push(cur);
    }
}


#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn split_args_cases() {
        assert_eq!(split_args(b"").unwrap().len(), 0);
        assert_eq!(
            split_args(b"  a  b ").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(split_args(b"\"\\x4g\"").unwrap(), vec![b"x4g".to_vec()]);
        assert!(split_args(b"'abc").is_none());
        assert!(split_args(b"'a'b").is_none());
        assert_eq!(split_args(b"\"\"").unwrap(), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn escapes_and_quotes() {
        assert_eq!(split_args(b"a \"b\\x41\\n\" 'c\\'d'"), Some(vec![b"a".to_vec(), b"bA\n".to_vec(), b"c'd".to_vec()]));
        assert_eq!(split_args(b"\"open"), None);
    }
}
