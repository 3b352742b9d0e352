//! Per-connection state the core needs: selected database, protocol version,
//! authentication, the unparsed input, and whether the host is running a command for it;
//! plus the connection features whose state must sit next to the data: the MULTI queue
//! and WATCHed keys (`transaction`, run by `cmd::multi`), the blocked command (`blocked`,
//! served by `cmd::blocking`), the subscribed-mode flag the host sets (`cmd::pubsub`), and
//! how its scripts are debugged ([`LuaDebug`], set by `cmd::script_debug`).

pub(crate) mod blocked;
pub(crate) mod transaction;

use blocked::{BlockRequest, Blocked};
use transaction::{ExecRun, MultiState, WatchedKey};

/// How a client's EVALs are debugged (SCRIPT DEBUG YES or SYNC, run by `cmd::script_debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LuaDebug {
    /// YES: a forked session; the changes are rolled back.
    Forked,
    /// SYNC: the server blocks; the changes are kept.
    Sync,
}

/// One client connection as the engine sees it.
pub struct Client {
    /// The id the host assigned (CLIENT ID).
    pub id: u64,
    /// Selected database (SELECT).
    pub db: usize,
    /// RESP protocol version, 2 or 3 (HELLO).
    pub proto: u8,
    /// Authenticated (Valkey's `c->authenticated`): AUTH succeeded, or the default user
    /// needed no password when the connection was made or RESET.
    pub authenticated: bool,
    /// The ACL user whose permissions apply; `None` for internal clients (AOF loading),
    /// which may run everything.
    pub user: Option<String>,
    /// DEBUG is allowed for this connection (`enable-debug-command`).
    pub debug_allowed: bool,
    /// MODULE LOAD/LOADEX/UNLOAD are allowed for this connection (`enable-module-command`).
    pub module_allowed: bool,
    /// The peer's address (`ip:port`, `<socket path>:0` on the unix socket; set by the
    /// host; `lua` for the script pseudo-client), as SLOWLOG shows it.
    pub peer: String,
    /// Connected through the unix socket (Valkey's CLIENT_UNIX_SOCKET): MONITOR shows
    /// the peer as `unix:<socket path>`.
    pub unix_socket: bool,
    /// Name of the last command run (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    /// Unparsed input carried over between reads.
    pub(crate) inbuf: Vec<u8>,
    /// Don't try to parse again until `inbuf` holds this many bytes.
    pub(crate) need: usize,
    /// The most input held at once since the cron last looked (Valkey's querybuf_peak):
    /// the cron shrinks a query buffer that is far bigger (see `resize_query_buffer`).
    pub(crate) qbuf_peak: usize,
    /// When input last arrived (ms since the epoch): the cron frees the query buffer of
    /// a client idle for more than 2 s.
    pub(crate) last_input_ms: i64,
    /// The host is executing a command for this client; input is only buffered.
    pub(crate) suspended: bool,
    /// Close the connection once the pending replies are written.
    pub(crate) closing: bool,
    /// Inside MULTI: the queued commands (Valkey's `mstate`).
    pub(crate) multi: Option<MultiState>,
    /// EXEC is running this client's queue; it pauses there while the host runs a
    /// queued host command. Blocking commands behave as their non-blocking form.
    pub(crate) exec: Option<ExecRun>,
    /// Keys this client WATCHes.
    pub(crate) watched: Vec<WatchedKey>,
    /// A watched key was touched: the next EXEC fails (Valkey's CLIENT_DIRTY_CAS).
    pub(crate) dirty_cas: bool,
    /// Subscribed to at least one channel, pattern or shard channel. The server's pub/sub
    /// registry (crate forkv-server) sets this; in RESP2 it restricts the commands the
    /// client may send.
    pub pubsub: bool,
    /// Blocking commands answer as their non-blocking form (a command called from a
    /// script through `forkv_server::Server::call`, as Valkey's CLIENT_DENY_BLOCKING).
    pub nonblocking_call: bool,
    /// Blocked on keys (BLPOP ...): what to re-run when one of them becomes ready.
    pub(crate) blocked: Option<Blocked>,
    /// Left by a blocking handler that found nothing to serve; the engine parks the client.
    pub(crate) block_request: Option<BlockRequest>,
    /// Replies produced for this client while another one was being served (its blocked
    /// command ran, timed out or was unblocked); `Engine::wake` writes them first.
    pub(crate) pending_out: Vec<u8>,
    /// The script pseudo-client (`cmd::script`): blocking commands may not block.
    pub(crate) in_script: bool,
    /// The time (µs since the epoch) a script's commands see: TIME inside a script
    /// answers the time the script started, as Valkey's cached time does.
    pub(crate) time_snapshot_us: Option<i64>,
    /// The link to this server's primary (Valkey's CLIENT_PRIMARY): its commands are
    /// obeyed even on a read-only replica or while writes are refused.
    pub primary: bool,
    /// CLIENT TRACKING settings (client-side caching).
    pub tracking: crate::tracking::ClientTracking,
    /// CLIENT REPLY: how the replies of the next commands are treated.
    pub(crate) reply_mode: ReplyMode,
    /// The command handed to the host, with the time it was handed over: once its reply
    /// comes back it is timed for SLOWLOG and shown to MONITOR (after it ran, so that,
    /// like Valkey, a RESET or a MONITOR of the monitoring client itself is judged after it).
    pub(crate) host_command: Option<HostCommand>,
    /// The connection's name (CLIENT SETNAME / HELLO SETNAME, set by the host), for SLOWLOG.
    pub name: String,
    /// READONLY was sent (Valkey's CLIENT_READONLY, CLIENT LIST flag `r`); READWRITE and
    /// RESET clear it.
    pub readonly: bool,
    /// CLIENT CAPA REDIRECT: on a replica, this client's reads (unless READONLY) and writes
    /// are answered `-REDIRECT <primary host>:<port>`. RESET keeps it, as Valkey.
    pub capa_redirect: bool,
    /// Held by CLIENT PAUSE: its next command waits in `inbuf` (see `pause`).
    pub(crate) postponed: bool,
    /// CLIENT NO-TOUCH: its commands leave the keys' access clocks alone (TOUCH excepted).
    pub no_touch: bool,
    /// CLIENT NO-EVICT: exempt from client eviction (CLIENT LIST flag `e`).
    pub no_evict: bool,
    /// One of our replicas (it sent SYNC/PSYNC; set by the server crate): never held by
    /// CLIENT PAUSE.
    pub replica: bool,
    /// Commands this client ran to completion, those its scripts called included
    /// (CLIENT LIST `tot-cmds`); refused, queued and still-blocked ones are not counted.
    pub commands_processed: u64,
    /// The host holds output for this client that its socket has not taken yet: a busy
    /// script must not write to it directly (see `busy`).
    pub output_pending: bool,
    /// SCRIPT DEBUG YES|SYNC: the client's next EVAL runs under the Lua debugger (Valkey's
    /// `lua_debug` and `lua_debug_sync` flags).
    pub lua_debug: Option<LuaDebug>,
    /// The raw descriptor of the client's socket, for a plain TCP or unix connection (set
    /// by the server crate from the host's): a debugging session talks to it directly.
    pub socket_fd: Option<i32>,
    /// Its socket now belongs to a forked debugging session: the host closes its own
    /// copy without shutting the connection down, and writes nothing more to it.
    pub detached: bool,
}

/// A client whose partial command stays after a read gets a private query buffer of at
/// least this size (Valkey's PROTO_IOBUF_LEN: the client takes over the shared read buffer).
pub const QUERY_BUFFER_MIN_BYTES: usize = 16 * 1024;
/// The cron trims a query buffer bigger than this that is far over its recent peak
/// (Valkey's PROTO_RESIZE_THRESHOLD).
pub const QUERY_BUFFER_RESIZE_THRESHOLD: usize = 32 * 1024;
/// The cron leaves a query buffer alone unless it wastes more than this.
const QUERY_BUFFER_WASTE_BYTES: usize = 4 * 1024;

/// What one WATCHed key costs its client, as Valkey counts it (a list node and a
/// `watchedKey`: the key itself is shared with the database's watch table).
pub const WATCHED_KEY_OVERHEAD_BYTES: usize = 56;
/// What one subscription (channel, pattern or shard channel) costs its client, as
/// Valkey's pubsubMemOverhead counts it (a dict entry and its bucket; the name is shared).
pub const SUBSCRIPTION_OVERHEAD_BYTES: usize = 32;
/// The bookkeeping of one BCAST tracking prefix besides its bytes (Valkey counts the
/// radix tree nodes of the client's prefixes, 32 bytes each).
pub const TRACKING_PREFIX_OVERHEAD_BYTES: usize = 32;

/// A command the host is running for a client (see `Client::host_command`).
pub(crate) struct HostCommand {
    pub(crate) spec: &'static crate::table::CommandSpec,
    pub(crate) argv: Vec<Vec<u8>>,
    pub(crate) started: std::time::Instant,
}

/// CLIENT REPLY ON|OFF|SKIP (Valkey's CLIENT_REPLY_OFF / _SKIP_NEXT / _SKIP flags).
/// Pub/sub messages and (un)subscribe confirmations are pushes and always go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    /// Replies are sent.
    #[default]
    On,
    /// No reply is sent until CLIENT REPLY ON.
    Off,
    /// CLIENT REPLY SKIP ran: the reply of the command after it is dropped.
    SkipNext,
    /// This command's reply is dropped; replies resume after it.
    Skip,
}

impl ReplyMode {
    /// After a command completed: whether its reply is dropped, and the mode for the
    /// next command.
    pub fn after_command(self) -> (bool, ReplyMode) {
        match self {
            ReplyMode::On => (false, ReplyMode::On),
            ReplyMode::Off => (true, ReplyMode::Off),
            ReplyMode::SkipNext => (true, ReplyMode::Skip),
            ReplyMode::Skip => (true, ReplyMode::On),
        }
    }
}

impl Client {
    /// A fresh connection: db 0, RESP2, not authenticated.
    pub fn new(id: u64) -> Self {
        Client {
            id,
            db: 0,
            proto: 2,
            authenticated: false,
            user: Some("default".into()),
            debug_allowed: false,
            module_allowed: false,
            peer: String::new(),
            unix_socket: false,
            last_cmd: "NULL",
            inbuf: Vec::new(),
            need: 0,
            qbuf_peak: 0,
            last_input_ms: 0,
            suspended: false,
            closing: false,
            multi: None,
            exec: None,
            watched: Vec::new(),
            dirty_cas: false,
            pubsub: false,
            nonblocking_call: false,
            blocked: None,
            block_request: None,
            pending_out: Vec::new(),
            in_script: false,
            time_snapshot_us: None,
            primary: false,
            reply_mode: ReplyMode::On,
            tracking: crate::tracking::ClientTracking::default(),
            host_command: None,
            name: String::new(),
            readonly: false,
            capa_redirect: false,
            postponed: false,
            no_touch: false,
            no_evict: false,
            commands_processed: 0,
            replica: false,
            output_pending: false,
            lua_debug: None,
            socket_fd: None,
            detached: false,
        }
    }

    /// In a MULTI block (commands are being queued).
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Commands queued since MULTI (CLIENT LIST `multi=`, -1 outside a transaction).
    pub fn multi_len(&self) -> i64 {
        self.multi.as_ref().map_or(-1, |m| m.len() as i64)
    }

    /// Bytes held by the MULTI queue (CLIENT LIST `multi-mem`, 0 outside a transaction).
    pub fn multi_mem(&self) -> usize {
        self.multi.as_ref().map_or(0, |m| m.memory())
    }

    /// Number of keys WATCHed.
    pub fn watched_len(&self) -> usize {
        self.watched.len()
    }

    /// A watched key was touched: EXEC will fail (CLIENT LIST flag `d`).
    pub fn dirty_cas(&self) -> bool {
        self.dirty_cas
    }

    /// Blocked in BLPOP and friends (CLIENT LIST flag `b`).
    pub fn is_blocked(&self) -> bool {
        self.blocked.is_some() || self.postponed
    }

    /// Held by CLIENT PAUSE until it ends.
    pub fn is_postponed(&self) -> bool {
        self.postponed
    }

    /// Blocking commands may not block now (inside EXEC, in a script, or called through
    /// `forkv_server::Server::call`): they answer as if timed out.
    pub fn deny_blocking(&self) -> bool {
        self.exec.is_some() || self.in_script || self.nonblocking_call
    }

    /// Bytes of input read and not yet parsed (CLIENT LIST `qbuf=`): the query buffer less
    /// the headers and complete arguments of the incomplete command at its start, which
    /// Valkey has already moved into the command's argv (see [`Client::partial_argv_len`]).
    pub fn query_buffer_len(&self) -> usize {
        self.inbuf.len() - crate::resp::parsed_prefix(&self.inbuf).0
    }

    /// Bytes of the complete arguments of the incomplete command waiting in the query
    /// buffer (part of CLIENT LIST `argv-mem`, as Valkey's argv_len_sum).
    pub fn partial_argv_len(&self) -> usize {
        crate::resp::parsed_prefix(&self.inbuf).1
    }

    /// The peer as MONITOR shows it (Valkey's replicationFeedMonitors): `unix:<path>`
    /// for a client of the unix socket, the address otherwise.
    pub fn monitor_peer(&self) -> std::borrow::Cow<'_, str> {
        match self.peer.strip_suffix(":0") {
            Some(path) if self.unix_socket => format!("unix:{path}").into(),
            _ => self.peer.as_str().into(),
        }
    }

    /// Allocated input buffer (CLIENT LIST `qbuf-free` is the part beyond its content).
    pub fn query_buffer_capacity(&self) -> usize {
        self.inbuf.capacity()
    }

    /// The query buffer's allocation beyond its content (CLIENT LIST `qbuf-free`).
    pub fn query_buffer_free(&self) -> usize {
        self.inbuf.capacity() - self.inbuf.len()
    }

    /// The cron's look at the query buffer (Valkey's clientsCronResizeQueryBuffer): a
    /// buffer wasting more than 4 KB is given back when the client has been idle for more
    /// than 2 s (freed when empty: the next read then runs from the host's shared read
    /// buffer again), or trimmed to the recent peak when it is over 32 KB and more than
    /// twice that peak (never below an argument being read, nor below 16 KB). The peak
    /// then restarts.
    pub fn resize_query_buffer(&mut self, now_ms: i64) {
        let cap = self.inbuf.capacity();
        if cap == 0 {
            return;
        }
        let len = self.inbuf.len();
        // The bytes the command being read needs (a partial command waits in the buffer).
        let reading = if len > 0 && self.need > len { self.need } else { 0 };
        // Whole seconds, as Valkey compares its unixtime with the last interaction.
        let idle_s = now_ms / 1000 - self.last_input_ms / 1000;
        if cap - len > QUERY_BUFFER_WASTE_BYTES {
            if idle_s > 2 {
                if len == 0 && !self.primary {
                    self.inbuf = Vec::new();
                } else {
                    self.inbuf.shrink_to_fit();
                }
            } else if cap > QUERY_BUFFER_RESIZE_THRESHOLD && cap / 2 > self.qbuf_peak {
                // Not below the 16 KB a read gets: Valkey reads into a trimmed buffer
                // with that much room, so it is back to that size at once.
                self.inbuf.shrink_to(len.max(self.qbuf_peak).max(reading).max(QUERY_BUFFER_MIN_BYTES));
            }
        }
        self.qbuf_peak = len.max(reading);
    }

    /// The memory this client holds in the core, as Valkey's getClientMemoryUsage counts
    /// it less the output buffers (the host holds those) and the argv of a running command
    /// (client eviction runs between commands): the query buffer's allocation, the MULTI
    /// queue, WATCHed keys, replies held while it was blocked, and the bookkeeping of its
    /// tracking prefixes. Pub/sub subscriptions live in the server crate's registry: see
    /// [`SUBSCRIPTION_OVERHEAD_BYTES`].
    pub fn memory_usage(&self) -> usize {
        let prefixes: usize = self.tracking.prefixes.iter().map(|p| p.len() + TRACKING_PREFIX_OVERHEAD_BYTES).sum();
        self.inbuf.capacity() + self.multi_mem() + self.watched.len() * WATCHED_KEY_OVERHEAD_BYTES + self.pending_out.capacity() + prefixes
    }
}
