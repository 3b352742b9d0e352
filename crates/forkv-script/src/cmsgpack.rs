//! `cmsgpack`, as Valkey loads lua-cmsgpack: `pack(...)` encodes each argument and
//! concatenates them, `unpack(s)` returns every object in `s`, `unpack_one(s[, offset])`
//! and `unpack_limit(s, limit[, offset])` return the next offset (-1 at the end) then
//! at most one / `limit` objects from `offset`. Integral numbers are
//! packed as the smallest integer form, other numbers as float32 when exact, else
//! float64; a table whose keys are exactly 1..n is an array, any other a map; nesting
//! deeper than 16 packs as nil (lua-cmsgpack's limit).

use mlua::{Lua, MultiValue, Table, Value, Variadic};

const MAX_NESTING: usize = 16;

/// Registers the `cmsgpack` table in `globals`.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                pack(a, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set("unpack", lua.create_function(|lua, s: mlua::LuaString| unpack_full(lua, &s.as_bytes(), 0, 0))?)?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::LuaString, Option<i64>)| unpack_full(lua, &s.as_bytes(), 1, offset.unwrap_or(0)))?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, (s, limit, offset): (mlua::LuaString, i64, Option<i64>)| {
            unpack_full(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
        })?,
    )?;
    globals.raw_set("cmsgpack", t)
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(len: usize, fix: u8, fix_max: usize, tags: [u8; 3], out: &mut Vec<u8>) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if tags[0] != 0 && len <= 0xff {
        out.extend_from_slice(&[tags[0], len as u8]);
    } else if len <= 0xffff {
        out.push(tags[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(tags[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            pack_len(b.len(), 0xa0, 32, [0xd9, 0xda, 0xdb], out);
            out.extend_from_slice(&b);
        }
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(*i, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && *n >= -9.2e18 && *n <= 9.2e18 {
                pack_int(*n as i64, out);
            } else if f64::from(*n as f32) == *n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::Table(t) if depth < MAX_NESTING => {
            let mut count = 0usize;
            let mut max = 0i64;
            let mut is_array = true;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, _) = pair?;
                count += 1;
                match k {
                    Value::Integer(i) if i >= 1 => max = max.max(i),
                    Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as i64),
                    _ => is_array = false,
                }
            }
            if is_array && max as usize == count {
                pack_len(count, 0x90, 16, [0, 0xdc, 0xdd], out);
                for i in 1..=count {
                    pack(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
            } else {
                pack_len(count, 0x80, 16, [0, 0xde, 0xdf], out);
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    pack(&k, out, depth + 1)?;
                    pack(&val, out, depth + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// lua-cmsgpack's `mp_unpack_full`: up to `limit` objects from `offset` (both 0: every
/// object, and no offset in the results); otherwise the next offset (-1 when the input
/// is consumed) comes first.
fn unpack_full(lua: &Lua, bytes: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // lua-cmsgpack prints the input length where it means the limit.
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            bytes.len()
        )));
    }
    let Some(mut pos) = usize::try_from(offset).ok().filter(|&o| o <= bytes.len()) else {
        return Err(mlua::Error::runtime(format!("Start offset {offset} greater than input length {}.", bytes.len())));
    };
    let limit = if decode_all { i64::MAX } else { limit };
    let mut values = Vec::new();
    let mut count = 0i64;
    while pos < bytes.len() && count < limit {
        values.push(unpack(lua, bytes, &mut pos, 0)?);
        count += 1;
    }
    if !decode_all {
        let next = if pos == bytes.len() { -1 } else { pos as i64 };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_iter(values))
}

fn take<'a>(s: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let end = pos.checked_add(n).filter(|&e| e <= s.len()).ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
    let b = &s[*pos..end];
    *pos = end;
    Ok(b)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn unpack(lua: &Lua, s: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > 1000 {
        return Err(mlua::Error::runtime("Bad data format in input."));
    }
    let tag = take(s, pos, 1)?[0];
    let num = |v: f64| Ok(Value::Number(v));
    match tag {
        0x00..=0x7f => num(f64::from(tag)),
        0xe0..=0xff => num(f64::from(tag as i8)),
        0x80..=0x8f => unpack_map(lua, s, pos, usize::from(tag & 0x0f), depth),
        0x90..=0x9f => unpack_array(lua, s, pos, usize::from(tag & 0x0f), depth),
        0xa0..=0xbf => str_of(lua, s, pos, usize::from(tag & 0x1f)),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xca => num(f64::from(f32::from_bits(be(take(s, pos, 4)?) as u32))),
        0xcb => num(f64::from_bits(be(take(s, pos, 8)?))),
        0xcc => num(be(take(s, pos, 1)?) as f64),
        0xcd => num(be(take(s, pos, 2)?) as f64),
        0xce => num(be(take(s, pos, 4)?) as f64),
        0xcf => num(be(take(s, pos, 8)?) as f64),
        0xd0 => num(f64::from(take(s, pos, 1)?[0] as i8)),
        0xd1 => num(f64::from(be(take(s, pos, 2)?) as u16 as i16)),
        0xd2 => num(f64::from(be(take(s, pos, 4)?) as u32 as i32)),
        0xd3 => num(be(take(s, pos, 8)?) as i64 as f64),
        0xd9 | 0xc4 => {
            let n = be(take(s, pos, 1)?) as usize;
            str_of(lua, s, pos, n)
        }
        0xda | 0xc5 => {
            let n = be(take(s, pos, 2)?) as usize;
            str_of(lua, s, pos, n)
        }
        0xdb | 0xc6 => {
            let n = be(take(s, pos, 4)?) as usize;
            str_of(lua, s, pos, n)
        }
        0xdc => {
            let n = be(take(s, pos, 2)?) as usize;
            unpack_array(lua, s, pos, n, depth)
        }
        0xdd => {
            let n = be(take(s, pos, 4)?) as usize;
            unpack_array(lua, s, pos, n, depth)
        }
        0xde => {
            let n = be(take(s, pos, 2)?) as usize;
            unpack_map(lua, s, pos, n, depth)
        }
        0xdf => {
            let n = be(take(s, pos, 4)?) as usize;
            unpack_map(lua, s, pos, n, depth)
        }
        _ => Err(mlua::Error::runtime("Bad data format in input.")),
    }
}

fn str_of(lua: &Lua, s: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(take(s, pos, n)?)?))
}

fn unpack_array(lua: &Lua, s: &[u8], pos: &mut usize, n: usize, depth: usize) -> mlua::Result<Value> {
    // Each element takes at least one byte: bounds the table before allocating.
    if n > s.len() - *pos {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(n, 0)?;
    for i in 1..=n {
        t.raw_set(i, unpack(lua, s, pos, depth + 1)?)?;
    }
    Ok(Value::Table(t))
}

fn unpack_map(lua: &Lua, s: &[u8], pos: &mut usize, n: usize, depth: usize) -> mlua::Result<Value> {
    if n > s.len() - *pos {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = unpack(lua, s, pos, depth + 1)?;
        let v = unpack(lua, s, pos, depth + 1)?;
        if !matches!(k, Value::Nil) {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}
