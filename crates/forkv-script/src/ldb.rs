//! LDB, the Lua debugger of `SCRIPT DEBUG YES|SYNC` (Valkey's `ldb*` functions), as far
//! as the VM goes: the session's state, the line hook's stops, the debugger's REPL over
//! the client's connection ([`DebugIo`], blocking reads and writes done by the caller's
//! implementation), its commands and Valkey's log lines and value dumps, word for word.
//!
//! The REPL speaks Valkey's protocol: each command is a RESP array of bulk strings; each
//! answer is an array of simple strings (the log lines collected since the last answer).
//! A run under the debugger ends with the `<endsession>` line; the script's reply is then
//! the host's to send.
//!
//! Two parts, because the REPL calls back into Lua (`eval`, `redis`): [`Shared`] is what
//! `server.call`, `server.debug` and `server.breakpoint` touch (the log, the step flag),
//! [`Session`] what only the hook touches (the connection, the breakpoints, the source).

use std::cell::{Cell, RefCell};
use std::time::Instant;

use mlua::{Function, Lua, Table, Value};

use crate::resp::RespValue;

/// The connection of the debugging client, in blocking mode.
pub trait DebugIo {
    /// Reads what the client sent; `Ok(0)` or an error when it is gone.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize>;
    /// Writes all of `data`; a failure is noticed by the next read.
    fn write(&mut self, data: &[u8]);
}

/// Breakpoints a session holds at most (Valkey's `LDB_BREAKPOINTS_MAX`).
const BREAKPOINTS_MAX: usize = 64;
/// The default trimming of replies and dumps (`LDB_MAX_LEN_DEFAULT`).
const MAXLEN_DEFAULT: usize = 256;
/// Nesting shown by a value dump (`LUA_MINSTACK / 2`).
const MAX_VALUES_DEPTH: usize = 10;
/// The most a command buffer may hold before the session fails.
const CBUF_MAX: usize = 1 << 20;

/// What the API functions and the hook share during a debugged run.
#[derive(Default)]
pub(crate) struct Shared {
    /// A debugged run is in progress.
    pub(crate) active: Cell<bool>,
    /// Stop at the next line (and log the commands `server.call` runs).
    pub(crate) step: Cell<bool>,
    /// `server.breakpoint()` asked to stop at the next line.
    pub(crate) luabp: Cell<bool>,
    pub(crate) currentline: Cell<i64>,
    maxlen: Cell<usize>,
    maxlen_hint_sent: Cell<bool>,
    logs: RefCell<Vec<Vec<u8>>>,
}

impl Shared {
    /// A new session starts stepping, with the default trimming and an empty log
    /// (`ldbEnable`).
    pub(crate) fn reset_for_session(&self) {
        self.step.set(true);
        self.luabp.set(false);
        self.currentline.set(0);
        self.maxlen.set(MAXLEN_DEFAULT);
        self.maxlen_hint_sent.set(false);
        self.logs.borrow_mut().clear();
    }

    /// Valkey's `ldbIsEnabled`: commands and errors are logged only while stepping.
    pub(crate) fn logging(&self) -> bool {
        self.active.get() && self.step.get()
    }

    pub(crate) fn log(&self, entry: Vec<u8>) {
        self.logs.borrow_mut().push(entry);
    }

    /// `ldbLogWithMaxLen`: trims the entry to `maxlen` (the first time with a hint).
    pub(crate) fn log_trimmed(&self, mut entry: Vec<u8>) {
        let maxlen = self.maxlen.get();
        let trimmed = maxlen != 0 && entry.len() > maxlen;
        if trimmed {
            entry.truncate(maxlen);
            entry.extend_from_slice(b" ...");
        }
        self.log(entry);
        if trimmed && !self.maxlen_hint_sent.replace(true) {
            self.log(b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.".to_vec());
        }
    }

    /// `ldbLogRespReply`: a command's reply as `<reply> ...`.
    pub(crate) fn log_reply(&self, reply: &RespValue, double: &dyn Fn(f64) -> String) {
        let mut line = b"<reply> ".to_vec();
        resp_to_human(&mut line, reply, double);
        self.log_trimmed(line);
    }

    /// The pending log as the array of simple strings the client reads (newlines become
    /// spaces); the log is emptied.
    fn take_logs_proto(&self) -> Vec<u8> {
        let logs = std::mem::take(&mut *self.logs.borrow_mut());
        let mut out = format!("*{}\r\n", logs.len()).into_bytes();
        for mut entry in logs {
            for b in entry.iter_mut() {
                if *b == b'\r' || *b == b'\n' {
                    *b = b' ';
                }
            }
            out.push(b'+');
            out.extend_from_slice(&entry);
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// Arguments the `<command>` line shows at most.
const COMMAND_LOG_ARGS: usize = 10;

/// The `<command> ...` line of a command a script runs while stepping: its first
/// [`COMMAND_LOG_ARGS`] arguments, then how many more there are.
pub(crate) fn command_line(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut line = b"<command>".to_vec();
    for (j, a) in argv.iter().enumerate() {
        if j == COMMAND_LOG_ARGS {
            line.extend_from_slice(format!(" ... ({} more)", argv.len() - j - 1).as_bytes());
            break;
        }
        line.push(b' ');
        line.extend_from_slice(a);
    }
    line
}

/// What only the hook touches during a debugged run.
pub struct Session {
    io: Box<dyn DebugIo>,
    /// The script's source by line (trailing newlines dropped first, as Valkey does).
    src: Vec<Vec<u8>>,
    bp: Vec<i64>,
    cbuf: Vec<u8>,
    /// When the run started or last stopped (the timeout of a run that does not stop).
    started: Instant,
    /// `busy-reply-threshold` in ms (5000 when 0).
    timeout_ms: u64,
}

impl Session {
    /// A session for the script `body` on `io`; `timeout_ms` is `busy-reply-threshold`.
    pub fn new(io: Box<dyn DebugIo>, body: &[u8], timeout_ms: u64) -> Self {
        let mut end = body.len();
        while end > 0 && (body[end - 1] == b'\n' || body[end - 1] == b'\r') {
            end -= 1;
        }
        let src = body[..end].split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        Session { io, src, bp: Vec::new(), cbuf: Vec::new(), started: Instant::now(), timeout_ms: if timeout_ms == 0 { 5000 } else { timeout_ms } }
    }

    fn source_line(&self, line: i64) -> &[u8] {
        usize::try_from(line - 1).ok().and_then(|i| self.src.get(i)).map_or(b"<out of range source code line>".as_slice(), Vec::as_slice)
    }

    fn is_breakpoint(&self, line: i64) -> bool {
        self.bp.contains(&line)
    }

    fn send_logs(&mut self, shared: &Shared) {
        let proto = shared.take_logs_proto();
        self.io.write(&proto);
    }

    /// Sends the remaining log and the `<endsession>` line (`ldbEndSession`).
    pub(crate) fn end(&mut self, shared: &Shared) {
        shared.log(b"<endsession>".to_vec());
        self.send_logs(shared);
    }

    fn log_source_line(&self, shared: &Shared, line: i64) {
        let bp = self.is_breakpoint(line);
        let current = shared.currentline.get() == line;
        let prefix = match (current, bp) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut entry = format!("{prefix}{line:<3} ").into_bytes();
        entry.extend_from_slice(self.source_line(line));
        shared.log(entry);
    }

    fn list(&self, shared: &Shared, around: i64, context: i64) {
        for j in 1..=self.src.len() as i64 {
            if around != 0 && (around - j).abs() > context {
                continue;
            }
            self.log_source_line(shared, j);
        }
    }
}

/// Why the hook stops the run, if it does (`luaLdbLineHook`'s first half). `count` is
/// a count event (the timeout check), `line` the current line of user code.
pub(crate) enum Stop {
    No,
    At(&'static str),
}

/// How a debugged run goes on after the REPL.
pub(crate) enum Resume {
    Continue,
    /// Fail the run with this error (raised as the error table of `luaPushError`).
    Error(&'static str),
    /// The client left during a timeout stop: fail with this plain error.
    Fatal(&'static str),
}

/// The Lua side the REPL needs: the debug library's functions (kept out of the
/// sandbox), the globals and the `server` API table.
pub(crate) struct LuaSide<'a> {
    pub(crate) getlocal: &'a Function,
    pub(crate) getinfo: &'a Function,
    pub(crate) globals: &'a Table,
    pub(crate) api: &'a Table,
}

/// The hook's decision at a line or count event of user code.
pub(crate) fn should_stop(session: &mut Session, shared: &Shared, line: i64, count: bool) -> Stop {
    shared.currentline.set(line);
    let bp = session.is_breakpoint(line) || shared.luabp.get();
    let mut timeout = false;
    if count && !shared.step.get() && !bp {
        if session.started.elapsed().as_millis() >= u128::from(session.timeout_ms) {
            timeout = true;
            shared.step.set(true);
        } else {
            return Stop::No;
        }
    }
    if !shared.step.get() && !bp {
        return Stop::No;
    }
    let reason = if bp {
        if shared.luabp.get() {
            "server.breakpoint() called"
        } else {
            "break point"
        }
    } else if timeout {
        "timeout reached, infinite loop?"
    } else {
        "step over"
    };
    Stop::At(reason)
}

/// Stops at the current line: logs where and why, then serves the client's debugger
/// commands until one resumes the run.
pub(crate) fn stop(lua: &Lua, side: &LuaSide<'_>, session: &mut Session, shared: &Shared, reason: &str) -> Resume {
    let timeout = reason.starts_with("timeout");
    shared.step.set(false);
    shared.luabp.set(false);
    let line = shared.currentline.get();
    shared.log(format!("* Stopped at {line}, stop reason = {reason}").into_bytes());
    session.log_source_line(shared, line);
    session.send_logs(shared);
    let resume = repl(lua, side, session, shared);
    session.started = Instant::now();
    match resume {
        Err(()) if timeout => Resume::Fatal("timeout during Lua debugging with client closing connection"),
        Err(()) => Resume::Continue,
        Ok(r) => r,
    }
}

/// Parses one command from the buffer (`ldbReplParseCommand`): `Ok(None)` to read more,
/// `Err` on a protocol error.
fn parse_command(cbuf: &[u8]) -> Result<Option<Vec<Vec<u8>>>, ()> {
    if cbuf.is_empty() {
        return Ok(None);
    }
    let find_crlf = |from: usize| cbuf[from..].windows(2).position(|w| w == b"\r\n").map(|i| from + i);
    let Some(star) = cbuf.iter().position(|&b| b == b'*') else {
        return Err(());
    };
    let Some(end) = find_crlf(star) else {
        return Ok(None);
    };
    let argc = atoi(&cbuf[star + 1..end]);
    if argc <= 0 || argc > 1024 {
        return Err(());
    }
    let mut p = end + 2;
    let mut argv = Vec::with_capacity(argc as usize);
    while argv.len() < argc as usize {
        if p >= cbuf.len() {
            return Ok(None);
        }
        if cbuf[p] != b'$' {
            return Err(());
        }
        let Some(end) = find_crlf(p) else {
            return Ok(None);
        };
        let slen = atoi(&cbuf[p + 1..end]);
        if slen <= 0 || slen > 1024 {
            return Err(());
        }
        p = end + 2;
        let slen = slen as usize;
        if p + slen + 2 > cbuf.len() {
            return Ok(None);
        }
        argv.push(cbuf[p..p + slen].to_vec());
        p += slen;
        if &cbuf[p..p + 2] != b"\r\n" {
            return Err(());
        }
        p += 2;
    }
    Ok(Some(argv))
}

/// C's `atoi`: optional blanks and sign, then digits up to the first non-digit.
fn atoi(s: &[u8]) -> i64 {
    let mut it = s.iter().skip_while(|b| b.is_ascii_whitespace()).peekable();
    let neg = match it.peek() {
        Some(b'-') => {
            it.next();
            true
        }
        Some(b'+') => {
            it.next();
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for b in it.take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Valkey's `string2l`: the whole text is a canonical integer.
fn parse_long(s: &[u8]) -> Option<i64> {
    let t = std::str::from_utf8(s).ok()?;
    let n: i64 = t.parse().ok()?;
    (n.to_string() == t).then_some(n)
}

/// The REPL (`ldbRepl`): `Err` when the client is gone.
fn repl(lua: &Lua, side: &LuaSide<'_>, session: &mut Session, shared: &Shared) -> Result<Resume, ()> {
    loop {
        let argv = loop {
            match parse_command(&session.cbuf) {
                Ok(Some(argv)) => break argv,
                Err(()) => return Ok(Resume::Error("protocol error")),
                Ok(None) => {}
            }
            let mut buf = [0u8; 1024];
            let n = session.io.read(&mut buf).unwrap_or(0);
            if n == 0 {
                // The script goes on without stops: nobody is there to resume it.
                shared.step.set(false);
                session.bp.clear();
                return Err(());
            }
            session.cbuf.extend_from_slice(&buf[..n]);
            if session.cbuf.len() > CBUF_MAX {
                session.cbuf.clear();
                return Ok(Resume::Error("max client buffer reached"));
            }
        };
        session.cbuf.clear();
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        match name.as_str() {
            "h" | "help" => {
                for line in HELP {
                    shared.log(line.as_bytes().to_vec());
                }
            }
            "s" | "step" | "n" | "next" => {
                shared.step.set(true);
                return Ok(Resume::Continue);
            }
            "c" | "continue" => return Ok(Resume::Continue),
            "t" | "trace" => trace(side, session, shared),
            "m" | "maxlen" => maxlen(shared, &argv),
            "b" | "break" => breakpoints(session, shared, &argv),
            "e" | "eval" => eval(lua, shared, &argv),
            "a" | "abort" => return Ok(Resume::Error("script aborted for user request")),
            "r" | "redis" | "v" | "valkey" | "server" if argv.len() > 1 => server_command(lua, side, shared, &argv),
            "p" | "print" => {
                if argv.len() == 2 {
                    print_var(side, shared, &argv[1]);
                } else {
                    print_all(side, shared);
                }
            }
            "l" | "list" => {
                let mut around = shared.currentline.get();
                let mut ctx = 5;
                if let Some(a) = argv.get(1) {
                    let num = atoi(a);
                    if num > 0 {
                        around = num;
                    }
                }
                if let Some(c) = argv.get(2) {
                    ctx = atoi(c);
                }
                session.list(shared, around, ctx);
            }
            "w" | "whole" => session.list(shared, 1, 1_000_000),
            _ => shared.log(b"<error> Unknown Lua debugger command or wrong number of arguments.".to_vec()),
        }
        session.send_logs(shared);
    }
}

const HELP: &[&str] = &[
    "Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[v]alkey <cmd>       Execute a command.",
    "[m]axlen [len]       Trim logged replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "server.debug()       Produce logs in the debugger console.",
    "server.breakpoint()  Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

fn maxlen(shared: &Shared, argv: &[Vec<u8>]) {
    if argv.len() == 2 {
        let mut newval = atoi(&argv[1]).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        shared.maxlen_hint_sent.set(true);
        if newval != 0 && newval <= 60 {
            newval = 60;
        }
        // Valkey stores the int in a size_t: a negative value becomes huge.
        shared.maxlen.set(newval as usize);
    }
    let m = shared.maxlen.get();
    if m != 0 {
        shared.log(format!("<value> replies are truncated at {} bytes.", m as i32).into_bytes());
    } else {
        shared.log(b"<value> replies are unlimited.".to_vec());
    }
}

fn breakpoints(session: &mut Session, shared: &Shared, argv: &[Vec<u8>]) {
    if argv.len() == 1 {
        if session.bp.is_empty() {
            shared.log(b"No breakpoints set. Use 'b <line>' to add one.".to_vec());
        } else {
            shared.log(format!("{} breakpoints set:", session.bp.len()).into_bytes());
            for &line in &session.bp {
                session.log_source_line(shared, line);
            }
        }
        return;
    }
    for arg in &argv[1..] {
        let Some(line) = parse_long(arg) else {
            let mut entry = b"Invalid argument:'".to_vec();
            entry.extend_from_slice(arg);
            entry.push(b'\'');
            shared.log(entry);
            continue;
        };
        if line == 0 {
            session.bp.clear();
            shared.log(b"All breakpoints removed.".to_vec());
        } else if line > 0 {
            if session.bp.len() == BREAKPOINTS_MAX {
                shared.log(b"Too many breakpoints set.".to_vec());
            } else if line <= session.src.len() as i64 && !session.is_breakpoint(line) {
                session.bp.push(line);
                session.list(shared, line, 1);
            } else {
                shared.log(b"Wrong line number.".to_vec());
            }
        } else if let Some(i) = session.bp.iter().position(|&b| b == -line) {
            session.bp.remove(i);
            shared.log(b"Breakpoint removed.".to_vec());
        } else {
            shared.log(b"No breakpoint in the specified line.".to_vec());
        }
    }
}

/// `eval <code>`: compiled as an expression (`return <code>`), else as a statement,
/// and run in its own frame.
fn eval(lua: &Lua, shared: &Shared, argv: &[Vec<u8>]) {
    let code = argv[1..].join(&b' ');
    let mut expr = b"return ".to_vec();
    expr.extend_from_slice(&code);
    let func = match lua.load(&expr[..]).set_name("@ldb_eval").into_function() {
        Ok(f) => f,
        Err(_) => match lua.load(&code[..]).set_name("@ldb_eval").into_function() {
            Ok(f) => f,
            Err(e) => {
                shared.log(format!("<error> {}", lua_message(&e)).into_bytes());
                return;
            }
        },
    };
    match func.call::<Value>(()) {
        Ok(v) => {
            let mut entry = b"<retval> ".to_vec();
            cat_value(&mut entry, &v, 0);
            shared.log_trimmed(entry);
        }
        Err(e) => shared.log(format!("<error> {}", lua_message(&e)).into_bytes()),
    }
}

/// The message of a Lua error as `lua_tostring` gives it.
fn lua_message(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::RuntimeError(m) | mlua::Error::SyntaxError { message: m, .. } => m.clone(),
        mlua::Error::CallbackError { cause, .. } => return lua_message(cause),
        other => other.to_string(),
    };
    // mlua appends a traceback; Valkey shows the message alone.
    let Some(i) = text.find("\nstack traceback:") else {
        return text;
    };
    let (message, traceback) = text.split_at(i);
    // Valkey raises a missing global's error from C with the position of the code
    // that read it; forkv's guard is Lua code raising it without one: take the
    // position from the traceback.
    if message.starts_with("Script attempted to access nonexistent global variable") {
        if let Some(pos) = traceback.split('\t').find_map(|frame| frame.strip_prefix("ldb_eval:")) {
            if let Some((line, _)) = pos.split_once(':') {
                return format!("ldb_eval:{line}: {message}");
            }
        }
    }
    message.to_string()
}

/// `redis|valkey|server <cmd>`: runs the command through `server.call` with logging on,
/// so that the command and its reply (or error) are logged.
fn server_command(lua: &Lua, side: &LuaSide<'_>, shared: &Shared, argv: &[Vec<u8>]) {
    let Ok(call) = side.api.raw_get::<Function>("call") else {
        return;
    };
    let args: mlua::Result<Vec<Value>> = argv[1..].iter().map(|a| lua.create_string(a).map(Value::String)).collect();
    shared.step.set(true);
    if let Ok(args) = args {
        let _ = call.call::<Value>(mlua::MultiValue::from_iter(args));
    }
    shared.step.set(false);
}

/// Levels of the Lua stack that run user code, from the innermost (the debug library's
/// numbering, as seen from a function the hook calls).
fn user_levels(side: &LuaSide<'_>) -> Vec<(i64, Table)> {
    let mut levels = Vec::new();
    for level in 1.. {
        let Ok(Value::Table(info)) = side.getinfo.call::<Value>((level, "Snl")) else {
            break;
        };
        let src: String = info.raw_get("short_src").unwrap_or_default();
        if src.contains("user_script") {
            levels.push((level, info));
        }
    }
    levels
}

fn print_var(side: &LuaSide<'_>, shared: &Shared, name: &[u8]) {
    for (level, _) in user_levels(side) {
        for i in 1.. {
            let Ok((n, v)) = side.getlocal.call::<(Value, Value)>((level, i)) else {
                break;
            };
            let Value::String(n) = n else {
                break;
            };
            if n.as_bytes().as_ref() == name {
                let mut entry = b"<value> ".to_vec();
                cat_value(&mut entry, &v, 0);
                shared.log_trimmed(entry);
                return;
            }
        }
    }
    if name == b"ARGV" || name == b"KEYS" {
        let v: Value = side.globals.raw_get(String::from_utf8_lossy(name).as_ref()).unwrap_or(Value::Nil);
        let mut entry = b"<value> ".to_vec();
        cat_value(&mut entry, &v, 0);
        shared.log_trimmed(entry);
    } else {
        shared.log(b"No such variable.".to_vec());
    }
}

fn print_all(side: &LuaSide<'_>, shared: &Shared) {
    let mut vars = 0;
    if let Some((level, _)) = user_levels(side).into_iter().next() {
        for i in 1.. {
            let Ok((n, v)) = side.getlocal.call::<(Value, Value)>((level, i)) else {
                break;
            };
            let Value::String(n) = n else {
                break;
            };
            let name = n.as_bytes().to_vec();
            if name.windows(12).any(|w| w == b"(*temporary)") {
                continue;
            }
            let mut entry = b"<value> ".to_vec();
            entry.extend_from_slice(&name);
            entry.extend_from_slice(b" = ");
            cat_value(&mut entry, &v, 0);
            shared.log_trimmed(entry);
            vars += 1;
        }
    }
    if vars == 0 {
        shared.log(b"No local variables in the current context.".to_vec());
    }
}

fn trace(side: &LuaSide<'_>, session: &Session, shared: &Shared) {
    let levels = user_levels(side);
    if levels.is_empty() {
        shared.log(b"<error> Can't retrieve Lua stack.".to_vec());
    }
    for (i, (_, info)) in levels.iter().enumerate() {
        let name: Option<String> = info.raw_get("name").ok();
        let line: i64 = info.raw_get("currentline").unwrap_or(0);
        let what = name.unwrap_or_else(|| "top level".to_string());
        shared.log(format!("{} {}:", if i == 0 { "In" } else { "From" }, what).into_bytes());
        session.log_source_line(shared, line);
    }
}

/// `sdscatrepr`: a quoted, escaped rendering of bytes.
pub(crate) fn cat_repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// `ldbCatStackValueRec`: a Lua value as the debugger shows it.
pub(crate) fn cat_value(out: &mut Vec<u8>, v: &Value, level: usize) {
    if level == MAX_VALUES_DEPTH {
        out.extend_from_slice(b"<max recursion level reached! Nested table?>");
        return;
    }
    let level = level + 1;
    match v {
        Value::String(s) => cat_repr(out, &s.as_bytes()),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(format_g(*i as f64).as_bytes()),
        Value::Number(n) => out.extend_from_slice(format_g(*n).as_bytes()),
        Value::Nil => out.extend_from_slice(b"nil"),
        Value::Table(t) => {
            let mut is_array = true;
            let mut repr1 = Vec::new();
            let mut repr2 = Vec::new();
            for (expected, (k, val)) in (1i64..).zip(t.pairs::<Value, Value>().flatten()) {
                let key_num = match &k {
                    Value::Integer(i) => Some(*i as f64),
                    Value::Number(n) => Some(*n),
                    _ => None,
                };
                if is_array && key_num != Some(expected as f64) {
                    is_array = false;
                }
                cat_value(&mut repr1, &val, level);
                repr1.extend_from_slice(b"; ");
                repr2.push(b'[');
                cat_value(&mut repr2, &k, level);
                repr2.extend_from_slice(b"]=");
                cat_value(&mut repr2, &val, level);
                repr2.extend_from_slice(b"; ");
            }
            repr1.truncate(repr1.len().saturating_sub(2));
            repr2.truncate(repr2.len().saturating_sub(2));
            out.push(b'{');
            out.extend_from_slice(if is_array { &repr1 } else { &repr2 });
            out.push(b'}');
        }
        Value::Function(_) | Value::UserData(_) | Value::Thread(_) | Value::LightUserData(_) => {
            let kind = match v {
                Value::Function(_) => "function",
                Value::UserData(_) => "userdata",
                Value::Thread(_) => "thread",
                _ => "light-userdata",
            };
            out.extend_from_slice(format!("\"{kind}@{:p}\"", v.to_pointer()).as_bytes());
        }
        _ => out.extend_from_slice(b"\"<unknown-lua-type>\""),
    }
}

/// C's `%g` (precision 6), with C's sign on a NaN.
pub(crate) fn format_g(x: f64) -> String {
    if x.is_nan() && x.is_sign_negative() {
        return "-nan".to_string();
    }
    crate::cjson::format_g(x, 6)
}

/// `ldbRespToHuman`: a reply as the debugger shows it.
/// `double` renders a double as the host's RESP3 encoding does.
pub(crate) fn resp_to_human(out: &mut Vec<u8>, v: &RespValue, double: &dyn Fn(f64) -> String) {
    let list = |out: &mut Vec<u8>, items: &[RespValue]| {
        for (j, item) in items.iter().enumerate() {
            resp_to_human(out, item, double);
            if j + 1 != items.len() {
                out.push(b',');
            }
        }
    };
    match v {
        RespValue::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        RespValue::Bulk(b) => cat_repr(out, b),
        RespValue::NullBulk | RespValue::NullArray => out.extend_from_slice(b"NULL"),
        RespValue::Status(s) => {
            let mut t = b"+".to_vec();
            t.extend_from_slice(s);
            cat_repr(out, &t);
        }
        RespValue::Error(s) => {
            let mut t = b"-".to_vec();
            t.extend_from_slice(s);
            cat_repr(out, &t);
        }
        RespValue::Array(items) => {
            out.push(b'[');
            list(out, items);
            out.push(b']');
        }
        RespValue::Set(items) => {
            out.extend_from_slice(b"~(");
            list(out, items);
            out.push(b')');
        }
        RespValue::Map(pairs) => {
            out.push(b'{');
            for (j, (k, val)) in pairs.iter().enumerate() {
                resp_to_human(out, k, double);
                out.extend_from_slice(b" => ");
                resp_to_human(out, val, double);
                if j + 1 != pairs.len() {
                    out.push(b',');
                }
            }
            out.push(b'}');
        }
        RespValue::Null => out.extend_from_slice(b"(null)"),
        RespValue::Bool(b) => out.extend_from_slice(if *b { b"#true" } else { b"#false" }),
        RespValue::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(double(*d).as_bytes());
        }
        // Valkey's converter skips these types and shows nothing of them.
        RespValue::BigNumber(_) | RespValue::Verbatim(_, _) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_c() {
        for (x, s) in [(1.0, "1"), (2.5, "2.5"), (100000.0, "100000"), (1000000.0, "1e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (1.234567, "1.23457"), (-7.0, "-7"), (123456789.0, "1.23457e+08")] {
            assert_eq!(format_g(x), s, "{x}");
        }
    }

    #[test]
    fn parse_command_as_valkey() {
        assert_eq!(parse_command(b""), Ok(None));
        assert_eq!(parse_command(b"*1\r\n$4\r\nstep\r\n"), Ok(Some(vec![b"step".to_vec()])));
        assert_eq!(parse_command(b"*2\r\n$1\r\np\r\n$1"), Ok(None));
        assert_eq!(parse_command(b"*1\r\n$0\r\n\r\n"), Err(()));
        assert_eq!(parse_command(b"hello"), Err(()));
        assert_eq!(parse_command(b"*0\r\n"), Err(()));
    }
}
