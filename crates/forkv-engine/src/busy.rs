//! A script that runs long (Valkey's `script.c` timed-out mode and `processCommand`'s
//! CMD_ALLOW_BUSY rule).
//!
//! While a script or function runs, [`ScriptRun`] describes it (Valkey's `curr_run_ctx`).
//! The VM's count hook calls [`Engine::script_interrupt`]; once the run is older than
//! `busy-reply-threshold` it enters the *timed-out* state: a warning is logged and, from
//! then on at every hook call, the installed [`BusyEvents`] serves other clients from
//! inside the script (the host's event loop cannot run: the script runs inside it). It
//! hands their bytes to [`Engine::feed_busy`], which runs the commands flagged
//! `allow_busy` and refuses every other one with `-BUSY`. SCRIPT KILL and FUNCTION KILL
//! mark the run killed; the hook then fails the script.
//!
//! AUTH, HELLO and RESET, the host's commands flagged `allow_busy`, run here on the
//! engine's client state. What cannot run synchronously here is left in the client's
//! query buffer, in order, for the normal path once the script ends: REPLCONF and
//! SHUTDOWN NOSAVE. SHUTDOWN NOSAVE also kills the script,
//! even one that wrote (Valkey exits from inside it): the script's effects are dropped
//! from the propagation stream, its caller gets no reply and is closed, and the
//! shutdown's client is the first one the host serves afterwards (see
//! [`Engine::end_script_run`]), so that the host's own SHUTDOWN does the rest.

use std::time::Instant;

use crate::log::LogLevel;
use crate::reply::Reply;
use crate::resp::{self, Args, Parsed};
use crate::table::{self, flags, Exec};
use crate::{Engine, Outcome};

/// Reply to other clients while an EVAL script is busy (Valkey's `shared.slowevalerr`).
pub const BUSY_EVAL: &str = "BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Reply while a function is busy (Valkey's `shared.slowscripterr`).
pub const BUSY_FUNCTION: &str = "BUSY Valkey is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The script or function running now.
pub struct ScriptRun {
    /// The client that called it (not read while it runs).
    pub caller: u64,
    /// EVAL/EVALSHA (else FCALL).
    pub eval: bool,
    /// The SHA1 of the script, or the function's name.
    pub name: String,
    pub started: Instant,
    /// Past `busy-reply-threshold`: other clients are served from the hook.
    pub timed_out: bool,
    /// SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE asked it to stop.
    pub killed: bool,
    /// It called a write command (it can no longer be killed).
    pub write_dirty: bool,
    /// The caller's command, copied when the run times out (FUNCTION STATS).
    pub argv: Vec<Vec<u8>>,
    /// A client sent SHUTDOWN NOSAVE meanwhile.
    pub shutdown_by: Option<u64>,
    /// Clients whose input was read while busy (the host must look at them afterwards).
    pub touched: Vec<u64>,
}

impl ScriptRun {
    pub fn new(caller: u64, eval: bool, name: String) -> Self {
        ScriptRun {
            caller,
            eval,
            name,
            started: Instant::now(),
            timed_out: false,
            killed: false,
            write_dirty: false,
            argv: Vec::new(),
            shutdown_by: None,
            touched: Vec::new(),
        }
    }

    /// The `-BUSY` error for this kind of script.
    pub fn busy_error(&self) -> &'static str {
        if self.eval {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }
}

/// The host's side of serving clients from inside a busy script (installed by the
/// server crate, which owns the sockets): read what other clients sent, feed it to
/// [`Engine::feed_busy`], write the replies.
pub trait BusyEvents {
    /// Serves the clients that have input now, without waiting.
    fn process(&mut self, engine: &mut Engine);
    /// The busy run ended: forget per-run state.
    fn run_ended(&mut self) {}
}

/// What [`Engine::feed_busy`] did with a client's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BusyFeed {
    /// Replies to write to the client, in order.
    pub reply: Vec<u8>,
    /// Stop reading this client until the script ends (a command was left for later, or
    /// the client is closing).
    pub stop: bool,
}

impl Engine {
    /// The run in progress, if any.
    pub fn script_run(&self) -> Option<&ScriptRun> {
        self.script_run.as_ref()
    }

    /// A script is past its busy threshold (other clients are refused with `-BUSY`).
    pub fn is_busy(&self) -> bool {
        self.script_run.as_ref().is_some_and(|r| r.timed_out)
    }

    /// Installs the host's busy-time event processing.
    pub fn set_busy_events(&mut self, events: Box<dyn BusyEvents>) {
        self.busy_events = Some(events);
    }

    /// The count hook's call (Valkey's `scriptInterrupt`): enters the timed-out state once
    /// the run is older than the threshold, then serves other clients. True when the run
    /// must stop.
    pub(crate) fn script_interrupt(&mut self, argv: &[&[u8]]) -> bool {
        let threshold = self.cfg.busy_reply_threshold_ms;
        let loading = self.cfg.loading;
        let Some(run) = self.script_run.as_mut() else {
            return false;
        };
        if !run.timed_out {
            if threshold == 0 || loading {
                return false;
            }
            let elapsed = run.started.elapsed().as_millis();
            if elapsed < u128::from(threshold) {
                return false;
            }
            run.timed_out = true;
            run.argv = argv.iter().map(|a| a.to_vec()).collect();
            let line = format!(
                "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                if run.eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
                run.name
            );
            self.logs.push(LogLevel::Warning, line);
        }
        if let Some(mut events) = self.busy_events.take() {
            events.process(self);
            self.busy_events = Some(events);
        }
        let killed = self.script_run.as_ref().is_some_and(|r| r.killed);
        if killed {
            self.logs.push(LogLevel::Notice, "Lua script killed by user with SCRIPT KILL.".into());
        }
        killed
    }

    /// The run is over: clients whose input was read meanwhile and holds complete
    /// commands are listed as woken, so that the host runs that input now (the client
    /// that sent SHUTDOWN NOSAVE first). Returns the run.
    pub(crate) fn end_script_run(&mut self) -> Option<ScriptRun> {
        let run = self.script_run.take()?;
        if !run.timed_out {
            return Some(run);
        }
        if let Some(mut events) = self.busy_events.take() {
            events.run_ended();
            self.busy_events = Some(events);
        }
        let mut ids: Vec<u64> = run.shutdown_by.into_iter().collect();
        for &id in &run.touched {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for id in ids {
            let ready = self.clients.get(&id).is_some_and(|c| !c.suspended && !c.is_blocked() && !c.inbuf.is_empty() && c.inbuf.len() >= c.need.max(1));
            if ready {
                self.push_woken(id);
            }
        }
        Some(run)
    }

    /// May the busy loop read client `id` now? Not the script's caller, nor a client
    /// that waits on something (a host command, a blocking command, its output), nor the
    /// link to our primary.
    pub fn busy_may_read(&self, id: u64) -> bool {
        let Some(run) = &self.script_run else {
            return false;
        };
        id != run.caller
            && self.clients.get(&id).is_some_and(|c| !c.suspended && !c.closing && !c.is_blocked() && !c.primary && !c.output_pending)
    }

    /// Bytes client `id` sent while a script is busy: appended to its query buffer, then
    /// its complete commands run as [`Engine::dispatch`] runs them (which refuses all but
    /// the `allow_busy` ones), up to the first one that must wait for the script's end.
    pub fn feed_busy(&mut self, id: u64, chunk: &[u8]) -> BusyFeed {
        let mut fed = BusyFeed::default();
        self.stats.total_net_input_bytes += chunk.len() as u64;
        let Some(c) = self.clients.get_mut(&id) else {
            fed.stop = true;
            return fed;
        };
        c.inbuf.extend_from_slice(chunk);
        let buf = std::mem::take(&mut c.inbuf);
        if let Some(run) = self.script_run.as_mut() {
            if !run.touched.contains(&id) {
                run.touched.push(id);
            }
        }
        let mut pos = 0;
        let mut ranges = Vec::new();
        while pos < buf.len() {
            let rest = &buf[pos..];
            let unauthenticated = self.auth_required(id);
            let (argv, len): (Vec<&[u8]>, usize) = match resp::parse_for(rest, self.cfg.proto_max_bulk_len, unauthenticated, &mut ranges) {
                Parsed::Incomplete { need } => {
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.need = need;
                    }
                    break;
                }
                Parsed::Empty { len } => {
                    pos += len;
                    continue;
                }
                // The normal path answers it (and closes the client) after the script.
                Parsed::Error(_) => {
                    fed.stop = true;
                    break;
                }
                Parsed::Command { args: Args::Slices(rs), len } => (rs.iter().map(|r| &rest[r.clone()]).collect(), len),
                Parsed::Command { args: Args::Owned(v), len } => {
                    // Inline commands own their arguments: keep them alive for the call.
                    let owned = v;
                    let argv: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
                    let mark = self.out.len();
                    let step = self.busy_command(id, &argv, &mut fed);
                    if step.is_none() {
                        break;
                    }
                    fed.reply.extend_from_slice(&self.out.split_off(mark));
                    pos += len;
                    if fed.stop {
                        break;
                    }
                    continue;
                }
            };
            let mark = self.out.len();
            if self.busy_command(id, &argv, &mut fed).is_none() {
                break;
            }
            fed.reply.extend_from_slice(&self.out.split_off(mark));
            pos += len;
            if fed.stop {
                break;
            }
        }
        if let Some(c) = self.clients.get_mut(&id) {
            let mut kept = buf[pos..].to_vec();
            kept.extend_from_slice(&c.inbuf);
            c.inbuf = kept;
            if c.inbuf.is_empty() {
                c.need = 0;
            }
        }
        fed
    }

    /// Runs one command of a client while a script is busy. `None`: the command was not
    /// consumed (it waits for the script's end; `fed.stop` is set).
    fn busy_command(&mut self, id: u64, argv: &[&[u8]], fed: &mut BusyFeed) -> Option<()> {
        let spec = argv.first().and_then(|name| table::lookup(name)).and_then(|top| crate::resolve_subcommand(top, argv).ok());
        if let Some(spec) = spec {
            let host_run = matches!(spec.exec, Exec::Host | Exec::Server | Exec::Container);
            if host_run && matches!(spec.name, "auth" | "hello" | "reset") {
                self.busy_connection_command(id, spec.name, argv, fed);
                return Some(());
            }
            // REPLCONF (ACK from a replica, ...): allowed while busy and run by the server
            // crate, as Valkey runs it from inside the script.
            if matches!(spec.exec, Exec::Server) && spec.flags & flags::ALLOW_BUSY != 0 && self.server_commands.is_some() {
                self.busy_server_command(id, argv, fed);
                return Some(());
            }
            if host_run && spec.flags & flags::ALLOW_BUSY != 0 {
                let nosave = spec.name == "shutdown" && argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) && !argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"abort"));
                if spec.name == "shutdown" && !nosave {
                    // Valkey's shutdownCommand: only NOSAVE while a script is busy.
                    let err = self.script_run.as_ref().map_or(BUSY_EVAL, ScriptRun::busy_error);
                    let refusal = self.busy_refusal(id, spec, argv).unwrap_or_else(|| err.to_string());
                    self.busy_reject(id, spec, &refusal);
                    return Some(());
                }
                if nosave {
                    if let Some(refusal) = self.busy_refusal(id, spec, argv) {
                        self.busy_reject(id, spec, &refusal);
                        return Some(());
                    }
                    if let Some(run) = self.script_run.as_mut() {
                        run.killed = true;
                        run.shutdown_by.get_or_insert(id);
                    }
                }
                fed.stop = true;
                return None;
            }
        }
        let step = self.dispatch(id, argv);
        match step {
            Outcome::Done => {}
            Outcome::Close => fed.stop = true,
            // Not reached (such commands are refused while busy); never lose a client.
            Outcome::Host(_) | Outcome::Blocked | Outcome::Paused => fed.stop = true,
        }
        Some(())
    }

    /// AUTH, HELLO and RESET while a script is busy (Valkey serves them from inside the
    /// script): the checks of [`Engine::dispatch`], then the host's command done here, on
    /// the engine's client state, counted as a host command that ran. The host's copies
    /// of a client's protocol and name are refreshed after the script
    /// ([`Engine::take_busy_client_changes`]).
    fn busy_connection_command(&mut self, id: u64, name: &str, argv: &[&[u8]], fed: &mut BusyFeed) {
        if !self.busy_checks_pass(id, argv, fed) {
            return;
        }
        match name {
            "auth" => self.busy_auth(id, argv),
            "hello" => self.busy_hello(id, argv),
            _ => self.busy_reset(id),
        }
        self.host_command_done(id);
        if let Some(c) = self.clients.get_mut(&id) {
            c.suspended = false;
        }
    }

    /// A command the server crate runs (REPLCONF) while a script is busy: the checks of
    /// [`Engine::dispatch`], then the server's runner, counted as a host command that ran.
    fn busy_server_command(&mut self, id: u64, argv: &[&[u8]], fed: &mut BusyFeed) {
        if !self.busy_checks_pass(id, argv, fed) {
            return;
        }
        let mut reply = Vec::new();
        if let Some(mut server) = self.server_commands.take() {
            server.run(self, id, argv, &mut reply);
            self.server_commands = Some(server);
        }
        self.out.extend_from_slice(&reply);
        self.host_command_done(id);
        if let Some(c) = self.clients.get_mut(&id) {
            c.suspended = false;
        }
    }

    /// The checks of [`Engine::dispatch`] for a command served during a busy script: true
    /// when the command is the host's (or the server's) to run now; otherwise dispatch
    /// answered it, or the feed stops here (the client closes, blocks or is paused).
    fn busy_checks_pass(&mut self, id: u64, argv: &[&[u8]], fed: &mut BusyFeed) -> bool {
        match self.dispatch(id, argv) {
            Outcome::Host(_) => true,
            Outcome::Done => false,
            Outcome::Close | Outcome::Blocked | Outcome::Paused => {
                fed.stop = true;
                false
            }
        }
    }

    /// AUTH [user] pass (the host's `auth`).
    fn busy_auth(&mut self, id: u64, argv: &[&[u8]]) {
        let result = match argv.len() {
            2 => self.acl_auth(id, None, argv[1]),
            3 => self.acl_auth(id, Some(argv[1]), argv[2]),
            _ => Err("ERR syntax error".into()),
        };
        let proto = self.proto_of(id);
        match result {
            Ok(()) => Reply::new(&mut self.out, proto).ok(),
            Err(e) => Reply::new(&mut self.out, proto).error(&e),
        }
    }

    /// HELLO [protover [AUTH user pass] [SETNAME name]] (the host's `hello`).
    fn busy_hello(&mut self, id: u64, argv: &[&[u8]]) {
        let old_proto = self.proto_of(id);
        match self.hello_apply(id, argv) {
            Err(e) => Reply::new(&mut self.out, old_proto).error(&e),
            Ok(proto) => {
                let (server, version) = self.cfg.hello_identity.clone();
                let mut r = Reply::new(&mut self.out, proto);
                r.map(7);
                r.bulk(b"server");
                r.bulk(server.as_bytes());
                r.bulk(b"version");
                r.bulk(version.as_bytes());
                r.bulk(b"proto");
                r.int(i64::from(proto));
                r.bulk(b"id");
                r.int(i64::try_from(id).unwrap_or(i64::MAX));
                r.bulk(b"mode");
                r.bulk(b"standalone");
                r.bulk(b"role");
                r.bulk(b"master");
                r.bulk(b"modules");
                r.array(0);
                self.note_busy_client_change(id);
            }
        }
    }

    /// HELLO's options applied to client `id`: its new protocol, or Valkey's error.
    fn hello_apply(&mut self, id: u64, argv: &[&[u8]]) -> Result<u8, String> {
        let mut proto = self.proto_of(id);
        let mut i = 1;
        if let Some(v) = argv.get(1) {
            let n = std::str::from_utf8(v).ok().and_then(|t| t.parse::<i64>().ok()).ok_or("ERR Protocol version is not an integer or out of range")?;
            if !(2..=3).contains(&n) {
                return Err("NOPROTO unsupported protocol version".into());
            }
            proto = n as u8;
            i = 2;
        }
        let mut name: Option<&[u8]> = None;
        let mut auth: Option<(&[u8], &[u8])> = None;
        while i < argv.len() {
            let more = argv.len() - i - 1;
            if argv[i].eq_ignore_ascii_case(b"auth") && more >= 2 {
                auth = Some((argv[i + 1], argv[i + 2]));
                i += 3;
            } else if argv[i].eq_ignore_ascii_case(b"setname") && more >= 1 {
                let n = argv[i + 1];
                if !n.iter().all(|b| (0x21..=0x7e).contains(b)) {
                    return Err("ERR Client names cannot contain spaces, newlines or special characters.".into());
                }
                name = Some(n);
                i += 2;
            } else {
                return Err(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(argv[i])));
            }
        }
        if let Some((user, pass)) = auth {
            self.acl_auth(id, Some(user), pass)?;
        }
        let Some(c) = self.clients.get_mut(&id) else {
            return Err("ERR no such client".into());
        };
        if !c.authenticated {
            return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
        }
        if let Some(n) = name {
            c.name = String::from_utf8_lossy(n).into_owned();
        }
        c.proto = proto;
        Ok(proto)
    }

    /// RESET (the host's `reset`): RESP2, no name, db 0, out of MULTI and WATCH, no
    /// subscriptions, MONITOR or tracking, back to the default user.
    fn busy_reset(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.proto = 2;
            c.name.clear();
            c.db = 0;
        }
        self.reset_transaction(id);
        if let Some(mut server) = self.server_commands.take() {
            server.reset_client(self, id);
            self.server_commands = Some(server);
        }
        self.disable_tracking(id);
        self.acl_reset_client(id);
        Reply::new(&mut self.out, 2).simple("RESET");
        self.note_busy_client_change(id);
    }

    /// Client `id`'s protocol or name changed while busy: the host refreshes its copies.
    fn note_busy_client_change(&mut self, id: u64) {
        if !self.busy_client_changes.contains(&id) {
            self.busy_client_changes.push(id);
        }
    }

    /// Clients whose protocol or name a command changed while a script was busy (HELLO,
    /// RESET), for the host to refresh its copies.
    pub fn take_busy_client_changes(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.busy_client_changes)
    }

    /// Some client's protocol or name changed while busy (see
    /// [`Engine::take_busy_client_changes`]).
    pub fn has_busy_client_changes(&self) -> bool {
        !self.busy_client_changes.is_empty()
    }

    /// The refusals that apply to a command before it runs (auth, ACL), for the host
    /// commands the busy loop handles itself.
    fn busy_refusal(&self, id: u64, spec: &'static table::CommandSpec, argv: &[&[u8]]) -> Option<String> {
        let client = self.clients.get(&id)?;
        if let Some(e) = self.precheck(client, spec) {
            return Some(e);
        }
        self.acl.check(client.user.as_deref(), spec, argv).err().map(|r| r.error)
    }

    /// Answers a host command the busy loop refused (counted as processed and rejected).
    fn busy_reject(&mut self, id: u64, spec: &'static table::CommandSpec, err: &str) {
        self.stats.total_commands_processed += 1;
        let _ = self.reject_command(id, Some(spec), false, err);
    }

    /// SCRIPT KILL (`eval`) and FUNCTION KILL (Valkey's `scriptKill`).
    pub(crate) fn kill_script(&mut self, id: u64, eval: bool) -> Outcome {
        let Some(run) = self.script_run.as_mut() else {
            return self.script_error(id, "NOTBUSY No scripts in execution right now.");
        };
        let refusal = if self.clients.get(&run.caller).is_some_and(|c| c.primary) {
            Some("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.")
        } else if run.write_dirty {
            Some("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
        } else if eval && !run.eval {
            Some(BUSY_FUNCTION)
        } else if !eval && run.eval {
            Some(BUSY_EVAL)
        } else {
            run.killed = true;
            None
        };
        match refusal {
            Some(msg) => self.script_error(id, msg),
            None => {
                let proto = self.proto_of(id);
                Reply::new(&mut self.out, proto).ok();
                Outcome::Done
            }
        }
    }
}

#[cfg(test)]
mod tests;
