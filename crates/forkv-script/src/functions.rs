//! Valkey's functions: libraries of named Lua functions (`functions.c`, `function_lua.c`).
//!
//! `FUNCTION LOAD` hands a library's code here. Its first line is the metadata
//! (`#!lua name=<library>`, [`parse_metadata`]); the rest runs once, in the same VM as
//! the functions later run in, but with the globals pointing at the library API only:
//! `server`/`redis` with `register_function`, `log`, the `LOG_*` levels and the version
//! fields (any other global, and `server.call`, is "nonexistent"; writing a global is
//! refused). Each `server.register_function` call adds a [`FunctionInfo`] to the library
//! being built; nothing is linked until the code ran to its end, registered at least one
//! function, and none of its names collides with another library's, so a failed load
//! (or a failed `REPLACE`) leaves the registry as it was.
//!
//! Library names are case-sensitive, function names are not (Valkey's dict types).
//! `FCALL` runs a function with its keys and arguments as its two Lua arguments (no
//! `KEYS`/`ARGV` globals) through the same runner and error handler as EVAL scripts; a
//! failure names the function (`script: <name>, on @user_function:<line>.`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, MultiValue, Value, Variadic, VmState};

use crate::{lua_error_text, RespValue, RunOptions, ScriptFlags, ScriptHost, Scripting};
use forkv_keyspace::sds::split_args;

/// How long FUNCTION LOAD lets a library's code run (Valkey's `LOAD_TIMEOUT_MS`).
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// The one engine there is (`FUNCTION LIST`'s `engine` field).
pub const ENGINE_NAME: &str = "LUA";

/// The error for a library or function name that is not `[A-Za-z0-9_]+` (Valkey uses
/// the library wording for both).
pub const BAD_NAME: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
pub struct FunctionInfo {
    /// The name as registered (lookups ignore case).
    pub name: String,
    /// `description` of the named-arguments form.
    pub description: Option<Vec<u8>>,
    /// `flags` of the named-arguments form (no shebang: never compatibility mode).
    pub flags: ScriptFlags,
    func: Function,
}

/// One library: its code as loaded (metadata line included) and its functions in the
/// order they were registered.
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionInfo>,
}

/// The libraries and a case-insensitive index of their functions.
#[derive(Default)]
pub struct Libraries {
    libs: BTreeMap<String, Library>,
    /// Lowercased function name -> its library's name.
    index: HashMap<String, String>,
}

impl Libraries {
    /// The libraries, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// Number of libraries (INFO `number_of_libraries`).
    pub fn len(&self) -> usize {
        self.libs.len()
    }

    /// No library is loaded.
    pub fn is_empty(&self) -> bool {
        self.libs.is_empty()
    }

    /// Number of functions (INFO `number_of_functions`).
    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// A function by name, any case.
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        let lib = self.index.get(&name.to_ascii_lowercase())?;
        self.libs.get(lib)?.functions.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The codes of every library, for DUMP, RDB files and AOF rewrites.
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.libs.values().map(|l| l.code.clone()).collect()
    }

    /// Bytes of code, names and descriptions held (INFO `used_memory_functions`).
    pub fn bytes(&self) -> usize {
        self.libs
            .values()
            .map(|l| {
                l.name.len()
                    + l.code.len()
                    + l.functions.iter().map(|f| f.name.len() + f.description.as_ref().map_or(0, Vec::len)).sum::<usize>()
            })
            .sum()
    }

    fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index.insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.index.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The first function of `lib` whose name another linked library already uses.
    fn collision<'a>(&self, lib: &'a Library) -> Option<&'a str> {
        lib.functions.iter().find(|f| self.index.contains_key(&f.name.to_ascii_lowercase())).map(|f| f.name.as_str())
    }

    /// Links `lib`, replacing a library of the same name when `replace`; on any error
    /// the registry is unchanged (Valkey's `functionsCreateWithLibraryCtx` tail).
    fn install(&mut self, lib: Library, replace: bool) -> Result<(), String> {
        let old = if replace { self.unlink(&lib.name) } else { None };
        if let Some(f) = self.collision(&lib) {
            let err = format!("Function {f} already exists");
            if let Some(old) = old {
                self.link(old);
            }
            return Err(err);
        }
        self.link(lib);
        Ok(())
    }

    /// Moves every library of `src` in (Valkey's `libraryJoin`): a name already here is
    /// an error, or with `replace` the old library goes; a function name used by a
    /// library that stays is an error. All or nothing.
    fn join(&mut self, src: Libraries, replace: bool) -> Result<(), String> {
        let mut replaced = Vec::new();
        for name in src.libs.keys() {
            if self.libs.contains_key(name) {
                if !replace {
                    return Err(format!("Library {name} already exists"));
                }
                replaced.extend(self.unlink(name));
            }
        }
        let collision = src.libs.values().find_map(|l| self.collision(l)).map(str::to_string);
        if let Some(f) = collision {
            for old in replaced {
                self.link(old);
            }
            return Err(format!("Function {f} already exists"));
        }
        for (_, lib) in src.libs {
            self.link(lib);
        }
        Ok(())
    }
}

/// What FUNCTION RESTORE does with the libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Drop them all first.
    Flush,
    /// Keep them; a library name in both is an error (the default).
    Append,
    /// Keep them, but a library of the payload replaces the one of the same name.
    Replace,
}

/// The metadata line of a library: its engine and name, and where the code after the
/// line starts (the newline stays with the code, so line numbers are the file's).
#[derive(Debug, PartialEq, Eq)]
pub struct Metadata {
    pub engine: String,
    pub name: String,
    pub body: usize,
}

/// Reads `#!<engine> name=<library>` (Valkey's `functionExtractLibMetaData`). Errors are
/// Valkey's, without the `ERR ` code.
pub fn parse_metadata(code: &[u8]) -> Result<Metadata, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = split_args(&code[..end]).ok_or("Invalid library metadata")?;
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(&first[2.min(first.len())..]).into_owned();
    let mut name: Option<String> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!("Invalid metadata value given: {}", String::from_utf8_lossy(part)));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok(Metadata { engine, name, body: end })
}

/// True for a valid library or function name: letters, digits and `_`, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// `server.register_function` as the prelude wraps it: `(error message or nil, nil)`.
/// It adds to the library being loaded (`registering`), and is refused outside a load.
pub(crate) fn register_function_api(lua: &Lua, registering: Rc<RefCell<Option<Vec<FunctionInfo>>>>) -> mlua::Result<Function> {
    lua.create_function(move |_, args: Variadic<Value>| {
        let mut guard = registering.borrow_mut();
        let Some(pending) = guard.as_mut() else {
            return Ok((Some("server.register_function can only be called on FUNCTION LOAD command"), Value::Nil));
        };
        let info = match read_registration(&args) {
            Ok(info) => info,
            Err(msg) => return Ok((Some(msg), Value::Nil)),
        };
        if !valid_name(info.name.as_bytes()) {
            return Ok((Some(BAD_NAME), Value::Nil));
        }
        if pending.iter().any(|f| f.name.eq_ignore_ascii_case(&info.name)) {
            return Ok((Some("Function already exists in the library"), Value::Nil));
        }
        pending.push(info);
        Ok((None, Value::Nil))
    })
}

/// A string argument as Lua's `lua_isstring` sees it (numbers count).
fn lua_text(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        Value::Number(n) => Some(crate::lua_number_text(*n).into_bytes()),
        _ => None,
    }
}

/// The arguments of `server.register_function`, positional `(name, callback)` or one
/// table of named arguments (`luaRegisterFunctionReadArgs`).
fn read_registration(args: &[Value]) -> Result<FunctionInfo, &'static str> {
    match args {
        [Value::Table(t)] => {
            let (mut name, mut description, mut func, mut flags) = (None, None, None, 0u32);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|_| "unknown argument given to server.register_function")?;
                let Some(key) = lua_text(&k) else {
                    return Err("named argument key given to server.register_function is not a string");
                };
                match key.to_ascii_lowercase().as_slice() {
                    b"function_name" => {
                        name = Some(lua_text(&v).ok_or("function_name argument given to server.register_function must be a string")?)
                    }
                    b"description" => {
                        description =
                            Some(lua_text(&v).ok_or("description argument given to server.register_function must be a string")?)
                    }
                    b"callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return Err("callback argument given to server.register_function must be a function"),
                    },
                    b"flags" => {
                        let Value::Table(ft) = v else {
                            return Err("flags argument to server.register_function must be a table representing function flags");
                        };
                        for j in 1.. {
                            let flag: Value = ft.raw_get(j).map_err(|_| "unknown flag given")?;
                            if matches!(flag, Value::Nil) {
                                break;
                            }
                            let text = lua_text(&flag).ok_or("unknown flag given")?.to_ascii_lowercase();
                            flags |= ScriptFlags::by_name(&text).ok_or("unknown flag given")?;
                        }
                    }
                    _ => return Err("unknown argument given to server.register_function"),
                }
            }
            let name = name.ok_or("server.register_function must get a function name argument")?;
            let func = func.ok_or("server.register_function must get a callback argument")?;
            Ok(FunctionInfo { name: String::from_utf8_lossy(&name).into_owned(), description, flags: ScriptFlags(flags), func })
        }
        [_] => Err("calling server.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        [name, func] => {
            let name = lua_text(name).ok_or("first argument to server.register_function must be a string")?;
            let Value::Function(func) = func else {
                return Err("second argument to server.register_function must be a function");
            };
            Ok(FunctionInfo { name: String::from_utf8_lossy(&name).into_owned(), description: None, flags: ScriptFlags(0), func: func.clone() })
        }
        _ => Err("wrong number of arguments to server.register_function"),
    }
}

impl Scripting {
    /// The loaded libraries.
    pub fn libraries(&self) -> &Libraries {
        &self.libraries
    }

    /// FUNCTION LOAD: compiles `code`, runs it to register its functions and links the
    /// library (replacing one of the same name when `replace`). Returns the library's
    /// name. `timeout` bounds the run (`None` when loading from a file or a payload).
    /// `server.log` lines of the code go to `host`. Errors are Valkey's, without `ERR `.
    pub fn load_library(&mut self, host: &mut dyn ScriptHost, code: &[u8], replace: bool, timeout: Option<Duration>) -> Result<String, String> {
        let lib = self.build_library(host, code, timeout, |name| self.libraries.libs.contains_key(name) && !replace)?;
        let name = lib.name.clone();
        self.libraries.install(lib, replace)?;
        Ok(name)
    }

    /// FUNCTION DELETE: false when no library has that name.
    pub fn delete_library(&mut self, name: &str) -> bool {
        self.libraries.unlink(name).is_some()
    }

    /// FUNCTION FLUSH: drops every library and collects the garbage.
    pub fn flush_libraries(&mut self) {
        self.libraries = Libraries::default();
        let _ = self.lua.gc_collect();
    }

    /// FUNCTION RESTORE (and loading an RDB file's libraries): loads every code into a
    /// new set first, so that a bad payload changes nothing, then applies `policy`.
    pub fn restore_libraries(&mut self, host: &mut dyn ScriptHost, codes: &[Vec<u8>], policy: RestorePolicy) -> Result<(), String> {
        let mut fresh = Libraries::default();
        for code in codes {
            let lib = self.build_library(host, code, None, |name| fresh.libs.contains_key(name))?;
            fresh.install(lib, false)?;
        }
        match policy {
            RestorePolicy::Flush => {
                self.libraries = fresh;
                Ok(())
            }
            RestorePolicy::Append => self.libraries.join(fresh, false),
            RestorePolicy::Replace => self.libraries.join(fresh, true),
        }
    }

    /// Builds a library from its code without linking it. `exists(name)` says whether
    /// its name is taken (checked before the code runs, as Valkey does).
    fn build_library(
        &self,
        host: &mut dyn ScriptHost,
        code: &[u8],
        timeout: Option<Duration>,
        exists: impl Fn(&str) -> bool,
    ) -> Result<Library, String> {
        let meta = parse_metadata(code)?;
        if !meta.engine.eq_ignore_ascii_case(ENGINE_NAME) {
            return Err(format!("Engine '{}' not found", meta.engine));
        }
        if !valid_name(meta.name.as_bytes()) {
            return Err(BAD_NAME.into());
        }
        if exists(&meta.name) {
            return Err(format!("Library '{}' already exists", meta.name));
        }
        let chunk = self
            .lua
            .load(&code[meta.body..])
            .set_name("@user_function")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
        let functions = self.run_library_code(host, &chunk, timeout)?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(Library { name: meta.name, code: code.to_vec(), functions })
    }

    /// Runs a library's compiled code with the library API as its globals; returns the
    /// functions it registered.
    fn run_library_code(&self, host: &mut dyn ScriptHost, chunk: &Function, timeout: Option<Duration>) -> Result<Vec<FunctionInfo>, String> {
        let internal = |e: mlua::Error| format!("Error registering functions: {}", lua_error_text(&e));
        *self.registering.borrow_mut() = Some(Vec::new());
        let logs = self.load_logs.clone();
        let log = self
            .lua
            .create_function(move |_, args: Variadic<Value>| match crate::log_line(&args) {
                Ok(line) => {
                    logs.borrow_mut().push(line);
                    Ok(None)
                }
                Err(msg) => Ok(Some(msg)),
            })
            .map_err(internal)?;
        let setup = self
            .current
            .raw_set("log", log)
            .and_then(|()| self.set_index.call::<()>((self.globals_proxy.clone(), self.load_env.clone())));
        let setup = setup.and_then(|()| match timeout {
            Some(limit) => {
                let start = Instant::now();
                self.lua.set_hook(HookTriggers::default().every_nth_instruction(100_000), move |_, _| {
                    if start.elapsed() > limit {
                        Err(mlua::Error::runtime("FUNCTION LOAD timeout"))
                    } else {
                        Ok(VmState::Continue)
                    }
                })
            }
            None => Ok(()),
        });
        let outcome = setup.and_then(|()| self.load_run.call::<MultiValue>(chunk.clone()));
        if timeout.is_some() {
            self.lua.remove_hook();
            // The load's own hook replaced the VM's count hook: put it back.
            self.reinstall_hook();
        }
        // Back to the real globals, whatever happened.
        let restored = self.set_index.call::<()>((self.globals_proxy.clone(), self.globals.clone()));
        let _ = self.current.raw_set("log", Value::Nil);
        let registered = self.registering.borrow_mut().take().unwrap_or_default();
        for (level, line) in self.load_logs.borrow_mut().drain(..) {
            host.log(level, &line);
        }
        restored.map_err(internal)?;
        let out = outcome.map_err(internal)?;
        let mut it = out.into_iter();
        if matches!(it.next(), Some(Value::Boolean(true))) {
            return Ok(registered);
        }
        let msg = match it.next() {
            Some(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "ERR unknown error".into(),
        };
        Err(format!("Error registering functions: {msg}"))
    }

    /// FCALL: runs function `name` (any case) with `keys` and `args` as its two
    /// arguments; its reply, or an error reply. `NOSCRIPT`-like miss: the caller checks
    /// [`Scripting::function_flags`] first.
    pub fn call_function(&mut self, host: &mut dyn ScriptHost, name: &str, keys: &[&[u8]], args: &[&[u8]], opts: RunOptions) -> RespValue {
        let Some(f) = self.libraries.function(name) else {
            return RespValue::Error(b"ERR Function not found".to_vec());
        };
        let (func, flags, fname) = (f.func.clone(), f.flags, f.name.clone());
        match self.run_function(host, &func, &fname, flags, keys, args, opts, true) {
            Ok(v) => v,
            Err(e) => RespValue::Error(format!("ERR {}", lua_error_text(&e)).into_bytes()),
        }
    }

    /// The flags of function `name` (any case), `None` when there is none.
    pub fn function_flags(&self, name: &str) -> Option<ScriptFlags> {
        self.libraries.function(name).map(|f| f.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        let m = parse_metadata(b"#!lua name=mylib\nreturn 1").map_err(|e| e.to_string());
        assert_eq!(m, Ok(Metadata { engine: "lua".into(), name: "mylib".into(), body: 16 }));
        assert_eq!(parse_metadata(b"#!lua name=\"foo\"\n").map(|m| m.name), Ok("foo".into()));
        assert_eq!(parse_metadata(b"return 1").err().as_deref(), Some("Missing library metadata"));
        assert_eq!(parse_metadata(b"#!lua name=x").err().as_deref(), Some("Invalid library metadata"));
        assert_eq!(parse_metadata(b"#!lua name=\"x\"y\n").err().as_deref(), Some("Invalid library metadata"));
        assert_eq!(parse_metadata(b"#!lua\n").err().as_deref(), Some("Library name was not given"));
        assert_eq!(parse_metadata(b"#! name=t\n").map(|m| m.engine), Ok(String::new()));
        assert_eq!(parse_metadata(b"#!lua name=t foo=bar\n").err().as_deref(), Some("Invalid metadata value given: foo=bar"));
        assert_eq!(
            parse_metadata(b"#!lua name=a name=b\n").err().as_deref(),
            Some("Invalid metadata value, name argument was given multiple times")
        );
        assert!(valid_name(b"ab_1") && !valid_name(b"") && !valid_name(b"a b") && !valid_name(b"a\0b"));
    }
}
