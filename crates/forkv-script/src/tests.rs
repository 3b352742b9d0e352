//! The conversions, the API and the sandbox, over a host that keeps strings in a map.

use std::collections::HashMap;

use super::*;

#[derive(Default)]
struct MapHost {
    data: HashMap<Vec<u8>, Vec<u8>>,
    calls: Vec<(Vec<Vec<u8>>, bool, u8)>,
    logs: Vec<(i64, Vec<u8>)>,
}

impl ScriptHost for MapHost {
    fn call(&mut self, argv: &[Vec<u8>], ctx: &CallContext) -> Result<RespValue, String> {
        self.calls.push((argv.to_vec(), ctx.read_only, ctx.resp));
        let name = String::from_utf8_lossy(&argv[0]).to_lowercase();
        Ok(match (name.as_str(), argv.len()) {
            ("set", 3) => {
                if ctx.read_only {
                    return Err("Write commands are not allowed from read-only scripts.".into());
                }
                self.data.insert(argv[1].clone(), argv[2].clone());
                RespValue::Status(b"OK".to_vec())
            }
            ("get", 2) => self.data.get(&argv[1]).map_or(RespValue::NullBulk, |v| RespValue::Bulk(v.clone())),
            ("hgetall", 2) if ctx.resp == 3 => {
                RespValue::Map(vec![(RespValue::Bulk(b"f".to_vec()), RespValue::Bulk(b"v".to_vec()))])
            }
            ("hgetall", 2) => RespValue::Array(vec![RespValue::Bulk(b"f".to_vec()), RespValue::Bulk(b"v".to_vec())]),
            ("incr", 2) => RespValue::Error(b"ERR value is not an integer or out of range".to_vec()),
            ("echo", 2) => RespValue::Bulk(argv[1].clone()),
            ("set" | "get" | "incr" | "echo" | "hgetall", _) => {
                return Err("Wrong number of args calling command from script".into())
            }
            _ => return Err("Unknown command called from script".into()),
        })
    }

    fn log(&mut self, level: i64, message: &[u8]) {
        self.logs.push((level, message.to_vec()));
    }

    fn format_double(&self, d: f64) -> String {
        format!("{d}")
    }

    fn acl_check(&mut self, argv: &[Vec<u8>]) -> Result<bool, String> {
        match argv[0].to_ascii_lowercase().as_slice() {
            b"get" => Ok(true),
            b"set" => Ok(false),
            _ => Err("Invalid command passed to server.acl_check_cmd()".into()),
        }
    }
}

fn eval(s: &mut Scripting, host: &mut MapHost, body: &str, keys: &[&str], args: &[&str]) -> RespValue {
    let sha = match s.create(body.as_bytes()) {
        Ok(sha) => sha,
        Err(e) => return RespValue::Error(format!("ERR {e}").into_bytes()),
    };
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|k| k.as_bytes()).collect();
    s.run(host, &sha, &keys, &args, RunOptions::default())
}

fn vm() -> Scripting {
    match Scripting::new() {
        Ok(s) => s,
        Err(e) => panic!("VM: {e}"),
    }
}

fn err_text(v: &RespValue) -> String {
    match v {
        RespValue::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => format!("not an error: {other:?}"),
    }
}

fn bulk(s: &str) -> RespValue {
    RespValue::Bulk(s.as_bytes().to_vec())
}

#[test]
fn lua_values_become_replies() {
    let (mut s, mut h) = (vm(), MapHost::default());
    assert_eq!(eval(&mut s, &mut h, "return 'x'", &[], &[]), bulk("x"));
    assert_eq!(eval(&mut s, &mut h, "return 3.99", &[], &[]), RespValue::Int(3));
    assert_eq!(eval(&mut s, &mut h, "return -3.99", &[], &[]), RespValue::Int(-3));
    assert_eq!(eval(&mut s, &mut h, "return true", &[], &[]), RespValue::Int(1));
    assert_eq!(eval(&mut s, &mut h, "return false", &[], &[]), RespValue::Null);
    assert_eq!(eval(&mut s, &mut h, "return nil", &[], &[]), RespValue::Null);
    assert_eq!(eval(&mut s, &mut h, "return {1,2,nil,4}", &[], &[]), RespValue::Array(vec![RespValue::Int(1), RespValue::Int(2)]));
    assert_eq!(eval(&mut s, &mut h, "return {ok='fine'}", &[], &[]), RespValue::Status(b"fine".to_vec()));
    assert_eq!(eval(&mut s, &mut h, "return {err='My Error'}", &[], &[]), RespValue::Error(b"My Error".to_vec()));
    assert_eq!(eval(&mut s, &mut h, "return redis.error_reply('My Error')", &[], &[]), RespValue::Error(b"My Error".to_vec()));
    assert_eq!(eval(&mut s, &mut h, "return redis.error_reply('-BOOM')", &[], &[]), RespValue::Error(b"ERR BOOM".to_vec()));
    assert_eq!(eval(&mut s, &mut h, "return server.status_reply('PONG')", &[], &[]), RespValue::Status(b"PONG".to_vec()));
    assert_eq!(eval(&mut s, &mut h, "return {double=1.5}", &[], &[]), RespValue::Double(1.5));
    assert_eq!(
        eval(&mut s, &mut h, "redis.setresp(3); return {map={a=1}}", &[], &[]),
        RespValue::Map(vec![(bulk("a"), RespValue::Int(1))])
    );
    assert_eq!(eval(&mut s, &mut h, "redis.setresp(3); return true", &[], &[]), RespValue::Bool(true));
    assert_eq!(
        eval(&mut s, &mut h, "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", &["k"], &["a", "b"]),
        RespValue::Array(vec![bulk("k"), bulk("a"), RespValue::Int(1), RespValue::Int(2)])
    );
}

#[test]
fn replies_become_lua_values() {
    let (mut s, mut h) = (vm(), MapHost::default());
    assert_eq!(eval(&mut s, &mut h, "return redis.call('get','nokey') == false", &[], &[]), RespValue::Int(1));
    assert_eq!(eval(&mut s, &mut h, "return redis.call('set','k','v')['ok']", &[], &[]), bulk("OK"));
    assert_eq!(eval(&mut s, &mut h, "return redis.call('get','k')", &[], &[]), bulk("v"));
    assert_eq!(
        eval(&mut s, &mut h, "redis.setresp(3); return redis.call('hgetall','h').map.f", &[], &[]),
        bulk("v")
    );
    assert_eq!(eval(&mut s, &mut h, "return redis.call('hgetall','h')[2]", &[], &[]), bulk("v"));
    // Numbers as arguments: integral ones as integers.
    assert_eq!(eval(&mut s, &mut h, "return redis.call('echo', 10)", &[], &[]), bulk("10"));
    assert_eq!(eval(&mut s, &mut h, "return redis.call('echo', 1.5)", &[], &[]), bulk("1.5"));
}

#[test]
fn errors_are_worded_as_valkey() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let sha = sha1hex(b"return redis.call('incr','x')");
    assert_eq!(
        err_text(&eval(&mut s, &mut h, "return redis.call('incr','x')", &[], &[])),
        format!("ERR value is not an integer or out of range script: {sha}, on @user_script:1.")
    );
    assert_eq!(
        eval(&mut s, &mut h, "return redis.pcall('incr','x')", &[], &[]),
        RespValue::Error(b"ERR value is not an integer or out of range".to_vec())
    );
    let e = err_text(&eval(&mut s, &mut h, "error('boom')", &[], &[]));
    assert!(e.starts_with("ERR user_script:1: boom script: "), "{e}");
    let e = err_text(&eval(&mut s, &mut h, "redis.call('nosuch')", &[], &[]));
    assert!(e.starts_with("ERR Unknown command called from script script: "), "{e}");
    let e = err_text(&eval(&mut s, &mut h, "redis.call()", &[], &[]));
    assert!(e.starts_with("ERR Please specify at least one argument for this call"), "{e}");
    let e = err_text(&eval(&mut s, &mut h, "redis.call('get', {})", &[], &[]));
    assert!(e.starts_with("ERR Command arguments must be strings or integers"), "{e}");
    let e = err_text(&eval(&mut s, &mut h, "return (", &[], &[]));
    assert!(e.starts_with("ERR Error compiling script (new function): user_script:1:"), "{e}");
    let e = err_text(&eval(&mut s, &mut h, "redis.setresp(4)", &[], &[]));
    assert!(e.starts_with("ERR RESP version must be 2 or 3. script:"), "{e}");
    // A tail call keeps the script's line, as Valkey's C functions do.
    for (body, msg) in [
        ("return redis.setresp(4)", "ERR RESP version must be 2 or 3."),
        ("return redis.set_repl(99)", "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."),
        ("return redis.log(99, 'x')", "ERR Invalid log level."),
        ("return redis.sha1hex()", "ERR wrong number of arguments"),
    ] {
        let e = err_text(&eval(&mut s, &mut h, body, &[], &[]));
        assert!(e.starts_with(msg) && e.ends_with(", on @user_script:1."), "{body}: {e}");
    }
    assert_eq!(eval(&mut s, &mut h, "return redis.sha1hex('')", &[], &[]), bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    // pcall gives the error message of an error table.
    assert_eq!(
        eval(&mut s, &mut h, "local ok, e = pcall(function() redis.call('incr','x') end); return e", &[], &[]),
        bulk("ERR value is not an integer or out of range")
    );
}

#[test]
fn sandbox_holds() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let e = err_text(&eval(&mut s, &mut h, "return a", &[], &[]));
    // Valkey 8.0.1: the position of the read, and none for setmetatable/rawset (raised in C).
    assert!(e.starts_with("ERR user_script:1: Script attempted to access nonexistent global variable 'a'"), "{e}");
    for body in ["setmetatable(_G, {})", "rawset(redis, 'x', 1)"] {
        let e = err_text(&eval(&mut s, &mut h, body, &[], &[]));
        assert!(e.starts_with("ERR Attempt to modify a readonly table"), "{body}: {e}");
    }
    for body in [
        "a = 10",
        "setmetatable(_G, {})",
        "local g = getmetatable(_G); g.__index = {}",
        "redis = function() return 1 end",
        "_G = {}",
        "redis.call = function() return 1 end",
        "string.len = nil",
        "rawset(redis, 'x', 1)",
        "loadstring('b = 1')()",
    ] {
        let e = err_text(&eval(&mut s, &mut h, body, &[], &[]));
        assert!(e.contains("Attempt to modify a readonly table"), "{body}: {e}");
    }
    for g in ["loadfile", "dofile", "print", "io", "debug"] {
        let e = err_text(&eval(&mut s, &mut h, &format!("return {g}"), &[], &[]));
        assert!(e.contains(&format!("nonexistent global variable '{g}'")), "{e}");
    }
    let e = err_text(&eval(&mut s, &mut h, "os.execute()", &[], &[]));
    assert!(e.contains("attempt to call field 'execute'"), "{e}");
    assert_eq!(eval(&mut s, &mut h, "local t = {} t.x = 1 return t.x", &[], &[]), RespValue::Int(1));
    assert_eq!(eval(&mut s, &mut h, "return ('abc'):upper()", &[], &[]), bulk("ABC"));
}

#[test]
fn api_functions() {
    let (mut s, mut h) = (vm(), MapHost::default());
    assert_eq!(eval(&mut s, &mut h, "return redis.sha1hex('')", &[], &[]), bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    assert_eq!(eval(&mut s, &mut h, "redis.log(redis.LOG_WARNING, 'hello', 'world')", &[], &[]), RespValue::Null);
    assert_eq!(h.logs, vec![(3, b"hello world".to_vec())]);
    // math.random continues from run to run (Valkey's first value from seed 0, then
    // another); math.randomseed makes it repeatable.
    let a = eval(&mut s, &mut h, "return tostring(math.random())", &[], &[]);
    let b = eval(&mut s, &mut h, "return tostring(math.random()) ", &[], &[]);
    assert_eq!(a, bulk("0.39646477363839"));
    assert_ne!(a, b);
    let seeded = "math.randomseed(10) return tostring(math.random())";
    assert_eq!(eval(&mut s, &mut h, seeded, &[], &[]), eval(&mut s, &mut h, seeded, &[], &[]));
    let e = err_text(&eval(&mut s, &mut h, "redis.set_repl(8)", &[], &[]));
    assert!(e.starts_with("ERR Invalid replication flags"), "{e}");
    assert_eq!(eval(&mut s, &mut h, "redis.set_repl(redis.REPL_NONE) return 1", &[], &[]), RespValue::Int(1));
}

#[test]
fn read_only_runs_refuse_writes() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let body = b"#!lua flags=no-writes\nreturn redis.call('set','k','v')";
    let sha = match s.create(body) {
        Ok(sha) => sha,
        Err(e) => panic!("{e}"),
    };
    let e = err_text(&s.run(&mut h, &sha, &[], &[], RunOptions::default()));
    assert!(e.starts_with("ERR Write commands are not allowed from read-only scripts. script:"), "{e}");
    assert_eq!(h.calls.last().map(|c| c.1), Some(true));
    assert_eq!(s.len(), 1);
    s.flush().expect("a fresh VM");
    assert!(s.get(&sha).is_none());
    assert_eq!(
        s.run(&mut h, &sha, &[], &[], RunOptions::default()),
        RespValue::Error(b"NOSCRIPT No matching script.".to_vec())
    );
}

#[test]
fn cjson_and_cmsgpack() {
    let (mut s, mut h) = (vm(), MapHost::default());
    assert_eq!(
        eval(&mut s, &mut h, "return cjson.encode({1, 'a/b', true, {x=1.5}})", &[], &[]),
        bulk("[1,\"a\\/b\",true,{\"x\":1.5}]")
    );
    assert_eq!(eval(&mut s, &mut h, "return cjson.encode({})", &[], &[]), bulk("{}"));
    assert_eq!(eval(&mut s, &mut h, "return cjson.encode(0.1)", &[], &[]), bulk("0.1"));
    assert_eq!(eval(&mut s, &mut h, "return cjson.encode(1e20)", &[], &[]), bulk("1e+20"));
    assert_eq!(
        eval(&mut s, &mut h, "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"s\":\"\\\\u00e9\"}'); return {t.a[2], t.a[3].b == cjson.null and 1 or 0, t.s}", &[], &[]),
        RespValue::Array(vec![RespValue::Int(2), RespValue::Int(1), bulk("é")])
    );
    let e = err_text(&eval(&mut s, &mut h, "return cjson.decode('{bad')", &[], &[]));
    assert!(e.starts_with("ERR Expected object key string but found invalid token at character 2"), "{e}");
    assert_eq!(
        eval(&mut s, &mut h, "local a, b = cmsgpack.unpack(cmsgpack.pack({1, 2, {k='v'}}, -300)); return {a[1], a[3].k, b}", &[], &[]),
        RespValue::Array(vec![RespValue::Int(1), bulk("v"), RespValue::Int(-300)])
    );
    assert_eq!(
        eval(&mut s, &mut h, "return cmsgpack.pack({1,2,3}, 'abc', 1.5)", &[], &[]),
        RespValue::Bulk(vec![0x93, 1, 2, 3, 0xa3, b'a', b'b', b'c', 0xca, 0x3f, 0xc0, 0, 0])
    );
    let e = err_text(&eval(&mut s, &mut h, "return cmsgpack.unpack('\\205')", &[], &[]));
    assert!(e.starts_with("ERR Missing bytes in input."), "{e}");
    let e = err_text(&eval(&mut s, &mut h, "cjson.encode = 1", &[], &[]));
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
}

#[test]
fn bit_library() {
    let (mut s, mut h) = (vm(), MapHost::default());
    assert_eq!(eval(&mut s, &mut h, "return bit.tohex(65535, -2147483648)", &[], &[]), bulk("0000FFFF"));
    assert_eq!(eval(&mut s, &mut h, "return bit.tohex(255, 2)", &[], &[]), bulk("ff"));
    assert_eq!(eval(&mut s, &mut h, "return bit.band(0xff, 0x0f, 0x3)", &[], &[]), RespValue::Int(3));
    assert_eq!(eval(&mut s, &mut h, "return bit.bnot(0)", &[], &[]), RespValue::Int(-1));
    assert_eq!(eval(&mut s, &mut h, "return bit.lshift(1, 31)", &[], &[]), RespValue::Int(-2147483648));
    assert_eq!(eval(&mut s, &mut h, "return bit.rshift(-1, 28)", &[], &[]), RespValue::Int(15));
    assert_eq!(eval(&mut s, &mut h, "return bit.arshift(-256, 4)", &[], &[]), RespValue::Int(-16));
    assert_eq!(eval(&mut s, &mut h, "return bit.tobit(4294967297)", &[], &[]), RespValue::Int(1));
    assert_eq!(eval(&mut s, &mut h, "return bit.bswap(0x12345678)", &[], &[]), RespValue::Int(0x78563412));
}

#[test]
fn proxies_iterate_and_bytecode_is_refused() {
    let (mut s, mut h) = (vm(), MapHost::default());
    assert_eq!(
        eval(&mut s, &mut h, "local n = 0 for k, v in pairs(os) do n = n + 1 end local k = next(os) return {n, k}", &[], &[]),
        RespValue::Array(vec![RespValue::Int(1), bulk("clock")])
    );
    assert_eq!(eval(&mut s, &mut h, "local n = 0 for _ in pairs(_G) do n = n + 1 end return n > 10", &[], &[]), RespValue::Int(1));
    let e = err_text(&eval(&mut s, &mut h, "return loadstring(string.dump(function() return 1 end))()", &[], &[]));
    assert!(e.contains("attempt to call a nil value"), "{e}");
    assert_eq!(eval(&mut s, &mut h, "return loadstring('return 7')()", &[], &[]), RespValue::Int(7));
}

fn load(s: &mut Scripting, host: &mut MapHost, code: &str, replace: bool) -> Result<String, String> {
    s.load_library(host, code.as_bytes(), replace, Some(functions::LOAD_TIMEOUT))
}

fn fcall(s: &mut Scripting, host: &mut MapHost, name: &str, keys: &[&str], args: &[&str]) -> RespValue {
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|k| k.as_bytes()).collect();
    s.call_function(host, name, &keys, &args, RunOptions::default())
}

#[test]
fn functions_load_and_run() {
    let mut s = vm();
    let mut h = MapHost::default();
    let code = "#!lua name=lib1\nlocal function add1(a) return a + 1 end\n\
                server.log(server.LOG_NOTICE, 'loading', 1)\n\
                server.register_function('f1', function(keys, args) return add1(1) end)\n\
                server.register_function{function_name='Set', callback=function(keys, args) return server.call('set', keys[1], args[1]) end, \
                flags={'no-writes', 'ALLOW-OOM'}, description='sets'}";
    assert_eq!(load(&mut s, &mut h, code, false), Ok("lib1".into()));
    assert_eq!(h.logs, vec![(log_level::NOTICE, b"loading 1".to_vec())]);
    assert_eq!(fcall(&mut s, &mut h, "F1", &[], &[]), RespValue::Int(2));
    let set = s.libraries().function("set").map(|f| (f.flags, f.description.clone()));
    assert_eq!(set, Some((ScriptFlags(ScriptFlags::NO_WRITES | ScriptFlags::ALLOW_OOM), Some(b"sets".to_vec()))));
    // Keys and arguments are the function's arguments; KEYS does not exist.
    assert_eq!(
        err_text(&fcall(&mut s, &mut h, "set", &["k"], &["v"])),
        "ERR Write commands are not allowed from read-only scripts. script: Set, on @user_function:5."
    );
    assert_eq!(load(&mut s, &mut h, code, false), Err("Library 'lib1' already exists".into()));
    assert_eq!(
        load(&mut s, &mut h, "#!lua name=lib2\nserver.register_function('f1', function() return KEYS end)", false),
        Err("Function f1 already exists".into())
    );
    assert_eq!(load(&mut s, &mut h, "#!lua name=lib2\nserver.register_function('g', function() return KEYS end)", false), Ok("lib2".into()));
    assert!(err_text(&fcall(&mut s, &mut h, "g", &[], &[])).contains("Script attempted to access nonexistent global variable 'KEYS'"));
    // A failed REPLACE keeps the old library.
    assert!(load(&mut s, &mut h, "#!lua name=lib1\nbad code", true).unwrap_or_else(|e| e).starts_with("Error compiling function: user_function:2:"));
    assert_eq!(fcall(&mut s, &mut h, "f1", &[], &[]), RespValue::Int(2));
    assert_eq!(s.libraries().len(), 2);
    assert_eq!(s.libraries().function_count(), 3);
    assert!(s.delete_library("lib1"));
    assert!(!s.delete_library("lib1"));
    assert_eq!(err_text(&fcall(&mut s, &mut h, "f1", &[], &[])), "ERR Function not found");
}

#[test]
fn functions_load_errors_are_valkeys() {
    let mut s = vm();
    let mut h = MapHost::default();
    let cases = [
        ("#!lua name=l\nserver.register_function('f1', 'x')", "Error registering functions: ERR second argument to server.register_function must be a function"),
        ("#!lua name=l\nserver.register_function('te st', function() end)", "Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=l\nserver.register_function()", "Error registering functions: ERR wrong number of arguments to server.register_function"),
        ("#!lua name=l\na = 1", "Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
        ("#!lua name=l\nreturn math.random()", "Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'"),
        ("#!lua name=l\nlocal x = server.call", "Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("#!lua name=l\nreturn 1", "No functions registered"),
        ("#!lua name=l\nserver.register_function{function_name='f', callback=function() end, flags={'x'}}", "Error registering functions: ERR unknown flag given"),
        ("#!lua name=l\nserver.register_function('f', function() end)\nserver.register_function('F', function() end)", "Error registering functions: ERR Function already exists in the library"),
        ("#!lua name=l\nlocal a = 1 while true do a = a + 1 end", "Error registering functions: ERR FUNCTION LOAD timeout"),
        ("#!nope name=l\n", "Engine 'nope' not found"),
        ("#!lua name=\"a b\"\n", functions::BAD_NAME),
    ];
    for (code, want) in cases {
        assert_eq!(load(&mut s, &mut h, code, false), Err(want.to_string()), "{code}");
    }
    assert!(s.libraries().is_empty());
    // register_function captured at load is refused afterwards; the runtime API has none.
    let code = "#!lua name=l\nlocal lib = server\nlib.register_function('f1', function() lib.register_function('f2', function() end) end)\n\
                lib.register_function('f3', function() server.register_function('f4', function() end) end)";
    assert_eq!(load(&mut s, &mut h, code, false), Ok("l".into()));
    assert!(err_text(&fcall(&mut s, &mut h, "f1", &[], &[])).starts_with("ERR server.register_function can only be called on FUNCTION LOAD command"));
    assert!(err_text(&fcall(&mut s, &mut h, "f3", &[], &[])).contains("attempt to call field 'register_function' (a nil value)"));
    // EVAL scripts still see the full globals after a load.
    assert_eq!(eval(&mut s, &mut h, "return math.floor(1.5)", &[], &[]), RespValue::Int(1));
}

#[test]
fn functions_restore_policies() {
    let mut s = vm();
    let mut h = MapHost::default();
    let lib = |name: &str, f: &str, v: i64| format!("#!lua name={name}\nserver.register_function('{f}', function() return {v} end)").into_bytes();
    load(&mut s, &mut h, &String::from_utf8_lossy(&lib("a", "fa", 1)), false).ok();
    let dump = vec![lib("a", "fa", 10), lib("b", "fb", 20)];
    assert_eq!(s.restore_libraries(&mut h, &dump, RestorePolicy::Append), Err("Library a already exists".into()));
    assert_eq!(fcall(&mut s, &mut h, "fa", &[], &[]), RespValue::Int(1));
    assert_eq!(s.restore_libraries(&mut h, &dump, RestorePolicy::Replace), Ok(()));
    assert_eq!(fcall(&mut s, &mut h, "fa", &[], &[]), RespValue::Int(10));
    assert_eq!(s.libraries().len(), 2);
    // A function name of a library that stays collides; nothing changes.
    s.flush_libraries();
    load(&mut s, &mut h, &String::from_utf8_lossy(&lib("c", "fb", 30)), false).ok();
    assert_eq!(s.restore_libraries(&mut h, &dump, RestorePolicy::Replace), Err("Function fb already exists".into()));
    assert_eq!(s.libraries().len(), 1);
    assert_eq!(s.restore_libraries(&mut h, &dump, RestorePolicy::Flush), Ok(()));
    assert_eq!(s.libraries().iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(s.libraries().codes(), dump);
}

#[test]
fn cjson_configuration() {
    let mut s = vm();
    let mut h = MapHost::default();
    let mut run = |body: &str| eval(&mut s, &mut h, body, &[], &[]);
    assert_eq!(run("return cjson.encode_keep_buffer(false)"), RespValue::Null);
    assert_eq!(run("return cjson.encode({a={1,2}})"), bulk("{\"a\":[1,2]}"));
    assert_eq!(run("cjson.encode_max_depth(1) local ok = pcall(cjson.encode, {a={1}}) cjson.encode_max_depth(1000) return ok"), RespValue::Null);
    assert_eq!(run("cjson.decode_max_depth(1) local ok = pcall(cjson.decode, '{\"a\":{}}') local ok2 = pcall(cjson.decode, '{\"a\":1}') cjson.decode_max_depth(1000) return {ok, ok2}"),
        RespValue::Array(vec![RespValue::Null, RespValue::Int(1)]));
    assert_eq!(run("return cjson.encode_invalid_numbers('null')"), bulk("null"));
    assert_eq!(run("return cjson.encode({0/0})"), bulk("[null]"));
    assert_eq!(run("cjson.encode_invalid_numbers(true) return cjson.encode({1/0})"), bulk("[inf]"));
    assert_eq!(run("cjson.encode_invalid_numbers(false) return {pcall(cjson.encode, {1/0})}").clone(),
        RespValue::Array(vec![RespValue::Null, bulk("Cannot serialise number: must not be NaN or Inf")]));
    assert_eq!(run("cjson.encode_number_precision(3) local e = cjson.encode(3.14159) cjson.encode_number_precision(14) return e"), bulk("3.14"));
    assert_eq!(run("return {pcall(cjson.encode, {[1]=1, [20]=2})}"),
        RespValue::Array(vec![RespValue::Null, bulk("Cannot serialise table: excessively sparse array")]));
    assert_eq!(run("cjson.encode_sparse_array(true) local e = cjson.encode({[1]=1, [20]=2}) cjson.encode_sparse_array(false) return e").clone(),
        bulk("{\"1\":1,\"20\":2}"));
    assert_eq!(run("return {cjson.encode_sparse_array()}"), RespValue::Array(vec![RespValue::Null, RespValue::Int(2), RespValue::Int(10)]));
    assert!(err_text(&run("return cjson.encode_max_depth(0)")).contains("bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"));
}

#[test]
fn cmsgpack_unpack_one_and_limit() {
    let mut s = vm();
    let mut h = MapHost::default();
    let body = "local e = cmsgpack.pack('a', 'bb', 'ccc')\n\
                local o1, v1 = cmsgpack.unpack_one(e, 0)\n\
                local o2, v2, v3 = cmsgpack.unpack_limit(e, 2, o1)\n\
                local o3 = cmsgpack.unpack_one(e, o1)\n\
                return {o1, v1, o2, v2, v3, o3, select('#', cmsgpack.unpack_limit(e, 0, 0))}";
    assert_eq!(
        eval(&mut s, &mut h, body, &[], &[]),
        RespValue::Array(vec![RespValue::Int(2), bulk("a"), RespValue::Int(-1), bulk("bb"), bulk("ccc"), RespValue::Int(5), RespValue::Int(3)])
    );
    assert!(err_text(&eval(&mut s, &mut h, "return cmsgpack.unpack_one('ab', 5)", &[], &[])).contains("Start offset 5 greater than input length 2."));
    assert!(err_text(&eval(&mut s, &mut h, "return cmsgpack.unpack_limit('ab', -1)", &[], &[])).contains("Invalid request to unpack with offset of 0 and limit of 2."));
}

#[test]
fn acl_check_cmd_asks_the_host() {
    let mut s = vm();
    let mut h = MapHost::default();
    assert_eq!(eval(&mut s, &mut h, "return {redis.acl_check_cmd('get', 'k'), server.acl_check_cmd('set', 'k', 1)}", &[], &[]),
        RespValue::Array(vec![RespValue::Int(1), RespValue::Null]));
    assert_eq!(
        err_text(&eval(&mut s, &mut h, "return redis.acl_check_cmd('nope')", &[], &[])),
        format!("ERR Invalid command passed to server.acl_check_cmd() script: {}, on @user_script:1.", sha1hex(b"return redis.acl_check_cmd('nope')"))
    );
}

#[test]
fn struct_library() {
    let mut s = vm();
    let mut h = MapHost::default();
    let mut run = |body: &str| eval(&mut s, &mut h, body, &[], &[]);
    let hex = "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end ";
    assert_eq!(run(&format!("{hex} return hex(struct.pack('>h<I2bc3s', 258, 772, -1, 'abcd', 'z'))")), bulk("01020403ff6162637a00"));
    assert_eq!(run(&format!("{hex} return hex(struct.pack('!4bi', 1, 2))")), bulk("0100000002000000"));
    assert_eq!(
        run("return {struct.unpack('>hBc0s', struct.pack('>hBc0s', -2, 3, 'xyz', 'end'))}"),
        RespValue::Array(vec![RespValue::Int(-2), bulk("xyz"), bulk("end"), RespValue::Int(11)])
    );
    assert_eq!(run("return {struct.unpack('d', struct.pack('d', 2.5))}"), RespValue::Array(vec![RespValue::Int(2), RespValue::Int(9)]));
    assert_eq!(run("return struct.size('!8bd')"), RespValue::Int(16));
    assert!(err_text(&run("return struct.unpack('i', 'ab')")).contains("bad argument #2 to 'unpack' (data string too short)"));
    assert_eq!(run(&format!("{hex} return hex(struct.pack('i3', 1) .. struct.pack('i16', -2))")), bulk("010000feffffffffffffff0000000000000000"));
    assert_eq!(run("return {struct.unpack('i3i16', struct.pack('i3i16', -5, -2))}"), RespValue::Array(vec![RespValue::Int(-5), RespValue::Int(-2), RespValue::Int(20)]));
    assert!(err_text(&run("return struct.pack('i33', 1)")).contains("integral size 33 is larger than limit of 32"));
    assert!(err_text(&run("return struct.pack('q', 1)")).contains("bad argument #1 to 'pack' (invalid format option 'q')"));
    assert!(err_text(&run("return struct.size('s')")).contains("option 's' has no fixed size"));
    assert!(err_text(&run("struct.pack = nil")).contains("Attempt to modify a readonly table"));
}

/// A host that asks to kill the script at its `kill_at`-th interrupt.
struct KillingHost {
    interrupts: usize,
    kill_at: usize,
}

impl ScriptHost for KillingHost {
    fn call(&mut self, _argv: &[Vec<u8>], _ctx: &CallContext) -> Result<RespValue, String> {
        Ok(RespValue::Status(b"PONG".to_vec()))
    }
    fn log(&mut self, _level: i64, _message: &[u8]) {}
    fn format_double(&self, d: f64) -> String {
        format!("{d}")
    }
    fn acl_check(&mut self, _argv: &[Vec<u8>]) -> Result<bool, String> {
        Ok(true)
    }
    fn interrupt(&mut self) -> bool {
        self.interrupts += 1;
        self.interrupts >= self.kill_at
    }
}

fn run_killed(s: &mut Scripting, body: &str, kill_at: usize) -> (RespValue, usize) {
    let mut host = KillingHost { interrupts: 0, kill_at };
    let sha = s.create(body.as_bytes()).expect("compiles");
    let reply = s.run(&mut host, &sha, &[], &[], RunOptions::default());
    (reply, host.interrupts)
}

#[test]
fn the_count_hook_interrupts_a_busy_script_until_the_host_kills_it() {
    let mut s = Scripting::new().expect("vm");
    let (reply, interrupts) = run_killed(&mut s, "while true do end", 3);
    assert_eq!(interrupts, 3);
    let RespValue::Error(e) = reply else { panic!("not an error: {reply:?}") };
    let e = String::from_utf8_lossy(&e).into_owned();
    assert!(e.starts_with("ERR Script killed by user with SCRIPT KILL... script: "), "{e}");
    assert!(e.ends_with(", on @user_script:1."), "{e}");
}

#[test]
fn pcall_cannot_swallow_a_kill() {
    let mut s = Scripting::new().expect("vm");
    let body = "local f = function() while 1 do server.call('ping') end end while 1 do pcall(f) end";
    let (reply, _) = run_killed(&mut s, body, 2);
    assert!(matches!(&reply, RespValue::Error(e) if e.starts_with(b"ERR Script killed by user")), "{reply:?}");
    // The next run is not killed at its first line: the hook is back to its count.
    let (reply, interrupts) = run_killed(&mut s, "local n = 0 for i = 1, 250000 do n = n + 1 end return n", 1000);
    assert_eq!(reply, RespValue::Int(250000));
    assert!((1..1000).contains(&interrupts), "{interrupts}");
}

#[test]
fn short_scripts_are_not_interrupted() {
    let mut s = Scripting::new().expect("vm");
    let (reply, interrupts) = run_killed(&mut s, "return 1", 1);
    assert_eq!(reply, RespValue::Int(1));
    assert_eq!(interrupts, 0);
}

/// A debugging client: the commands it sends, one per read, then EOF; what it receives.
struct ScriptedClient {
    commands: std::collections::VecDeque<Vec<u8>>,
    received: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl DebugIo for ScriptedClient {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(cmd) = self.commands.pop_front() else { return Ok(0) };
        buf[..cmd.len()].copy_from_slice(&cmd);
        Ok(cmd.len())
    }
    fn write(&mut self, data: &[u8]) {
        self.received.borrow_mut().push(data.to_vec());
    }
}

/// Runs `body` under the debugger with `commands` (space-separated arguments, sent as
/// RESP arrays, or raw after a `!`); returns every answer the client got and the script's reply.
fn debug_run(s: &mut Scripting, h: &mut MapHost, body: &str, commands: &[&str]) -> (Vec<String>, RespValue) {
    let commands = commands
        .iter()
        .map(|c| {
            // `!bytes` is sent as is.
            if let Some(raw) = c.strip_prefix('!') {
                return raw.as_bytes().to_vec();
            }
            let args: Vec<&str> = c.split(' ').collect();
            let mut out = format!("*{}\r\n", args.len());
            for a in args {
                out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
            }
            out.into_bytes()
        })
        .collect();
    let received = Rc::new(RefCell::new(Vec::new()));
    let io = ScriptedClient { commands, received: received.clone() };
    let sha = s.create(body.as_bytes()).expect("compiles");
    let session = DebugSession::new(Box::new(io), body.as_bytes(), 50);
    let reply = s.run_debug(h, &sha, &[b"k"], &[b"v"], RunOptions::default(), session);
    let got = received.borrow().iter().map(|r| String::from_utf8_lossy(r).into_owned()).collect();
    (got, reply)
}

const LDB_SCRIPT: &str = "local a = redis.call('set', KEYS[1], ARGV[1])\nlocal t = {1,2,'x'}\nredis.debug('hello', t, 5)\nredis.breakpoint()\nlocal b = redis.call('get', KEYS[1])\nreturn b\n";

/// The answers valkey-server 8.0.1 gave to the same session (SCRIPT DEBUG SYNC).
#[test]
fn debugger_session_matches_valkey_transcript() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let (got, reply) = debug_run(
        &mut s,
        &mut h,
        LDB_SCRIPT,
        &["print t", "step", "step", "p", "eval {1,2,nil,x=3}", "r set", "eval error(\"x\")", "maxlen 0", "print KEYS", "list 3 1", "break 5", "break", "break -5", "break 99", "trace", "foo", "c", "c"],
    );
    let expected = [
        "*2\r\n+* Stopped at 1, stop reason = step over\r\n+-> 1   local a = redis.call('set', KEYS[1], ARGV[1])\r\n",
        "*1\r\n+No such variable.\r\n",
        "*4\r\n+<command> set k v\r\n+<reply> \"+OK\"\r\n+* Stopped at 2, stop reason = step over\r\n+-> 2   local t = {1,2,'x'}\r\n",
        "*2\r\n+* Stopped at 3, stop reason = step over\r\n+-> 3   redis.debug('hello', t, 5)\r\n",
        "*2\r\n+<value> a = {[\"ok\"]=\"OK\"}\r\n+<value> t = {1; 2; \"x\"}\r\n",
        "*1\r\n+<retval> {[1]=1; [2]=2; [\"x\"]=3}\r\n",
        "*2\r\n+<command> set\r\n+<error> Wrong number of args calling command from script\r\n",
        "*1\r\n+<error> ldb_eval:1: x\r\n",
        "*1\r\n+<value> replies are unlimited.\r\n",
        "*1\r\n+<value> {\"k\"}\r\n",
        "*3\r\n+   2   local t = {1,2,'x'}\r\n+-> 3   redis.debug('hello', t, 5)\r\n+   4   redis.breakpoint()\r\n",
        "*3\r\n+   4   redis.breakpoint()\r\n+  #5   local b = redis.call('get', KEYS[1])\r\n+   6   return b\r\n",
        "*2\r\n+1 breakpoints set:\r\n+  #5   local b = redis.call('get', KEYS[1])\r\n",
        "*1\r\n+Breakpoint removed.\r\n",
        "*1\r\n+Wrong line number.\r\n",
        "*2\r\n+In top level:\r\n+-> 3   redis.debug('hello', t, 5)\r\n",
        "*1\r\n+<error> Unknown Lua debugger command or wrong number of arguments.\r\n",
        "*3\r\n+<debug> line 3: \"hello\", {1; 2; \"x\"}, 5\r\n+* Stopped at 5, stop reason = server.breakpoint() called\r\n+-> 5   local b = redis.call('get', KEYS[1])\r\n",
        "*1\r\n+<endsession>\r\n",
    ];
    assert_eq!(got, expected);
    assert_eq!(reply, bulk("v"));
    // Outside a session the debugger functions do nothing.
    let plain_false = eval(&mut s, &mut h, "return false", &[], &[]);
    assert_eq!(eval(&mut s, &mut h, "redis.debug('x') return redis.breakpoint()", &[], &[]), plain_false);
}

#[test]
fn debugger_abort_fails_the_run_and_a_gone_client_lets_it_finish() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let (got, reply) = debug_run(&mut s, &mut h, LDB_SCRIPT, &["step", "abort"]);
    assert_eq!(got.last().map(String::as_str), Some("*1\r\n+<endsession>\r\n"));
    let e = err_text(&reply);
    assert!(e.starts_with("ERR script aborted for user request script: ") && e.ends_with(", on @user_script:2."), "{e}");
    // Without a client the run goes on; only server.breakpoint() still stops it.
    let (got, reply) = debug_run(&mut s, &mut h, LDB_SCRIPT, &[]);
    assert_eq!(got.len(), 3);
    assert!(got[1].contains("stop reason = server.breakpoint() called"), "{got:?}");
    assert_eq!(reply, bulk("v"));
    // A loop steps line by line; help lists the commands.
    let (got, reply) = debug_run(&mut s, &mut h, "local x = {}\nfor i=1,3 do x[i]=i end\nreturn x\n", &["s", "s", "s", "s", "s", "h", "s"]);
    assert_eq!(got.iter().filter(|g| g.contains("Stopped at 2")).count(), 4);
    assert!(got[6].starts_with("*30\r\n+Lua debugger help:\r\n"), "{}", got[6]);
    assert_eq!(reply, RespValue::Array(vec![RespValue::Int(1), RespValue::Int(2), RespValue::Int(3)]));
    // A protocol error fails the run.
    let (_, reply) = debug_run(&mut s, &mut h, "return 1", &["!x\r\n"]);
    assert!(err_text(&reply).starts_with("ERR protocol error script: "), "{reply:?}");
}

/// A second valkey-server 8.0.1 transcript: frames, trace, RESP3 replies, command
/// errors, the argument limit of the command log, trimming and its hint.
#[test]
fn debugger_frames_errors_and_trimming_match_valkey() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let body = "local function f(x)\n  local y = x * 2\n  return y\nend\nlocal r = f(3.5)\nredis.setresp(3)\nlocal m = redis.call('hgetall', 'h')\nreturn r\n";
    let long = "x".repeat(300);
    let echo_long = format!("r echo {long}");
    let (got, reply) = debug_run(
        &mut s,
        &mut h,
        body,
        &["s", "s", "trace", "p", "p x", "s", "s", "s", "r incr s", "r echo a b c d e f g h i j k l", &echo_long, "r nosuch", "e x", "e local z = 1", "list 0", "b 0", "b x", "maxlen 5", "s", "s", "c"],
    );
    let trimmed = format!("<reply> \"{}", "x".repeat(247));
    let expected = vec![
        "*2\r\n+* Stopped at 4, stop reason = step over\r\n+-> 4   end\r\n".to_string(),
        "*2\r\n+* Stopped at 5, stop reason = step over\r\n+-> 5   local r = f(3.5)\r\n".into(),
        "*2\r\n+* Stopped at 2, stop reason = step over\r\n+-> 2     local y = x * 2\r\n".into(),
        "*4\r\n+In f:\r\n+-> 2     local y = x * 2\r\n+From top level:\r\n+   5   local r = f(3.5)\r\n".into(),
        "*1\r\n+<value> x = 3.5\r\n".into(),
        "*1\r\n+<value> 3.5\r\n".into(),
        "*2\r\n+* Stopped at 3, stop reason = step over\r\n+-> 3     return y\r\n".into(),
        "*2\r\n+* Stopped at 6, stop reason = step over\r\n+-> 6   redis.setresp(3)\r\n".into(),
        "*2\r\n+* Stopped at 7, stop reason = step over\r\n+-> 7   local m = redis.call('hgetall', 'h')\r\n".into(),
        "*3\r\n+<command> incr s\r\n+<error> -ERR value is not an integer or out of range\r\n+<reply> \"-ERR value is not an integer or out of range\"\r\n".into(),
        "*2\r\n+<command> echo a b c d e f g h i ... (2 more)\r\n+<error> Wrong number of args calling command from script\r\n".into(),
        format!("*3\r\n+<command> echo {long}\r\n+{trimmed} ...\r\n+<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.\r\n"),
        "*2\r\n+<command> nosuch\r\n+<error> Unknown command called from script\r\n".into(),
        "*1\r\n+<error> ldb_eval:1: Script attempted to access nonexistent global variable 'x'\r\n".into(),
        "*1\r\n+<retval> nil\r\n".into(),
        "*7\r\n+   2     local y = x * 2\r\n+   3     return y\r\n+   4   end\r\n+   5   local r = f(3.5)\r\n+   6   redis.setresp(3)\r\n+-> 7   local m = redis.call('hgetall', 'h')\r\n+   8   return r\r\n".into(),
        "*1\r\n+All breakpoints removed.\r\n".into(),
        "*1\r\n+Invalid argument:'x'\r\n".into(),
        "*1\r\n+<value> replies are truncated at 60 bytes.\r\n".into(),
        "*4\r\n+<command> hgetall h\r\n+<reply> {\"f\" => \"v\"}\r\n+* Stopped at 8, stop reason = step over\r\n+-> 8   return r\r\n".into(),
        "*1\r\n+<endsession>\r\n".into(),
    ];
    assert_eq!(got, expected);
    assert_eq!(reply, RespValue::Int(7));
}

/// A run that does not stop again is stopped once it is past the threshold (valkey-server
/// 8.0.1 answers the same for this script with busy-reply-threshold 100).
#[test]
fn debugger_stops_a_run_past_the_threshold() {
    let (mut s, mut h) = (vm(), MapHost::default());
    let (got, reply) = debug_run(&mut s, &mut h, "local i = 0\nwhile true do\n  i = i + 1\nend\n", &["c", "a"]);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[1].starts_with("*2\r\n+* Stopped at ") && got[1].contains(", stop reason = timeout reached, infinite loop?\r\n+-> "), "{}", got[1]);
    let e = err_text(&reply);
    assert!(e.starts_with("ERR script aborted for user request script: "), "{e}");
}
