//! Valkey's conversion rules between replies and Lua values, both ways
//! (`script_lua.c`: `redisProtocolToLuaType_*` and `luaReplyToRedisReply`).
//!
//! Reply -> Lua: integer -> number, bulk -> string, null bulk/array -> false, status ->
//! `{ok=s}`, error -> `{err=s}`, array -> table; RESP3 only: null -> nil, boolean ->
//! boolean, double -> `{double=d}`, map -> `{map={...}}`, set -> `{set={k=true}}`, big
//! number -> `{big_number=s}`, verbatim -> `{verbatim_string={format=, string=}}`.
//!
//! Lua -> reply: string -> bulk, number -> integer (truncated), boolean -> 1/null in RESP2
//! mode and a boolean in RESP3 mode, tables by their single field (`err`, `ok`, `double`,
//! `big_number`, `verbatim_string`, `map`, `set`) or as an array up to the first nil;
//! anything else -> null.

use mlua::{Function, Lua, Table, Value};

use crate::resp::RespValue;

/// Deeper tables than this are answered with an error (Valkey runs out of Lua stack).
const MAX_DEPTH: usize = 1000;

/// Turns a command's reply into the Lua value `server.call` returns. `error_table` is the
/// prelude's `luaPushErrorBuff`.
pub(crate) fn reply_to_lua(lua: &Lua, v: &RespValue, error_table: &Function) -> mlua::Result<Value> {
    Ok(match v {
        RespValue::Int(n) => Value::Number(*n as f64),
        RespValue::Bulk(b) => Value::String(lua.create_string(b)?),
        RespValue::NullBulk | RespValue::NullArray => Value::Boolean(false),
        RespValue::Null => Value::Nil,
        RespValue::Bool(b) => Value::Boolean(*b),
        RespValue::Status(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(s)?)?;
            Value::Table(t)
        }
        RespValue::Error(e) => {
            let mut s = Vec::with_capacity(e.len() + 1);
            s.push(b'-');
            s.extend_from_slice(e);
            let t: Table = error_table.call(lua.create_string(&s)?)?;
            // The command already counted this error.
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        RespValue::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item, error_table)?)?;
            }
            Value::Table(t)
        }
        RespValue::Map(pairs) => {
            let m = lua.create_table()?;
            for (k, v) in pairs {
                m.raw_set(reply_to_lua(lua, k, error_table)?, reply_to_lua(lua, v, error_table)?)?;
            }
            single(lua, "map", Value::Table(m))?
        }
        RespValue::Set(items) => {
            let m = lua.create_table()?;
            for k in items {
                m.raw_set(reply_to_lua(lua, k, error_table)?, true)?;
            }
            single(lua, "set", Value::Table(m))?
        }
        RespValue::Double(d) => single(lua, "double", Value::Number(*d))?,
        RespValue::BigNumber(s) => single(lua, "big_number", Value::String(lua.create_string(s)?))?,
        RespValue::Verbatim(format, text) => {
            let inner = lua.create_table()?;
            inner.raw_set("string", lua.create_string(text)?)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            single(lua, "verbatim_string", Value::Table(inner))?
        }
    })
}

fn single(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// Lua -> reply, for a script's result. `resp` is the script's protocol (`setresp`).
pub(crate) fn lua_to_reply(v: &Value, resp: u8) -> RespValue {
    lua_to_reply_at(v, resp, 0)
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn lua_to_reply_at(v: &Value, resp: u8, depth: usize) -> RespValue {
    if depth > MAX_DEPTH {
        return RespValue::Error(b"ERR reached lua stack limit".to_vec());
    }
    match v {
        Value::String(s) => RespValue::Bulk(s.as_bytes().to_vec()),
        Value::Boolean(b) if resp == 2 => {
            if *b {
                RespValue::Int(1)
            } else {
                RespValue::Null
            }
        }
        Value::Boolean(b) => RespValue::Bool(*b),
        Value::Integer(n) => RespValue::Int(*n),
        // C's (long long) cast; Rust's saturates where C is undefined.
        Value::Number(n) => RespValue::Int(*n as i64),
        Value::Table(t) => table_to_reply(t, resp, depth),
        _ => RespValue::Null,
    }
}

fn table_to_reply(t: &Table, resp: u8, depth: usize) -> RespValue {
    let get = |k: &str| t.raw_get::<Value>(k).unwrap_or(Value::Nil);
    if let Some(e) = bytes_of(&get("err")) {
        return RespValue::Error(error_text(&e));
    }
    if let Some(ok) = bytes_of(&get("ok")) {
        return RespValue::Status(ok.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect());
    }
    match get("double") {
        Value::Number(d) => return RespValue::Double(d),
        Value::Integer(d) => return RespValue::Double(d as f64),
        _ => {}
    }
    if let Some(b) = bytes_of(&get("big_number")) {
        return RespValue::BigNumber(b.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect());
    }
    if let Value::Table(vt) = get("verbatim_string") {
        let format = bytes_of(&vt.raw_get::<Value>("format").unwrap_or(Value::Nil));
        let text = bytes_of(&vt.raw_get::<Value>("string").unwrap_or(Value::Nil));
        if let (Some(format), Some(text)) = (format, text) {
            return RespValue::Verbatim(format, text);
        }
    }
    if let Value::Table(m) = get("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((lua_to_reply_at(&k, resp, depth + 1), lua_to_reply_at(&v, resp, depth + 1)));
        }
        return RespValue::Map(pairs);
    }
    if let Value::Table(s) = get("set") {
        let mut items = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            items.push(lua_to_reply_at(&k, resp, depth + 1));
        }
        return RespValue::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply_at(&v, resp, depth + 1)),
        }
    }
    RespValue::Array(items)
}

/// An `err` field as an error reply: its first word is the code (a `-` prefix is
/// dropped); newlines would break the protocol.
fn error_text(e: &[u8]) -> Vec<u8> {
    let e = e.strip_prefix(b"-").unwrap_or(e);
    e.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect()
}
