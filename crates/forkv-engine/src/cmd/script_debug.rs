//! SCRIPT DEBUG and the debugged EVAL (Valkey's `ldbEnable`/`ldbDisable`,
//! `evalGenericCommandWithDebugging`, `ldbStartSession`/`ldbEndSession`). The debugger
//! itself (its REPL, log lines, stops) is `forkv_script::ldb`; this file is the seam: the
//! per-client mode, the client's socket as the session's connection, and the two ways a
//! session runs.
//!
//! - **SYNC**: the server blocks and runs the session itself on the client's socket, put
//!   in blocking mode (with Valkey's 5 s send timeout) for the session and back to
//!   non-blocking after; the script's changes are kept; the client is closed after the
//!   EVAL reply, which marks the end of the session.
//! - **YES**: a child is forked beside the background job (a BGSAVE may run meanwhile).
//!   It runs the session on its copy of the socket, writes the EVAL reply and leaves with
//!   `_exit`: its changes die with it. The parent forgets the client: its socket is
//!   [`Client::detached`](crate::client::Client::detached), which the host closes
//!   without shutting the connection down (the child still uses it). The children are
//!   reaped by [`Engine::reap_ldb_children`] from the cron.
//!
//! Only a connection with a raw descriptor can be debugged (plain TCP and unix sockets):
//! forkv's TLS is Node's, which the engine cannot speak from inside a command, so SCRIPT
//! DEBUG YES|SYNC refuses a TLS client (Valkey debugs over TLS too; the README says so).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use forkv_script::{DebugIo, DebugSession};

use crate::client::LuaDebug;
use crate::cmd::script::{eval_generic, Source};
use crate::log::LogLevel;
use crate::reply::Reply;
use crate::{Engine, Outcome};

/// Refusal of SCRIPT DEBUG YES|SYNC for a connection without a raw socket (every client
/// of the host has one: TLS clients through the host's TLS bridge; internal clients do not).
pub const NO_SOCKET_ERROR: &str = "ERR SCRIPT DEBUG YES|SYNC needs a client connection with a socket";

/// Valkey's send timeout of the debugging connection, in seconds.
const SEND_TIMEOUT_SECS: libc::time_t = 5;

/// SCRIPT DEBUG YES|SYNC|NO.
pub(crate) fn script_debug(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = e.proto_of(id);
    // A connection forkv can never debug (TLS) says so first, whatever else holds.
    let wants_session = crate::cmd::is(argv[2], "yes") || crate::cmd::is(argv[2], "sync");
    if wants_session && e.clients.get(&id).is_some_and(|c| c.socket_fd.is_none()) {
        return e.script_error(id, NO_SOCKET_ERROR);
    }
    // Replies of this batch not sent yet, or output the host still holds on a socket a
    // session would write to directly (Valkey's clientHasPendingReplies): the session
    // would write past them. (A TLS socket holds its output while Node encrypts it; no
    // session ever writes there.)
    let pending = !e.out.is_empty() || e.clients.get(&id).is_some_and(|c| c.output_pending && c.socket_fd.is_some());
    if pending {
        return e.script_error(id, "ERR SCRIPT DEBUG must be called outside a pipeline");
    }
    let mode = match argv[2] {
        m if crate::cmd::is(m, "no") => None,
        m if crate::cmd::is(m, "yes") => Some(LuaDebug::Forked),
        m if crate::cmd::is(m, "sync") => Some(LuaDebug::Sync),
        _ => return e.script_error(id, "ERR Use SCRIPT DEBUG YES/SYNC/NO"),
    };
    let Some(client) = e.clients.get_mut(&id) else {
        return Outcome::Close;
    };
    client.lua_debug = mode;
    Reply::new(&mut e.out, proto).ok();
    Outcome::Done
}

/// EVAL / EVAL_RO of a client in debug mode (Valkey's `evalGenericCommandWithDebugging`).
pub(crate) fn eval_with_debugging(e: &mut Engine, id: u64, argv: &[&[u8]], read_only: bool) -> Outcome {
    let Some((mode, fd)) = e.clients.get(&id).and_then(|c| Some((c.lua_debug?, c.socket_fd))) else {
        return Outcome::Close;
    };
    let Some(fd) = fd else {
        disable(e, id);
        return e.script_error(id, NO_SOCKET_ERROR);
    };
    match mode {
        LuaDebug::Sync => eval_sync(e, id, fd, argv, read_only),
        LuaDebug::Forked => eval_forked(e, id, fd, argv, read_only),
    }
}

/// `ldbDisable`: the client's EVALs run normally again.
fn disable(e: &mut Engine, id: u64) {
    if let Some(c) = e.clients.get_mut(&id) {
        c.lua_debug = None;
    }
}

/// SCRIPT DEBUG SYNC: the session runs here, blocking the server.
fn eval_sync(e: &mut Engine, id: u64, fd: RawFd, argv: &[&[u8]], read_only: bool) -> Outcome {
    e.logs.push(LogLevel::Notice, "forkv synchronous debugging eval session started".into());
    let mode = BlockingMode::enter(fd);
    run_session(e, id, fd, argv, read_only);
    drop(mode);
    e.logs.push(LogLevel::Notice, "forkv synchronous debugging eval session ended".into());
    // The connection closes after the EVAL reply: that ends the session for the client.
    e.close_after_reply(id);
    Outcome::Close
}

/// SCRIPT DEBUG YES: a child runs the session on the socket and exits; the parent
/// forgets the client.
fn eval_forked(e: &mut Engine, id: u64, fd: RawFd, argv: &[&[u8]], read_only: bool) -> Outcome {
    // The child's own descriptor of the socket; the fork helper closes the parent's copy
    // of this duplicate, the host's descriptor stays the host's.
    // SAFETY: F_DUPFD_CLOEXEC only duplicates a descriptor of this process.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        let err = os_error_text(&std::io::Error::last_os_error());
        disable(e, id);
        return e.script_error(id, &format!("ERR Fork() failed: can't run EVAL in debugging mode: {err}"));
    }
    // SAFETY: `dup` is a fresh descriptor owned by nobody else.
    let dup = unsafe { OwnedFd::from_raw_fd(dup) };
    let spawned = forkv_snapshot::spawn_session_child(forkv_snapshot::ChildKind::Ldb, dup, |ctx| {
        let fd = ctx.output_fd().ok_or_else(|| "no client socket in the child".to_string())?;
        ctx.log(forkv_snapshot::LogLevel::Notice, "forkv forked for debugging eval");
        let _mode = BlockingMode::enter(fd);
        run_session(e, id, fd, argv, read_only);
        // Every reply the client is owed, the EVAL's last (Valkey's writeToClient).
        write_all(fd, &e.out);
        ctx.log(forkv_snapshot::LogLevel::Notice, "Lua debugging session child exiting");
        Ok(())
    });
    match spawned {
        Ok(child) => {
            e.ldb_children.push(child);
            // MONITOR shows the EVAL (not the commands its script runs in the child).
            crate::cmd::script::feed_monitors(e, id, argv);
            // Valkey's freeClientAsync: nothing more is written to this client here.
            e.out.clear();
            if let Some(c) = e.clients.get_mut(&id) {
                c.detached = true;
                c.closing = true;
            }
            Outcome::Close
        }
        Err(err) => {
            disable(e, id);
            let reason = match err {
                forkv_snapshot::ForkError::Pipe(io) | forkv_snapshot::ForkError::Fork(io) => os_error_text(&io),
                other => other.to_string(),
            };
            e.script_error(id, &format!("ERR Fork() failed: can't run EVAL in debugging mode: {reason}"))
        }
    }
}

/// An OS error as C's `strerror` words it (without Rust's "(os error N)").
fn os_error_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Runs the EVAL under a session on `fd`; a session the run never started (the script
/// did not compile, say) still ends with the `<endsession>` line, after the error reply.
fn run_session(e: &mut Engine, id: u64, fd: RawFd, argv: &[&[u8]], read_only: bool) {
    let session = DebugSession::new(Box::new(SocketIo { fd }), argv[1], e.cfg.busy_reply_threshold_ms);
    let mut slot = Some(session);
    eval_generic(e, id, argv, Source::Body(argv[1]), read_only, &mut slot);
    if slot.is_some() {
        write_all(fd, b"*1\r\n+<endsession>\r\n");
    }
}

/// The client's socket as the debugger's connection: plain blocking reads and writes.
struct SocketIo {
    fd: RawFd,
}

impl DebugIo for SocketIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    fn write(&mut self, data: &[u8]) {
        write_all(self.fd, data);
    }
}

/// Writes all of `data` to `fd` (blocking), stopping at the first error: the next read
/// notices a broken connection.
fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: `data` is readable for its length; MSG_NOSIGNAL keeps a closed peer from
        // raising SIGPIPE.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if n > 0 {
            data = &data[n as usize..];
            continue;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}

/// The socket in blocking mode with Valkey's send timeout (`connBlock`,
/// `connSendTimeout(5000)`) until dropped, then back as it was.
struct BlockingMode {
    fd: RawFd,
    flags: libc::c_int,
}

impl BlockingMode {
    fn enter(fd: RawFd) -> Self {
        // SAFETY: fcntl on a descriptor number only reads or sets its status flags.
        let flags = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
            flags
        };
        set_send_timeout(fd, SEND_TIMEOUT_SECS);
        BlockingMode { fd, flags }
    }
}

impl Drop for BlockingMode {
    fn drop(&mut self) {
        if self.flags >= 0 {
            // SAFETY: as in `enter`.
            unsafe { libc::fcntl(self.fd, libc::F_SETFL, self.flags) };
        }
        set_send_timeout(self.fd, 0);
    }
}

/// `SO_SNDTIMEO` of `fd`, in seconds (0: none).
fn set_send_timeout(fd: RawFd, secs: libc::time_t) {
    let tv = libc::timeval { tv_sec: secs, tv_usec: 0 };
    // SAFETY: `tv` is a valid timeval for the length given; a bad `fd` is only an error.
    unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, (&tv as *const libc::timeval).cast(), std::mem::size_of::<libc::timeval>() as libc::socklen_t);
    }
}

impl Engine {
    /// Reaps the forked debugging sessions that ended and logs what they reported (call
    /// from the cron). Valkey's `ldbRemoveChild` from `checkChildrenDone`.
    pub fn reap_ldb_children(&mut self) {
        let mut i = 0;
        while i < self.ldb_children.len() {
            let child = &mut self.ldb_children[i];
            let mut lines = Vec::new();
            let done = match child.try_reap() {
                Some(exit) => {
                    lines.extend(exit.info);
                    true
                }
                None => {
                    lines.extend(child.drain_info());
                    false
                }
            };
            for info in lines {
                if let forkv_snapshot::ChildInfo::Log { level, message } = info {
                    self.logs.push(level, message);
                }
            }
            if done {
                self.ldb_children.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Forked debugging sessions still running (Valkey's `ldbPendingChildren`).
    pub fn ldb_pending_children(&self) -> usize {
        self.ldb_children.len()
    }

    /// Kills every forked debugging session (at shutdown; Valkey's
    /// `ldbKillForkedSessions`).
    pub fn kill_ldb_sessions(&mut self) {
        for child in std::mem::take(&mut self.ldb_children) {
            self.logs.push(LogLevel::Notice, format!("Killing debugging session {}", child.pid()));
            // Dropping an unreaped handle kills the child and reaps it.
            drop(child);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use super::NO_SOCKET_ERROR;
    use crate::testkit::{cmd, run};
    use crate::{Engine, Outcome};

    fn engine() -> Engine {
        let mut e = Engine::new(16);
        e.add_client(1);
        e
    }

    #[test]
    fn modes_and_refusals() {
        let mut e = engine();
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "maybe"]), "-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n");
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "no"]), "+OK\r\n");
        // No raw socket (a TLS client, the embedded API): no session can run.
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "yes"]), format!("-{NO_SOCKET_ERROR}\r\n"));
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "sync"]), format!("-{NO_SOCKET_ERROR}\r\n"));
        if let Some(c) = e.client_mut(1) {
            c.socket_fd = Some(-1);
        }
        // A reply of the same batch is not out yet.
        e.clear_reply();
        let mut batch = cmd(&["PING"]);
        batch.extend_from_slice(&cmd(&["SCRIPT", "DEBUG", "YES"]));
        assert_eq!(e.feed(1, &batch), Outcome::Done);
        assert_eq!(String::from_utf8_lossy(e.reply()), "+PONG\r\n-ERR SCRIPT DEBUG must be called outside a pipeline\r\n");
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "YES"]), "+OK\r\n");
        let sha = "a".repeat(40);
        assert_eq!(run(&mut e, &["EVALSHA", &sha, "0"]), "-ERR Please use EVAL instead of EVALSHA for debugging\r\n");
        assert_eq!(run(&mut e, &["EVALSHA_RO", "abc", "0"]), "-NOSCRIPT No matching script.\r\n");
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "NO"]), "+OK\r\n");
        assert_eq!(run(&mut e, &["EVAL", "return 3", "0"]), ":3\r\n");
    }

    /// Reads from `peer` until what was read so far ends with `needle`.
    fn read_until(peer: &mut UnixStream, seen: &mut String, needle: &str) {
        let mut buf = [0u8; 1024];
        while !seen.ends_with(needle) {
            let n = peer.read(&mut buf).expect("read");
            assert!(n > 0, "connection closed before {needle:?}: {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    #[test]
    fn sync_session_runs_on_the_socket_and_keeps_changes() {
        let mut e = engine();
        let (server_end, mut client_end) = UnixStream::pair().expect("socketpair");
        if let Some(c) = e.client_mut(1) {
            c.socket_fd = Some(server_end.as_raw_fd());
        }
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "SYNC"]), "+OK\r\n");
        // The user: one debugger command per stop (the REPL drops what follows a command
        // in the same read, as Valkey's does).
        let user = std::thread::spawn(move || {
            let mut seen = String::new();
            read_until(&mut client_end, &mut seen, "+-> 1   redis.call('set', KEYS[1], 'v')\r\n");
            client_end.write_all(b"*1\r\n$1\r\ns\r\n").expect("write");
            read_until(&mut client_end, &mut seen, "+-> 2   return 1\r\n");
            client_end.write_all(b"*1\r\n$1\r\nc\r\n").expect("write");
            client_end.read_to_string(&mut seen).expect("read");
            seen
        });
        e.clear_reply();
        let outcome = e.feed(1, &cmd(&["EVAL", "redis.call('set', KEYS[1], 'v')\nreturn 1", "1", "k"]));
        assert_eq!(outcome, Outcome::Close);
        assert_eq!(String::from_utf8_lossy(e.reply()), ":1\r\n");
        drop(server_end);
        let transcript = user.join().expect("user thread");
        assert_eq!(
            transcript,
            "*2\r\n+* Stopped at 1, stop reason = step over\r\n+-> 1   redis.call('set', KEYS[1], 'v')\r\n\
             *4\r\n+<command> set k v\r\n+<reply> \"+OK\"\r\n+* Stopped at 2, stop reason = step over\r\n+-> 2   return 1\r\n\
             *1\r\n+<endsession>\r\n"
        );
        e.add_client(2);
        e.clear_reply();
        assert_eq!(e.feed(2, &cmd(&["GET", "k"])), Outcome::Done);
        assert_eq!(String::from_utf8_lossy(e.reply()), "$1\r\nv\r\n");
    }

    #[test]
    fn a_script_that_does_not_compile_still_ends_the_session() {
        let mut e = engine();
        let (server_end, mut client_end) = UnixStream::pair().expect("socketpair");
        if let Some(c) = e.client_mut(1) {
            c.socket_fd = Some(server_end.as_raw_fd());
        }
        assert_eq!(run(&mut e, &["SCRIPT", "DEBUG", "SYNC"]), "+OK\r\n");
        e.clear_reply();
        assert_eq!(e.feed(1, &cmd(&["EVAL", "return +", "0"])), Outcome::Close);
        let reply = String::from_utf8_lossy(e.reply()).into_owned();
        assert!(reply.starts_with("-ERR ") && reply.contains("user_script:1:"), "{reply}");
        drop(server_end);
        let mut transcript = String::new();
        client_end.read_to_string(&mut transcript).expect("read");
        assert_eq!(transcript, "*1\r\n+<endsession>\r\n");
    }
}
