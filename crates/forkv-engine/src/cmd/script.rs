//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Valkey `eval.c`,
//! `script.c`). The VM, its sandbox, the cache and the Lua API are the `forkv-script`
//! crate; this file is the seam: it implements [`ScriptHost`] by running each
//! `server.call` through the engine's own command path for a script pseudo-client, with
//! Valkey's checks (`scriptCall`): unknown command, arity, `noscript`, writes from a
//! read-only script, MISCONF. Blocking commands run without blocking (the pseudo-client
//! denies it, as inside EXEC).
//!
//! The pseudo-client starts in the caller's database (a SELECT inside the script does not
//! leak out) and answers in the RESP version the script chose (`server.setresp`). Its
//! writes reach the propagation stream as they execute, collected as one transaction
//! (MULTI/EXEC around them when there are several), as Valkey propagates a script's
//! effects; `server.set_repl(server.REPL_NONE)` leaves the following writes out.
//!
//! The server's own commands (`Exec::Server`: PUBLISH, SPUBLISH, PUBSUB) run through the
//! runner the server crate installs ([`crate::ServerCommands`]); a message published to
//! the script's caller itself precedes the script's reply, as in Valkey. The same runner
//! answers INFO and LASTSAVE from the facts the host pushed, and WAIT/WAITAOF without
//! blocking. Every command Valkey lets a script call runs this way; the host commands
//! left (CONFIG GET/SET, CLIENT LIST, DEBUG RELOAD...) are flagged `noscript`, and only
//! `DEBUG SET-DISABLE-DENY-SCRIPTS 1` lets a script reach them: [`HOST_COMMAND_ERROR`]
//! is that one refusal, in one place.

use forkv_script::{CallContext, RespValue, RunOptions, ScriptFlags, ScriptHost, Scripting, NOSCRIPT_ERROR};

use crate::client::Client;
use crate::cmdstats::ErrorKind;
use crate::log::LogLevel;
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec, Exec::Engine as Eng};
use crate::write_gate::DiskError;
use crate::{errors, Engine, Outcome};

const EV: u32 = NOSCRIPT | SKIP_MONITOR | STALE | NO_MANDATORY_KEYS | MOVABLE_KEYS;
const SC: u32 = NOSCRIPT;

pub const COMMANDS: &[CommandSpec] = &[
    spec("eval", -3, EV | MAY_REPLICATE, (0, 0, 0), "scripting", "2.6.0", "Depends on the script that is executed.", "Executes a server-side Lua script.", Eng(eval)),
    spec("evalsha", -3, EV | MAY_REPLICATE, (0, 0, 0), "scripting", "2.6.0", "Depends on the script that is executed.", "Executes a server-side Lua script by SHA1 digest.", Eng(evalsha)),
    spec("eval_ro", -3, EV | READONLY, (0, 0, 0), "scripting", "7.0.0", "Depends on the script that is executed.", "Executes a read-only server-side Lua script.", Eng(eval_ro)),
    spec("evalsha_ro", -3, EV | READONLY, (0, 0, 0), "scripting", "7.0.0", "Depends on the script that is executed.", "Executes a read-only server-side Lua script by SHA1 digest.", Eng(evalsha_ro)),
    container("script", -2, 0, "scripting", "2.6.0", "A container for Lua scripts management commands.", SCRIPT_SUBCOMMANDS),
];

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    spec("script|load", 3, SC | STALE, (0, 0, 0), "scripting", "2.6.0", "O(N) with N being the length in bytes of the script body.", "Loads a server-side Lua script to the script cache.", Eng(script_load)),
    spec("script|exists", -3, SC, (0, 0, 0), "scripting", "2.6.0", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", "Determines whether server-side Lua scripts exist in the script cache.", Eng(script_exists)),
    spec("script|flush", -2, SC, (0, 0, 0), "scripting", "2.6.0", "O(N) with N being the number of scripts in cache", "Removes all server-side Lua scripts from the script cache.", Eng(script_flush)),
    spec("script|show", 3, SC, (0, 0, 0), "scripting", "8.0.0", "O(1).", "Show server-side Lua script in the script cache.", Eng(script_show)),
    spec("script|debug", 3, SC, (0, 0, 0), "scripting", "3.2.0", "O(1)", "Sets the debug mode of server-side Lua scripts.", Eng(crate::cmd::script_debug::script_debug)),
    spec("script|kill", 2, SC | ALLOW_BUSY, (0, 0, 0), "scripting", "2.6.0", "O(1)", "Terminates a server-side Lua script during execution.", Eng(script_kill)),
    spec("script|help", 2, LOADING | STALE, (0, 0, 0), "scripting", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Eng(script_help)),
];

/// The id of the script pseudo-client (hosts number real clients from 1).
pub const SCRIPT_CLIENT: u64 = u64::MAX;

/// The refusal for a command only the TypeScript host can run (all flagged `noscript`,
/// reached only under `DEBUG SET-DISABLE-DENY-SCRIPTS 1`). The one place to change when
/// host commands get a synchronous entry point.
pub const HOST_COMMAND_ERROR: &str = "This command cannot be called from a script in this version of forkv yet";


impl Engine {
    /// The VM of EVAL scripts, created on first use.
    fn scripting(&mut self) -> Result<&mut Scripting, String> {
        self.vm(Vm::Eval)
    }

    /// A VM (EVAL's or the functions'), created on first use.
    pub(crate) fn vm(&mut self, which: Vm) -> Result<&mut Scripting, String> {
        let slot = match which {
            Vm::Eval => &mut self.scripting,
            Vm::Functions => &mut self.functions,
        };
        if slot.is_none() {
            let vm = Scripting::new().map_err(|e| format!("ERR Failed to initialize the Lua VM: {e}"))?;
            *slot = Some(Box::new(vm));
        }
        slot.as_deref_mut().ok_or_else(|| "ERR Lua VM unavailable".to_string())
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn cached_scripts(&self) -> usize {
        self.scripting.as_ref().map_or(0, |s| s.len())
    }

    /// Bytes of the Lua VM and of the cached bodies (INFO `used_memory_vm_eval`,
    /// `used_memory_scripts_eval`).
    pub fn script_memory(&self) -> (usize, usize) {
        self.scripting.as_ref().map_or((0, 0), |s| (s.vm_memory(), s.bodies_bytes()))
    }

    pub(crate) fn proto_of(&self, id: u64) -> u8 {
        self.clients.get(&id).map_or(2, |c| c.proto)
    }

    pub(crate) fn script_error(&mut self, id: u64, msg: &str) -> Outcome {
        let proto = self.proto_of(id);
        Reply::new(&mut self.out, proto).error(msg);
        Outcome::Done
    }
}

/// The engine as a script sees it: one command at a time, for the pseudo-client.
pub(crate) struct EngineHost<'a> {
    pub(crate) engine: &'a mut Engine,
    /// The client that runs the script (messages published to it join its stream).
    pub(crate) caller: u64,
    /// The script already ran a write command (Valkey's `SCRIPT_WRITE_DIRTY`): from then
    /// on, a change of the server's state (replicas gone, disk errors, memory) no longer
    /// refuses its writes, which would leave it half done.
    write_dirty: bool,
    /// The caller's command (FUNCTION STATS shows it once the script is busy).
    pub(crate) argv: &'a [&'a [u8]],
}

impl<'a> EngineHost<'a> {
    pub(crate) fn new(engine: &'a mut Engine, caller: u64) -> Self {
        EngineHost { engine, caller, write_dirty: false, argv: &[] }
    }

    /// Valkey's checks of a command a script calls (`scriptCall`), in its order: stale
    /// replica, ACL, write rules, memory. `Err` is the refusal as the script sees it.
    fn verify_call(&mut self, spec: &'static CommandSpec, argv: &[&[u8]], ctx: &CallContext) -> Result<(), String> {
        let e = &mut *self.engine;
        // Only reachable by a script with `allow-stale`; the others were refused before
        // they ran.
        if e.cfg.primary_down && spec.flags & STALE == 0 {
            return Err("Can not execute the command on a stale replica".into());
        }
        self.verify_acl(spec, argv)?;
        let e = &*self.engine;
        let obey = e.must_obey(self.caller);
        if ctx.read_only && spec.flags & (WRITE | MAY_REPLICATE) != 0 {
            return Err("Write commands are not allowed from read-only scripts.".into());
        }
        if spec.is_write() && !self.write_dirty {
            if e.cfg.read_only_replica && !obey {
                return Err(format!("-{}", errors::READONLY));
            }
            // MISCONF (disk errors) and NOREPLICAS: Valkey skips the disk check for its
            // primary and AOF loading, never the replicas one.
            if let Some(err) = e.cfg.write_gate.script_call_refusal(obey) {
                return Err(format!("-{err}"));
            }
        }
        // The memory was over maxmemory with nothing to evict when the script started.
        let allow_oom = ctx.flags.has(ScriptFlags::ALLOW_OOM) && !ctx.flags.has(ScriptFlags::EVAL_COMPAT_MODE);
        if !allow_oom && e.cfg.maxmemory.maxmemory > 0 && !obey && !self.write_dirty && e.oom_state && spec.flags & DENYOOM != 0 {
            return Err(format!("-{}", errors::OOM));
        }
        Ok(())
    }

    /// The caller's user must be allowed the command, its keys and channels; a refusal
    /// is logged in the ACL LOG with context `lua`.
    fn verify_acl(&mut self, spec: &'static CommandSpec, argv: &[&[u8]]) -> Result<(), String> {
        let e = &mut *self.engine;
        let Some(caller) = e.clients.get(&self.caller) else { return Ok(()) };
        let Err(refusal) = e.acl.check(caller.user.as_deref(), spec, argv) else { return Ok(()) };
        let info = crate::client_info(caller, caller.last_cmd);
        let user = caller.user.clone().unwrap_or_default();
        let now = crate::cmd::now_ms().max(0) as u64;
        let message = refusal.error.strip_prefix("NOPERM ").unwrap_or(&refusal.error).to_string();
        e.acl.log.add(refusal.reason, "lua", refusal.object, user, info, now);
        Err(format!("ACL failure in script: {message}"))
    }
}

impl EngineHost<'_> {
    /// One `server.call`: Valkey's `scriptCall` checks, then the command. `known` is set
    /// to the command once it is resolved (a refusal counts against it).
    fn run_call(&mut self, argv: &[Vec<u8>], ctx: &CallContext, known: &mut Option<&'static CommandSpec>) -> Result<RespValue, String> {
        let slices: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let Some(top) = slices.first().and_then(|name| crate::table::lookup(name)) else {
            return Err("Unknown command called from script".into());
        };
        let spec = match crate::resolve_subcommand(top, &slices) {
            Ok(s) => s,
            Err(msg) if msg.starts_with("ERR wrong number of arguments") => {
                return Err("Wrong number of args calling command from script".into())
            }
            // DEBUG's subcommands only dispatch: Valkey sees DEBUG alone, which scripts
            // may not call, whatever follows it.
            Err(_) if top.unlisted_subcommands && top.arity_ok(slices.len()) && top.flags & NOSCRIPT != 0 && !self.engine.debug.disable_deny_scripts => {
                return Err("This Redis command is not allowed from script".into())
            }
            Err(_) => return Err("Unknown command called from script".into()),
        };
        *known = Some(spec);
        if spec.flags & NOSCRIPT != 0 && !self.engine.debug.disable_deny_scripts {
            return Err("This Redis command is not allowed from script".into());
        }
        self.verify_call(spec, &slices, ctx)?;
        if spec.is_write() {
            self.write_dirty = true;
            // SCRIPT KILL can no longer stop the script.
            if let Some(run) = self.engine.script_run.as_mut() {
                run.write_dirty = true;
            }
        }
        let e = &mut *self.engine;
        if let Some(c) = e.clients.get_mut(&SCRIPT_CLIENT) {
            c.proto = ctx.resp;
            c.last_cmd = spec.name;
        }
        e.stats.total_commands_processed += 1;
        if let Some(c) = e.clients.get_mut(&self.caller) {
            c.commands_processed += 1;
        }
        let aof_was = e.prop.enabled;
        if ctx.repl & forkv_script::repl::AOF == 0 {
            e.prop.enabled = false;
        }
        let mark = e.out.len();
        let started = std::time::Instant::now();
        match spec.exec {
            Exec::Core(handler) => {
                e.run(SCRIPT_CLIENT, spec, handler, &slices);
            }
            Exec::Engine(handler) => {
                handler(e, SCRIPT_CLIENT, &slices);
            }
            // The server's own commands, and the host commands the server can answer
            // from the facts the host pushed (INFO, LASTSAVE).
            Exec::Server | Exec::Host => {
                let ran = match e.server_commands.take() {
                    Some(mut runner) => {
                        let mut reply = Vec::new();
                        let ran = runner.run(e, SCRIPT_CLIENT, &slices, &mut reply);
                        e.server_commands = Some(runner);
                        e.out.extend_from_slice(&reply);
                        ran
                    }
                    None => false,
                };
                if !ran {
                    e.prop.enabled = aof_was;
                    return Err(HOST_COMMAND_ERROR.into());
                }
            }
            Exec::Container => {
                e.prop.enabled = aof_was;
                return Err(HOST_COMMAND_ERROR.into());
            }
        }
        e.prop.enabled = aof_was;
        e.command_done(self.caller, spec, &slices, started.elapsed());
        e.monitor_feed(SCRIPT_CLIENT, spec, &slices);
        let bytes = e.out.split_off(mark);
        if matches!(spec.exec, Exec::Server | Exec::Host) {
            // Messages to the caller itself follow the script's reply.
            e.note_own_messages();
        }
        forkv_script::resp::parse_one(&bytes).map_err(|_| "ERR internal error: unreadable reply".to_string())
    }
}

impl ScriptHost for EngineHost<'_> {
    fn call(&mut self, argv: &[Vec<u8>], ctx: &CallContext) -> Result<RespValue, String> {
        let mut known = None;
        let result = self.run_call(argv, ctx, &mut known);
        if let Err(msg) = &result {
            // A refused call is an error reply of the script client (Valkey's scriptCall
            // counts it and the command's rejection; the script's own error reply then
            // does not count it again).
            let text = msg.strip_prefix('-').map_or_else(|| format!("ERR {msg}"), str::to_string);
            crate::cmdstats::record_error(&text, ErrorKind::Plain);
            self.engine.command_rejected(known);
        }
        result
    }

    fn log(&mut self, level: i64, message: &[u8]) {
        let level = match level {
            forkv_script::log_level::DEBUG => LogLevel::Debug,
            forkv_script::log_level::VERBOSE => LogLevel::Verbose,
            forkv_script::log_level::NOTICE => LogLevel::Notice,
            _ => LogLevel::Warning,
        };
        self.engine.logs.push(level, String::from_utf8_lossy(message).into_owned());
    }

    fn format_double(&self, d: f64) -> String {
        crate::reply::format_double(d)
    }

    fn interrupt(&mut self) -> bool {
        self.engine.script_interrupt(self.argv)
    }

    fn acl_check(&mut self, argv: &[Vec<u8>]) -> Result<bool, String> {
        const INVALID: &str = "Invalid command passed to server.acl_check_cmd()";
        let slices: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let top = slices.first().and_then(|name| crate::table::lookup(name)).ok_or(INVALID)?;
        // Valkey's lookupCommand: a container needs a known subcommand; arity is not checked.
        let spec = if top.subcommands.is_empty() {
            top
        } else {
            slices.get(1).and_then(|sub| top.subcommand(sub)).ok_or(INVALID)?
        };
        let user = self.engine.clients.get(&self.caller).and_then(|c| c.user.clone());
        Ok(self.engine.acl.check(user.as_deref(), spec, &slices).is_ok())
    }
}

/// Which script a call names.
pub(crate) enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

fn eval(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    eval_or_debug(e, id, argv, false)
}

fn evalsha(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    evalsha_or_refuse(e, id, argv, false)
}

fn eval_ro(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    eval_or_debug(e, id, argv, true)
}

fn evalsha_ro(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    evalsha_or_refuse(e, id, argv, true)
}

/// EVAL and EVAL_RO: under the debugger when the client asked for it (SCRIPT DEBUG).
fn eval_or_debug(e: &mut Engine, id: u64, argv: &[&[u8]], read_only: bool) -> Outcome {
    if e.clients.get(&id).is_some_and(|c| c.lua_debug.is_some()) {
        return crate::cmd::script_debug::eval_with_debugging(e, id, argv, read_only);
    }
    eval_generic(e, id, argv, Source::Body(argv[1]), read_only, &mut None)
}

/// EVALSHA and EVALSHA_RO: a debugging client must send the body (Valkey's wording).
fn evalsha_or_refuse(e: &mut Engine, id: u64, argv: &[&[u8]], read_only: bool) -> Outcome {
    if e.clients.get(&id).is_some_and(|c| c.lua_debug.is_some()) {
        if argv[1].len() != 40 {
            return e.script_error(id, NOSCRIPT_ERROR);
        }
        return e.script_error(id, "ERR Please use EVAL instead of EVALSHA for debugging");
    }
    eval_generic(e, id, argv, Source::Sha(argv[1]), read_only, &mut None)
}

/// Valkey's `evalGenericCommand` + `scriptPrepareForRun` + `scriptResetRun`. With a
/// debugging session in `debug`, the run goes under the debugger (which takes it); a
/// session still there afterwards was never started (the script did not compile, say).
pub(crate) fn eval_generic(e: &mut Engine, id: u64, argv: &[&[u8]], source: Source<'_>, read_only: bool, debug: &mut Option<forkv_script::DebugSession>) -> Outcome {
    let Some(numkeys) = forkv_keyspace::value::parse_canonical_i64(argv[2]) else {
        return e.script_error(id, errors::NOT_INT);
    };
    if numkeys > (argv.len() - 3) as i64 {
        return e.script_error(id, "ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return e.script_error(id, "ERR Number of keys can't be negative");
    }
    let numkeys = numkeys as usize;
    let keys = &argv[3..3 + numkeys];
    let args = &argv[3 + numkeys..];

    let sha = match source {
        Source::Body(body) => match e.scripting().and_then(|vm| vm.create(body).map_err(|m| format!("ERR {m}"))) {
            Ok(sha) => sha,
            Err(msg) => return e.script_error(id, &msg),
        },
        Source::Sha(sha) => String::from_utf8_lossy(sha).to_ascii_lowercase(),
    };
    let flags = match e.scripting().map(|vm| vm.get(&sha).map(|s| s.flags)) {
        Ok(Some(flags)) => flags,
        Ok(None) => return e.script_error(id, NOSCRIPT_ERROR),
        Err(msg) => return e.script_error(id, &msg),
    };
    if let Some(err) = refusal_before_run(e, id, flags, read_only) {
        return e.script_error(id, &err);
    }
    let opts = RunOptions { read_only };
    match debug.take() {
        Some(session) => run_in_vm(e, id, argv, Vm::Eval, &sha, |vm, host| vm.run_debug(host, &sha, keys, args, opts, session)),
        None => run_in_vm(e, id, argv, Vm::Eval, &sha, |vm, host| vm.run(host, &sha, keys, args, opts)),
    }
}

/// The refusals of a script or function before it runs (Valkey's `scriptPrepareForRun`).
/// A script that declares flags is refused by them: a possible write on a read-only
/// replica, while writes are denied (MISCONF, NOREPLICAS), by a `*_RO` command; a stale
/// replica without `allow-stale`; over maxmemory without `allow-oom`. Most of these
/// already refused the EVAL/FCALL itself (its flags follow the script's, see
/// [`Engine::script_command_flags`]): these texts are what is left for the others (a
/// transaction queued before the state changed). A script without a shebang is only
/// refused on a stale replica; its commands are checked as they run.
pub(crate) fn refusal_before_run(e: &Engine, id: u64, flags: ScriptFlags, read_only: bool) -> Option<String> {
    let running_stale = e.cfg.primary_down;
    if flags.has(ScriptFlags::EVAL_COMPAT_MODE) {
        return running_stale.then(|| errors::MASTERDOWN.to_string());
    }
    if running_stale && !flags.has(ScriptFlags::ALLOW_STALE) {
        return Some("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into());
    }
    let obey = e.must_obey(id);
    if !flags.has(ScriptFlags::NO_WRITES) {
        if e.cfg.read_only_replica && !obey {
            return Some("READONLY Can not run script with write flag on readonly replica".into());
        }
        let gate = &e.cfg.write_gate;
        if let Some(disk) = gate.disk.as_ref().filter(|_| !obey) {
            const BLOCKED: &str = "but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.";
            return Some(match disk {
                DiskError::Aof(reason) => format!("MISCONF Valkey is configured to persist data to AOF, {BLOCKED} AOF error: {reason}"),
                DiskError::Rdb => format!("MISCONF Valkey is configured to save RDB snapshots, {BLOCKED}"),
            });
        }
        if read_only {
            return Some("ERR Can not execute a script with write flag using *_ro command.".into());
        }
        if gate.too_few_replicas {
            return Some(errors::NOREPLICAS.into());
        }
    }
    if e.oom_state && e.cfg.maxmemory.maxmemory > 0 && !flags.has(ScriptFlags::ALLOW_OOM) && !flags.has(ScriptFlags::NO_WRITES) {
        return Some("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
    }
    None
}

impl Engine {
    /// The flags a command is checked with before it runs (Valkey's `getCommandFlags`):
    /// an EVAL/EVALSHA/FCALL of a script that declares flags takes them from the script
    /// (`scriptFlagsToCmdFlags`): `write` unless `no-writes`, `denyoom` unless
    /// `allow-oom` or `no-writes`, `stale` only with `allow-stale`. Others, and scripts
    /// without a shebang (or not found), keep the command's own flags.
    pub(crate) fn script_command_flags(&self, spec: &CommandSpec, argv: &[&[u8]]) -> u32 {
        let script_flags = match spec.name {
            "eval" | "eval_ro" => argv.get(1).and_then(|body| forkv_script::shebang::parse(body).ok()).map(|(f, _)| f),
            "evalsha" | "evalsha_ro" => argv.get(1).filter(|sha| sha.len() == 40).and_then(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                self.scripting.as_ref().and_then(|vm| vm.get(&sha)).map(|s| s.flags)
            }),
            "fcall" | "fcall_ro" => argv.get(1).and_then(|name| {
                let name = String::from_utf8_lossy(name);
                self.functions.as_ref().and_then(|vm| vm.function_flags(&name))
            }),
            _ => None,
        };
        match script_flags {
            Some(f) if !f.has(ScriptFlags::EVAL_COMPAT_MODE) => {
                let mut flags = spec.flags & !(STALE | DENYOOM | WRITE | MAY_REPLICATE);
                if !f.has(ScriptFlags::ALLOW_OOM) && !f.has(ScriptFlags::NO_WRITES) {
                    flags |= DENYOOM;
                }
                if !f.has(ScriptFlags::NO_WRITES) {
                    flags |= WRITE;
                }
                if f.has(ScriptFlags::ALLOW_STALE) {
                    flags |= STALE;
                }
                flags
            }
            _ => spec.flags,
        }
    }

    /// Valkey's `mustObeyClient`: the link to our primary, and AOF loading, are never
    /// refused a write for the server's own state.
    pub(crate) fn must_obey(&self, id: u64) -> bool {
        self.cfg.loading || self.clients.get(&id).is_some_and(|c| c.primary)
    }
}

/// Which VM runs: EVAL scripts and functions have one each, as in Valkey.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vm {
    Eval,
    Functions,
}

/// EVAL is flagged skip_monitor and shown to MONITOR here, ahead of the commands its
/// script calls (Valkey feeds it before the script runs); a forked debugging session
/// shows it too, in the parent, as Valkey does.
pub(crate) fn feed_monitors(e: &mut Engine, id: u64, argv: &[&[u8]]) {
    if e.monitor.is_on() && !e.cfg.loading {
        if let Some(c) = e.clients.get(&id) {
            e.monitor.feed_always(c.db, &c.monitor_peer(), argv);
        }
    }
}

/// Runs `f` on a VM for client `id` (Valkey's `scriptPrepareForRun` + `scriptResetRun`):
/// the script pseudo-client starts in the caller's database, the writes are collected
/// as one transaction, the reply is encoded at the caller's protocol.
pub(crate) fn run_in_vm(e: &mut Engine, id: u64, argv: &[&[u8]], which: Vm, name: &str, f: impl FnOnce(&mut Scripting, &mut EngineHost<'_>) -> RespValue) -> Outcome {
    let (db, proto) = match e.clients.get(&id) {
        Some(c) => (c.db, c.proto),
        None => return Outcome::Close,
    };
    if let Err(msg) = e.vm(which) {
        return e.script_error(id, &msg);
    }
    let slot = match which {
        Vm::Eval => &mut e.scripting,
        Vm::Functions => &mut e.functions,
    };
    let Some(mut vm) = slot.take() else {
        return e.script_error(id, "ERR Lua VM unavailable");
    };
    let mut pseudo = Client::new(SCRIPT_CLIENT);
    pseudo.db = db;
    pseudo.authenticated = true;
    pseudo.in_script = true;
    pseudo.time_snapshot_us = Some(crate::cmd::now_us());
    // enable-debug-command is checked for the commands clients send, not for scripts.
    pseudo.debug_allowed = true;
    pseudo.peer = "lua".into();
    e.clients.insert(SCRIPT_CLIENT, pseudo);
    feed_monitors(e, id, argv);
    // Inside EXEC the transaction already collects the writes.
    let own_tx = !e.prop.in_transaction();
    if own_tx {
        e.prop.begin_transaction();
    }
    e.script_run = Some(crate::busy::ScriptRun::new(id, which == Vm::Eval, name.to_string()));
    // The script's reads are tracked, and its writes looped, as the caller's.
    let caller_was = e.csc.script_caller.replace(id);
    let reply = f(&mut vm, &mut EngineHost { argv, ..EngineHost::new(e, id) });
    e.csc.script_caller = caller_was;
    let shutdown = e.end_script_run().is_some_and(|run| run.shutdown_by.is_some());
    if shutdown && own_tx {
        // SHUTDOWN NOSAVE stopped it: in Valkey the process ends inside the script,
        // before its effects are propagated.
        e.prop.discard_transaction();
    } else if own_tx {
        e.prop.end_transaction();
    }
    e.clients.remove(&SCRIPT_CLIENT);
    // A script's own error counts as a custom one; the error of a command it called
    // was counted when that command answered.
    let kind = if vm.last_error_counted() { ErrorKind::NoStats } else { ErrorKind::Custom };
    match which {
        Vm::Eval => e.scripting = Some(vm),
        Vm::Functions => e.functions = Some(vm),
    }
    if shutdown {
        // The caller gets no reply: the server is going down (the host runs the
        // SHUTDOWN NOSAVE next).
        e.close_after_reply(id);
        return Outcome::Close;
    }
    match &reply {
        RespValue::Error(msg) => Reply::new(&mut e.out, proto).error_as(&String::from_utf8_lossy(msg), kind),
        _ => encode(&mut Reply::new(&mut e.out, proto), &reply),
    }
    Outcome::Done
}

/// Writes a script's reply at the caller's protocol.
pub(crate) fn encode(r: &mut Reply<'_>, v: &RespValue) {
    match v {
        RespValue::Status(s) => {
            r.out.push(b'+');
            r.out.extend_from_slice(s);
            r.out.extend_from_slice(b"\r\n");
        }
        RespValue::Error(s) => r.error(&String::from_utf8_lossy(s)),
        RespValue::Int(n) => r.int(*n),
        RespValue::Bulk(b) => r.bulk(b),
        RespValue::NullBulk | RespValue::Null => r.null(),
        RespValue::NullArray => r.null_array(),
        RespValue::Array(items) => {
            r.array(items.len());
            items.iter().for_each(|i| encode(r, i));
        }
        RespValue::Map(pairs) => {
            r.map(pairs.len());
            for (k, v) in pairs {
                encode(r, k);
                encode(r, v);
            }
        }
        RespValue::Set(items) => {
            r.set(items.len());
            items.iter().for_each(|i| encode(r, i));
        }
        RespValue::Double(d) => r.double(*d),
        RespValue::Bool(b) => r.boolean(*b),
        RespValue::BigNumber(n) => {
            if r.resp3() {
                r.out.push(b'(');
                r.out.extend_from_slice(n);
                r.out.extend_from_slice(b"\r\n");
            } else {
                r.bulk(n);
            }
        }
        RespValue::Verbatim(format, text) => r.verbatim(text, &String::from_utf8_lossy(format)),
    }
}

fn script_load(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    match e.scripting().and_then(|vm| vm.create(argv[2]).map_err(|m| format!("ERR {m}"))) {
        Ok(sha) => {
            let proto = e.proto_of(id);
            Reply::new(&mut e.out, proto).bulk(sha.as_bytes());
            Outcome::Done
        }
        Err(msg) => e.script_error(id, &msg),
    }
}

fn script_exists(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = e.proto_of(id);
    let found: Vec<bool> = argv[2..]
        .iter()
        .map(|sha| {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            e.scripting.as_ref().is_some_and(|vm| vm.get(&sha).is_some())
        })
        .collect();
    let mut r = Reply::new(&mut e.out, proto);
    r.array(found.len());
    for f in found {
        r.int(i64::from(f));
    }
    Outcome::Done
}

fn script_kill(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    e.kill_script(id, true)
}

fn script_flush(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let lazy = match argv.len() {
        2 => Some(e.ks.lazyfree.user_flush),
        3 if crate::cmd::is(argv[2], "sync") => Some(false),
        3 if crate::cmd::is(argv[2], "async") => Some(true),
        _ => None,
    };
    let Some(lazy) = lazy else {
        return e.script_error(id, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    };
    if let Some(vm) = e.scripting.as_mut() {
        let scripts = vm.len();
        if let Err(err) = vm.flush() {
            // No VM could be built: the next EVAL tries again (and reports why).
            e.logs.push(LogLevel::Warning, format!("SCRIPT FLUSH could not create a fresh Lua VM: {err}"));
            e.scripting = None;
        }
        // Valkey's freeLuaScriptsAsync closes the old VM on its lazy-free thread when it
        // held more than LAZYFREE_THRESHOLD scripts; forkv closed it here (see
        // count_freed_here) and counts the scripts as Valkey does.
        if lazy && scripts > forkv_keyspace::lazyfree::LAZYFREE_THRESHOLD {
            forkv_keyspace::lazyfree::count_freed_here(scripts as u64);
        }
    }
    let proto = e.proto_of(id);
    Reply::new(&mut e.out, proto).ok();
    Outcome::Done
}

fn script_show(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let sha = String::from_utf8_lossy(argv[2]).to_ascii_lowercase();
    let body = e.scripting.as_ref().and_then(|vm| vm.get(&sha)).map(|s| s.body.clone());
    match body {
        Some(body) => {
            let proto = e.proto_of(id);
            Reply::new(&mut e.out, proto).bulk(&body);
            Outcome::Done
        }
        None => e.script_error(id, NOSCRIPT_ERROR),
    }
}

fn script_help(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    const LINES: &[&str] = &[
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined",
        "     by the lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "SHOW <sha1>",
        "    Show a script from the scripts cache.",
    ];
    let proto = e.proto_of(id);
    Reply::new(&mut e.out, proto).help("SCRIPT", LINES);
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use forkv_script::{CallContext, ScriptFlags};

    use crate::testkit::{cmd, run};
    use crate::Engine;



    #[test]
    fn eval_runs_commands_and_propagates_one_transaction() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.prop.enabled = true;
        assert_eq!(run(&mut e, &["EVAL", "redis.call('set', KEYS[1], 'a'); redis.call('set', KEYS[2], 'b'); return redis.call('get', KEYS[1])", "2", "x", "y"]), "$1\r\na\r\n");
        let aof = String::from_utf8_lossy(&e.prop.take()).replace("\r\n", " ");
        assert_eq!(aof, "*1 $5 MULTI *2 $6 SELECT $1 0 *3 $3 set $1 x $1 a *3 $3 set $1 y $1 b *1 $4 EXEC ");
        // One write goes out bare; reads leave nothing.
        run(&mut e, &["EVAL", "redis.call('set', 'z', '1')", "0"]);
        assert_eq!(String::from_utf8_lossy(&e.prop.take()).replace("\r\n", " "), "*3 $3 set $1 z $1 1 ");
        run(&mut e, &["EVAL", "return redis.call('get', 'z')", "0"]);
        assert!(e.prop.take().is_empty());
        // The pseudo-client is gone afterwards; the caller's database is unchanged.
        assert!(e.client(super::SCRIPT_CLIENT).is_none());
        run(&mut e, &["EVAL", "redis.call('select', 3)", "0"]);
        assert_eq!(e.client(1).map(|c| c.db), Some(0));
    }

    #[test]
    fn refusals_and_numkeys() {
        let mut e = Engine::new(16);
        e.add_client(1);
        assert_eq!(run(&mut e, &["EVAL", "return 1", "2", "a"]), "-ERR Number of keys can't be greater than number of args\r\n");
        assert_eq!(run(&mut e, &["EVAL", "return 1", "-1"]), "-ERR Number of keys can't be negative\r\n");
        assert_eq!(run(&mut e, &["EVALSHA", "abc", "0"]), "-NOSCRIPT No matching script.\r\n");
        // An engine without a server installed has no runner for PUBLISH (forkv-server's
        // tests cover it with one); host commands are refused either way.
        assert!(run(&mut e, &["EVAL", "return redis.call('publish', 'c', 'm')", "0"]).contains(super::HOST_COMMAND_ERROR));
        assert!(run(&mut e, &["EVAL", "return redis.call('info')", "0"]).contains(super::HOST_COMMAND_ERROR));
        e.cfg.write_gate.disk = Some(crate::write_gate::DiskError::Aof("disk".into()));
        let misconf = "MISCONF Errors writing to the AOF file: disk";
        assert!(run(&mut e, &["EVAL", "return redis.call('set', 'k', 'v')", "0"]).starts_with(&format!("-{misconf} script: ")));
        assert_eq!(run(&mut e, &["EVAL", "#!lua\nreturn 1", "0"]), format!("-{misconf}\r\n"));
        assert_eq!(run(&mut e, &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]), ":1\r\n");
        assert_eq!(run(&mut e, &["EVAL", "return redis.pcall('set', 'k', 'v')['err']", "0"]), format!("${}\r\n{misconf}\r\n", misconf.len()));
    }

    /// A user allowed `+@all -set ~a* &ch` on client 1.
    fn as_restricted_user(e: &mut Engine) {
        assert_eq!(run(e, &["ACL", "SETUSER", "bob", "on", "nopass", "~a*", "&ch", "+@all", "-set"]), "+OK\r\n");
        // AUTH is the host's command: log in directly.
        if let Some(c) = e.client_mut(1) {
            c.user = Some("bob".into());
        }
    }

    #[test]
    fn acl_refusals_inside_scripts_are_logged_with_context_lua() {
        let mut e = Engine::new(16);
        e.add_client(1);
        as_restricted_user(&mut e);
        let reply = run(&mut e, &["EVAL", "return redis.call('set', 'a', '1')", "0"]);
        assert!(reply.starts_with("-ERR ACL failure in script: User bob has no permissions to run the 'set' command script: "), "{reply}");
        assert!(reply.ends_with(", on @user_script:1.\r\n"), "{reply}");
        assert!(run(&mut e, &["EVAL", "return redis.call('get', 'b')", "0"]).starts_with("-ERR ACL failure in script: No permissions to access a key script: "));
        assert!(run(&mut e, &["EVAL", "return redis.call('publish', 'zz', 'm')", "0"]).starts_with("-ERR ACL failure in script: "));
        // pcall hands the error over as a table, without the script suffix.
        assert_eq!(
            run(&mut e, &["EVAL", "return redis.pcall('get', 'b')['err']", "0"]),
            "$57\r\nERR ACL failure in script: No permissions to access a key\r\n"
        );
        assert_eq!(run(&mut e, &["EVAL", "return redis.call('get', 'a')", "0"]), "$-1\r\n");
        let log = e.acl.log.entries().map(|l| (l.reason, l.context, l.object.clone(), l.count)).collect::<Vec<_>>();
        assert_eq!(
            log,
            [("key", "lua", "b".to_string(), 2), ("channel", "lua", "zz".to_string(), 1), ("command", "lua", "set".to_string(), 1)]
        );
        assert!(e.acl.log.entries().all(|l| l.client_info.contains("cmd=eval")));
    }

    #[test]
    fn acl_rechecked_at_exec_and_logged_with_context_multi() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.add_client(2);
        as_restricted_user(&mut e);
        // Refused while queued: context multi.
        assert_eq!(run(&mut e, &["MULTI"]), "+OK\r\n");
        assert!(run(&mut e, &["SET", "a", "1"]).starts_with("-NOPERM"));
        assert!(run(&mut e, &["EXEC"]).starts_with("-EXECABORT"));
        assert_eq!(e.acl.log.entries().next().map(|l| l.context), Some("multi"));
        // Allowed while queued, revoked before EXEC.
        assert_eq!(run(&mut e, &["MULTI"]), "+OK\r\n");
        assert_eq!(run(&mut e, &["INCR", "a1"]), "+QUEUED\r\n");
        e.clear_reply();
        e.feed(2, &cmd(&["ACL", "SETUSER", "bob", "-incr"]));
        assert_eq!(
            run(&mut e, &["EXEC"]),
            "*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n"
        );
        let entry = e.acl.log.entries().next().map(|l| (l.context, l.object.clone(), l.client_info.contains("cmd=exec")));
        assert_eq!(entry, Some(("multi", "incr".to_string(), true)));
    }

    #[test]
    fn write_rules_of_scripts_on_a_read_only_replica() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.cfg.read_only_replica = true;
        // No shebang: refused at the write, with the script suffix; reads run.
        let reply = run(&mut e, &["EVAL", "return redis.call('set', 'x', '1')", "0"]);
        assert!(reply.starts_with("-READONLY You can't write against a read only replica. script: "), "{reply}");
        assert_eq!(run(&mut e, &["EVAL", "return redis.call('get', 'x')", "0"]), "$-1\r\n");
        // A shebang without no-writes: the EVAL itself is a write.
        assert_eq!(run(&mut e, &["EVAL", "#!lua\nreturn redis.call('get', 'x')", "0"]), "-READONLY You can't write against a read only replica.\r\n");
        assert_eq!(run(&mut e, &["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'x')", "0"]), "$-1\r\n");
        // Queued while a primary, run once a replica: the flags decide at EXEC.
        e.cfg.read_only_replica = false;
        run(&mut e, &["MULTI"]);
        run(&mut e, &["EVAL", "#!lua\nreturn 1", "0"]);
        e.cfg.read_only_replica = true;
        assert!(run(&mut e, &["EXEC"]).starts_with("-EXECABORT Transaction discarded because of: READONLY "));
        // The primary's link writes regardless.
        if let Some(c) = e.client_mut(1) {
            c.primary = true;
        }
        assert_eq!(run(&mut e, &["EVAL", "return redis.call('set', 'x', '1')", "0"]), "+OK\r\n");
    }

    #[test]
    fn stale_replica_and_read_only_runs() {
        let mut e = Engine::new(16);
        e.add_client(1);
        assert!(run(&mut e, &["EVAL_RO", "return redis.call('publish', 'c', 'm')", "0"]).starts_with("-ERR Write commands are not allowed from read-only scripts. script: "));
        e.cfg.primary_down = true;
        let masterdown = "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n";
        assert_eq!(run(&mut e, &["EVAL", "return 1", "0"]), masterdown);
        assert_eq!(run(&mut e, &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]), masterdown);
        assert_eq!(run(&mut e, &["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo', 'hi')", "0"]), "$2\r\nhi\r\n");
        assert!(run(&mut e, &["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.call('get', 'x')", "0"]).starts_with("-ERR Can not execute the command on a stale replica script: "));
    }

    #[test]
    fn writes_after_the_first_are_not_refused_for_the_server_state() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.cfg.write_gate.too_few_replicas = true;
        assert!(run(&mut e, &["EVAL", "return redis.call('set', 'x', 1)", "0"]).starts_with("-NOREPLICAS Not enough good replicas to write. script: "));
        assert_eq!(run(&mut e, &["EVAL", "#!lua\nreturn 1", "0"]), "-NOREPLICAS Not enough good replicas to write.\r\n");
        assert_eq!(run(&mut e, &["EVAL", "return redis.call('get', 'x')", "0"]), "$-1\r\n");
        // Once a script wrote, a state that changed while it ran (a replica gone, a
        // failed save) no longer stops it half way; a read-only run still refuses.
        e.cfg.read_only_replica = true;
        let set = crate::table::lookup(b"set").expect("set");
        let ctx = CallContext { read_only: false, flags: ScriptFlags(ScriptFlags::EVAL_COMPAT_MODE), resp: 2, repl: forkv_script::repl::ALL };
        let mut host = super::EngineHost::new(&mut e, 1);
        let argv: [&[u8]; 3] = [b"set", b"x", b"1"];
        assert!(host.verify_call(set, &argv, &ctx).is_err());
        host.write_dirty = true;
        assert_eq!(host.verify_call(set, &argv, &ctx), Ok(()));
        assert!(host.verify_call(set, &argv, &CallContext { read_only: true, ..ctx }).is_err());
    }


    #[test]
    fn sort_of_a_set_is_ordered_for_scripts_and_noscript_can_be_lifted() {
        let mut e = Engine::new(16);
        e.add_client(1);
        run(&mut e, &["SADD", "s", "b", "aa", "a"]);
        assert_eq!(run(&mut e, &["EVAL", "return redis.call('sort', KEYS[1], 'by', '_')", "1", "s"]), "*3\r\n$1\r\na\r\n$2\r\naa\r\n$1\r\nb\r\n");
        assert!(run(&mut e, &["EVAL", "return redis.call('debug', 'protocol', 'true')", "0"]).starts_with("-ERR This Redis command is not allowed from script script: "));
        // As Valkey, whose DEBUG has no subcommands: any DEBUG call is refused the same way.
        assert!(run(&mut e, &["EVAL", "return redis.call('debug', 'nosuch')", "0"]).starts_with("-ERR This Redis command is not allowed from script script: "));
        e.debug.disable_deny_scripts = true;
        assert_eq!(run(&mut e, &["EVAL", "redis.setresp(3) return redis.call('debug', 'protocol', 'true')", "0"]), ":1\r\n");
    }
}
