//! CLIENT PAUSE and CLIENT UNPAUSE (Valkey's `pauseActions` in server.c and
//! `blockPostponeClient` in blocked.c).
//!
//! A pause holds commands back without refusing them: a client whose command the pause
//! covers is *postponed*. The command stays unconsumed in its input buffer, the client
//! counts as blocked (INFO `blocked_clients`, CLIENT LIST flag `b`) and its later input
//! is only buffered. When the pause ends (CLIENT UNPAUSE, or its deadline seen by the
//! next command or the cron), the postponed clients are woken in the order they were
//! held and their input runs as if it had just arrived.
//!
//! `WRITE` covers the commands that may change data or reach the replication stream:
//! the `write` and `may_replicate` flags, with a script's own flags in place of
//! EVAL/EVALSHA/FCALL's (Valkey's getCommandFlags: a `no-writes` script is a read), and
//! EXEC by the flags of what it queued. `ALL` covers every command. Either one also
//! stops expiry (reads see a key past its TTL as absent, nothing is deleted) and
//! eviction. The check comes after every refusal (a wrong arity still answers at once),
//! so a pause begins after the command or transaction that set it. Clients a pause never
//! holds: our replicas, the link to our primary, the script pseudo-client, commands inside EXEC, and
//! replay while loading.
//!
//! Like Valkey's pause purposes, a SHUTDOWN waiting for its replicas pauses writes on its
//! own account (`PAUSE_DURING_SHUTDOWN`), and so does a FAILOVER from its start until it
//! ends (`PAUSE_DURING_FAILOVER`): with no deadline, until the shutdown or failover ends,
//! and untouched by CLIENT UNPAUSE. The pause in force is the most restrictive of them.

use std::collections::VecDeque;

use forkv_script::ScriptFlags;

use crate::client::Client;
use crate::reply::Reply;
use crate::table::{flags, CommandSpec};
use crate::{Engine, Outcome};

/// The pause set by CLIENT PAUSE, and the clients it holds.
#[derive(Default)]
pub(crate) struct Pause {
    /// End of the pause in ms since the epoch; `None` when there is no pause.
    end: Option<i64>,
    /// `ALL` (every command) rather than `WRITE`.
    all: bool,
    /// Writes are paused while SHUTDOWN waits for the replicas (Valkey's
    /// `PAUSE_DURING_SHUTDOWN`).
    shutdown: bool,
    /// Writes are paused while a FAILOVER runs (Valkey's `PAUSE_DURING_FAILOVER`).
    failover: bool,
    /// Postponed clients, first held first.
    postponed: VecDeque<u64>,
}

/// Valkey's `scriptFlagsToCmdFlags`: a script that declared flags replaces the command's
/// write, denyoom and stale flags with its own, and drops may_replicate.
fn script_flags_to_cmd_flags(cmd: u32, script: ScriptFlags) -> u32 {
    if script.has(ScriptFlags::EVAL_COMPAT_MODE) {
        return cmd;
    }
    let mut f = cmd & !(flags::STALE | flags::DENYOOM | flags::WRITE | flags::MAY_REPLICATE);
    if !script.has(ScriptFlags::ALLOW_OOM | ScriptFlags::NO_WRITES) {
        f |= flags::DENYOOM;
    }
    if !script.has(ScriptFlags::NO_WRITES) {
        f |= flags::WRITE;
    }
    if script.has(ScriptFlags::ALLOW_STALE) {
        f |= flags::STALE;
    }
    f
}

impl Engine {
    /// A command's flags as Valkey's getCommandFlags sees them: for EVAL, EVALSHA and
    /// FCALL (and their `_RO` forms), the flags the script or function declared. An
    /// EVAL body not cached yet is judged by its shebang; an unknown SHA or function
    /// keeps the command's own flags.
    pub(crate) fn command_flags(&mut self, spec: &CommandSpec, argv: &[&[u8]]) -> u32 {
        let script = match spec.name {
            "eval" | "eval_ro" => argv.get(1).and_then(|body| {
                let sha = forkv_script::sha1hex(body);
                match self.scripting.as_ref().and_then(|vm| vm.get(&sha)) {
                    Some(s) => Some(s.flags),
                    None => forkv_script::shebang::parse(body).ok().map(|(f, _)| f),
                }
            }),
            "evalsha" | "evalsha_ro" => argv.get(1).and_then(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                self.scripting.as_ref().and_then(|vm| vm.get(&sha)).map(|s| s.flags)
            }),
            "fcall" | "fcall_ro" => argv.get(1).and_then(|name| {
                let name = String::from_utf8_lossy(name);
                self.functions.as_ref().and_then(|vm| vm.function_flags(&name))
            }),
            _ => None,
        };
        script.map_or(spec.flags, |s| script_flags_to_cmd_flags(spec.flags, s))
    }

    /// True while a pause is in force (a CLIENT PAUSE before its deadline, or a shutdown
    /// waiting for the replicas).
    pub fn is_paused(&self) -> bool {
        self.writes_held() || self.client_pause_active()
    }

    /// Writes are paused on a purpose's account (a shutdown or a failover), whatever
    /// CLIENT PAUSE says.
    fn writes_held(&self) -> bool {
        self.pause.shutdown || self.pause.failover
    }

    /// A CLIENT PAUSE is in force (its deadline not passed yet).
    fn client_pause_active(&self) -> bool {
        self.pause.end.is_some_and(|end| crate::cmd::now_ms() < end)
    }

    /// SHUTDOWN waits for the replicas: pauses writes (`on`) until it is cancelled
    /// (`!on`; Valkey's `pauseActions`/`unpauseActions(PAUSE_DURING_SHUTDOWN)`). A
    /// CLIENT PAUSE in force meanwhile stays. True when clients were woken.
    pub fn pause_for_shutdown(&mut self, on: bool) -> bool {
        self.pause.shutdown = on;
        self.purpose_pause_changed(on)
    }

    /// A FAILOVER pauses writes (`on`) from its start until it ends, whether it succeeded
    /// or was aborted (`!on`; Valkey's `pauseActions`/`unpauseActions(PAUSE_DURING_FAILOVER)`).
    /// A CLIENT PAUSE in force meanwhile stays. True when clients were woken.
    pub fn pause_for_failover(&mut self, on: bool) -> bool {
        self.pause.failover = on;
        self.purpose_pause_changed(on)
    }

    /// A purpose's pause began (`on`) or ended: expiry stops, or resumes and the held
    /// clients run again (those another pause still covers are held again then).
    fn purpose_pause_changed(&mut self, on: bool) -> bool {
        if on {
            self.ks.expire_paused = true;
            return false;
        }
        self.ks.expire_paused = self.writes_held() || self.client_pause_active();
        self.wake_postponed()
    }

    /// Ends a CLIENT PAUSE whose deadline has passed (Valkey's `updatePausedActions`),
    /// waking the clients it held; true when some were woken. The cron calls this, and
    /// every command does before it is checked against the pause.
    pub fn update_pause(&mut self) -> bool {
        match self.pause.end {
            Some(end) if crate::cmd::now_ms() >= end => self.unpause(),
            _ => false,
        }
    }

    /// CLIENT PAUSE: pauses until `end` (ms since the epoch). A pause already in force
    /// keeps its later deadline and, when it is `ALL`, its mode (Valkey keeps the most
    /// restrictive of the two).
    pub fn pause_clients(&mut self, end: i64, all: bool) {
        let active = self.client_pause_active();
        self.pause.all = all || (active && self.pause.all);
        self.pause.end = Some(match self.pause.end {
            Some(old) if active => old.max(end),
            _ => end,
        });
        self.ks.expire_paused = true;
    }

    /// Ends the CLIENT PAUSE (CLIENT UNPAUSE, or its deadline): the postponed clients are
    /// woken in the order they were held, and expiry and eviction resume unless a
    /// shutdown still pauses writes (its clients are then held again when they run).
    /// True when some were woken.
    pub fn unpause(&mut self) -> bool {
        self.pause.end = None;
        self.pause.all = false;
        self.ks.expire_paused = self.writes_held();
        self.wake_postponed()
    }

    /// Wakes every postponed client, first held first; they are judged again when their
    /// command runs. True when some were woken.
    fn wake_postponed(&mut self) -> bool {
        let held = std::mem::take(&mut self.pause.postponed);
        let woke = !held.is_empty();
        for id in held {
            if let Some(c) = self.clients.get_mut(&id) {
                c.postponed = false;
                self.blocking.woken.push(id);
            }
        }
        woke
    }

    /// Whether the pause holds this command of `client` (`flags`: its effective flags;
    /// `queued`: for EXEC, the flags of the queued commands).
    fn pause_covers(&self, client: &Client, flags: u32, queued: u32) -> bool {
        if client.primary || client.replica || client.in_script || client.nonblocking_call || client.exec.is_some() || self.cfg.loading || self.ks.loading {
            return false;
        }
        if !self.is_paused() {
            return false;
        }
        (self.pause.all && self.client_pause_active()) || (flags | queued) & (flags::WRITE | flags::MAY_REPLICATE) != 0
    }

    /// Before a command runs (after every refusal): postpones the client when the pause
    /// covers the command. True when it did; the caller leaves the command unconsumed.
    pub(crate) fn postpone_if_paused(&mut self, id: u64, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
        if self.pause.end.is_none() && !self.writes_held() {
            return false;
        }
        if self.update_pause() && !self.writes_held() {
            return false;
        }
        let flags = if self.pause.all { spec.flags } else { self.command_flags(spec, argv) };
        let Some(client) = self.clients.get(&id) else {
            return false;
        };
        let (queued, _) = client.exec_queued_flags(spec);
        if !self.pause_covers(client, flags, queued) {
            return false;
        }
        self.postpone(id);
        true
    }

    /// Holds client `id`'s command until the pause ends (it runs again then).
    pub(crate) fn postpone(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.postponed = true;
            c.suspended = true;
        }
        self.pause.postponed.push_back(id);
    }

    /// A failover holds the writes (from FAILOVER until it ends or is aborted).
    pub(crate) fn failover_holds_writes(&self) -> bool {
        self.pause.failover
    }

    /// Forgets a closed client's place in the pause's queue.
    pub(crate) fn forget_postponed(&mut self, id: u64) {
        self.pause.postponed.retain(|&c| c != id);
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL].
pub(crate) fn client_pause(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = e.clients.get(&id).map_or(2, |c| c.proto);
    let result = parse_pause(argv);
    let mut r = Reply::new(&mut e.out, proto);
    match result {
        Ok((ms, all)) => {
            r.ok();
            let end = crate::cmd::now_ms().saturating_add(ms);
            e.pause_clients(end, all);
        }
        Err(msg) => {
            r.error(&msg);
            e.stats.total_error_replies += 1;
        }
    }
    Outcome::Done
}

/// CLIENT UNPAUSE.
pub(crate) fn client_unpause(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let proto = e.clients.get(&id).map_or(2, |c| c.proto);
    e.unpause();
    Reply::new(&mut e.out, proto).ok();
    Outcome::Done
}

/// The timeout in ms and whether the pause is `ALL`, with Valkey's errors.
fn parse_pause(argv: &[&[u8]]) -> Result<(i64, bool), String> {
    if argv.len() > 4 {
        return Err("ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.".into());
    }
    // Valkey's getTimeoutFromObjectOrReply in milliseconds.
    let ms = forkv_keyspace::value::parse_canonical_i64(argv[2]).ok_or("ERR timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    if ms > 0 && ms > i64::MAX - crate::cmd::now_ms() {
        return Err("ERR timeout is out of range".into());
    }
    let all = match argv.get(3) {
        None => true,
        Some(m) if m.eq_ignore_ascii_case(b"all") => true,
        Some(m) if m.eq_ignore_ascii_case(b"write") => false,
        Some(_) => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
    };
    Ok((ms, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_timeout_and_mode_with_valkeys_errors() {
        assert_eq!(parse_pause(&[b"client", b"pause", b"100"]), Ok((100, true)));
        assert_eq!(parse_pause(&[b"client", b"pause", b"5", b"write"]), Ok((5, false)));
        assert_eq!(parse_pause(&[b"client", b"pause", b"5", b"ALL"]), Ok((5, true)));
        assert_eq!(parse_pause(&[b"client", b"pause", b"abc"]), Err("ERR timeout is not an integer or out of range".into()));
        assert_eq!(parse_pause(&[b"client", b"pause", b"-1"]), Err("ERR timeout is negative".into()));
        assert_eq!(parse_pause(&[b"client", b"pause", b"1", b"foo"]), Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()));
    }

    #[test]
    fn a_write_pause_holds_writes_in_order_and_serves_reads() {
        let mut e = Engine::new(1);
        for id in 1..=3 {
            e.add_client(id);
        }
        assert_eq!(e.feed(1, b"*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$5\r\n60000\r\n$5\r\nWRITE\r\n"), Outcome::Done);
        assert_eq!(e.reply(), b"+OK\r\n");
        e.clear_reply();
        // A SET and the GET pipelined after it wait; nothing of them is answered.
        assert_eq!(e.feed(2, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), Outcome::Blocked);
        assert_eq!(e.feed(3, b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"), Outcome::Blocked);
        assert_eq!(e.reply(), b"");
        assert_eq!(e.conn_stats().blocked_clients, 2);
        // Reads of other clients are served.
        assert_eq!(e.feed(1, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), Outcome::Done);
        assert_eq!(e.reply(), b"$-1\r\n");
        e.clear_reply();
        assert_eq!(e.feed(1, b"*2\r\n$6\r\nCLIENT\r\n$7\r\nUNPAUSE\r\n"), Outcome::Done);
        assert_eq!(e.take_woken(), vec![2, 3]);
        e.clear_reply();
        assert_eq!(e.wake(2), Outcome::Done);
        assert_eq!(e.reply(), b"+OK\r\n$1\r\nv\r\n");
        e.clear_reply();
        assert_eq!(e.wake(3), Outcome::Done);
        assert_eq!(e.reply(), b":1\r\n");
        assert_eq!(e.conn_stats().blocked_clients, 0);
    }

    #[test]
    fn a_shutdown_pauses_writes_until_cancelled_and_client_unpause_leaves_it() {
        let mut e = Engine::new(1);
        for id in 1..=2 {
            e.add_client(id);
        }
        e.pause_for_shutdown(true);
        assert!(e.is_paused());
        assert_eq!(e.feed(2, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), Outcome::Blocked);
        assert_eq!(e.feed(1, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), Outcome::Done);
        assert_eq!(e.reply(), b"$-1\r\n");
        e.clear_reply();
        // CLIENT UNPAUSE ends only a CLIENT PAUSE: the shutdown's pause stays.
        assert_eq!(e.feed(1, b"*2\r\n$6\r\nCLIENT\r\n$7\r\nUNPAUSE\r\n"), Outcome::Done);
        e.clear_reply();
        for id in e.take_woken() {
            assert_eq!(e.wake(id), Outcome::Blocked);
        }
        assert!(e.is_paused());
        // The shutdown was cancelled: the write runs.
        assert!(e.pause_for_shutdown(false));
        assert_eq!(e.take_woken(), vec![2]);
        assert_eq!(e.wake(2), Outcome::Done);
        assert_eq!(e.reply(), b"+OK\r\n");
        assert!(!e.is_paused());
    }

    #[test]
    fn a_failover_pauses_writes_until_it_ends_even_across_a_shutdown_pause() {
        let mut e = Engine::new(1);
        for id in 1..=2 {
            e.add_client(id);
        }
        e.pause_for_failover(true);
        e.pause_for_shutdown(true);
        assert_eq!(e.feed(2, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), Outcome::Blocked);
        // The shutdown's pause ends; the failover's still holds the write.
        assert!(e.pause_for_shutdown(false));
        for id in e.take_woken() {
            assert_eq!(e.wake(id), Outcome::Blocked);
        }
        assert!(e.is_paused());
        assert!(e.pause_for_failover(false));
        assert_eq!(e.take_woken(), vec![2]);
        assert_eq!(e.wake(2), Outcome::Done);
        assert_eq!(e.reply(), b"+OK\r\n");
        assert!(!e.is_paused());
    }

    #[test]
    fn a_command_to_redirect_waits_for_the_end_of_a_failover_in_progress() {
        let mut e = Engine::new(1);
        e.add_client(1);
        assert_eq!(e.feed(1, b"*3\r\n$6\r\nCLIENT\r\n$4\r\nCAPA\r\n$8\r\nredirect\r\n"), Outcome::Done);
        e.clear_reply();
        // FAILOVER's last step: the server follows the new primary, writes still held.
        e.pause_for_failover(true);
        e.cfg.primary_address = Some("127.0.0.1:7000".into());
        assert_eq!(e.feed(1, b"*1\r\n$4\r\nPING\r\n"), Outcome::Done);
        assert_eq!(e.reply(), b"+PONG\r\n");
        e.clear_reply();
        // A read too: without READONLY it would be redirected.
        assert_eq!(e.feed(1, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), Outcome::Blocked);
        assert!(e.reply().is_empty());
        assert!(e.pause_for_failover(false));
        assert_eq!(e.take_woken(), vec![1]);
        assert_eq!(e.wake(1), Outcome::Done);
        assert_eq!(e.reply(), b"-REDIRECT 127.0.0.1:7000\r\n");
    }

    #[test]
    fn declared_script_flags_replace_the_commands() {
        let nw = ScriptFlags(ScriptFlags::NO_WRITES);
        assert_eq!(script_flags_to_cmd_flags(flags::MAY_REPLICATE | flags::NOSCRIPT, nw), flags::NOSCRIPT);
        let none = ScriptFlags(0);
        assert_eq!(script_flags_to_cmd_flags(flags::MAY_REPLICATE, none), flags::WRITE | flags::DENYOOM);
        let compat = ScriptFlags(ScriptFlags::EVAL_COMPAT_MODE);
        assert_eq!(script_flags_to_cmd_flags(flags::MAY_REPLICATE, compat), flags::MAY_REPLICATE);
    }
}
