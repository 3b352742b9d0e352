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
//! What cannot run synchronously here is left in the client's query buffer, in order,
//! for the normal path once the script ends: host commands flagged `allow_busy` (AUTH,
//! HELLO, RESET, REPLCONF) and SHUTDOWN NOSAVE. SHUTDOWN NOSAVE also kills the script,
//! even one that wrote (Valkey exits from inside it): the script's effects are dropped
//! from the propagation stream, its caller gets no reply and is closed, and the
//! shutdown's client is the first one the host serves afterwards (see
//! [`Engine::end_script_run`]), so that the host's own SHUTDOWN does the rest.

use std::time::Instant;

use crate::log::LogLevel;
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
                crate::reply::Reply::new(&mut self.out, proto).ok();
                Outcome::Done
            }
        }
    }
}

#[cfg(test)]
mod tests;
