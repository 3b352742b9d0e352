//! A reply as a tree ([`RespValue`]), and the parser that turns a command's encoded
//! reply (RESP2 or RESP3 bytes, as the engine wrote them for the script's pseudo-client)
//! into one. Scripts see replies through this tree (Valkey parses the script client's
//! output buffer the same way, `resp_parser.c`), and a script's own result comes back to
//! the host as one, for the host to encode at the caller's protocol.

/// One reply, of any RESP2/RESP3 type.
#[derive(Debug, Clone, PartialEq)]
pub enum RespValue {
    /// `+text`
    Status(Vec<u8>),
    /// `-CODE message` (without the `-`).
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$n` bulk string.
    Bulk(Vec<u8>),
    /// RESP2 null bulk `$-1`.
    NullBulk,
    /// RESP2 null array `*-1`.
    NullArray,
    /// RESP3 `_` (a script's `nil`-like result also maps here).
    Null,
    /// `*n`
    Array(Vec<RespValue>),
    /// RESP3 `%n`
    Map(Vec<(RespValue, RespValue)>),
    /// RESP3 `~n`
    Set(Vec<RespValue>),
    /// RESP3 `,d`
    Double(f64),
    /// RESP3 `#t` / `#f`
    Bool(bool),
    /// RESP3 `(n`
    BigNumber(Vec<u8>),
    /// RESP3 `=n` verbatim string: (3-letter format, text).
    Verbatim(Vec<u8>, Vec<u8>),
}

/// Why a reply could not be parsed (the engine wrote it, so this means a bug).
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError;

/// Parses every reply in `buf` (a command writes exactly one; trailing bytes are an error).
pub fn parse_one(buf: &[u8]) -> Result<RespValue, ParseError> {
    let mut pos = 0;
    let v = parse_at(buf, &mut pos, 0)?;
    if pos != buf.len() {
        return Err(ParseError);
    }
    Ok(v)
}

/// Nesting deeper than this is refused (the engine never writes it; it bounds recursion).
const MAX_DEPTH: usize = 1000;

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], ParseError> {
    let rest = buf.get(*pos..).ok_or(ParseError)?;
    let end = rest.windows(2).position(|w| w == b"\r\n").ok_or(ParseError)?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn int_of(s: &[u8]) -> Result<i64, ParseError> {
    std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or(ParseError)
}

fn bulk_body(buf: &[u8], pos: &mut usize, len: i64) -> Result<Vec<u8>, ParseError> {
    let len = usize::try_from(len).map_err(|_| ParseError)?;
    let end = pos.checked_add(len).ok_or(ParseError)?;
    let body = buf.get(*pos..end).ok_or(ParseError)?.to_vec();
    if buf.get(end..end + 2) != Some(b"\r\n") {
        return Err(ParseError);
    }
    *pos = end + 2;
    Ok(body)
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<RespValue, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError);
    }
    let tag = *buf.get(*pos).ok_or(ParseError)?;
    *pos += 1;
    let head = line(buf, pos)?;
    Ok(match tag {
        b'+' => RespValue::Status(head.to_vec()),
        b'-' => RespValue::Error(head.to_vec()),
        b':' => RespValue::Int(int_of(head)?),
        b'$' => match int_of(head)? {
            -1 => RespValue::NullBulk,
            n => RespValue::Bulk(bulk_body(buf, pos, n)?),
        },
        b'*' | b'~' | b'>' => {
            let n = int_of(head)?;
            if n < 0 {
                return Ok(RespValue::NullArray);
            }
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(parse_at(buf, pos, depth + 1)?);
            }
            if tag == b'~' {
                RespValue::Set(items)
            } else {
                RespValue::Array(items)
            }
        }
        b'%' => {
            let n = int_of(head)?;
            let mut pairs = Vec::new();
            for _ in 0..n.max(0) {
                let k = parse_at(buf, pos, depth + 1)?;
                let v = parse_at(buf, pos, depth + 1)?;
                pairs.push((k, v));
            }
            RespValue::Map(pairs)
        }
        b'|' => {
            // Attributes are skipped; the reply they annotate follows.
            let n = int_of(head)?;
            for _ in 0..n.max(0) {
                parse_at(buf, pos, depth + 1)?;
                parse_at(buf, pos, depth + 1)?;
            }
            parse_at(buf, pos, depth + 1)?
        }
        b'_' => RespValue::Null,
        b'#' => RespValue::Bool(head == b"t"),
        b',' => {
            let s = std::str::from_utf8(head).map_err(|_| ParseError)?;
            let d = match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => s.parse().map_err(|_| ParseError)?,
            };
            RespValue::Double(d)
        }
        b'(' => RespValue::BigNumber(head.to_vec()),
        b'=' => {
            let body = bulk_body(buf, pos, int_of(head)?)?;
            if body.len() < 4 {
                return Err(ParseError);
            }
            RespValue::Verbatim(body[..3].to_vec(), body[4..].to_vec())
        }
        _ => return Err(ParseError),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resp2_and_resp3_shapes() {
        assert_eq!(parse_one(b"+OK\r\n"), Ok(RespValue::Status(b"OK".to_vec())));
        assert_eq!(parse_one(b"$-1\r\n"), Ok(RespValue::NullBulk));
        assert_eq!(parse_one(b"*-1\r\n"), Ok(RespValue::NullArray));
        assert_eq!(
            parse_one(b"*2\r\n:1\r\n$3\r\nabc\r\n"),
            Ok(RespValue::Array(vec![RespValue::Int(1), RespValue::Bulk(b"abc".to_vec())]))
        );
        assert_eq!(
            parse_one(b"%1\r\n+a\r\n,1.5\r\n"),
            Ok(RespValue::Map(vec![(RespValue::Status(b"a".to_vec()), RespValue::Double(1.5))]))
        );
        assert_eq!(parse_one(b"=8\r\ntxt:abcd\r\n"), Ok(RespValue::Verbatim(b"txt".to_vec(), b"abcd".to_vec())));
        assert_eq!(parse_one(b"|1\r\n+k\r\n+v\r\n#t\r\n"), Ok(RespValue::Bool(true)));
        assert_eq!(parse_one(b"$5\r\nab\r\n"), Err(ParseError));
        assert_eq!(parse_one(b"+OK\r\n+OK\r\n"), Err(ParseError));
    }
}
