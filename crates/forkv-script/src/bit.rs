//! `bit`, as Valkey loads LuaBitOp: 32-bit operations on Lua numbers. Arguments are
//! normalized as LuaBitOp does (rounded to an integer, then taken modulo 2^32) and
//! results are signed 32-bit numbers.

use mlua::{Lua, Table, Value, Variadic};

/// LuaBitOp's argument normalization.
fn tobit(v: &Value, n: usize, fname: &str) -> mlua::Result<i32> {
    let d = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(d) => *d,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| mlua::Error::runtime(format!("bad argument #{n} to '{fname}' (number expected, got string)")))?,
        other => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #{n} to '{fname}' (number expected, got {})",
                other.type_name()
            )))
        }
    };
    // Round half to even like the 2^52+2^51 trick, then wrap to 32 bits.
    let r = d.round_ties_even();
    Ok((r.rem_euclid(4294967296.0) as u64 as u32) as i32)
}

fn args_of(args: &Variadic<Value>, fname: &str) -> mlua::Result<Vec<i32>> {
    if args.is_empty() {
        return Err(mlua::Error::runtime(format!("bad argument #1 to '{fname}' (number expected, got no value)")));
    }
    args.iter().enumerate().map(|(i, v)| tobit(v, i + 1, fname)).collect()
}

/// Registers the `bit` table in `globals`.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let fold = |name: &'static str, f: fn(i32, i32) -> i32| {
        lua.create_function(move |_, args: Variadic<Value>| {
            let v = args_of(&args, name)?;
            Ok(f64::from(v[1..].iter().fold(v[0], |a, &b| f(a, b))))
        })
    };
    t.raw_set("band", fold("band", |a, b| a & b)?)?;
    t.raw_set("bor", fold("bor", |a, b| a | b)?)?;
    t.raw_set("bxor", fold("bxor", |a, b| a ^ b)?)?;
    let unary = |name: &'static str, f: fn(i32) -> i32| {
        lua.create_function(move |_, args: Variadic<Value>| {
            let v = args_of(&args, name)?;
            Ok(f64::from(f(v[0])))
        })
    };
    t.raw_set("tobit", unary("tobit", |a| a)?)?;
    t.raw_set("bnot", unary("bnot", |a| !a)?)?;
    t.raw_set("bswap", unary("bswap", |a| a.swap_bytes())?)?;
    let shift = |name: &'static str, f: fn(i32, u32) -> i32| {
        lua.create_function(move |_, args: Variadic<Value>| {
            let v = args_of(&args, name)?;
            let n = v.get(1).copied().ok_or_else(|| {
                mlua::Error::runtime(format!("bad argument #2 to '{name}' (number expected, got no value)"))
            })?;
            Ok(f64::from(f(v[0], (n as u32) & 31)))
        })
    };
    t.raw_set("lshift", shift("lshift", |a, n| ((a as u32) << n) as i32)?)?;
    t.raw_set("rshift", shift("rshift", |a, n| ((a as u32) >> n) as i32)?)?;
    t.raw_set("arshift", shift("arshift", |a, n| a >> n)?)?;
    t.raw_set("rol", shift("rol", |a, n| (a as u32).rotate_left(n) as i32)?)?;
    t.raw_set("ror", shift("ror", |a, n| (a as u32).rotate_right(n) as i32)?)?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let v = args_of(&args, "tohex")?;
            let n = v.get(1).copied().unwrap_or(8);
            // |n| clamped to 8 (i32::MIN included: Valkey fixed LuaBitOp's overflow there).
            let upper = n < 0;
            let width = i64::from(n).abs().min(8) as usize;
            let x = v[0] as u32;
            let full = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
            lua.create_string(&full[8 - width..])
        })?,
    )?;
    globals.raw_set("bit", t)
}
