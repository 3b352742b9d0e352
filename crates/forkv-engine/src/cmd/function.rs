//! Functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL/HELP, FCALL and
//! FCALL_RO (Valkey `functions.c`). The libraries, their loading and their runs are the
//! `forkv-script` crate's ([`forkv_script::functions`]), in a VM of their own as in
//! Valkey (EVAL's VM is another); this file parses the commands, words the replies,
//! and makes the changes persistent: every change to the libraries counts as a write
//! (`dirty`) and is propagated as the command itself, so the AOF and the replicas
//! replay it, as Valkey does.
//!
//! Scripts run synchronously inside one command here, so when FUNCTION STATS or
//! FUNCTION KILL is served no function is running: `running_script` is nil and KILL
//! answers `NOTBUSY`, which is exactly Valkey's answer at such a moment.

use forkv_keyspace::glob::glob_match;
use forkv_script::functions::{LOAD_TIMEOUT, ENGINE_NAME};
use forkv_script::{RestorePolicy, RunOptions, ScriptFlags};

use super::is;
use super::script::{refusal_before_run, run_in_vm, EngineHost, Vm};
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Engine as Eng};
use crate::{Engine, Outcome};

const FC: u32 = NOSCRIPT | SKIP_MONITOR | STALE | NO_MANDATORY_KEYS | MOVABLE_KEYS;

pub const COMMANDS: &[CommandSpec] = &[
    spec("fcall", -3, FC | MAY_REPLICATE, (0, 0, 0), "scripting", "7.0.0", "Depends on the function that is executed.", "Invokes a function.", Eng(fcall)),
    spec("fcall_ro", -3, FC | READONLY, (0, 0, 0), "scripting", "7.0.0", "Depends on the function that is executed.", "Invokes a read-only function.", Eng(fcall_ro)),
    container("function", -2, 0, "scripting", "7.0.0", "A container for function commands.", SUBCOMMANDS),
];

const SUBCOMMANDS: &[CommandSpec] = &[
    spec("function|load", -3, WRITE | DENYOOM | NOSCRIPT, (0, 0, 0), "scripting", "7.0.0", "O(1) (considering compilation time is redundant)", "Creates a library.", Eng(load)),
    spec("function|delete", 3, WRITE | NOSCRIPT, (0, 0, 0), "scripting", "7.0.0", "O(1)", "Deletes a library and its functions.", Eng(delete)),
    spec("function|flush", -2, WRITE | NOSCRIPT, (0, 0, 0), "scripting", "7.0.0", "O(N) where N is the number of functions deleted", "Deletes all libraries and functions.", Eng(flush)),
    spec("function|dump", 2, NOSCRIPT, (0, 0, 0), "scripting", "7.0.0", "O(N) where N is the number of functions", "Dumps all libraries into a serialized binary payload.", Eng(dump)),
    spec("function|restore", -3, WRITE | DENYOOM | NOSCRIPT, (0, 0, 0), "scripting", "7.0.0", "O(N) where N is the number of functions on the payload", "Restores all libraries from a payload.", Eng(restore)),
    spec("function|list", -2, NOSCRIPT, (0, 0, 0), "scripting", "7.0.0", "O(N) where N is the number of functions", "Returns information about all libraries.", Eng(list)),
    spec("function|stats", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0), "scripting", "7.0.0", "O(1)", "Returns information about a function during execution.", Eng(stats)),
    spec("function|kill", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0), "scripting", "7.0.0", "O(1)", "Terminates a function during execution.", Eng(kill)),
    spec("function|help", 2, LOADING | STALE, (0, 0, 0), "scripting", "7.0.0", "O(1)", "Returns helpful text about the different subcommands.", Eng(help)),
];

impl Engine {
    /// The codes of the loaded libraries (FUNCTION DUMP, RDB files, AOF rewrites).
    pub fn function_codes(&self) -> Vec<Vec<u8>> {
        self.functions.as_ref().map_or_else(Vec::new, |vm| vm.libraries().codes())
    }

    /// (libraries, functions) loaded (INFO `number_of_libraries`, `number_of_functions`).
    pub fn function_counts(&self) -> (usize, usize) {
        self.functions.as_ref().map_or((0, 0), |vm| (vm.libraries().len(), vm.libraries().function_count()))
    }

    /// Bytes of the functions' VM and of the libraries' code and names (INFO
    /// `used_memory_vm_functions`, `used_memory_functions`).
    pub fn function_memory(&self) -> (usize, usize) {
        self.functions.as_ref().map_or((0, 0), |vm| (vm.vm_memory(), vm.libraries().bytes()))
    }

    /// Installs libraries read from an RDB file: into an empty set (`policy` Flush, the
    /// usual load), or beside the loaded ones (Append: a name already loaded is an
    /// error; Replace: the file's library wins, DEBUG RELOAD MERGE).
    pub fn load_function_codes(&mut self, codes: &[Vec<u8>], policy: RestorePolicy) -> Result<(), String> {
        // Nothing to add, or nothing to flush: the VM need not exist for that.
        if codes.is_empty() && (policy != RestorePolicy::Flush || self.functions.is_none()) {
            return Ok(());
        }
        self.vm(Vm::Functions)?;
        let Some(mut vm) = self.functions.take() else {
            return Err("Lua VM unavailable".into());
        };
        let result = vm.restore_libraries(&mut EngineHost::new(self, 0), codes, policy);
        self.functions = Some(vm);
        result
    }

    /// A change to the libraries: counted for the save rules and propagated as is.
    fn function_changed(&mut self, id: u64, argv: &[&[u8]]) {
        self.ks.dirty += 1;
        let db = self.clients.get(&id).map_or(0, |c| c.db);
        self.prop.log(db, argv);
    }

    fn reply_ok(&mut self, id: u64) -> Outcome {
        let proto = self.proto_of(id);
        Reply::new(&mut self.out, proto).ok();
        Outcome::Done
    }
}

/// FCALL and FCALL_RO (Valkey's `fcallCommandGeneric`).
fn fcall_generic(e: &mut Engine, id: u64, argv: &[&[u8]], read_only: bool) -> Outcome {
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let flags = match e.vm(Vm::Functions).map(|vm| vm.function_flags(&name)) {
        Ok(Some(flags)) => flags,
        Ok(None) => return e.script_error(id, "ERR Function not found"),
        Err(msg) => return e.script_error(id, &msg),
    };
    let Some(numkeys) = forkv_keyspace::value::parse_canonical_i64(argv[2]) else {
        return e.script_error(id, "ERR Bad number of keys provided");
    };
    if numkeys > (argv.len() - 3) as i64 {
        return e.script_error(id, "ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return e.script_error(id, "ERR Number of keys can't be negative");
    }
    let (keys, args) = argv[3..].split_at(numkeys as usize);
    if let Some(err) = refusal_before_run(e, id, flags, read_only) {
        return e.script_error(id, &err);
    }
    run_in_vm(e, id, argv, Vm::Functions, &name, |vm, host| vm.call_function(host, &name, keys, args, RunOptions { read_only }))
}

fn fcall(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    fcall_generic(e, id, argv, false)
}

fn fcall_ro(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    fcall_generic(e, id, argv, true)
}

/// `FUNCTION LOAD [REPLACE] <code>`.
fn load(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let mut replace = false;
    for opt in &argv[2..argv.len() - 1] {
        if is(opt, "replace") {
            replace = true;
        } else {
            return e.script_error(id, &format!("ERR Unknown option given: {}", String::from_utf8_lossy(opt)));
        }
    }
    let code = argv[argv.len() - 1];
    // The AOF and a primary are obeyed whatever their code takes (Valkey's mustObeyClient);
    // internal clients carry no ACL user.
    let obey = e.clients.get(&id).is_some_and(|c| c.user.is_none());
    let timeout = if obey { None } else { Some(LOAD_TIMEOUT) };
    if let Err(msg) = e.vm(Vm::Functions) {
        return e.script_error(id, &msg);
    }
    let Some(mut vm) = e.functions.take() else {
        return e.script_error(id, "ERR Lua VM unavailable");
    };
    let loaded = vm.load_library(&mut EngineHost::new(e, id), code, replace, timeout);
    e.functions = Some(vm);
    match loaded {
        Ok(name) => {
            e.function_changed(id, argv);
            let proto = e.proto_of(id);
            Reply::new(&mut e.out, proto).bulk(name.as_bytes());
            Outcome::Done
        }
        Err(msg) => e.script_error(id, &format!("ERR {msg}")),
    }
}

fn delete(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let name = String::from_utf8_lossy(argv[2]);
    if !e.functions.as_mut().is_some_and(|vm| vm.delete_library(&name)) {
        return e.script_error(id, "ERR Library not found");
    }
    e.function_changed(id, argv);
    e.reply_ok(id)
}

fn flush(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let lazy = match argv.len() {
        2 => e.ks.lazyfree.user_flush,
        3 if is(argv[2], "sync") => false,
        3 if is(argv[2], "async") => true,
        3 => return e.script_error(id, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return e.script_error(id, &wrong_args("flush")),
    };
    if let Some(vm) = e.functions.as_mut() {
        let functions = vm.libraries().function_count();
        vm.flush_libraries();
        // Valkey's freeFunctionsAsync frees the libraries on its lazy-free thread when they
        // held more than LAZYFREE_THRESHOLD functions; forkv freed them here (the Lua VM
        // cannot leave its thread) and counts them as Valkey does.
        if lazy && functions > forkv_keyspace::lazyfree::LAZYFREE_THRESHOLD {
            forkv_keyspace::lazyfree::count_freed_here(functions as u64);
        }
    }
    e.function_changed(id, argv);
    e.reply_ok(id)
}

fn dump(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let payload = forkv_rdb::function_dump_payload(&e.function_codes());
    let proto = e.proto_of(id);
    Reply::new(&mut e.out, proto).bulk(&payload);
    Outcome::Done
}

/// `FUNCTION RESTORE <payload> [FLUSH|APPEND|REPLACE]`.
fn restore(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    if argv.len() > 4 {
        return e.script_error(id, &wrong_args("restore"));
    }
    let policy = match argv.get(3) {
        None => RestorePolicy::Append,
        Some(p) if is(p, "flush") => RestorePolicy::Flush,
        Some(p) if is(p, "append") => RestorePolicy::Append,
        Some(p) if is(p, "replace") => RestorePolicy::Replace,
        Some(_) => return e.script_error(id, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
    };
    let verify = !e.debug.skip_checksum_validation;
    let codes = match forkv_rdb::parse_function_dump_payload(argv[2], verify) {
        Ok(codes) => codes,
        Err(msg) => return e.script_error(id, &format!("ERR {msg}")),
    };
    if let Err(msg) = e.load_function_codes(&codes, policy) {
        return e.script_error(id, &format!("ERR {msg}"));
    }
    e.function_changed(id, argv);
    e.reply_ok(id)
}

/// `FUNCTION LIST [LIBRARYNAME <pattern>] [WITHCODE]`.
fn list(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let (mut with_code, mut pattern): (bool, Option<&[u8]>) = (false, None);
    let mut i = 2;
    while i < argv.len() {
        let arg = argv[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            let Some(p) = argv.get(i + 1) else {
                return e.script_error(id, "ERR library name argument was not given");
            };
            pattern = Some(p);
            i += 1;
        } else {
            return e.script_error(id, &format!("ERR Unknown argument {}", String::from_utf8_lossy(arg)));
        }
        i += 1;
    }
    let proto = e.proto_of(id);
    let mut r = Reply::new(&mut e.out, proto);
    let Some(vm) = e.functions.as_ref() else {
        r.array(0);
        return Outcome::Done;
    };
    let libs: Vec<_> = vm.libraries().iter().filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), true))).collect();
    r.array(libs.len());
    for lib in libs {
        r.map(if with_code { 4 } else { 3 });
        r.bulk(b"library_name");
        r.bulk(lib.name.as_bytes());
        r.bulk(b"engine");
        r.bulk(ENGINE_NAME.as_bytes());
        r.bulk(b"functions");
        r.array(lib.functions.len());
        for f in &lib.functions {
            r.map(3);
            r.bulk(b"name");
            r.bulk(f.name.as_bytes());
            r.bulk(b"description");
            match &f.description {
                Some(d) => r.bulk(d),
                None => r.null(),
            }
            r.bulk(b"flags");
            let names: Vec<&str> = ScriptFlags::NAMES.iter().filter(|(bit, _)| f.flags.has(*bit)).map(|(_, n)| *n).collect();
            r.set(names.len());
            for n in names {
                r.simple(n);
            }
        }
        if with_code {
            r.bulk(b"library_code");
            r.bulk(&lib.code);
        }
    }
    Outcome::Done
}

fn stats(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    if let Some(run) = e.script_run() {
        if run.eval {
            return e.script_error(id, crate::busy::BUSY_EVAL);
        }
    }
    let (libraries, functions) = e.function_counts();
    let proto = e.proto_of(id);
    let running = e.script_run.as_ref().map(|run| (run.name.clone(), run.argv.clone(), run.started.elapsed().as_millis()));
    let mut r = Reply::new(&mut e.out, proto);
    r.map(2);
    r.bulk(b"running_script");
    // Served from inside a busy function only (see `busy`).
    match running {
        Some((name, argv, ms)) => {
            r.map(3);
            r.bulk(b"name");
            r.bulk(name.as_bytes());
            r.bulk(b"command");
            r.array(argv.len());
            for a in &argv {
                r.bulk(a);
            }
            r.bulk(b"duration_ms");
            r.int(i64::try_from(ms).unwrap_or(i64::MAX));
        }
        None => r.null(),
    }
    r.bulk(b"engines");
    r.map(1);
    r.bulk(ENGINE_NAME.as_bytes());
    r.map(2);
    r.bulk(b"libraries_count");
    r.int(libraries as i64);
    r.bulk(b"functions_count");
    r.int(functions as i64);
    Outcome::Done
}

fn kill(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    e.kill_script(id, false)
}

/// Valkey's reply to a subcommand given too many arguments for its own parser.
fn wrong_args(sub: &str) -> String {
    format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP.")
}

fn help(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    const LINES: &[&str] = &[
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
    ];
    let proto = e.proto_of(id);
    Reply::new(&mut e.out, proto).help("FUNCTION", LINES);
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use crate::testkit::run;
    use crate::Engine;



    const LIB: &str = "#!lua name=test\nserver.register_function('test', function(keys, args) return redis.call('set', keys[1], args[1]) end)";

    #[test]
    fn load_call_list_and_propagate() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.prop.enabled = true;
        assert_eq!(run(&mut e, &["FUNCTION", "LOAD", LIB]), "$4\r\ntest\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "LOAD", LIB]), "-ERR Library 'test' already exists\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "LOAD", "foo", LIB]), "-ERR Unknown option given: foo\r\n");
        assert_eq!(run(&mut e, &["FCALL", "TEST", "1", "k", "v"]), "+OK\r\n");
        assert_eq!(run(&mut e, &["FCALL_RO", "test", "1", "k", "v"]), "-ERR Can not execute a script with write flag using *_ro command.\r\n");
        assert_eq!(run(&mut e, &["FCALL", "test", "x"]), "-ERR Bad number of keys provided\r\n");
        assert_eq!(run(&mut e, &["FCALL", "nope", "0"]), "-ERR Function not found\r\n");
        assert_eq!(run(&mut e, &["GET", "k"]), "$1\r\nv\r\n");
        let aof = String::from_utf8_lossy(&e.prop.take()).replace("\r\n", " ");
        assert!(aof.starts_with("*2 $6 SELECT $1 0 *3 $8 FUNCTION $4 LOAD "), "{aof}");
        assert!(aof.ends_with("*3 $3 set $1 k $1 v "), "{aof}");
        assert_eq!(
            run(&mut e, &["FUNCTION", "LIST"]),
            "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$4\r\ntest\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$4\r\ntest\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n"
        );
        assert_eq!(run(&mut e, &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"]), "*0\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "LIST", "withcode", "withcode"]), "-ERR Unknown argument withcode\r\n");
        assert_eq!(
            run(&mut e, &["FUNCTION", "STATS"]),
            "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"
        );
        // DUMP / FLUSH / RESTORE round trip; FLUSHALL leaves functions alone.
        let payload = e.function_codes();
        let dump = forkv_rdb::function_dump_payload(&payload);
        assert_eq!(run(&mut e, &["FUNCTION", "FLUSH", "bad"]), "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "FLUSH", "ASYNC"]), "+OK\r\n");
        assert_eq!(e.function_counts(), (0, 0));
        assert_eq!(e.load_function_codes(&payload, forkv_script::RestorePolicy::Append), Ok(()));
        assert_eq!(e.function_codes(), payload);
        assert_eq!(forkv_rdb::function_dump_payload(&e.function_codes()), dump);
        run(&mut e, &["FLUSHALL"]);
        assert_eq!(e.function_counts(), (1, 1));
        assert_eq!(run(&mut e, &["FUNCTION", "DELETE", "test"]), "+OK\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "DELETE", "test"]), "-ERR Library not found\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "KILL"]), "-NOTBUSY No scripts in execution right now.\r\n");
        assert_eq!(run(&mut e, &["FUNCTION", "RESTORE", "bad_payload"]), "-ERR DUMP payload version or checksum are wrong\r\n");
        assert_eq!(run(&mut e, &["COMMAND", "GETKEYS", "fcall", "test", "1", "x", "foo"]), "*1\r\n$1\r\nx\r\n");
    }
}
