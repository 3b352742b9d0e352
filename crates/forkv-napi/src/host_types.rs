//! forkv-server's host types across Node-API, field by field through their tables
//! ([`forkv_server::host_types`]): the inputs (the engine settings among them) from JavaScript
//! objects (nested objects included), and the records to plain objects (lists of records
//! to arrays). No field is named here.

use napi::bindgen_prelude::*;

use forkv_server::host_types::{HostInput, RecordValue, RecordVisit};
use forkv_server::settings::SettingValue;

/// An input of the host from its object (see [`HostInput::from_values`]).
pub(crate) fn input<T: HostInput>(o: &Object) -> Result<T> {
    T::from_values(values(o)?).map_err(Error::from_reason)
}

/// An object's (name, value) pairs, `undefined` and `null` properties left out.
fn values(o: &Object) -> Result<Vec<(String, SettingValue)>> {
    let mut out = Vec::new();
    for name in Object::keys(o)? {
        let Some(v) = o.get::<Unknown>(&name)? else { continue };
        // SAFETY (each cast): the value's type was checked just before; an array that is
        // not an array of strings fails the array conversion with an error.
        let value = match v.get_type()? {
            ValueType::Null | ValueType::Undefined => continue,
            ValueType::Boolean => SettingValue::Bool(unsafe { v.cast::<bool>() }?),
            ValueType::Number => SettingValue::Number(unsafe { v.cast::<f64>() }?),
            ValueType::String => SettingValue::Text(unsafe { v.cast::<String>() }?),
            ValueType::Object if v.is_array()? => SettingValue::List(unsafe { v.cast::<Vec<String>>() }?),
            ValueType::Object => SettingValue::Object(values(&unsafe { v.cast::<Object>() }?)?),
            other => return Err(Error::from_reason(format!("field '{name}' has a value of type {other}"))),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// A record as a plain object (its TypeScript type is its `TS_NAME` in
/// `ts/native/host-types.ts`).
pub(crate) fn record<'env>(env: &'env Env, r: &dyn RecordVisit) -> Result<Object<'env>> {
    let mut o = Object::new(env)?;
    let mut failed = None;
    r.visit(&mut |name, v| {
        let set = match v {
            RecordValue::Bool(b) => o.set(name, b),
            RecordValue::Number(n) => o.set(name, n),
            RecordValue::Text(t) => o.set(name, t),
            RecordValue::Absent => Ok(()),
            RecordValue::List(l) => list(env, l).and_then(|a| o.set(name, a)),
            RecordValue::Record(r) => record(env, r).and_then(|v| o.set(name, v)),
            RecordValue::Bytes(b) => BufferSlice::copy_from(env, b).and_then(|v| o.set(name, v)),
            RecordValue::Strings(l) => o.set(name, l.to_vec()),
        };
        if let Err(e) = set {
            failed.get_or_insert(e);
        }
    });
    failed.map_or(Ok(o), Err)
}

/// A record, or null.
pub(crate) fn record_opt<'env, R: RecordVisit>(env: &'env Env, r: Option<R>) -> Result<Option<Object<'env>>> {
    r.map(|r| record(env, &r)).transpose()
}

/// A list of records as an array of plain objects.
pub(crate) fn records<'env, R: forkv_server::host_types::HostRecord>(env: &'env Env, l: &Vec<R>) -> Result<Array<'env>> {
    list(env, l)
}

/// A list of records as an array of plain objects.
fn list<'env>(env: &'env Env, l: &dyn forkv_server::host_types::RecordList) -> Result<Array<'env>> {
    let mut a = env.create_array(l.len() as u32)?;
    for i in 0..l.len() {
        if let Some(item) = l.item(i) {
            a.set(i as u32, record(env, item)?)?;
        }
    }
    Ok(a)
}
