//! forkv's Lua scripting: one Lua 5.1 VM per server, as Valkey embeds it (`eval.c`,
//! `script_lua.c`), and nothing of the engine's internals.
//!
//! A script calls commands through [`ScriptHost`], a trait with one job: run ONE command
//! synchronously for the script (argv plus the [`CallContext`]: may it write, which RESP
//! version, the script's flags) and hand the reply back as a [`RespValue`]. The engine
//! implements it by dispatching through its own command path for a script
//! pseudo-client; tests implement it with a map. Everything else lives here:
//!
//! - the VM and its sandbox (`prelude.lua`): the library tables and the globals are
//!   readonly proxies (`Attempt to modify a readonly table`), reading a missing global
//!   is an error, `os` keeps only `clock`, there is no `io`, `loadfile`, `dofile`,
//!   `print`, and `debug` is gone once the error handler holds its `getinfo`;
//! - the script cache by SHA1 ([`Scripting::create`], `SCRIPT LOAD/EXISTS/FLUSH`) and the
//!   shebang flags ([`shebang`]);
//! - the `server.*` API (also named `redis`): `call`, `pcall`, `error_reply`,
//!   `status_reply`, `sha1hex`, `log` and `LOG_*`, `setresp`, `set_repl` and `REPL_*`,
//!   `replicate_commands`, `breakpoint`/`debug` (they act only in a debugged run, see
//!   [`ldb`] and [`Scripting::run_debug`], which the engine runs for `SCRIPT DEBUG YES|SYNC`),
//!   the version fields;
//! - the conversions between replies and Lua values ([`convert`](crate::convert)) and
//!   Valkey's error wording (`ERR user_script:1: ... script: f_<sha>, on @user_script:1.`);
//! - `math.random` from one `lrand48` continued from run to run, as
//!   in Valkey 7+ ([`rand48`]).

pub mod functions;
pub mod ldb;
pub mod resp;
pub mod shebang;

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
mod rand48;
mod structlib;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use mlua::chunk::ChunkMode;
use mlua::debug::{Debug, DebugEvent};
use mlua::{Function, HookTriggers, Lua, MultiValue, StdLib, Table, Value, Variadic, VmState};

pub use functions::{FunctionInfo, Libraries, Library, RestorePolicy};
pub use ldb::{DebugIo, Session as DebugSession};
pub use resp::RespValue;
pub use shebang::ScriptFlags;

use rand48::{Rand48, RAND48_MAX};

/// Log levels of `server.log` (Valkey's `LL_*`).
pub mod log_level {
    pub const DEBUG: i64 = 0;
    pub const VERBOSE: i64 = 1;
    pub const NOTICE: i64 = 2;
    pub const WARNING: i64 = 3;
}

/// Replication targets of `server.set_repl` (Valkey's `PROPAGATE_*`).
pub mod repl {
    pub const NONE: i64 = 0;
    pub const AOF: i64 = 1;
    pub const REPLICA: i64 = 2;
    pub const ALL: i64 = AOF | REPLICA;
}

/// What the host needs to know to run one command for a script.
#[derive(Clone, Copy, Debug)]
pub struct CallContext {
    /// The script may not write: `EVAL_RO`/`EVALSHA_RO`/`FCALL_RO`, or `no-writes`.
    pub read_only: bool,
    /// The script's flags (compatibility mode when it has no shebang).
    pub flags: ScriptFlags,
    /// The protocol the command's reply is produced in (`server.setresp`).
    pub resp: u8,
    /// Where the command's effects go (`server.set_repl`), a [`repl`] mask.
    pub repl: i64,
}

/// The engine side of scripting.
pub trait ScriptHost {
    /// Runs one command. `Ok` is its reply (errors included, as [`RespValue::Error`]);
    /// `Err` refuses to run it, with Valkey's message (`"-CODE msg"`, or `"msg"` for ERR).
    fn call(&mut self, argv: &[Vec<u8>], ctx: &CallContext) -> Result<RespValue, String>;
    /// `server.log`: a line for the server log at a [`log_level`].
    fn log(&mut self, level: i64, message: &[u8]);
    /// The host's double formatter (Valkey's `fpconv_dtoa`), for number arguments.
    fn format_double(&self, d: f64) -> String;
    /// `server.acl_check_cmd`: may the user running the script run `argv`? `Err` (with
    /// Valkey's message, without `ERR `) when no such command exists.
    fn acl_check(&mut self, argv: &[Vec<u8>]) -> Result<bool, String>;
    /// Called by the VM's count hook every [`HOOK_INSTRUCTIONS`] instructions while a script
    /// runs (Valkey's `luaMaskCountHook` -> `scriptInterrupt`): the host checks how long
    /// the script has run and, once past its busy threshold, serves other clients. True
    /// when the script must stop (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE): it then
    /// fails with [`KILLED_ERROR`], and keeps failing at every line so that `pcall` cannot
    /// catch it for long.
    fn interrupt(&mut self) -> bool {
        false
    }
}

/// Lua instructions between two calls of [`ScriptHost::interrupt`] (Valkey's count).
pub const HOOK_INSTRUCTIONS: u32 = 100_000;

/// The error of EVALSHA (and a script cache miss) for an unknown SHA1, as Valkey 8.0.1
/// words it (Redis adds " Please use EVAL."; clients match the `NOSCRIPT` prefix only).
pub const NOSCRIPT_ERROR: &str = "NOSCRIPT No matching script.";

/// The error a killed script fails with (the error handler adds where it was).
pub const KILLED_ERROR: &str = "Script killed by user with SCRIPT KILL...";

/// How a script runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Called as `EVAL_RO`/`EVALSHA_RO`/`FCALL_RO`.
    pub read_only: bool,
}

/// One cached script.
pub struct Script {
    /// The body as sent (shebang included).
    pub body: Vec<u8>,
    pub flags: ScriptFlags,
    func: Function,
}

/// A `server.log` line: its level and text.
type LogLine = (i64, Vec<u8>);

/// Per-run state the API functions change.
#[derive(Clone, Copy)]
struct RunState {
    resp: u8,
    repl: i64,
}

/// The VM, its sandbox and the script cache.
pub struct Scripting {
    lua: Lua,
    /// The real globals (the proxy scripts see reads through to it).
    globals: Table,
    /// The prelude's runner: `run(f, keys, args)` -> xpcall results.
    runner: Function,
    /// The prelude's `luaPushErrorBuff`.
    error_table: Function,
    /// The real `server` table (scripts see a readonly proxy of it).
    api: Table,
    /// Per-run state shared with the prelude: `log`, and `pending` (an error table being
    /// raised by `server.call`).
    current: Table,
    scripts: HashMap<String, Script>,
    /// Runs since the last extra garbage-collection step (see [`GC_CYCLE_PERIOD`]).
    gc_count: u32,
    /// Bytes of script bodies held (INFO `used_memory_scripts_eval`).
    bodies_bytes: usize,
    state: Rc<Cell<RunState>>,
    /// The function libraries (`FUNCTION LOAD`; empty in the VM of EVAL scripts).
    libraries: Libraries,
    /// The globals proxy scripts see, and the prelude's `set_index` that points it at
    /// the library API while FUNCTION LOAD runs a library's code.
    globals_proxy: Table,
    set_index: Function,
    /// The globals of a library's code while it loads: `server`/`redis` with
    /// `register_function`, `log`, the `LOG_*` levels and the version fields only.
    load_env: Table,
    /// The prelude's runner of a library's code (`load_run`).
    load_run: Function,
    /// The functions `server.register_function` registered so far while a library
    /// loads; `None` outside FUNCTION LOAD (the call is then refused).
    registering: Rc<RefCell<Option<Vec<FunctionInfo>>>>,
    /// `server.log` lines of a library's code while it loads (no host is at hand).
    load_logs: Rc<RefCell<Vec<LogLine>>>,
    /// The last run failed with the error of a command it called, already counted in
    /// the error statistics when that command answered (Valkey's
    /// `ignore_error_stats_update`).
    last_error_counted: bool,
    /// What the count hook reaches of the run in progress.
    hook: Rc<HookLink>,
    /// The generator behind `math.random` (Valkey's static lrand48 state: a VM reset
    /// does not restart its sequence).
    rng: Rc<Cell<Rand48>>,
}

/// The run in progress as the count hook sees it. The hook is a `'static` closure owned
/// by the VM, while the host is borrowed for one run only: [`HostGuard`] publishes the
/// run's host here for exactly the duration of that run.
#[derive(Default)]
struct HookLink {
    /// The running script's `RefCell<&mut dyn ScriptHost>`, lifetime erased; `None`
    /// between runs.
    host: Cell<Option<std::ptr::NonNull<RefCell<&'static mut dyn ScriptHost>>>>,
    /// The host asked to kill the run: every line fails from then on.
    killed: Cell<bool>,
    /// The debugger's state shared with the API functions.
    ldb: Rc<ldb::Shared>,
    /// The debugging session of the run in progress (`SCRIPT DEBUG`), if any.
    session: RefCell<Option<ldb::Session>>,
    /// What the debugger reads of the VM: `debug.getlocal`, `debug.getinfo`, the real
    /// globals and the `server` table (set once the VM is built).
    side: RefCell<Option<(Function, Function, Table, Table)>>,
}

/// Publishes a run's host to the count hook; withdraws it (and restores the hook's
/// normal pace after a kill) when the run ends, unwinding included.
struct HostGuard<'a> {
    lua: &'a Lua,
    link: Rc<HookLink>,
    error_table: Function,
    current: Table,
}

impl Drop for HostGuard<'_> {
    fn drop(&mut self) {
        self.link.host.set(None);
        if self.link.killed.replace(false) {
            let _ = install_hook(self.lua, self.link.clone(), self.error_table.clone(), self.current.clone(), false);
        }
    }
}

/// Installs the VM's count hook (every [`HOOK_INSTRUCTIONS`] instructions, or every line
/// once a run is killed, as Valkey does so that `pcall` cannot swallow the kill).
fn install_hook(lua: &Lua, link: Rc<HookLink>, error_table: Function, current: Table, every_line: bool) -> mlua::Result<()> {
    let triggers = if every_line { HookTriggers::EVERY_LINE } else { HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS) };
    let triggers = if link.ldb.active.get() { HookTriggers::EVERY_LINE.every_nth_instruction(HOOK_INSTRUCTIONS) } else { triggers };
    lua.set_global_hook(triggers, move |lua, debug| {
        if link.ldb.active.get() {
            return debugger_hook(lua, debug, &link, &error_table, &current);
        }
        if !link.killed.get() {
            let Some(ptr) = link.host.get() else {
                return Ok(VmState::Continue);
            };
            // SAFETY: `ptr` is set by `HostGuard` for the duration of one run, from a
            // RefCell that outlives the guard (declared before it in the same frame), and
            // withdrawn before that frame ends; the hook only runs while Lua code of that
            // run executes, on this thread. The RefCell guards against a re-entry while
            // the host is borrowed (a hook firing inside `server.call`'s Lua helpers).
            let cell = unsafe { ptr.as_ref() };
            let Ok(mut host) = cell.try_borrow_mut() else {
                return Ok(VmState::Continue);
            };
            if !host.interrupt() {
                return Ok(VmState::Continue);
            }
            drop(host);
            link.killed.set(true);
            install_hook(lua, link.clone(), error_table.clone(), current.clone(), true)?;
        }
        let t: Table = error_table.call(KILLED_ERROR)?;
        current.raw_set("pending", t)?;
        Err(mlua::Error::runtime("script error"))
    })
}

/// The hook of a debugged run (`luaLdbLineHook`): at a line (or count) event of user
/// code, asks the debugger whether to stop and, when it does, serves the client until a
/// command resumes the run. No SCRIPT KILL reaches a debugged run (Valkey's neither).
fn debugger_hook(lua: &Lua, debug: &Debug, link: &HookLink, error_table: &Function, current: &Table) -> mlua::Result<VmState> {
    let count = match debug.event() {
        DebugEvent::Count => true,
        DebugEvent::Line => false,
        _ => return Ok(VmState::Continue),
    };
    let user = debug.source().short_src.is_some_and(|s| s.contains("user_script"));
    if !user {
        return Ok(VmState::Continue);
    }
    let line = debug.current_line().map_or(0, |l| l as i64);
    let Ok(mut guard) = link.session.try_borrow_mut() else {
        return Ok(VmState::Continue);
    };
    let Some(session) = guard.as_mut() else {
        return Ok(VmState::Continue);
    };
    let ldb::Stop::At(reason) = ldb::should_stop(session, &link.ldb, line, count) else {
        return Ok(VmState::Continue);
    };
    let side = link.side.borrow();
    let Some((getlocal, getinfo, globals, api)) = side.as_ref() else {
        return Ok(VmState::Continue);
    };
    let side = ldb::LuaSide { getlocal, getinfo, globals, api };
    match ldb::stop(lua, &side, session, &link.ldb, reason) {
        ldb::Resume::Continue => Ok(VmState::Continue),
        ldb::Resume::Error(msg) => {
            let t: Table = error_table.call(msg)?;
            current.raw_set("pending", t)?;
            Err(mlua::Error::runtime("script error"))
        }
        ldb::Resume::Fatal(msg) => Err(mlua::Error::runtime(msg)),
    }
}

/// The Lua chunk name of internal code (the error handler skips its frames).
const INTERNAL: &str = "=forkv";

/// The server version scripts see (`server.REDIS_VERSION`...).
const VERSION: &str = "8.0.1";
const VERSION_NUM: i64 = 0x0008_0001;

/// SHA1 of `data` in lowercase hex (script ids, `server.sha1hex`).
pub fn sha1hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

impl Scripting {
    /// A fresh VM with the sandbox in place.
    pub fn new() -> mlua::Result<Self> {
        // SAFETY: `debug` is the only unsafe library loaded; the prelude keeps
        // `debug.getinfo` for its error handler and the library is removed before any
        // script runs (Valkey does the same).
        let lua = unsafe {
            Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, mlua::LuaOptions::default())
        };
        let globals = lua.globals();
        let api = lua.create_table()?;
        let current = lua.create_table()?;
        // Valkey's generator starts from its static state (that of seed 0x1234ABCD).
        let rng = Rc::new(Cell::new(Rand48::seeded(0x1234_ABCD)));
        let state = Rc::new(Cell::new(RunState { resp: 2, repl: repl::ALL }));

        // os: only clock, as Valkey keeps.
        let os = lua.create_table()?;
        let start = std::time::Instant::now();
        os.raw_set("clock", lua.create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))?)?;
        globals.raw_set("os", os)?;
        for name in ["print", "dofile", "loadfile", "module", "require", "package", "newproxy", "setfenv", "getfenv"] {
            globals.raw_set(name, Value::Nil)?;
        }

        cjson::install(&lua, &globals)?;
        cmsgpack::install(&lua, &globals)?;
        bit::install(&lua, &globals)?;
        structlib::install(&lua, &globals)?;
        let raw_api = lua.create_table()?;
        let ldb_shared = Rc::new(ldb::Shared::default());
        register_api(&lua, &api, &raw_api, &state, &ldb_shared)?;
        let registering: Rc<RefCell<Option<Vec<FunctionInfo>>>> = Rc::new(RefCell::new(None));
        raw_api.raw_set("register_function", functions::register_function_api(&lua, registering.clone())?)?;
        raw_api.raw_set(
            "errmsg",
            lua.create_function(|_, v: Value| {
                Ok(match v {
                    Value::Error(e) => lua_error_text(&e),
                    _ => "unknown error".to_string(),
                })
            })?,
        )?;

        let prelude: MultiValue = lua
            .load(include_str!("prelude.lua"))
            .set_name(INTERNAL)
            .set_mode(ChunkMode::Text)
            .call((globals.clone(), api.clone(), current.clone(), raw_api.clone()))?;
        let mut it = prelude.into_iter();
        let mut next_fn = || match it.next() {
            Some(Value::Function(f)) => Ok(f),
            _ => Err(mlua::Error::runtime("scripting prelude returned unexpected values")),
        };
        let (runner, readonly, error_table) = (next_fn()?, next_fn()?, next_fn()?);
        let (set_index, guard, load_run, register_function) = (next_fn()?, next_fn()?, next_fn()?, next_fn()?);
        install_raising_api(&lua, &api, &raw_api, &error_table, &current)?;

        // The debug library goes once the error handler holds what it needs (and the
        // debugger what it reads of the stack).
        let debug_lib: Table = globals.raw_get("debug")?;
        let (getlocal, getinfo): (Function, Function) = (debug_lib.raw_get("getlocal")?, debug_lib.raw_get("getinfo")?);
        globals.raw_set("debug", Value::Nil)?;
        // math.random/randomseed from lrand48.
        let math: Table = globals.raw_get("math")?;
        let r = rng.clone();
        math.raw_set(
            "random",
            lua.create_function(move |_, args: Variadic<Value>| {
                let mut g = r.get();
                let x = f64::from(g.next() % RAND48_MAX) / f64::from(RAND48_MAX);
                r.set(g);
                let int_arg = |v: &Value, n: usize| match v {
                    Value::Integer(i) => Ok(*i),
                    Value::Number(f) => Ok(*f as i64),
                    Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()).map(|f| f as i64).ok_or_else(|| {
                        mlua::Error::runtime(format!("bad argument #{n} to 'random' (number expected)"))
                    }),
                    _ => Err(mlua::Error::runtime(format!("bad argument #{n} to 'random' (number expected)"))),
                };
                match args.len() {
                    0 => Ok(x),
                    1 => {
                        let u = int_arg(&args[0], 1)?;
                        if u < 1 {
                            return Err(mlua::Error::runtime("bad argument #1 to 'random' (interval is empty)"));
                        }
                        Ok((x * u as f64).floor() + 1.0)
                    }
                    2 => {
                        let l = int_arg(&args[0], 1)?;
                        let u = int_arg(&args[1], 2)?;
                        if l > u {
                            return Err(mlua::Error::runtime("bad argument #2 to 'random' (interval is empty)"));
                        }
                        Ok((x * (u - l + 1) as f64).floor() + l as f64)
                    }
                    _ => Err(mlua::Error::runtime("wrong number of arguments")),
                }
            })?,
        )?;
        let r = rng.clone();
        math.raw_set(
            "randomseed",
            lua.create_function(move |_, seed: f64| {
                r.set(Rand48::seeded(seed as i32));
                Ok(())
            })?,
        )?;

        // Scripts see readonly proxies of the libraries and of the globals.
        for name in ["string", "math", "table", "coroutine", "os", "cjson", "cmsgpack", "bit", "struct"] {
            let t: Table = globals.raw_get(name)?;
            let proxy: Table = readonly.call(t)?;
            globals.raw_set(name, proxy)?;
        }
        let api_proxy: Table = readonly.call(api.clone())?;
        globals.raw_set("server", api_proxy.clone())?;
        globals.raw_set("redis", api_proxy)?;
        // String methods ("x"):len() go through the proxied string table.
        lua.load("local p = string; local m = getmetatable(''); m.__index = p; m.__metatable = false")
            .set_name(INTERNAL)
            .exec()?;
        let globals_proxy: Table = readonly.call(globals.clone())?;
        globals.raw_set("_G", globals_proxy.clone())?;
        lua.set_globals(globals_proxy.clone())?;

        // The library API FUNCTION LOAD shows (Valkey's LIBRARY_API): missing fields and
        // globals are errors, and both tables are readonly.
        let lib_api = lua.create_table()?;
        lib_api.raw_set("register_function", register_function)?;
        lib_api.raw_set("log", api.raw_get::<Value>("log")?)?;
        for name in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM", "VALKEY_VERSION", "VALKEY_VERSION_NUM", "SERVER_NAME"] {
            lib_api.raw_set(name, api.raw_get::<Value>(name)?)?;
        }
        let lib_api: Table = guard.call(lib_api)?;
        let lib_api_proxy: Table = readonly.call(lib_api)?;
        let load_env = lua.create_table()?;
        load_env.raw_set("server", lib_api_proxy.clone())?;
        load_env.raw_set("redis", lib_api_proxy)?;
        let load_env: Table = guard.call(load_env)?;
        let hook = Rc::new(HookLink {
            ldb: ldb_shared,
            side: RefCell::new(Some((getlocal, getinfo, globals.clone(), api.clone()))),
            ..HookLink::default()
        });
        install_hook(&lua, hook.clone(), error_table.clone(), current.clone(), false)?;

        Ok(Scripting {
            lua,
            globals,
            runner,
            error_table,
            api,
            current,
            scripts: HashMap::new(),
            bodies_bytes: 0,
            gc_count: 0,
            state,
            libraries: Libraries::default(),
            globals_proxy,
            set_index,
            load_env,
            load_run,
            registering,
            load_logs: Rc::new(RefCell::new(Vec::new())),
            last_error_counted: false,
            hook,
            rng,
        })
    }

    /// Compiles and caches an EVAL body (`SCRIPT LOAD`, or EVAL of a new body); returns
    /// its SHA1. Errors are worded as Valkey's, without the `ERR ` code.
    pub fn create(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = shebang::parse(body)?;
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| format!("Error compiling script (new function): {}", lua_error_text(&e)))?;
        self.bodies_bytes += body.len();
        self.scripts.insert(sha.clone(), Script { body: body.to_vec(), flags, func });
        Ok(sha)
    }

    /// Puts the count hook back after code that set a hook of its own (FUNCTION LOAD's
    /// timeout).
    fn reinstall_hook(&self) {
        let _ = install_hook(&self.lua, self.hook.clone(), self.error_table.clone(), self.current.clone(), false);
    }

    /// A cached script by its SHA1 (lowercase hex; the caller lowercases).
    pub fn get(&self, sha: &str) -> Option<&Script> {
        self.scripts.get(sha)
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// No script is cached.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Bytes of cached script bodies (INFO `used_memory_scripts_eval`).
    pub fn bodies_bytes(&self) -> usize {
        self.bodies_bytes
    }

    /// Bytes the Lua VM uses (INFO `used_memory_vm_eval`).
    pub fn vm_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Empties the script cache (`SCRIPT FLUSH`) by replacing the VM with a fresh one, as
    /// Valkey does: nothing a script left behind (interned strings, the grown string
    /// table) outlives the flush. The `math.random` sequence continues.
    pub fn flush(&mut self) -> mlua::Result<()> {
        let fresh = Scripting::new()?;
        fresh.rng.set(self.rng.get());
        *self = fresh;
        Ok(())
    }

    /// Runs cached script `sha` with KEYS and ARGV; returns its reply (an error reply when
    /// it failed), for the host to encode at the caller's protocol.
    pub fn run(&mut self, host: &mut dyn ScriptHost, sha: &str, keys: &[&[u8]], args: &[&[u8]], opts: RunOptions) -> RespValue {
        let Some(script) = self.scripts.get(sha) else {
            return RespValue::Error(NOSCRIPT_ERROR.as_bytes().to_vec());
        };
        let func = script.func.clone();
        let flags = script.flags;
        // Valkey 8 names an EVAL script by its SHA1 in error replies.
        match self.run_function(host, &func, sha, flags, keys, args, opts, false) {
            Ok(v) => v,
            Err(e) => RespValue::Error(format!("ERR {}", lua_error_text(&e)).into_bytes()),
        }
    }

    /// Runs cached script `sha` under the debugger (`SCRIPT DEBUG YES|SYNC`): the run
    /// stops at its first line and the client on `session` drives it; the session ends
    /// with the `<endsession>` line. The reply is the script's, for the host to send.
    pub fn run_debug(&mut self, host: &mut dyn ScriptHost, sha: &str, keys: &[&[u8]], args: &[&[u8]], opts: RunOptions, session: ldb::Session) -> RespValue {
        let shared = self.hook.ldb.clone();
        shared.reset_for_session();
        *self.hook.session.borrow_mut() = Some(session);
        shared.active.set(true);
        let _ = install_hook(&self.lua, self.hook.clone(), self.error_table.clone(), self.current.clone(), false);
        let reply = self.run(host, sha, keys, args, opts);
        shared.active.set(false);
        if let Some(mut session) = self.hook.session.borrow_mut().take() {
            session.end(&shared);
        }
        self.reinstall_hook();
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn run_function(
        &mut self,
        host: &mut dyn ScriptHost,
        func: &Function,
        funcname: &str,
        flags: ScriptFlags,
        keys: &[&[u8]],
        args: &[&[u8]],
        opts: RunOptions,
        as_arguments: bool,
    ) -> mlua::Result<RespValue> {
        let lua = &self.lua;
        // The generator is not reseeded per run (Valkey 7+): each run continues it.
        self.state.set(RunState { resp: 2, repl: repl::ALL });
        let keys_t = lua.create_sequence_from(keys.iter().map(|k| lua.create_string(k)).collect::<mlua::Result<Vec<_>>>()?)?;
        let args_t = lua.create_sequence_from(args.iter().map(|a| lua.create_string(a)).collect::<mlua::Result<Vec<_>>>()?)?;
        // EVAL scripts read the KEYS and ARGV globals; a function gets them as arguments.
        let (keys_arg, args_arg) = if as_arguments {
            (Value::Table(keys_t), Value::Table(args_t))
        } else {
            self.globals.raw_set("KEYS", keys_t)?;
            self.globals.raw_set("ARGV", args_t)?;
            (Value::Nil, Value::Nil)
        };
        let read_only = opts.read_only || flags.has(ScriptFlags::NO_WRITES);
        let host = RefCell::new(host);
        // The count hook reaches this run's host until `published` drops.
        let erased = std::ptr::NonNull::from(&host).cast::<RefCell<&'static mut dyn ScriptHost>>();
        self.hook.host.set(Some(erased));
        self.hook.killed.set(false);
        let published = HostGuard { lua, link: self.hook.clone(), error_table: self.error_table.clone(), current: self.current.clone() };
        let state = self.state.clone();
        let error_table = self.error_table.clone();
        let ldb_shared = self.hook.ldb.clone();
        // server.call / server.pcall: Rust functions, so that `return server.call(...)`
        // keeps the script's frame (a Lua wrapper would be a tail call and lose the
        // line the error handler reports). An error to raise is parked in
        // `current.pending` and raised as an mlua error; the error handler and pcall
        // put the parked table back in its place.
        let command = |lua: &Lua, argv: Variadic<Value>| -> mlua::Result<(bool, Value)> {
            let st = state.get();
            let ctx = CallContext { read_only, flags, resp: st.resp, repl: st.repl };
            let mut h = host.try_borrow_mut().map_err(|_| mlua::Error::RecursiveMutCallback)?;
            let argv = match lua_args_to_argv(&argv, &**h) {
                Ok(a) => a,
                Err(msg) => {
                    if ldb_shared.logging() {
                        ldb_shared.log(format!("<error> {msg}").into_bytes());
                    }
                    let t: Table = error_table.call(msg)?;
                    return Ok((true, Value::Table(t)));
                }
            };
            if ldb_shared.logging() {
                ldb_shared.log(ldb::command_line(&argv));
            }
            match h.call(&argv, &ctx) {
                Ok(reply) => {
                    if ldb_shared.logging() {
                        // Converting an error reply logs it (Valkey's luaPushError), then
                        // the reply is logged.
                        if let RespValue::Error(msg) = &reply {
                            let mut entry = b"<error> -".to_vec();
                            entry.extend_from_slice(msg);
                            ldb_shared.log(entry);
                        }
                        ldb_shared.log_reply(&reply, &|d| h.format_double(d));
                    }
                    let is_err = matches!(reply, RespValue::Error(_));
                    Ok((is_err, convert::reply_to_lua(lua, &reply, &error_table)?))
                }
                Err(msg) => {
                    if ldb_shared.logging() {
                        ldb_shared.log(format!("<error> {msg}").into_bytes());
                    }
                    let t: Table = error_table.call(msg)?;
                    t.raw_set("ignore_error_stats_update", true)?;
                    Ok((true, Value::Table(t)))
                }
            }
        };
        let result = lua.scope(|scope| {
            let current = &self.current;
            let call = scope.create_function(|lua, argv: Variadic<Value>| {
                let (is_err, v) = command(lua, argv)?;
                if is_err {
                    current.raw_set("pending", v)?;
                    return Err(mlua::Error::runtime("script error"));
                }
                Ok(v)
            })?;
            let pcall = scope.create_function(|lua, argv: Variadic<Value>| Ok(command(lua, argv)?.1))?;
            let log = scope.create_function(|_, args: Variadic<Value>| {
                let (level, line) = match log_line(&args) {
                    Ok(l) => l,
                    Err(msg) => return api_error(msg),
                };
                let mut h = host.try_borrow_mut().map_err(|_| mlua::Error::RecursiveMutCallback)?;
                h.log(level, &line);
                api_ok(Value::Nil)
            })?;
            // A Rust function too, so that `return server.acl_check_cmd(...)` keeps the
            // script's frame for the error handler (see server.call above).
            let acl = scope.create_function(|_, args: Variadic<Value>| {
                let mut h = host.try_borrow_mut().map_err(|_| mlua::Error::RecursiveMutCallback)?;
                let checked = lua_args_to_argv(&args, &**h).map_err(str::to_string).and_then(|argv| h.acl_check(&argv));
                match checked {
                    Ok(allowed) => Ok(allowed),
                    Err(msg) => {
                        let t: Table = self.error_table.call(msg)?;
                        self.current.raw_set("pending", t)?;
                        Err(mlua::Error::runtime("script error"))
                    }
                }
            })?;
            self.api.raw_set("call", call)?;
            self.api.raw_set("pcall", pcall)?;
            self.api.raw_set("acl_check_cmd", acl)?;
            self.current.raw_set("log", log)?;
            let out: MultiValue = self.runner.call((func.clone(), keys_arg, args_arg))?;
            let mut it = out.into_iter();
            let ok = matches!(it.next(), Some(Value::Boolean(true)));
            let value = it.next().unwrap_or(Value::Nil);
            let reply = if ok {
                convert::lua_to_reply(&value, state.get().resp)
            } else {
                RespValue::Error(error_reply_text(&value, funcname))
            };
            // A command's error, raised by server.call or returned as pcall's table,
            // was counted when the command answered (Valkey's ignore_error_stats_update).
            let counted = matches!(reply, RespValue::Error(_))
                && matches!(&value, Value::Table(t) if t.raw_get::<bool>("ignore_error_stats_update").unwrap_or(false));
            self.api.raw_set("call", Value::Nil)?;
            self.api.raw_set("pcall", Value::Nil)?;
            self.current.raw_set("log", Value::Nil)?;
            self.api.raw_set("acl_check_cmd", Value::Nil)?;
            self.current.raw_set("pending", Value::Nil)?;
            Ok((reply, counted))
        });
        let _ = self.globals.raw_set("KEYS", Value::Nil);
        let _ = self.globals.raw_set("ARGV", Value::Nil);
        drop(published);
        self.gc_after_run();
        self.last_error_counted = matches!(result, Ok((_, true)));
        result.map(|(reply, _)| reply)
    }

    /// True when the last run's error reply is the error of a command the script called,
    /// already counted when that command answered: the caller counts the script as
    /// failed without counting the error again.
    pub fn last_error_counted(&self) -> bool {
        self.last_error_counted
    }
}

/// Every this many runs the collector gets extra steps (Valkey's
/// `LUA_GC_CYCLE_PERIOD`), so the garbage of many small scripts does not pile up to
/// the collector's own threshold (twice the live heap).
const GC_CYCLE_PERIOD: u32 = 50;

/// Basic steps taken then: about the 50 KB of work Valkey's `LUA_GCSTEP` asks for
/// (a basic step of Lua 5.1 does about 2 KB).
const GC_STEPS: u32 = 25;

impl Scripting {
    fn gc_after_run(&mut self) {
        self.gc_count += 1;
        if self.gc_count < GC_CYCLE_PERIOD {
            return;
        }
        self.gc_count = 0;
        for _ in 0..GC_STEPS {
            if self.lua.gc_step().unwrap_or(true) {
                break;
            }
        }
    }
}

/// What a raw API function returns: an error message for the prelude's wrapper to raise
/// as `{err="ERR msg"}` (Valkey's `luaPushError` + `luaError`), or its result.
type ApiResult = mlua::Result<(Option<&'static str>, Value)>;

fn api_error(msg: &'static str) -> ApiResult {
    Ok((Some(msg), Value::Nil))
}

fn api_ok(v: Value) -> ApiResult {
    Ok((None, v))
}

/// The line of a `server.log(level, ...)` call: its level and its string and number
/// arguments joined by spaces (others skipped), or Valkey's refusal.
fn log_line(args: &[Value]) -> Result<(i64, Vec<u8>), &'static str> {
    if args.len() < 2 {
        return Err("redis.log() requires two arguments or more.");
    }
    let level = match &args[0] {
        Value::Integer(i) => *i,
        Value::Number(n) => *n as i64,
        _ => return Err("First argument must be a number (log level)."),
    };
    if !(log_level::DEBUG..=log_level::WARNING).contains(&level) {
        return Err("Invalid log level.");
    }
    let mut line = Vec::new();
    for (j, a) in args[1..].iter().enumerate() {
        let piece = match a {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(i) => i.to_string().into_bytes(),
            Value::Number(n) => lua_number_text(*n).into_bytes(),
            _ => continue,
        };
        if j != 0 {
            line.push(b' ');
        }
        line.extend_from_slice(&piece);
    }
    Ok((level, line))
}

/// Lua's `%.14g` rendering of a number (what `tostring` gives).
fn lua_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// The message of an mlua error without mlua's decorations.
fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// The error reply of a failed script: `{err=, source=, line=}` from the error handler
/// becomes `<err> script: <funcname>, on <source>:<line>.`.
fn error_reply_text(v: &Value, funcname: &str) -> Vec<u8> {
    let Value::Table(t) = v else {
        let msg = match v {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "execution failure".into(),
        };
        let msg: String = msg.chars().take(100).collect();
        return format!("ERR Error running script {funcname}, {msg}").into_bytes();
    };
    let text = |k: &str| match t.raw_get::<Value>(k) {
        Ok(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Ok(Value::Integer(i)) => Some(i.to_string().into_bytes()),
        Ok(Value::Number(n)) => Some(lua_number_text(n).into_bytes()),
        Ok(Value::Error(e)) => Some(lua_error_text(&e).into_bytes()),
        _ => None,
    };
    let mut msg = text("err").unwrap_or_else(|| b"ERR unknown error".to_vec());
    if let Some(rest) = msg.strip_prefix(b"-") {
        msg = rest.to_vec();
    }
    if let (Some(line), Some(source)) = (text("line"), text("source")) {
        msg.extend_from_slice(format!(" script: {funcname}, on ").as_bytes());
        msg.extend_from_slice(&source);
        msg.push(b':');
        msg.extend_from_slice(&line);
        msg.push(b'.');
    }
    msg.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect()
}

/// `server.call` arguments as argv: strings as they are, numbers as integers when
/// integral (else the host's double format). Errors worded as Valkey's.
fn lua_args_to_argv(args: &[Value], host: &dyn ScriptHost) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for a in args {
        argv.push(match a {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(i) => i.to_string().into_bytes(),
            Value::Number(n) => {
                if n.fract() == 0.0 && *n >= -9.2e18 && *n <= 9.2e18 {
                    (*n as i64).to_string().into_bytes()
                } else {
                    host.format_double(*n).into_bytes()
                }
            }
            _ => return Err("Command arguments must be strings or integers"),
        });
    }
    Ok(argv)
}

/// Installs `server.sha1hex`, `setresp`, `set_repl` and `log` as Rust functions that
/// raise the raw API function's error as Valkey's error table (parked in
/// `current.pending`, as `server.call` does). Being C functions to Lua, they keep the
/// script's frame in `return server.setresp(4)`, so the error names the script's line as
/// Valkey's does (a Lua wrapper would be a tail call: "(tail call):-1").
fn install_raising_api(lua: &Lua, api: &Table, raw_api: &Table, error_table: &Function, current: &Table) -> mlua::Result<()> {
    let raise = |error_table: &Function, current: &Table, msg: String| -> mlua::Result<Value> {
        let t: Table = error_table.call(msg)?;
        current.raw_set("pending", t)?;
        Err(mlua::Error::runtime("script error"))
    };
    for name in ["sha1hex", "setresp", "set_repl"] {
        let raw: Function = raw_api.raw_get(name)?;
        let (error_table, current) = (error_table.clone(), current.clone());
        let f = lua.create_function(move |_, args: MultiValue| {
            let (e, v): (Option<String>, Value) = raw.call(args)?;
            match e {
                Some(msg) => raise(&error_table, &current, msg),
                None => Ok(v),
            }
        })?;
        api.raw_set(name, f)?;
    }
    // `log` reaches the run's host through `current.log`, set for each run.
    let (error_table, current) = (error_table.clone(), current.clone());
    let log = lua.create_function(move |_, args: MultiValue| {
        let per_run: Function = current.raw_get("log")?;
        let e: Option<String> = per_run.call(args)?;
        match e {
            Some(msg) => raise(&error_table, &current, msg),
            None => Ok(Value::Nil),
        }
    })?;
    api.raw_set("log", log)
}

/// The static part of the `server` table (the per-run `call`/`pcall`/`log` come from the
/// prelude and [`Scripting::run`]).
fn register_api(lua: &Lua, api: &Table, raw: &Table, state: &Rc<Cell<RunState>>, ldb_shared: &Rc<ldb::Shared>) -> mlua::Result<()> {
    api.raw_set("LOG_DEBUG", log_level::DEBUG)?;
    api.raw_set("LOG_VERBOSE", log_level::VERBOSE)?;
    api.raw_set("LOG_NOTICE", log_level::NOTICE)?;
    api.raw_set("LOG_WARNING", log_level::WARNING)?;
    api.raw_set("REPL_NONE", repl::NONE)?;
    api.raw_set("REPL_AOF", repl::AOF)?;
    api.raw_set("REPL_SLAVE", repl::REPLICA)?;
    api.raw_set("REPL_REPLICA", repl::REPLICA)?;
    api.raw_set("REPL_ALL", repl::ALL)?;
    api.raw_set("REDIS_VERSION", VERSION)?;
    api.raw_set("REDIS_VERSION_NUM", VERSION_NUM)?;
    api.raw_set("VALKEY_VERSION", VERSION)?;
    api.raw_set("VALKEY_VERSION_NUM", VERSION_NUM)?;
    api.raw_set("SERVER_NAME", "valkey")?;
    raw.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return api_error("wrong number of arguments");
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => lua_number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            api_ok(Value::String(lua.create_string(sha1hex(&bytes))?))
        })?,
    )?;
    let st = state.clone();
    raw.raw_set(
        "setresp",
        lua.create_function(move |_, args: Variadic<Value>| {
            if args.len() != 1 {
                return api_error("redis.setresp() requires one argument.");
            }
            let resp = match &args[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => 0,
            };
            if resp != 2 && resp != 3 {
                return api_error("RESP version must be 2 or 3.");
            }
            let mut s = st.get();
            s.resp = resp as u8;
            st.set(s);
            api_ok(Value::Nil)
        })?,
    )?;
    let st = state.clone();
    raw.raw_set(
        "set_repl",
        lua.create_function(move |_, args: Variadic<Value>| {
            if args.len() != 1 {
                return api_error("redis.set_repl() requires one argument.");
            }
            let flags = match &args[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => 0,
            };
            if flags & !repl::ALL != 0 {
                return api_error("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
            }
            let mut s = st.get();
            s.repl = flags;
            st.set(s);
            api_ok(Value::Nil)
        })?,
    )?;
    // Effects replication is the only mode since Valkey 7: this answers true.
    api.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    // Outside a debugging session (SCRIPT DEBUG) both do nothing.
    let shared = ldb_shared.clone();
    api.raw_set(
        "breakpoint",
        lua.create_function(move |_, ()| {
            if shared.active.get() {
                shared.luabp.set(true);
                return Ok(true);
            }
            Ok(false)
        })?,
    )?;
    let shared = ldb_shared.clone();
    api.raw_set(
        "debug",
        lua.create_function(move |_, args: Variadic<Value>| {
            if !shared.active.get() {
                return Ok(());
            }
            let mut entry = format!("<debug> line {}: ", shared.currentline.get()).into_bytes();
            for (j, v) in args.iter().enumerate() {
                ldb::cat_value(&mut entry, v, 0);
                if j + 1 != args.len() {
                    entry.extend_from_slice(b", ");
                }
            }
            shared.log(entry);
            Ok(())
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
