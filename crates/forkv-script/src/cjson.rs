//! `cjson`, as Valkey loads lua-cjson: `encode`, `decode` and `null`, with lua-cjson's
//! rules (empty tables and tables with non-integer keys become objects, arrays may be
//! moderately sparse, numbers print as `%.14g`, `/` is escaped, nesting is limited to 1000),
//! and its configuration functions, which change those rules for the whole VM as in
//! Valkey: `encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`, `encode_invalid_numbers`. Each
//! returns the setting in force (after the change, when given one); a bad argument is
//! lua-cjson's `bad argument #n to '<name>' (...)`. The depth settings may lower the
//! nesting limit but not raise it past [`HARD_DEPTH`]: encoding and decoding recurse on
//! the server's stack, which deeper input would overflow (lua-cjson's default, 1000, is
//! that limit).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::{LightUserData, Lua, Table, Value, Variadic};

/// The deepest nesting encoded or decoded, whatever `encode_max_depth`/`decode_max_depth` say.
const HARD_DEPTH: i64 = 1000;

/// lua-cjson's configuration (`json_config_t`), with its defaults.
#[derive(Clone, Copy, Debug)]
struct Config {
    /// Encode an excessively sparse array as an object instead of failing.
    sparse_convert: bool,
    /// 0: any sparse array is fine; otherwise max index > ratio * items is excessive...
    sparse_ratio: i64,
    /// ...unless the max index is at most this.
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// Significant digits of encoded numbers (`%.<p>g`), 1 to 14.
    precision: i64,
    /// Reuse one encode buffer between calls.
    keep_buffer: bool,
    /// NaN and Inf: 0 refused, 1 encoded as `nan`/`inf`, 2 encoded as `null`.
    invalid_numbers: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            invalid_numbers: 0,
        }
    }
}

type Cfg = Rc<Cell<Config>>;

/// Registers the `cjson` table in `globals`.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let cfg: Cfg = Rc::new(Cell::new(Config::default()));
    let kept = Rc::new(RefCell::new(Vec::new()));
    t.raw_set("null", Value::LightUserData(LightUserData(std::ptr::null_mut())))?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let cfg = c.get();
            if cfg.keep_buffer {
                let mut out = kept.try_borrow_mut().map_err(|_| mlua::Error::RecursiveMutCallback)?;
                out.clear();
                encode(&v, &mut out, 0, &cfg).map_err(mlua::Error::runtime)?;
                lua.create_string(&*out)
            } else {
                kept.try_borrow_mut().map_err(|_| mlua::Error::RecursiveMutCallback)?.clear();
                let mut out = Vec::new();
                encode(&v, &mut out, 0, &cfg).map_err(mlua::Error::runtime)?;
                lua.create_string(&out)
            }
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut p = Parser { s: &bytes, pos: 0, lua, max_depth: c.get().decode_max_depth };
            p.skip_ws();
            let v = p.value(0)?;
            p.skip_ws();
            if p.pos != p.s.len() {
                return Err(p.error("the end"));
            }
            Ok(v)
        })?,
    )?;
    install_config(lua, &t, &cfg)?;
    globals.raw_set("cjson", t)
}

/// lua-cjson's `bad argument` error.
fn bad_arg(n: usize, name: &str, why: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{name}' ({why})"))
}

/// `json_arg_init`: at most `max` arguments.
fn check_arity(args: &[Value], max: usize, name: &str) -> mlua::Result<()> {
    if args.len() > max {
        return Err(bad_arg(max + 1, name, "found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: argument `n` (1-based), when given, must be an integer in
/// `min..=max`.
fn int_option(args: &[Value], n: usize, name: &str, min: i64, max: i64) -> mlua::Result<Option<i64>> {
    let v = match args.get(n - 1) {
        None | Some(Value::Nil) => return Ok(None),
        Some(Value::Integer(i)) => *i,
        Some(Value::Number(f)) => *f as i64,
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(|f| f as i64)
            .ok_or_else(|| bad_arg(n, name, "number expected"))?,
        Some(_) => return Err(bad_arg(n, name, "number expected")),
    };
    if !(min..=max).contains(&v) {
        return Err(bad_arg(1, name, &format!("expected integer between {min} and {max}")));
    }
    Ok(Some(v))
}

/// `json_enum_option`: argument `n`, when given, is a boolean or one of `options`
/// (`off`, `on`, ...); the index chosen.
fn enum_option(args: &[Value], n: usize, name: &str, options: &[&str]) -> mlua::Result<Option<u8>> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(u8::from(*b))),
        Some(Value::String(s)) => {
            let text = s.to_string_lossy();
            options
                .iter()
                .position(|o| *o == text)
                .map(|i| Some(i as u8))
                .ok_or_else(|| bad_arg(n, name, &format!("invalid option '{text}'")))
        }
        Some(_) => Err(bad_arg(n, name, "string expected")),
    }
}

/// The configuration functions.
fn install_config(lua: &Lua, t: &Table, cfg: &Cfg) -> mlua::Result<()> {
    const INT_MAX: i64 = i32::MAX as i64;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |_, args: Variadic<Value>| {
            const NAME: &str = "encode_sparse_array";
            check_arity(&args, 3, NAME)?;
            let mut v = c.get();
            if let Some(convert) = enum_option(&args, 1, NAME, &["off", "on"])? {
                v.sparse_convert = convert == 1;
            }
            if let Some(ratio) = int_option(&args, 2, NAME, 0, INT_MAX)? {
                v.sparse_ratio = ratio;
            }
            if let Some(safe) = int_option(&args, 3, NAME, 0, INT_MAX)? {
                v.sparse_safe = safe;
            }
            c.set(v);
            Ok((v.sparse_convert, v.sparse_ratio, v.sparse_safe))
        })?,
    )?;
    type IntField = fn(&mut Config) -> &mut i64;
    let int_settings: [(&'static str, i64, i64, IntField); 3] = [
        ("encode_max_depth", 1, INT_MAX, |c| &mut c.encode_max_depth),
        ("decode_max_depth", 1, INT_MAX, |c| &mut c.decode_max_depth),
        ("encode_number_precision", 1, 14, |c| &mut c.precision),
    ];
    for (name, min, max, field) in int_settings {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| {
                check_arity(&args, 1, name)?;
                let mut v = c.get();
                if let Some(n) = int_option(&args, 1, name, min, max)? {
                    *field(&mut v) = n;
                }
                c.set(v);
                Ok(*field(&mut v))
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |_, args: Variadic<Value>| {
            check_arity(&args, 1, "encode_keep_buffer")?;
            let mut v = c.get();
            if let Some(keep) = enum_option(&args, 1, "encode_keep_buffer", &["off", "on"])? {
                v.keep_buffer = keep == 1;
            }
            c.set(v);
            Ok(v.keep_buffer)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: Variadic<Value>| {
            check_arity(&args, 1, "encode_invalid_numbers")?;
            let mut v = c.get();
            if let Some(mode) = enum_option(&args, 1, "encode_invalid_numbers", &["off", "on", "null"])? {
                v.invalid_numbers = mode;
            }
            c.set(v);
            Ok(match v.invalid_numbers {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    Ok(())
}

/// C's `%.<precision>g` (precision 1 to 17; a NaN prints `nan` whatever its sign): the one
/// `%g` formatter of the crate (the debugger's `%g` is this at precision 6).
pub(crate) fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let exp = n.abs().log10().floor() as i32;
    let precision = precision.clamp(1, 17);
    let sci = format!("{:.*e}", precision - 1, n);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..precision as i32).contains(&e) {
        let mant = trim_zeros(mant);
        format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (precision as i32 - 1 - e).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, n)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize, cfg: &Config) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => {
            if n.is_nan() || n.is_infinite() {
                match cfg.invalid_numbers {
                    0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
                    1 => out.extend_from_slice(format_g(*n, cfg.precision as usize).as_bytes()),
                    _ => out.extend_from_slice(b"null"),
                }
                return Ok(());
            }
            out.extend_from_slice(format_g(*n, cfg.precision as usize).as_bytes());
        }
        Value::String(s) => escape(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth as i64 >= cfg.encode_max_depth.min(HARD_DEPTH) {
                return Err(format!("Cannot serialise, excessive nesting ({})", depth + 1));
            }
            match array_len(t, cfg)? {
                Some(n) => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode(&item, out, depth + 1, cfg)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape(&s.as_bytes(), out),
                            Value::Integer(i) => escape(i.to_string().as_bytes(), out),
                            Value::Number(n) => escape(format_g(*n, cfg.precision as usize).as_bytes(), out),
                            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
                        }
                        out.push(b':');
                        encode(&val, out, depth + 1, cfg)?;
                    }
                    out.push(b'}');
                }
            }
        }
        Value::Function(_) => return Err("Cannot serialise function: type not supported".into()),
        Value::Thread(_) => return Err("Cannot serialise thread: type not supported".into()),
        _ => return Err("Cannot serialise userdata: type not supported".into()),
    }
    Ok(())
}

/// lua-cjson's `lua_array_length`: `Some(max)` when every key is a positive integer and
/// the array is not excessively sparse (`encode_sparse_array`); `None` for an object.
fn array_len(t: &Table, cfg: &Config) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        items += 1;
    }
    if max == 0 {
        return Ok(None);
    }
    let (max_i, items_i) = (max as i64, items as i64);
    if cfg.sparse_ratio > 0 && max_i > items_i.saturating_mul(cfg.sparse_ratio) && max_i > cfg.sparse_safe {
        if cfg.sparse_convert {
            return Ok(None);
        }
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    lua: &'a Lua,
    max_depth: i64,
}

impl Parser<'_> {
    fn error(&self, expected: &str) -> mlua::Error {
        let found = match self.s.get(self.pos) {
            None => "T_END".to_string(),
            Some(_) => "invalid token".to_string(),
        };
        mlua::Error::runtime(format!("Expected {expected} but found {found} at character {}", self.pos + 1))
    }

    /// lua-cjson's `json_decode_descend`: entering an object or array at `depth`.
    fn descend(&self, depth: usize) -> mlua::Result<()> {
        if depth as i64 >= self.max_depth.min(HARD_DEPTH) {
            return Err(mlua::Error::runtime(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.pos + 1
            )));
        }
        Ok(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        self.skip_ws();
        match self.s.get(self.pos) {
            Some(b'{') => {
                self.descend(depth)?;
                self.pos += 1;
                let t = self.lua.create_table()?;
                self.skip_ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.skip_ws();
                    if self.s.get(self.pos) != Some(&b'"') {
                        return Err(self.error("object key string"));
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.s.get(self.pos) != Some(&b':') {
                        return Err(self.error("colon"));
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    t.raw_set(self.lua.create_string(&k)?, v)?;
                    self.skip_ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.error("comma or object end")),
                    }
                }
            }
            Some(b'[') => {
                self.descend(depth)?;
                self.pos += 1;
                let t = self.lua.create_table()?;
                self.skip_ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(depth + 1)?;
                    t.raw_set(i, v)?;
                    i += 1;
                    self.skip_ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.error("comma or array end")),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b't') if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(Value::LightUserData(LightUserData(std::ptr::null_mut())))
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.pos;
                while matches!(self.s.get(self.pos), Some(c) if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(n) => Ok(Value::Number(n)),
                    Err(_) => {
                        self.pos = start;
                        Err(self.error("value"))
                    }
                }
            }
            _ => Err(self.error("value")),
        }
    }

    fn hex4(&mut self) -> mlua::Result<u32> {
        let h = self.s.get(self.pos..self.pos + 4).ok_or_else(|| self.error("unicode escape"))?;
        let v = std::str::from_utf8(h).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
        self.pos += 4;
        v.ok_or_else(|| self.error("unicode escape"))
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(self.error("string end"));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.error("escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp) && self.s.get(self.pos..self.pos + 2) == Some(b"\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            let ch = char::from_u32(cp).ok_or_else(|| self.error("unicode escape"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.error("escape")),
                    }
                }
                c => out.push(c),
            }
        }
    }
}
