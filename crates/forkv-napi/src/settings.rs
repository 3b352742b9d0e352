//! The engine settings from a JavaScript object: each property is set by name on
//! [`forkv_server::settings::EngineSettings`], the one definition of the settings.

use napi::bindgen_prelude::*;

use forkv_server::settings::{EngineSettings, SettingValue};

/// The settings an object of the host gives (`undefined` properties are left out).
pub(crate) fn engine_settings(o: &Object) -> Result<EngineSettings> {
    let mut s = EngineSettings::default();
    for name in Object::keys(o)? {
        let Some(v) = o.get::<Unknown>(&name)? else { continue };
        // SAFETY (each cast): the value's type was checked just before; an object that is
        // not an array of strings fails the array conversion with an error.
        let value = match v.get_type()? {
            ValueType::Boolean => SettingValue::Bool(unsafe { v.cast::<bool>() }?),
            ValueType::Number => SettingValue::Number(unsafe { v.cast::<f64>() }?),
            ValueType::String => SettingValue::Text(unsafe { v.cast::<String>() }?),
            ValueType::Object => SettingValue::List(unsafe { v.cast::<Vec<String>>() }?),
            other => return Err(Error::from_reason(format!("engine setting '{name}' has a value of type {other}"))),
        };
        s.set(&name, value).map_err(Error::from_reason)?;
    }
    Ok(s)
}
