//! `struct`, as Valkey loads Roberto Ierusalimschy's struct library (`lua_struct.c`):
//! `pack(fmt, ...)`, `unpack(fmt, data[, pos])` (the values, then the position after
//! them) and `size(fmt)`, on an x86-64 / aarch64 layout (little-endian by default,
//! short 2, int 4, long 8, maximum alignment 8).
//!
//! Format: `>` big-endian, `<` little-endian, `![n]` alignment (power of 2, default 8),
//! `x` a zero byte, `b/B` `h/H` `l/L` `i[n]/I[n]` signed/unsigned integers (`n` up to
//! 32, default 4), `c[n]` `n` chars (0: the whole string when packing, the
//! previous unpacked number when unpacking), `s` a zero-terminated string, `f` float,
//! `d` double, blanks ignored. Integers wider than 8 bytes get zero bytes past the 8th
//! when packed and are read from their low 8 bytes when unpacked, as Valkey's build does
//! (the C shifts are undefined there).

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// Maximum alignment (`MAXALIGN`: the padding before a double in a struct).
const MAX_ALIGN: usize = 8;
/// Largest integer size (`MAXINTSIZE`).
const MAX_INT_SIZE: usize = 32;

/// Registers the `struct` table in `globals`.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(|lua, args: Variadic<Value>| pack(lua, &args))?)?;
    t.raw_set("unpack", lua.create_function(|lua, args: Variadic<Value>| unpack(lua, &args))?)?;
    t.raw_set("size", lua.create_function(|_, fmt: mlua::LuaString| size(&fmt.as_bytes()))?)?;
    globals.raw_set("struct", t)
}

fn err(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

fn bad_arg(n: usize, name: &str, why: &str) -> mlua::Error {
    err(format!("bad argument #{n} to '{name}' ({why})"))
}

/// Format state: position in the format, byte order, alignment.
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        Format { fmt, pos: 0, little: true, align: 1 }
    }

    /// `getnum`: a decimal number at the cursor, or `default`.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: usize = 0;
        while let Some(d) = self.fmt.get(self.pos).filter(|c| c.is_ascii_digit()) {
            a = a
                .checked_mul(10)
                .and_then(|a| a.checked_add(usize::from(d - b'0')))
                .filter(|&a| a <= i32::MAX as usize)
                .ok_or_else(|| err("integral size overflow".into()))?;
            self.pos += 1;
        }
        Ok(a)
    }

    /// The next option and its size (`optsize`), or `None` at the end.
    fn next(&mut self, name: &str) -> mlua::Result<Option<(u8, usize)>> {
        let Some(&opt) = self.fmt.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let size = match opt {
            b'b' | b'B' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.number(1)?,
            b's' | b' ' | b'<' | b'>' => 0,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(err(format!("alignment {a} is not a power of 2")));
                }
                self.align = a;
                0
            }
            b'i' | b'I' => {
                let sz = self.number(4)?;
                if sz > MAX_INT_SIZE {
                    return Err(err(format!("integral size {sz} is larger than limit of {MAX_INT_SIZE}")));
                }
                sz
            }
            other => return Err(bad_arg(1, name, &format!("invalid format option '{}'", char::from(other)))),
        };
        match opt {
            b'<' => self.little = true,
            b'>' => self.little = false,
            _ => {}
        }
        Ok(Some((opt, size)))
    }

    /// Padding before an item of `size` at offset `len` (`gettoalign`).
    fn padding(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size - (len & (size - 1))) & (size - 1)
    }
}

fn number_arg(args: &[Value], i: usize, name: &str) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(i + 1, name, "number expected, got string")),
        Some(_) => Err(bad_arg(i + 1, name, "number expected")),
        None => Err(bad_arg(i + 1, name, "number expected, got no value")),
    }
}

fn string_arg(args: &[Value], i: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(crate::lua_number_text(*n).into_bytes()),
        Some(_) => Err(bad_arg(i + 1, name, "string expected")),
        None => Err(bad_arg(i + 1, name, "string expected, got no value")),
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8], little: bool) {
    if little {
        out.extend_from_slice(bytes);
    } else {
        out.extend(bytes.iter().rev());
    }
}

fn pack(lua: &Lua, args: &[Value]) -> mlua::Result<mlua::LuaString> {
    const NAME: &str = "pack";
    let fmt = string_arg(args, 0, NAME)?;
    let mut f = Format::new(&fmt);
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some((opt, size)) = f.next(NAME)? {
        let pad = f.padding(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'i' | b'I' => {
                let n = number_arg(args, arg, NAME)?;
                arg += 1;
                // C: (long)n below LONG_MAX, else (unsigned long)n.
                let value: u64 = if n < i64::MAX as f64 { n as i64 as u64 } else { n as u64 };
                let bytes: Vec<u8> = (0..size).map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 }).collect();
                put_bytes(&mut out, &bytes, f.little);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = number_arg(args, arg, NAME)? as f32;
                arg += 1;
                put_bytes(&mut out, &v.to_le_bytes(), f.little);
            }
            b'd' => {
                let v = number_arg(args, arg, NAME)?;
                arg += 1;
                put_bytes(&mut out, &v.to_le_bytes(), f.little);
            }
            b'c' | b's' => {
                let s = string_arg(args, arg, NAME)?;
                arg += 1;
                let n = if size == 0 { s.len() } else { size };
                if s.len() < n {
                    return Err(bad_arg(arg, NAME, "string too short"));
                }
                out.extend_from_slice(&s[..n]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => {}
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    const NAME: &str = "unpack";
    let fmt = string_arg(args, 0, NAME)?;
    let data = string_arg(args, 1, NAME)?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => number_arg(args, 2, NAME)?,
    };
    if start < 1.0 {
        return Err(bad_arg(3, NAME, "offset must be 1 or greater"));
    }
    let mut pos = start as usize - 1;
    let mut f = Format::new(&fmt);
    let mut out: Vec<Value> = Vec::new();
    let short = || bad_arg(2, NAME, "data string too short");
    while let Some((opt, mut size)) = f.next(NAME)? {
        pos = pos.checked_add(f.padding(pos, opt, size)).ok_or_else(short)?;
        if size > data.len() || pos > data.len() - size {
            return Err(short());
        }
        let field = &data[pos..pos + size];
        let ordered = |b: &[u8]| -> Vec<u8> { if f.little { b.to_vec() } else { b.iter().rev().copied().collect() } };
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'i' | b'I' => {
                let le = ordered(field);
                let mut v: u64 = 0;
                for (i, b) in le.iter().take(8).enumerate() {
                    v |= u64::from(*b) << (8 * i);
                }
                let n = if opt.is_ascii_lowercase() {
                    let bits = (size.min(8) * 8) as u32;
                    let signed = if bits < 64 && v & (1 << (bits - 1)) != 0 { (v | (!0u64 << bits)) as i64 } else { v as i64 };
                    signed as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
            }
            b'f' => {
                let le = ordered(field);
                let v = f32::from_le_bytes([le[0], le[1], le[2], le[3]]);
                out.push(Value::Number(f64::from(v)));
            }
            b'd' => {
                let le = ordered(field);
                let mut b = [0u8; 8];
                b.copy_from_slice(&le);
                out.push(Value::Number(f64::from_le_bytes(b)));
            }
            b'c' => {
                if size == 0 {
                    let n = match out.pop() {
                        Some(Value::Number(n)) => n,
                        Some(Value::Integer(n)) => n as f64,
                        _ => return Err(err("format 'c0' needs a previous size".into())),
                    };
                    size = if n > 0.0 { n as usize } else { 0 };
                    if size > data.len() || pos > data.len() - size {
                        return Err(short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(err("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => {}
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(fmt: &[u8]) -> mlua::Result<usize> {
    const NAME: &str = "size";
    let mut f = Format::new(fmt);
    let mut pos = 0usize;
    while let Some((opt, size)) = f.next(NAME)? {
        pos += f.padding(pos, opt, size);
        if opt == b's' {
            return Err(bad_arg(1, NAME, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(bad_arg(1, NAME, "option 'c0' has no fixed size"));
        }
        pos += size;
    }
    Ok(pos)
}
