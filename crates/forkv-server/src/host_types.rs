//! The types the host sees by name: [`crate::settings::EngineSettings`] and the
//! [`HostInput`]s ([`crate::persist::aof_config::AofConfig`], the RDB save options
//! [`crate::snapshot::RdbSaveOptions`] with their nested [`crate::snapshot::ReplSaveInfo`],
//! SHUTDOWN's [`crate::persist::shutdown::ShutdownSteps`]) going in, and the records coming
//! out ([`crate::counters::Counters`], [`crate::client_view::ClientView`],
//! [`crate::repl::ReplInfo`] with its list of [`crate::repl::ReplicaInfo`]).
//! Each is defined once, in Rust, by the `host_type!` macro, which also makes a table of its fields
//! (their names in camelCase, TypeScript types and doc comments). The binding converts any
//! of them field by field through that table, and the host's TypeScript types
//! (`ts/native/host-types.ts`) are generated from it ([`host_types_ts`]; the cargo test
//! `host_types_ts_is_current` checks the file, `FORKV_REGENERATE=1` rewrites it), so no
//! field is listed twice.

/// One field of a host type: its name in camelCase (the JavaScript property), its
/// TypeScript type and its doc comment.
#[derive(Clone, Copy, Debug)]
pub struct HostField {
    pub name: &'static str,
    pub ts_type: &'static str,
    /// An input's field the host may leave out (`name?: T | null`), a record's field that
    /// may be left out (`name?: T`).
    pub optional: bool,
    pub doc: &'static [&'static str],
}

/// One setting's value as the host hands it over (a JavaScript boolean, number, string or
/// array of strings); [`crate::settings::EngineSettings::set`] and [`HostInput::from_values`] convert it to the field's type.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<String>),
    /// A plain object: a nested input's (name, value) pairs.
    Object(Vec<(String, SettingValue)>),
}

/// A field type of an input (the engine settings, [`HostInput`]s): how a [`SettingValue`] converts to it, and its
/// TypeScript name. Numbers convert as Rust's `as` does (saturating; the configuration
/// store has already checked each directive's range).
pub trait SettingType: Sized {
    const TS: &'static str;
    /// The host may leave the field out (an `Option`; `null` counts as left out).
    const OPTIONAL: bool = false;
    fn from_value(v: SettingValue) -> Option<Self>;
    /// The value of a field the host left out: None (an error) unless it is optional.
    fn missing() -> Option<Self> {
        None
    }
}

macro_rules! number_setting {
    ($($t:ty),*) => {$(
        impl SettingType for $t {
            const TS: &'static str = "number";
            fn from_value(v: SettingValue) -> Option<Self> {
                match v {
                    SettingValue::Number(n) => Some(n as $t),
                    _ => None,
                }
            }
        }
    )*};
}
number_setting!(usize, u64, i64, u32);

impl SettingType for bool {
    const TS: &'static str = "boolean";
    fn from_value(v: SettingValue) -> Option<Self> {
        match v {
            SettingValue::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl SettingType for String {
    const TS: &'static str = "string";
    fn from_value(v: SettingValue) -> Option<Self> {
        match v {
            SettingValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl SettingType for Vec<String> {
    const TS: &'static str = "string[]";
    fn from_value(v: SettingValue) -> Option<Self> {
        match v {
            SettingValue::List(l) => Some(l),
            _ => None,
        }
    }
}

impl<T: SettingType> SettingType for Option<T> {
    const TS: &'static str = T::TS;
    const OPTIONAL: bool = true;
    fn from_value(v: SettingValue) -> Option<Self> {
        T::from_value(v).map(Some)
    }
    fn missing() -> Option<Self> {
        Some(None)
    }
}

/// A field's value as the host receives it.
#[derive(Clone, Copy)]
pub enum RecordValue<'a> {
    Bool(bool),
    Number(f64),
    Text(&'a str),
    /// An `Option` that is `None`: the property is left out (`undefined` for the host).
    Absent,
    /// A list of records (`Vec` of a [`HostRecord`]).
    List(&'a dyn RecordList),
    /// A nested record.
    Record(&'a dyn RecordVisit),
    /// Bytes (a `Buffer` for the host, copied).
    Bytes(&'a [u8]),
    /// A list of strings.
    Strings(&'a [String]),
}

/// A field type of a record: its value for the host, and its TypeScript name.
pub trait RecordField {
    const TS: &'static str;
    /// An `Option`: the property may be left out.
    const OPTIONAL: bool = false;
    fn record_value(&self) -> RecordValue<'_>;
}

macro_rules! number_field {
    ($($t:ty),*) => {$(
        impl RecordField for $t {
            const TS: &'static str = "number";
            fn record_value(&self) -> RecordValue<'_> {
                RecordValue::Number(*self as f64)
            }
        }
    )*};
}
number_field!(u8, i32, u32, usize, u64, i64, f64);

impl RecordField for Vec<u8> {
    const TS: &'static str = "Buffer";
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::Bytes(self)
    }
}

impl RecordField for Vec<String> {
    const TS: &'static str = "string[]";
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::Strings(self)
    }
}

/// A child's kind by its name for the host ("rdb", "aof"; see [`crate::job_report::kind_name`]).
impl RecordField for forkv_snapshot::ChildKind {
    const TS: &'static str = "string";
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::Text(crate::job_report::kind_name(*self))
    }
}

impl RecordField for bool {
    const TS: &'static str = "boolean";
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::Bool(*self)
    }
}

impl RecordField for String {
    const TS: &'static str = "string";
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::Text(self)
    }
}

impl RecordField for &'static str {
    const TS: &'static str = "string";
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::Text(self)
    }
}

impl<T: RecordField> RecordField for Option<T> {
    const TS: &'static str = T::TS;
    const OPTIONAL: bool = true;
    fn record_value(&self) -> RecordValue<'_> {
        self.as_ref().map_or(RecordValue::Absent, RecordField::record_value)
    }
}

impl<T: HostRecord> RecordField for Vec<T> {
    const TS: &'static str = T::TS_LIST;
    fn record_value(&self) -> RecordValue<'_> {
        RecordValue::List(self)
    }
}

/// A struct the host hands over as a plain object, every field given (an optional one
/// may be left out).
pub trait HostInput: Sized {
    /// Its TypeScript interface's name.
    const TS_NAME: &'static str;
    const DOC: &'static [&'static str];
    const FIELDS: &'static [HostField];
    /// How its errors name a field: "<WHAT> '<name>' ..." ("AofOptions field" by default).
    const WHAT: &'static str;
    /// The struct from the host's (name, value) pairs: an unknown name, a value of the
    /// wrong type or a missing field is an error, never ignored.
    fn from_values(values: Vec<(String, SettingValue)>) -> Result<Self, String>;
    /// Sets the field the host names `name` (camelCase, see [`Self::FIELDS`]): an unknown
    /// name or a value of the wrong type is an error, never ignored.
    fn set_value(&mut self, name: &str, v: SettingValue) -> Result<(), String>;
}

/// A record's fields, one by one (the part of [`HostRecord`] a nested record is reached by).
pub trait RecordVisit {
    /// Each field's value, in the order of [`HostRecord::FIELDS`].
    fn visit(&self, f: &mut dyn FnMut(&'static str, RecordValue<'_>));
}

/// A list of records, as the binding walks it.
pub trait RecordList {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn item(&self, i: usize) -> Option<&dyn RecordVisit>;
}

impl<T: HostRecord> RecordList for Vec<T> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn item(&self, i: usize) -> Option<&dyn RecordVisit> {
        self.get(i).map(|r| r as &dyn RecordVisit)
    }
}

/// A struct the host receives as a plain object.
pub trait HostRecord: RecordVisit {
    /// Its TypeScript interface's name, and the name of a list of it.
    const TS_NAME: &'static str;
    const TS_LIST: &'static str;
    const DOC: &'static [&'static str];
    const FIELDS: &'static [HostField];
}

/// Defines a struct the host sees by name and its table, from one list: `#[input = "Ts"]`
/// for one the host hands over ([`HostInput`]; it may also be a field of another input),
/// `#[record = "Ts"]` for one it receives ([`HostRecord`]; a `Vec` of it may be a field of
/// another record). `Ts` is its TypeScript name; an input's errors name a field
/// "Ts field 'name'", or as `#[input = "Ts", what = "engine setting"]` says.
macro_rules! host_type {
    (
        #[$kind:ident = $ts:literal $(, what = $what:literal)?]
        $(#[doc = $sdoc:literal])*
        #[derive($($derive:path),*)]
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])* pub $field:ident: $t:ty, )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive($($derive),*)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $t, )*
        }

        $crate::host_types::host_type_impl! { $kind $name $ts ($crate::host_types::field_noun!($ts $(, $what)?)) [$($sdoc),*] $( [$($doc),*] $field: $t, )* }
    };
}
pub(crate) use host_type;

/// How an input's errors name its fields (see [`host_type!`]).
macro_rules! field_noun {
    ($ts:literal) => {
        concat!($ts, " field")
    };
    ($ts:literal, $what:literal) => {
        $what
    };
}
pub(crate) use field_noun;

/// The table and conversion of a [`host_type!`] struct, by kind.
macro_rules! host_type_impl {
    (input $name:ident $ts:literal ($what:expr) [$($sdoc:literal),*] $( [$($doc:literal),*] $field:ident: $t:ty, )*) => {
        impl $crate::host_types::HostInput for $name {
            const TS_NAME: &'static str = $ts;
            const WHAT: &'static str = $what;
            const DOC: &'static [&'static str] = &[$($sdoc),*];
            const FIELDS: &'static [$crate::host_types::HostField] = &[
                $( $crate::host_types::HostField {
                    name: $crate::host_types::camel!($field),
                    ts_type: <$t as $crate::host_types::SettingType>::TS,
                    optional: <$t as $crate::host_types::SettingType>::OPTIONAL,
                    doc: &[$($doc),*],
                }, )*
            ];
            fn from_values(values: Vec<(String, $crate::host_types::SettingValue)>) -> Result<Self, String> {
                $( let mut $field: Option<$t> = None; )*
                for (name, v) in values {
                    $(
                        if name == $crate::host_types::camel!($field) {
                            let ty = <$t as $crate::host_types::SettingType>::TS;
                            $field = Some(<$t as $crate::host_types::SettingType>::from_value(v).ok_or_else(|| format!("{} '{name}' must be a {ty}", Self::WHAT))?);
                            continue;
                        }
                    )*
                    return Err(format!("unknown {} '{name}'", Self::WHAT));
                }
                Ok($name {
                    $( $field: $field.or_else(<$t as $crate::host_types::SettingType>::missing).ok_or_else(|| format!("{} '{}' is missing", Self::WHAT, $crate::host_types::camel!($field)))?, )*
                })
            }
            fn set_value(&mut self, name: &str, v: $crate::host_types::SettingValue) -> Result<(), String> {
                $(
                    if name == $crate::host_types::camel!($field) {
                        let ty = <$t as $crate::host_types::SettingType>::TS;
                        self.$field = <$t as $crate::host_types::SettingType>::from_value(v).ok_or_else(|| format!("{} '{name}' must be a {ty}", Self::WHAT))?;
                        return Ok(());
                    }
                )*
                Err(format!("unknown {} '{name}'", Self::WHAT))
            }
        }

        impl $crate::host_types::SettingType for $name {
            const TS: &'static str = $ts;
            fn from_value(v: $crate::host_types::SettingValue) -> Option<Self> {
                match v {
                    $crate::host_types::SettingValue::Object(values) => <$name as $crate::host_types::HostInput>::from_values(values).ok(),
                    _ => None,
                }
            }
        }
    };
    (record $name:ident $ts:literal ($what:expr) [$($sdoc:literal),*] $( [$($doc:literal),*] $field:ident: $t:ty, )*) => {
        impl $crate::host_types::HostRecord for $name {
            const TS_NAME: &'static str = $ts;
            const TS_LIST: &'static str = concat!($ts, "[]");
            const DOC: &'static [&'static str] = &[$($sdoc),*];
            const FIELDS: &'static [$crate::host_types::HostField] = &[
                $( $crate::host_types::HostField {
                    name: $crate::host_types::camel!($field),
                    ts_type: <$t as $crate::host_types::RecordField>::TS,
                    optional: <$t as $crate::host_types::RecordField>::OPTIONAL,
                    doc: &[$($doc),*],
                }, )*
            ];
        }

        impl $crate::host_types::RecordVisit for $name {
            fn visit(&self, f: &mut dyn FnMut(&'static str, $crate::host_types::RecordValue<'_>)) {
                $( f($crate::host_types::camel!($field), $crate::host_types::RecordField::record_value(&self.$field)); )*
            }
        }

        impl $crate::host_types::RecordField for $name {
            const TS: &'static str = $ts;
            fn record_value(&self) -> $crate::host_types::RecordValue<'_> {
                $crate::host_types::RecordValue::Record(self)
            }
        }
    };
}
pub(crate) use host_type_impl;

/// A field name in camelCase, at compile time.
macro_rules! camel {
    ($field:ident) => {{
        const SNAKE: &str = stringify!($field);
        const LEN: usize = $crate::host_types::camel_len(SNAKE);
        const BYTES: [u8; LEN] = $crate::host_types::camel_bytes::<LEN>(SNAKE);
        match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("field names are ASCII"),
        }
    }};
}
pub(crate) use camel;

/// The length of `snake` in camelCase.
pub const fn camel_len(snake: &str) -> usize {
    let b = snake.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if b[i] != b'_' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// `snake` in camelCase (`N` is [`camel_len`]).
pub const fn camel_bytes<const N: usize>(snake: &str) -> [u8; N] {
    let b = snake.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut j, mut upper) = (0, 0, false);
    while i < b.len() {
        if b[i] == b'_' {
            upper = true;
        } else {
            out[j] = if upper { b[i].to_ascii_uppercase() } else { b[i] };
            upper = false;
            j += 1;
        }
        i += 1;
    }
    out
}

/// One TypeScript interface of an input (`record` false) or a record; `all_optional`:
/// every field may be left out.
fn ts_interface(out: &mut String, name: &str, doc: &[&str], fields: &[HostField], record: bool, all_optional: bool) {
    out.push('\n');
    if !doc.is_empty() {
        out.push_str(&format!("/** {} */\n", join_doc(doc)));
    }
    out.push_str(&format!("export interface {name} {{\n"));
    for f in fields {
        if !f.doc.is_empty() {
            out.push_str(&format!("  /** {} */\n", join_doc(f.doc)));
        }
        let (opt, null) = match (record, f.optional || all_optional) {
            (_, false) => ("", ""),
            (true, true) => ("?", ""),
            (false, true) if all_optional => ("?", ""),
            (false, true) => ("?", " | null"),
        };
        out.push_str(&format!("  {}{opt}: {}{null};\n", f.name, f.ts_type));
    }
    out.push_str("}\n");
}

fn join_doc(doc: &[&str]) -> String {
    doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn record_ts<R: HostRecord>(out: &mut String) {
    ts_interface(out, R::TS_NAME, R::DOC, R::FIELDS, true, false);
}

fn input_ts<I: HostInput>(out: &mut String) {
    ts_interface(out, I::TS_NAME, I::DOC, I::FIELDS, false, false);
}

/// The host's TypeScript types (`ts/native/host-types.ts`).
pub fn host_types_ts() -> String {
    use crate::settings::EngineSettings;
    let mut out = String::from(
        "// Generated from forkv-server's host types (crates/forkv-server/src/host_types.rs) by\n\
         // its cargo test host_types_ts_is_current: `FORKV_REGENERATE=1 cargo test -p forkv-server\n\
         // --test host_types`. Do not edit.\n",
    );
    ts_interface(&mut out, "EngineSettings", &["Engine settings the host keeps in sync with CONFIG; a field left out stays as it is."], EngineSettings::FIELDS, false, true);
    input_ts::<crate::persist::aof_config::AofConfig>(&mut out);
    input_ts::<crate::snapshot::ReplSaveInfo>(&mut out);
    input_ts::<crate::snapshot::RdbSaveOptions>(&mut out);
    input_ts::<crate::persist::shutdown::ShutdownSteps>(&mut out);
    record_ts::<crate::counters::Counters>(&mut out);
    record_ts::<crate::client_view::ClientView>(&mut out);
    record_ts::<crate::repl::ReplicaInfo>(&mut out);
    record_ts::<crate::repl::ReplInfo>(&mut out);
    input_ts::<crate::persist::policy::SaveRule>(&mut out);
    crate::host_records::records_ts(&mut out);
    out
}
