//! forkv's command engine: everything between the bytes a client sent and the bytes it
//! gets back, for the commands the core runs.
//!
//! The host (TypeScript) hands over each socket read with [`Engine::feed`]. The engine
//! parses every complete command in it, runs the core's commands against the keyspace,
//! appends their replies to one output buffer, and stops at the first command the host
//! owns (CONFIG, INFO, BGSAVE, CLIENT, ...): the host runs it, then calls
//! [`Engine::resume`] with that command's encoded reply, and the engine carries on with
//! the rest of the input. Replies therefore keep their order, and a pipelined batch is
//! answered with one write. No I/O happens here.
//!
//! Connection features that touch data live here too: MULTI/EXEC/WATCH (`cmd::multi`),
//! blocked clients (`cmd::blocking`: a parked client's later input is only buffered, and
//! clients served by another client's command are reported as woken for the host to
//! answer), and the subscribed-mode gate of pub/sub (`cmd::pubsub`).

#[cfg(test)]
mod testkit;
pub mod acl;
pub mod allocator;
pub mod busy;
pub mod client;
pub mod client_evict;
pub mod cmd;
pub mod cmdstats;
pub mod collate;
pub mod debug_flags;
pub mod digest;
pub mod errors;
pub mod evict;
pub mod log;
pub mod monitor;
pub mod notify;
pub mod pause;
mod prefetch;
pub mod memory_stats;
pub mod migrate;
pub mod propagate;
pub mod propagation_error;
pub mod redact;
pub mod reply;
pub mod resp;
pub mod secure_random;
pub mod slowlog;
pub mod latency;
pub mod table;
pub mod tracking;
pub mod write_gate;

use std::collections::HashMap;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};

use forkv_keyspace::Keyspace;
/// What FUNCTION RESTORE and a loaded file do with the libraries already loaded.
pub use forkv_script::RestorePolicy;

use crate::client::Client;
use crate::cmd::blocking::Blocking;
use crate::cmd::multi::{BulkChange, KeyIndex};
use crate::cmd::{Ctx, Handler};
use crate::log::{LogLevel, LogQueue};
use crate::propagate::Propagator;
use crate::reply::Reply;
use crate::resp::{Args, Parsed};
use crate::table::{flags, CommandSpec, Exec};

/// Settings the engine enforces; the host keeps them in sync with CONFIG.
pub struct EngineConfig {
    /// Largest bulk argument accepted (`proto-max-bulk-len`).
    pub proto_max_bulk_len: usize,
    /// Largest unparsed input per client before it is disconnected
    /// (`client-query-buffer-limit`).
    pub query_buffer_limit: usize,
    /// Data is being loaded: commands without the `loading` flag get `-LOADING`.
    pub loading: bool,
    /// A replica loads its primary's snapshot beside the data it serves (Valkey's
    /// async_loading, `repl-diskless-load swapdb`): commands flagged `no_async_loading`
    /// get `-LOADING`, the others run on the old data.
    pub async_loading: bool,
    /// Why writes are refused (MISCONF, NOREPLICAS): decided by the server from the
    /// persistence status and the replicas (see [`write_gate`]).
    pub write_gate: write_gate::WriteGate,
    /// Largest sparse HyperLogLog before it turns dense (`hll-sparse-max-bytes`).
    pub hll_sparse_max_bytes: usize,
    /// Small integer strings (0..9999) are Valkey's shared objects: false while a
    /// `maxmemory` is set with an LRU or LFU policy (each key then needs its own clock).
    pub shared_integers: bool,
    /// A replica with `replica-read-only yes`: write commands of clients other than the
    /// primary's link get `-READONLY`.
    pub read_only_replica: bool,
    /// The server is a replica (REPLICAOF host port): WAIT and WAITAOF are refused.
    pub is_replica: bool,
    /// A replica's primary as `host:port`: clients with CLIENT CAPA REDIRECT are sent
    /// there (`-REDIRECT host:port`). `None` on a primary.
    pub primary_address: Option<String>,
    /// A replica whose link is down with `replica-serve-stale-data no`: commands
    /// without the `stale` flag get `-MASTERDOWN`.
    pub primary_down: bool,
    /// `maxmemory` and its policy (see [`evict`]).
    pub maxmemory: evict::MaxmemoryConfig,
    /// Hard output limits of the normal and pubsub classes (`client-output-buffer-limit`,
    /// 0: none): replies that could grow without bound stop past them (see
    /// [`reply::Reply::limit`]) and the client is closed.
    pub output_hard_limit: [u64; 2],
    /// `busy-reply-threshold` (alias `lua-time-limit`) in ms: a script running longer
    /// serves other clients from inside (see [`busy`]); 0 never.
    pub busy_reply_threshold_ms: u64,
    /// The server name and version HELLO answers with (`extended-redis-compatibility`
    /// picks them), for the HELLO a busy script serves.
    pub hello_identity: (String, String),
    /// `rdbcompression`: DUMP and MIGRATE payloads LZF-compress long strings, as the RDB does.
    pub rdb_compression: bool,
    /// The reply buffer is given back after a big batch of replies (see
    /// [`Engine::clear_reply`]); DEBUG REPLYBUFFER RESIZING 0 turns it off, so that its
    /// size stays put for tests (Valkey's `reply_buffer_resizing_enabled`).
    pub reply_buffer_resizing: bool,
    /// `propagation-error-behavior` (see [`propagation_error`]).
    pub propagation_error_behavior: propagation_error::PropagationErrorBehavior,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            proto_max_bulk_len: 512 * 1024 * 1024,
            query_buffer_limit: 1024 * 1024 * 1024,
            loading: false,
            async_loading: false,
            write_gate: write_gate::WriteGate::default(),
            hll_sparse_max_bytes: 3000,
            shared_integers: true,
            read_only_replica: false,
            is_replica: false,
            primary_address: None,
            primary_down: false,
            maxmemory: evict::MaxmemoryConfig::default(),
            output_hard_limit: [0, 32 << 20],
            busy_reply_threshold_ms: 5000,
            hello_identity: ("valkey".into(), "8.0.1".into()),
            propagation_error_behavior: propagation_error::PropagationErrorBehavior::Ignore,
            rdb_compression: true,
            reply_buffer_resizing: true,
        }
    }
}

/// What the host must do after a feed/resume.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Write the reply; wait for more input.
    Done,
    /// Write the reply, then run this host command and call `resume`.
    Host(Vec<Vec<u8>>),
    /// Write the reply, then close the connection.
    Close,
    /// Write the reply; the client is blocked (BLPOP ...) until `wake` is due. Its
    /// deadline is `block_deadline`.
    Blocked,
    /// Write the reply; the client pipelined more commands than one batch of replies may
    /// hold ([`OUTPUT_PAUSE_BYTES`]), or its replies brought the clients' memory to the
    /// client-eviction limit ([`client_evict`]: measure it and evict clients first): call
    /// `wake` on a later turn of the host's event loop,
    /// and the rest of its input runs then (other clients are served in between). Its
    /// input keeps being read meanwhile, as in Valkey: its output buffer limit and client
    /// eviction bound what it may hold.
    Paused,
}

/// Replies one feed may produce before the rest of a pipeline waits for a later turn.
pub const OUTPUT_PAUSE_BYTES: usize = 4 << 20;

/// Counters for INFO stats.
#[derive(Default, Clone, Copy)]
pub struct EngineStats {
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    pub unexpected_error_replies: u64,
    pub total_error_replies: u64,
    /// Clients closed for going over `client-query-buffer-limit`.
    pub client_query_buffer_limit_disconnections: u64,
    /// Times the reply buffer grew for a batch of replies (INFO `reply_buffer_expands`).
    pub reply_buffer_expands: u64,
    /// Times the reply buffer was given back after a big batch (INFO `reply_buffer_shrinks`).
    pub reply_buffer_shrinks: u64,
    /// Nanoseconds spent running top-level commands (INFO `eventloop_duration_cmd_sum`,
    /// in microseconds): a command an EXEC or a script runs is part of its caller's time.
    pub command_time_ns: u64,
}

/// The keyspace plus per-client protocol state.
pub struct Engine {
    /// A panic an error reply to the primary asked for (`propagation-error-behavior`);
    /// the host stops the server.
    pub panic_request: Option<String>,
    pub ks: Keyspace,
    pub cfg: EngineConfig,
    pub prop: Propagator,
    pub stats: EngineStats,
    /// Server-wide DEBUG toggles.
    pub debug: debug_flags::DebugFlags,
    /// Lines for MONITOR clients (see `monitor`); the server crate delivers them.
    pub monitor: monitor::MonitorFeed,
    /// SLOWLOG entries and settings.
    pub slowlog: slowlog::SlowLog,
    /// INFO commandstats, errorstats and latencystats.
    pub cmdstats: cmdstats::CommandStats,
    /// MIGRATE's cached connections (INFO's `migrate_cached_sockets`).
    pub migrate: migrate::MigrateSockets,
    /// Client-side caching: the key table, BCAST prefixes and invalidations (see
    /// [`tracking`]).
    pub csc: tracking::Tracking,
    /// The latency monitor (LATENCY) and its threshold.
    pub latency: latency::LatencyMonitor,
    /// Keyed by client id; foldhash, not SipHash: this map is hit several times per
    /// command and its keys are server-assigned.
    clients: HashMap<u64, Client, foldhash::fast::FixedState>,
    out: Vec<u8>,
    /// The reply buffer's capacity after the last batch (to see it grow).
    reply_capacity: usize,
    ranges: Vec<Range<usize>>,
    /// (db, key) -> clients WATCHing it.
    watches: KeyIndex<Vec<u64>>,
    /// Clients blocked on keys, ready keys, woken clients.
    blocking: Blocking,
    /// The keyspace records touched keys (someone watches or blocks).
    tracking: bool,
    /// Lines for the host's logger (see `log`).
    pub logs: LogQueue,
    /// Users, permissions and the ACL LOG.
    pub acl: acl::Acl,
    /// The Lua VM and script cache (`cmd::script`), created on first use.
    scripting: Option<Box<forkv_script::Scripting>>,
    /// The VM of the function libraries (`cmd::function`), created on first use.
    functions: Option<Box<forkv_script::Scripting>>,
    /// The runner of the command table's `Exec::Server` commands for code running inside
    /// a command (scripts); installed by the server crate (see [`ServerCommands`]).
    server_commands: Option<Box<dyn ServerCommands>>,
    /// A server command run inside the current command may have addressed messages to
    /// its own client (PUBLISH to a channel it subscribes to): they follow the top-level
    /// command's reply (see [`Engine::flush_own_messages`]).
    own_messages_waiting: bool,
    /// Unguessable output (ACL GENPASS); seeded by the host, absent until then.
    pub secure_random: Option<secure_random::SecureRandom>,
    /// The process figures the host sampled last (MEMORY STATS, DOCTOR).
    pub host_memory: memory_stats::HostMemory,
    /// Measures `used_memory` (see [`evict`]).
    memory_probe: evict::MemoryProbe,
    /// Client output the host holds (pending socket writes), counted in `used_memory`.
    pub client_output_bytes: usize,
    /// Of that, replica output (not counted for eviction).
    pub replica_output_bytes: usize,
    /// The host's client-eviction limit and clients' memory: a pipelined batch stops
    /// where it reaches the limit (see [`client_evict`]).
    pub client_eviction: client_evict::ClientEvictionGauge,
    /// The propagated stream the server holds outside the engine: the AOF buffer and the
    /// buffers of replicas still syncing (not counted for eviction either).
    pub stream_buffered_bytes: usize,
    /// Time spent over `maxmemory`.
    eviction: evict::EvictionState,
    /// The last command found the memory over `maxmemory` with nothing to evict
    /// (Valkey's `pre_command_oom_state`; scripts refuse denyoom calls then).
    pub(crate) oom_state: bool,
    /// The keyspace's tables have a growth budget (maxmemory is set).
    grow_budget_set: bool,
    /// CLIENT PAUSE and the clients it holds (see [`pause`]).
    pause: pause::Pause,
    /// The script or function running now (see [`busy`]).
    script_run: Option<busy::ScriptRun>,
    /// Serves other clients while a script is busy; installed by the server crate.
    busy_events: Option<Box<dyn busy::BusyEvents>>,
    /// Clients whose protocol or name HELLO/RESET changed while a script was busy.
    busy_client_changes: Vec<u64>,
    /// Forked Lua debugging sessions (`SCRIPT DEBUG YES`) not reaped yet.
    pub(crate) ldb_children: Vec<forkv_snapshot::ChildHandle>,
}

/// The server's own commands (`Exec::Server`: pub/sub) as code running inside a command
/// reaches them synchronously (a script's `server.call('PUBLISH', ...)`). The engine
/// cannot depend on the server crate, which owns their state, so the server installs
/// one with [`Engine::set_server_commands`]; without one such calls are refused.
pub trait ServerCommands {
    /// Runs `argv`, an `Exec::Server` command or a host command the server answers from
    /// the host's pushed facts (INFO, LASTSAVE), for client `id`, appending its encoded
    /// reply to `out`; false (nothing appended) when `argv` is not one of them.
    fn run(&mut self, engine: &mut Engine, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) -> bool;
    /// Takes the messages the commands run so far addressed to client `id` itself.
    fn take_own_messages(&mut self, id: u64) -> Option<Vec<u8>>;
    /// RESET run by the engine (while a script is busy): the server's own per-client
    /// state goes (subscriptions, MONITOR).
    fn reset_client(&mut self, engine: &mut Engine, id: u64);
    /// The replication backlog and the clients' memory by class (see
    /// [`memory_stats::ServerMemory`]).
    fn memory(&self, engine: &Engine) -> memory_stats::ServerMemory;
}

impl Engine {
    /// An engine over `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        Engine {
            panic_request: None,
            ks: Keyspace::new(databases),
            cfg: EngineConfig::default(),
            prop: Propagator::default(),
            stats: EngineStats::default(),
            debug: debug_flags::DebugFlags::default(),
            monitor: monitor::MonitorFeed::default(),
            slowlog: slowlog::SlowLog::default(),
            cmdstats: cmdstats::CommandStats::default(),
            migrate: migrate::MigrateSockets::default(),
            csc: tracking::Tracking::default(),
            latency: latency::LatencyMonitor::default(),
            clients: HashMap::with_hasher(foldhash::fast::FixedState::default()),
            out: Vec::with_capacity(16 * 1024),
            reply_capacity: 16 * 1024,
            ranges: Vec::new(),
            watches: KeyIndex::default(),
            blocking: Blocking::default(),
            tracking: false,
            logs: LogQueue::default(),
            acl: acl::Acl::new(),
            scripting: None,
            functions: None,
            server_commands: None,
            own_messages_waiting: false,
            secure_random: None,
            host_memory: memory_stats::HostMemory::default(),
            memory_probe: evict::NO_PROBE,
            client_output_bytes: 0,
            replica_output_bytes: 0,
            client_eviction: client_evict::ClientEvictionGauge::default(),
            stream_buffered_bytes: 0,
            eviction: evict::EvictionState::default(),
            oom_state: false,
            grow_budget_set: false,
            pause: pause::Pause::default(),
            script_run: None,
            busy_events: None,
            busy_client_changes: Vec::new(),
            ldb_children: Vec::new(),
        }
    }

    /// Starts or stops the propagation stream (an AOF is open or not). Starting it
    /// forgets the last database, so that the stream's next command selects one, and
    /// records expired keys so that each is propagated as a deletion.
    pub fn set_propagation(&mut self, on: bool) {
        self.prop.enabled = on;
        self.prop.reset_db();
        self.ks.set_record_expired(on);
    }

    /// Propagates the keys deleted by expiry outside any command (the active expire
    /// cycle), one deletion each.
    pub fn propagate_expired(&mut self) {
        if self.ks.has_expired() {
            let expired = self.ks.take_expired();
            self.prop.log_expired(&expired, self.ks.lazyfree.expire);
        }
    }

    /// Seeds the cryptographic random source with 32 secret bytes from the operating
    /// system's CSPRNG (the engine itself reads no device).
    pub fn seed_secure_random(&mut self, seed: &[u8; 32]) {
        self.secure_random = Some(secure_random::SecureRandom::from_seed(seed));
    }

    /// The clients with a connection (every client but the scripts' own), by id.
    pub fn connected_clients(&self) -> impl Iterator<Item = (u64, &Client)> {
        self.clients.iter().filter(|(&id, _)| id != cmd::script::SCRIPT_CLIENT).map(|(&id, c)| (id, c))
    }

    /// The replication backlog and the clients' memory by class, as the server beside the
    /// engine measures them (MEMORY STATS, INFO memory); zeros for an engine without one.
    pub fn server_memory(&self) -> memory_stats::ServerMemory {
        self.server_commands.as_ref().map(|s| s.memory(self)).unwrap_or_default()
    }

    /// The largest query buffer of a connected client (INFO
    /// `client_recent_max_input_buffer`).
    pub fn largest_query_buffer(&self) -> usize {
        self.clients.values().map(client::Client::query_buffer_capacity).max().unwrap_or(0)
    }

    /// Installs the runner of the server's own commands for scripts (see [`ServerCommands`]).
    pub fn set_server_commands(&mut self, runner: Box<dyn ServerCommands>) {
        self.server_commands = Some(runner);
    }

    /// The server addressed messages to client `id`'s own channel subscriptions while one
    /// of its commands ran: they go out after that command's reply.
    pub fn note_own_messages(&mut self) {
        self.own_messages_waiting = true;
    }

    /// Appends the messages a command addressed to its own client after its reply, once
    /// the top-level command is over (Valkey's pending_push_messages, joined to the reply
    /// list after the command): never inside an EXEC's or a script's reply.
    fn flush_own_messages(&mut self, id: u64) {
        if !std::mem::take(&mut self.own_messages_waiting) {
            return;
        }
        if let Some(own) = self.server_commands.as_mut().and_then(|r| r.take_own_messages(id)) {
            self.out.extend_from_slice(&own);
        }
    }

    /// Registers a connection.
    pub fn add_client(&mut self, id: u64) {
        let mut c = Client::new(id);
        c.authenticated = !self.acl.auth_required();
        self.clients.insert(id, c);
    }

    /// AUTH / HELLO AUTH for a connection: on success it is authenticated as `user`;
    /// on failure it keeps its state, the attempt is logged in ACL LOG and the error is
    /// Valkey's reply. (Host seam: the host's AUTH/HELLO call this.)
    /// `user` is `None` for the one-argument form (`AUTH <password>`: the default user).
    pub fn acl_auth(&mut self, id: u64, user: Option<&[u8]>, pass: &[u8]) -> Result<(), String> {
        if user.is_none() && self.acl.user("default").is_some_and(|u| u.nopass) {
            return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
        }
        let user = user.unwrap_or(b"default");
        if self.acl.authenticate(user, pass) {
            if let Some(c) = self.clients.get_mut(&id) {
                c.authenticated = true;
                c.user = Some(String::from_utf8_lossy(user).into_owned());
            }
            return Ok(());
        }
        let info = self.clients.get(&id).map(|c| client_info(c, "auth")).unwrap_or_default();
        let now = cmd::now_ms().max(0) as u64;
        self.acl.log.add("auth", "toplevel", "AUTH".into(), String::from_utf8_lossy(user).into_owned(), info, now);
        Err(acl::WRONGPASS.into())
    }

    /// RESET: back to the default user, authenticated only if it needs no password.
    /// (Host seam: the host's RESET calls this.)
    pub fn acl_reset_client(&mut self, id: u64) {
        let authenticated = !self.acl.auth_required();
        if let Some(c) = self.clients.get_mut(&id) {
            c.user = Some("default".into());
            c.authenticated = authenticated;
        }
    }

    /// True when this connection may only AUTH/HELLO/RESET/QUIT (Valkey's authRequired).
    pub fn auth_required(&self, id: u64) -> bool {
        self.acl.auth_required() && !self.clients.get(&id).is_some_and(|c| c.authenticated)
    }

    /// Forgets a connection, with its WATCHed keys and blocked command.
    pub fn remove_client(&mut self, id: u64) {
        self.disable_tracking(id);
        self.unwatch_all(id);
        self.drop_blocked(id);
        self.forget_postponed(id);
        self.clients.remove(&id);
        self.update_tracking();
    }

    /// A connection's state.
    pub fn client(&self, id: u64) -> Option<&Client> {
        self.clients.get(&id)
    }

    /// Every connection's state (in no particular order).
    pub fn clients_iter(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    /// A connection's state, mutable (the host sets proto/auth/db after HELLO, AUTH, RESET).
    pub fn client_mut(&mut self, id: u64) -> Option<&mut Client> {
        self.clients.get_mut(&id)
    }

    /// Number of registered connections.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Number of connections, without the scripts' own client (maxclients counts these).
    pub fn connection_count(&self) -> usize {
        self.clients.len() - usize::from(self.clients.contains_key(&cmd::script::SCRIPT_CLIENT))
    }

    /// The replies produced by the last feed/resume; the host writes then clears them.
    pub fn reply(&self) -> &[u8] {
        &self.out
    }

    /// The reply buffer, for the binding to append its status byte.
    pub fn reply_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Clears the reply buffer (keeping its capacity).
    pub fn clear_reply(&mut self) {
        self.out.clear();
        if self.out.capacity() > self.reply_capacity {
            self.stats.reply_buffer_expands += 1;
        }
        // A big reply must not stay allocated (and counted in used_memory) after it went
        // out: Valkey frees a client's reply blocks once written.
        if self.cfg.reply_buffer_resizing && self.out.capacity() > 64 * 1024 {
            self.out.shrink_to(16 * 1024);
            self.stats.reply_buffer_shrinks += 1;
        }
        self.reply_capacity = self.out.capacity();
    }

    /// The size of the reply buffer every client's replies are assembled in (one client
    /// runs at a time), CLIENT LIST `rbs`.
    pub fn reply_buffer_size(&self) -> usize {
        self.out.capacity()
    }

    /// Handles one socket read from client `id`.
    pub fn feed(&mut self, id: u64, chunk: &[u8]) -> Outcome {
        let Some(client) = self.clients.get_mut(&id) else {
            self.stats.total_net_input_bytes += chunk.len() as u64;
            return Outcome::Close;
        };
        // The primary's stream is replication input, which the host counts on its link.
        if !client.primary {
            self.stats.total_net_input_bytes += chunk.len() as u64;
        }
        if client.closing {
            return Outcome::Close;
        }
        client.last_input_ms = cmd::now_ms();
        client.qbuf_peak = client.qbuf_peak.max(client.inbuf.len() + chunk.len());
        if client.suspended || !client.inbuf.is_empty() {
            let limit = self.cfg.query_buffer_limit;
            reserve_for_argument(client, chunk.len(), limit);
            client.inbuf.extend_from_slice(chunk);
            let waiting = client.suspended || client.inbuf.len() < client.need;
            // Valkey checks the query buffer after each read, before it runs what the
            // buffer holds: a command that completes past the limit closes the client unrun.
            let checked = self.check_query_limit(id);
            if waiting || checked == Outcome::Close {
                return checked;
            }
            let Some(client) = self.clients.get_mut(&id) else {
                return Outcome::Close;
            };
            let buf = std::mem::take(&mut client.inbuf);
            let (consumed, outcome) = self.process(id, &buf);
            self.keep_buffer(id, buf, consumed);
            return self.finish(id, outcome);
        }
        let (consumed, outcome) = self.process(id, chunk);
        self.keep_rest(id, &chunk[consumed..]);
        self.finish(id, outcome)
    }

    /// Continues after the host ran a command: `host_reply` is that command's encoded
    /// reply (appended in order), then any buffered input is processed.
    pub fn resume(&mut self, id: u64, host_reply: &[u8]) -> Outcome {
        let mark = self.out.len();
        self.out.extend_from_slice(host_reply);
        self.host_command_done(id);
        if self.clients.get(&id).is_some_and(|c| c.exec.is_none()) {
            self.apply_reply_mode(id, mark);
        }
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        client.suspended = false;
        if client.exec.is_some() {
            // The host ran a command queued in MULTI: EXEC goes on with the rest.
            match self.exec_continue(id) {
                Outcome::Done => {}
                other => return other,
            }
        }
        // Host work may have touched keys (and EXEC may have readied some).
        self.process_touches_from(BulkChange::Unknown, tracking::Origin::During(id));
        if self.clients.get(&id).is_some_and(|c| c.exec.is_none()) {
            self.tracking_flush_pending(id);
            self.tracking_command_done(id);
            self.flush_own_messages(id);
        }
        self.serve_ready_keys();
        self.continue_input(id)
    }

    /// After a blocked client was served, timed out or unblocked (see `take_woken`):
    /// appends the reply it got, then runs the commands it pipelined meanwhile.
    pub fn wake(&mut self, id: u64) -> Outcome {
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        if client.blocked.is_some() {
            return Outcome::Done;
        }
        let mark = self.out.len();
        self.out.extend_from_slice(&client.pending_out);
        client.pending_out.clear();
        self.apply_reply_mode(id, mark);
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        if client.pending_out.capacity() > 64 * 1024 {
            client.pending_out = Vec::new();
        }
        client.suspended = false;
        self.continue_input(id)
    }

    /// Processes input buffered while the client was suspended.
    fn continue_input(&mut self, id: u64) -> Outcome {
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        if client.closing {
            return Outcome::Close;
        }
        if client.suspended || client.inbuf.len() < client.need.max(1) {
            return Outcome::Done;
        }
        let buf = std::mem::take(&mut client.inbuf);
        let (consumed, outcome) = self.process(id, &buf);
        self.keep_buffer(id, buf, consumed);
        self.finish(id, outcome)
    }

    /// Ends a host command run synchronously by the caller of [`Engine::dispatch`] (the
    /// server crate's own commands called from a script): the client is no longer
    /// suspended, and its buffered input is left for the next feed.
    pub fn end_host_command(&mut self, id: u64) {
        self.host_command_done(id);
        if let Some(c) = self.clients.get_mut(&id) {
            c.suspended = false;
        }
    }

    /// Marks a client to be closed after its pending replies (QUIT, CLIENT KILL).
    pub fn close_after_reply(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.closing = true;
        }
    }

    /// After a read was run from the host's shared read buffer: a partial command left
    /// (`rest`) moves to the client's own query buffer, of at least
    /// [`client::QUERY_BUFFER_MIN_BYTES`] (Valkey hands the shared buffer to such a
    /// client), or exactly the size of a big argument being read.
    fn keep_rest(&mut self, id: u64, rest: &[u8]) {
        if rest.is_empty() {
            return;
        }
        let limit = self.cfg.query_buffer_limit;
        if let Some(c) = self.clients.get_mut(&id) {
            if c.inbuf.is_empty() {
                reserve_for_argument(c, rest.len(), limit);
                let want = rest.len().max(client::QUERY_BUFFER_MIN_BYTES);
                if c.inbuf.capacity() < want {
                    c.inbuf.reserve_exact(want);
                }
                c.inbuf.extend_from_slice(rest);
            } else {
                // Input that arrived while the buffer was out being processed.
                let mut merged = rest.to_vec();
                merged.extend_from_slice(&c.inbuf);
                c.inbuf = merged;
            }
        }
    }

    /// After the client's own query buffer `buf` was run up to `consumed`: it goes back
    /// to the client with the rest, its allocation kept (Valkey keeps a client's query
    /// buffer after a command; the cron shrinks it: see
    /// [`client::Client::resize_query_buffer`]). Input that arrived meanwhile follows.
    fn keep_buffer(&mut self, id: u64, mut buf: Vec<u8>, consumed: usize) {
        let limit = self.cfg.query_buffer_limit;
        if let Some(c) = self.clients.get_mut(&id) {
            buf.drain(..consumed.min(buf.len()));
            buf.extend_from_slice(&c.inbuf);
            c.inbuf = buf;
            reserve_for_argument(c, 0, limit);
        }
    }

    /// The cron's pass over every query buffer (see [`client::Client::resize_query_buffer`]).
    pub fn resize_query_buffers(&mut self, now_ms: i64) {
        for c in self.clients.values_mut() {
            c.resize_query_buffer(now_ms);
        }
    }

    /// The query buffer pass for one client (the host's clients cron visits a slice of the
    /// clients per tick, as Valkey's clientsCron does); nothing for an unknown id.
    pub fn resize_query_buffer_of(&mut self, id: u64, now_ms: i64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.resize_query_buffer(now_ms);
        }
    }

    fn check_query_limit(&mut self, id: u64) -> Outcome {
        let limit = self.cfg.query_buffer_limit;
        match self.clients.get_mut(&id) {
            // The link to our primary is never cut for its buffer (Valkey's CLIENT_PRIMARY).
            Some(c) if c.inbuf.len() > limit && !c.primary => {
                // Closing: reads that land before the socket is gone are dropped, and the
                // disconnection is counted once.
                c.closing = true;
                c.inbuf = Vec::new();
                self.stats.client_query_buffer_limit_disconnections += 1;
                Outcome::Close
            }
            _ => Outcome::Done,
        }
    }

    fn finish(&mut self, id: u64, outcome: Outcome) -> Outcome {
        if outcome == Outcome::Done {
            return self.check_query_limit(id);
        }
        if outcome == Outcome::Close {
            // The client is leaving (Valkey frees it right after its last reply): it
            // tracks nothing from now on, even before its socket is gone.
            self.disable_tracking(id);
        }
        outcome
    }

    /// Runs every complete command in `buf`; returns the bytes consumed.
    fn process(&mut self, id: u64, buf: &[u8]) -> (usize, Outcome) {
        self.ks.set_now(cmd::now_ms());
        let mut pos = 0;
        let mut ranges = std::mem::take(&mut self.ranges);
        let mut outcome = Outcome::Done;
        let mut incomplete = false;
        if !self.auth_required(id) {
            if let Some(db) = self.clients.get(&id).map(|c| c.db) {
                prefetch::prefetch_batch(&self.ks, db, buf, self.cfg.proto_max_bulk_len, &mut ranges);
            }
        }
        while pos < buf.len() {
            let rest = &buf[pos..];
            let unauthenticated = self.auth_required(id);
            match resp::parse_for(rest, self.cfg.proto_max_bulk_len, unauthenticated, &mut ranges) {
                Parsed::Incomplete { need } => {
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.need = need;
                    }
                    incomplete = true;
                    break;
                }
                Parsed::Empty { len } => pos += len,
                Parsed::Error(msg) => {
                    let mut r = Reply::new(&mut self.out, 2);
                    r.error(&format!("ERR Protocol error: {msg}"));
                    pos = buf.len();
                    outcome = Outcome::Close;
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.closing = true;
                    }
                    break;
                }
                Parsed::Command { args, len } => {
                    // Most commands have few arguments: borrow them into a stack array
                    // instead of allocating a Vec per command.
                    const INLINE_ARGS: usize = 16;
                    let mut inline: [&[u8]; INLINE_ARGS] = [&[]; INLINE_ARGS];
                    let mut spilled: Vec<&[u8]> = Vec::new();
                    let n = match &args {
                        Args::Slices(rs) => rs.len(),
                        Args::Owned(v) => v.len(),
                    };
                    let items = (0..n).map(|i| match &args {
                        Args::Slices(rs) => &rest[rs[i].clone()],
                        Args::Owned(v) => v[i].as_slice(),
                    });
                    let argv: &[&[u8]] = if n <= INLINE_ARGS {
                        for (slot, a) in inline.iter_mut().zip(items) {
                            *slot = a;
                        }
                        &inline[..n]
                    } else {
                        spilled.extend(items);
                        &spilled
                    };
                    pos += len;
                    let mark = self.out.len();
                    let step = self.dispatch(id, argv);
                    if step == Outcome::Blocked && self.clients.get(&id).is_some_and(|c| c.postponed) {
                        // Held by CLIENT PAUSE: the command runs again, whole, once it ends.
                        pos -= len;
                    }
                    if matches!(step, Outcome::Done | Outcome::Close) {
                        self.apply_reply_mode(id, mark);
                    }
                    if !matches!(step, Outcome::Host(_)) {
                        // Invalidations and messages this command caused for its own client
                        // follow its reply.
                        self.tracking_flush_pending(id);
                        self.tracking_command_done(id);
                        self.flush_own_messages(id);
                    }
                    if let Args::Slices(v) = args {
                        ranges = v;
                    }
                    match step {
                        Outcome::Done if pos < buf.len() && (self.out.len() >= OUTPUT_PAUSE_BYTES || self.client_eviction.batch_must_yield(self.out.len())) => {
                            if let Some(c) = self.clients.get_mut(&id) {
                                c.suspended = true;
                            }
                            outcome = Outcome::Paused;
                            break;
                        }
                        Outcome::Done => {}
                        other => {
                            outcome = other;
                            break;
                        }
                    }
                }
            }
        }
        // A command with a huge argv (SADD of 100k members) must not pin its argument
        // table for the life of the process (Valkey frees such argv arrays too); INFO
        // used_memory would otherwise stay high after the data is gone.
        if ranges.capacity() > MAX_KEPT_RANGES {
            ranges = Vec::new();
        }
        self.ranges = ranges;
        if let Some(c) = self.clients.get_mut(&id) {
            if !incomplete {
                c.need = 0;
            }
        }
        (pos, outcome)
    }

    /// Runs one command for a client, or hands it to the host. The checks follow
    /// Valkey's processCommand; a command refused inside MULTI fails the transaction.
    pub fn dispatch(&mut self, id: u64, argv: &[&[u8]]) -> Outcome {
        self.stats.total_commands_processed += 1;
        // Touches made between commands (active expiry, host work) reach WATCH before
        // this command's own.
        self.process_touches(BulkChange::Unknown);
        let Some(client) = self.clients.get(&id) else {
            return Outcome::Close;
        };
        let Some(spec) = table::lookup(argv[0]) else {
            return self.reject(id, false, &unknown_command_error(argv));
        };
        let is_exec = spec.name == "exec";
        if let Some(e) = cmd::debug::refusal(client, spec, argv.len()) {
            return self.reject(id, false, e);
        }
        // Keys, fields and members are stored with 32-bit lengths: an argument past that
        // (only possible with proto-max-bulk-len above 4 GB) is refused before anything runs.
        if let Some(e) = oversized_argument(argv) {
            return self.reject_command(id, Some(spec), is_exec, e);
        }
        let spec = match resolve_subcommand(spec, argv) {
            Ok(s) => s,
            Err(e) => {
                // An arity error names a command; an unknown subcommand does not.
                let known = if spec.subcommands.is_empty() || argv.len() < 2 { Some(spec) } else { spec.subcommand(argv[1]) };
                // DEBUG is one command for Valkey: its permissions are checked before
                // it looks at its first argument (`DEBUG SEGFAULT` of a user allowed
                // only `debug|object` is NOPERM, not an unknown subcommand).
                if !acl::categories::has_acl_subcommands(spec.name) && known.is_none() {
                    if let Err(refusal) = self.acl.check(client.user.as_deref(), spec, argv) {
                        return self.reject_acl(id, spec, is_exec, refusal);
                    }
                }
                return self.reject_command(id, known, is_exec, &e);
            }
        };
        if let Some(e) = self.precheck(client, spec) {
            return self.reject_command(id, Some(spec), is_exec, &e);
        }
        if let Err(refusal) = self.acl.check(client.user.as_deref(), spec, argv) {
            return self.reject_acl(id, spec, is_exec, refusal);
        }
        // EVAL/FCALL of a script that declares flags is checked with them.
        let cmd_flags = self.script_command_flags(spec, argv);
        let oom = self.oom_refuses(id, spec, cmd_flags);
        if self.csc.in_use() {
            // Evicted keys and the key-table limit: their invalidations for this client
            // precede its reply (Valkey's processCommand runs both before the command).
            self.process_touches_from(BulkChange::Unknown, tracking::Origin::Before(id));
            self.tracking_limit(tracking::Origin::Before(id));
        }
        if oom {
            return self.reject_command(id, Some(spec), is_exec, errors::OOM);
        }
        let Some(client) = self.clients.get(&id) else {
            return Outcome::Close;
        };
        // While a failover is in progress (this server already follows the new primary,
        // writes still held), a command that would be redirected waits for the failover's
        // end instead, as Valkey's processCommand postpones it: then it is redirected to
        // the new primary, or runs here if the failover was aborted.
        if self.failover_holds_writes() {
            let (queued, _) = client.exec_queued_flags(spec);
            if self.redirect_target(client, cmd_flags | queued).is_some() {
                self.postpone(id);
                self.stats.total_commands_processed -= 1;
                return Outcome::Blocked;
            }
        }
        if let Some(e) = self.precheck_after_acl(client, spec, cmd_flags) {
            return self.reject_command(id, Some(spec), is_exec, &e);
        }
        if self.postpone_if_paused(id, spec, argv) {
            // Counted when it really runs.
            self.stats.total_commands_processed -= 1;
            return Outcome::Blocked;
        }
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        client.last_cmd = spec.name;
        if client.multi.is_some() && !cmd::multi::runs_inside_multi(spec) {
            return self.queue_command(id, spec, argv);
        }
        let outcome = match spec.exec {
            Exec::Host | Exec::Server | Exec::Container => {
                client.suspended = true;
                self.hold_host_command(id, spec, argv);
                return Outcome::Host(argv.iter().map(|a| a.to_vec()).collect());
            }
            Exec::Core(handler) => {
                let started = std::time::Instant::now();
                let outcome = self.run(id, spec, handler, argv);
                // A blocked command is logged once it is served.
                if outcome != Outcome::Blocked {
                    let elapsed = started.elapsed();
                    self.top_level_command_ran(elapsed);
                    self.command_done(id, spec, argv, elapsed);
                }
                outcome
            }
            Exec::Engine(handler) => {
                let started = std::time::Instant::now();
                let out_mark = self.out.len();
                let outcome = match panic::catch_unwind(AssertUnwindSafe(|| handler(self, id, argv))) {
                    Ok(outcome) => outcome,
                    Err(payload) => {
                        // A half-written reply would desynchronise the client's stream.
                        self.out.truncate(out_mark);
                        let err = panicked(&mut self.logs, spec, argv, payload.as_ref());
                        let proto = self.clients.get(&id).map_or(2, |c| c.proto);
                        Reply::new(&mut self.out, proto).error(&err);
                        Outcome::Done
                    }
                };
                if !matches!(outcome, Outcome::Host(_)) {
                    let elapsed = started.elapsed();
                    self.top_level_command_ran(elapsed);
                    self.command_done(id, spec, argv, elapsed);
                }
                outcome
            }
        };
        if !matches!(outcome, Outcome::Host(_) | Outcome::Blocked) {
            if let Some(c) = self.clients.get_mut(&id) {
                c.commands_processed += 1;
            }
        }
        self.monitor_feed(id, spec, argv);
        // Clients blocked on keys this command made ready are served right after it
        // (after the whole transaction for EXEC), before the next pipelined command.
        if !matches!(outcome, Outcome::Host(_)) {
            self.serve_ready_keys();
        }
        outcome
    }

    /// Records a command client `id` ran in the MONITOR feed (not while loading data,
    /// as Valkey).
    pub(crate) fn monitor_feed(&mut self, id: u64, spec: &CommandSpec, argv: &[&[u8]]) {
        if !self.monitor.is_on() || self.cfg.loading {
            return;
        }
        if let Some(c) = self.clients.get(&id) {
            self.monitor.feed(spec, c.db, &c.monitor_peer(), argv);
        }
    }

    /// Remembers a command handed to the host until its reply comes back (see
    /// [`Engine::host_command_done`]).
    pub(crate) fn hold_host_command(&mut self, id: u64, spec: &'static CommandSpec, argv: &[&[u8]]) {
        if let Some(c) = self.clients.get_mut(&id) {
            let argv = argv.iter().map(|a| a.to_vec()).collect();
            c.host_command = Some(client::HostCommand { spec, argv, started: std::time::Instant::now() });
        }
    }

    /// The host ran the command held by [`Engine::hold_host_command`]: it is timed for
    /// SLOWLOG and shown to MONITOR.
    fn host_command_done(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let Some(held) = c.host_command.take() else {
            return;
        };
        c.commands_processed += 1;
        // A host command an EXEC runs is part of the EXEC's time.
        let top_level = c.exec.is_none();
        let args: Vec<&[u8]> = held.argv.iter().map(Vec::as_slice).collect();
        let elapsed = held.started.elapsed();
        if top_level {
            self.top_level_command_ran(elapsed);
        }
        self.command_done(id, held.spec, &args, elapsed);
        self.monitor_feed(id, held.spec, &args);
    }

    /// A command client `id` ran has ended: its calls, time, latency and errors are
    /// counted (INFO commandstats) and it is offered to the SLOWLOG, under the name and
    /// address of client `shown` (the caller, for a command a script called).
    pub(crate) fn command_done(&mut self, shown: u64, spec: &'static CommandSpec, argv: &[&[u8]], elapsed: std::time::Duration) {
        self.account_errors();
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.cmdstats.command_done(spec.name, us, false, self.stats.total_error_replies);
        self.slowlog_push(shown, spec, argv, elapsed);
    }

    /// A command called by a client (not by an EXEC or a script) ran for `elapsed`.
    pub(crate) fn top_level_command_ran(&mut self, elapsed: std::time::Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.stats.command_time_ns = self.stats.command_time_ns.saturating_add(ns);
    }

    /// A command was refused before it ran (arity, ACL, OOM, MISCONF...): counted as
    /// rejected when known, its error counted either way.
    pub(crate) fn command_rejected(&mut self, spec: Option<&'static CommandSpec>) {
        self.account_errors();
        match spec {
            Some(spec) => self.cmdstats.command_done(spec.name, 0, true, self.stats.total_error_replies),
            None => self.cmdstats.sync_errors(self.stats.total_error_replies),
        }
    }

    /// Moves the error replies written since the last call into `total_error_replies`
    /// and errorstats.
    pub fn account_errors(&mut self) {
        self.stats.total_error_replies += self.cmdstats.take_errors();
    }

    /// Counts an error reply the host wrote for a command it ran (its reply bytes).
    pub fn count_host_reply(&mut self, reply: &[u8]) {
        if let Some(rest) = reply.strip_prefix(b"-") {
            let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
            cmdstats::record_error(&String::from_utf8_lossy(&rest[..end]), cmdstats::ErrorKind::Plain);
        }
    }

    /// CONFIG RESETSTAT of the engine's counters (Valkey's resetServerStats,
    /// resetCommandTableStats, resetErrorTableStats).
    pub fn reset_stats(&mut self) {
        self.account_errors();
        self.stats = EngineStats::default();
        self.ks.stats = Default::default();
        self.acl.log.denied = Default::default();
        self.cmdstats.reset(0);
        forkv_keyspace::lazyfree::reset_stats();
    }

    /// Offers a command client `id` ran to the SLOWLOG and the latency monitor, under the name and address of
    /// client `shown` (the caller, for a command a script called).
    pub(crate) fn slowlog_push(&mut self, shown: u64, spec: &CommandSpec, argv: &[&[u8]], elapsed: std::time::Duration) {
        if self.cfg.loading {
            return;
        }
        let (peer, name) = self.clients.get(&shown).map_or(("", ""), |c| (c.peer.as_str(), c.name.as_str()));
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.slowlog.push_if_needed(spec, argv, us, peer, name);
        // Valkey's call(): the latency a command induced, by whether it is flagged fast.
        let event = if spec.flags & flags::FAST != 0 { "fast-command" } else { "command" };
        self.latency.add_if_needed(event, us / 1000);
    }

    /// Answers a refused command. Inside MULTI the transaction is flagged (EXEC will
    /// answer EXECABORT); a refused EXEC aborts the transaction with the reason.
    fn reject(&mut self, id: u64, is_exec: bool, err: &str) -> Outcome {
        self.reject_command(id, None, is_exec, err)
    }

    /// [`Engine::reject`] of a known command, counted as rejected (INFO commandstats).
    /// Refuses a command the client's user may not run: ACL LOG entry, NOPERM reply.
    fn reject_acl(&mut self, id: u64, spec: &'static CommandSpec, is_exec: bool, refusal: acl::Refusal) -> Outcome {
        self.log_acl_refusal(id, spec, &refusal);
        self.reject_command(id, Some(spec), is_exec, &refusal.error)
    }

    /// Adds a refused command of client `id` to ACL LOG.
    pub(crate) fn log_acl_refusal(&mut self, id: u64, spec: &CommandSpec, refusal: &acl::Refusal) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let info = client_info(client, spec.name);
        let user = client.user.clone().unwrap_or_default();
        let now = cmd::now_ms().max(0) as u64;
        let context = if client.multi.is_some() { "multi" } else { "toplevel" };
        self.acl.log.add(refusal.reason, context, refusal.object.clone(), user, info, now);
    }

    fn reject_command(&mut self, id: u64, spec: Option<&'static CommandSpec>, is_exec: bool, err: &str) -> Outcome {
        // A command that was found is the client's last one even when refused (Valkey sets
        // lastcmd at lookup): CLIENT LIST `cmd=`, and the log line of a replica's reply.
        if let (Some(spec), Some(client)) = (spec, self.clients.get_mut(&id)) {
            client.last_cmd = spec.name;
        }
        let to_primary = self.clients.get(&id).is_some_and(|c| c.primary);
        let out_mark = self.out.len();
        let outcome = self.reject_reply(id, is_exec, err);
        self.command_rejected(spec);
        // A refusal before the command runs (unknown command, arity, a precheck) is an
        // error to the primary as well (Valkey's rejectCommand ends in afterErrorReply),
        // with "<unknown>" for a command that was not found.
        if to_primary {
            let reply = self.out[out_mark..].to_vec();
            self.after_reply_to_primary(spec.map_or("<unknown>", |s| s.name), &reply);
        }
        outcome
    }

    fn reject_reply(&mut self, id: u64, is_exec: bool, err: &str) -> Outcome {
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        let proto = client.proto;
        if let Some(m) = &mut client.multi {
            m.flag_error();
        }
        if is_exec {
            self.discard_transaction(id);
            self.update_tracking();
            // A replica's REDIRECT discards the transaction and answers as itself (Valkey's
            // processCommand does not route it through rejectCommand's EXECABORT).
            if err.starts_with("REDIRECT ") {
                Reply::new(&mut self.out, proto).error(err);
            } else {
                let reason = err.strip_prefix("ERR ").unwrap_or(err);
                Reply::new(&mut self.out, proto).error(&format!("EXECABORT Transaction discarded because of: {reason}"));
            }
        } else {
            Reply::new(&mut self.out, proto).error(err);
        }
        Outcome::Done
    }

    /// Refusals that apply before a command runs or is queued, in Valkey's order: auth,
    /// (ACL permissions, in `dispatch`), no_multi, MISCONF, subscribed mode (or its absence, for the
    /// unsubscribe commands), loading. EXEC is checked with the flags of the
    /// commands it would run.
    fn precheck(&self, client: &Client, spec: &CommandSpec) -> Option<String> {
        if self.acl.auth_required() && !client.authenticated && spec.flags & flags::NO_AUTH == 0 {
            return Some(errors::NOAUTH.into());
        }
        None
    }

    /// Valkey 8's standalone redirect, checked right after the ACL: a replica sends the
    /// clients that can follow it to the primary for writes, and for reads unless the
    /// client asked to read here (READONLY). `all_flags` include a transaction's queued
    /// commands at EXEC.
    fn redirect_target<'a>(&'a self, client: &Client, all_flags: u32) -> Option<&'a str> {
        let addr = self.cfg.primary_address.as_deref().filter(|_| client.capa_redirect && !client.primary)?;
        (all_flags & flags::WRITE != 0 || (all_flags & flags::READONLY != 0 && !client.readonly)).then_some(addr)
    }

    /// The refusals Valkey applies after the ACL check.
    fn precheck_after_acl(&self, client: &Client, spec: &CommandSpec, cmd_flags: u32) -> Option<String> {
        let (queued, queued_inv) = client.exec_queued_flags(spec);
        if let Some(addr) = self.redirect_target(client, cmd_flags | queued) {
            return Some(format!("REDIRECT {addr}"));
        }
        // MULTI and WATCH are no_multi commands too: Valkey 8 refuses them here and flags
        // the transaction (Redis 7.0 answered "MULTI calls can not be nested" unflagged).
        if client.multi.is_some() && spec.flags & flags::NO_MULTI != 0 {
            return Some("ERR Command not allowed inside a transaction".into());
        }
        let write = (cmd_flags | queued) & flags::WRITE != 0;
        if let Some(e) = self.cfg.write_gate.refusal(write, spec.name == "ping", client.primary) {
            return Some(e.into_owned());
        }
        if self.cfg.read_only_replica && !client.primary && (cmd_flags | queued) & flags::WRITE != 0 {
            return Some(errors::READONLY.into());
        }
        if client.pubsub && client.proto == 2 && !cmd::pubsub::allowed_when_subscribed(spec) {
            return Some(cmd::pubsub::subscribed_mode_error(spec));
        }
        if !client.pubsub && cmd::pubsub::needs_subscribed_mode(spec) {
            return Some(cmd::pubsub::not_subscribed_error(spec));
        }
        // A replica of ours (it sent SYNC/PSYNC) may not touch the keyspace: it is exempt
        // from CLIENT PAUSE, which this would let it bypass (Valkey's processCommand).
        if client.replica && (cmd_flags | queued) & (flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) != 0 {
            return Some(errors::REPLICA_KEYSPACE.into());
        }
        if self.cfg.primary_down && !client.primary && (cmd_flags & flags::STALE == 0 || queued_inv & flags::STALE != 0) {
            return Some(errors::MASTERDOWN.into());
        }
        if self.cfg.loading && (spec.flags & flags::LOADING == 0 || queued_inv & flags::LOADING != 0) {
            return Some(errors::LOADING.into());
        }
        if self.cfg.async_loading && (cmd_flags | queued) & flags::NO_ASYNC_LOADING != 0 {
            return Some(errors::LOADING.into());
        }
        // A script past busy-reply-threshold: only `allow_busy` commands run.
        if let Some(run) = self.script_run.as_ref().filter(|r| r.timed_out) {
            if spec.flags & flags::ALLOW_BUSY == 0 {
                return Some(run.busy_error().into());
            }
        }
        None
    }

    /// Runs a core handler. Also used for commands queued in MULTI and for re-running a
    /// blocked client's command.
    pub(crate) fn run(&mut self, id: u64, spec: &'static CommandSpec, handler: Handler, argv: &[&[u8]]) -> Outcome {
        let bulk = self.bulk_change_for(spec);
        // Deletions left by an earlier expiry (outside a command) are not this one's.
        self.propagate_expired();
        self.prop.begin_unit();
        let Some(client) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        let dirty_before = self.ks.dirty;
        let events_mark = self.ks.notify.mark();
        // CLIENT NO-TOUCH: lookups leave the access clocks alone, except TOUCH's.
        self.ks.no_touch = client.no_touch && spec.name != "touch";
        // On a replica the primary's commands see every key live (nested runs keep it).
        let outer_from_primary = self.ks.from_primary;
        self.ks.from_primary = outer_from_primary || client.primary;
        self.prop.suppress_current = false;
        let proto = client.proto;
        let to_primary = client.primary;
        let out_mark = self.out.len();
        let hard = self.cfg.output_hard_limit[usize::from(client.pubsub)];
        let limit = if hard == 0 { usize::MAX } else { usize::try_from(hard).unwrap_or(usize::MAX) };
        let mut reply = Reply::new(&mut self.out, proto);
        reply.limit = limit;
        let mut ctx = Ctx {
            ks: &mut self.ks,
            client,
            reply,
            cfg: &self.cfg,
            prop: &mut self.prop,
            debug: &mut self.debug,
            logs: &mut self.logs,
            migrate: &mut self.migrate,
            acl: &self.acl,
        };
        // No input may end the process: a handler that panics fails its command only.
        // Arguments from scripts reach here without passing `dispatch`: checked again.
        let caught = match oversized_argument(argv) {
            Some(e) => Ok(Err(e.into())),
            None => panic::catch_unwind(AssertUnwindSafe(|| handler(&mut ctx, argv))),
        };
        ctx.ks.no_touch = false;
        ctx.ks.from_primary = outer_from_primary;
        // Past the output limit the client is closed (the host drops the output).
        if ctx.reply.over_limit() {
            ctx.client.closing = true;
        }
        let db = ctx.client.db;
        let closing = ctx.client.closing;
        let block_request = ctx.client.block_request.take();
        let result = match caught {
            Ok(result) => result,
            Err(payload) => {
                // A half-written reply would desynchronise the client's stream.
                self.out.truncate(out_mark);
                Err(panicked(&mut self.logs, spec, argv, payload.as_ref()).into())
            }
        };
        if let Err(e) = result {
            Reply::new(&mut self.out, proto).error(&e);
        }
        if to_primary && self.out.get(out_mark) == Some(&b'-') {
            let reply = self.out[out_mark..].to_vec();
            self.after_reply_to_primary(spec.name, &reply);
        }
        if spec.is_write() && self.ks.dirty != dirty_before && !self.prop.suppress_current {
            self.prop.log(db, argv);
        }
        if spec.is_write() && self.ks.dirty != dirty_before && self.ks.notify.active() {
            self.raise_fixed_event(spec, argv, db, events_mark);
        }
        let expired = if self.ks.has_expired() { self.ks.take_expired() } else { Vec::new() };
        // Valkey's CMD_TOUCHES_ARBITRARY_KEYS: their deletions are not one transaction.
        let may_wrap = !matches!(spec.name, "scan" | "randomkey" | "keys");
        self.prop.end_unit(&expired, self.ks.lazyfree.expire, may_wrap);
        let origin = self.tracking_origin(id);
        self.process_touches_from(bulk, origin);
        if self.csc.active() {
            self.tracking_after_read(id, spec, argv);
        }
        // A blocking command that found nothing to serve parks the client.
        if let Some(req) = block_request {
            return self.block(id, spec, argv, req);
        }
        if closing {
            Outcome::Close
        } else {
            Outcome::Done
        }
    }
}

impl Engine {
    /// A command of client `id` completed, its reply written from `mark` on: drops that
    /// reply under CLIENT REPLY OFF/SKIP (the (un)subscribe confirmations are pushes and
    /// stay) and moves the mode on.
    fn apply_reply_mode(&mut self, id: u64, mark: usize) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.reply_mode == client::ReplyMode::On {
            return;
        }
        let (drop, next) = c.reply_mode.after_command();
        c.reply_mode = next;
        let push = matches!(c.last_cmd, "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe" | "sunsubscribe");
        if drop && !push {
            self.out.truncate(mark);
        }
    }

    /// Raises the event of a write command whose event is fixed (see [`notify`]), on its
    /// first key.
    fn raise_fixed_event(&mut self, spec: &CommandSpec, argv: &[&[u8]], db: usize, mark: usize) {
        let Some((class, event)) = notify::fixed_event(spec.name, argv) else {
            return;
        };
        let Some(key) = usize::try_from(spec.first_key).ok().and_then(|i| argv.get(i)) else {
            return;
        };
        let at = notify::fixed_event_position(self.ks.notify.events(), mark);
        self.ks.notify.insert_at(at, class, event, db, key);
    }
}

/// Logs a command that panicked (name and leading arguments) and returns the error its
/// client gets. The server keeps serving: an embedded server shares its process with
/// the user's application.
pub fn panicked(logs: &mut LogQueue, spec: &CommandSpec, argv: &[&[u8]], payload: &(dyn std::any::Any + Send)) -> String {
    let msg = log::panic_message(payload);
    let mut shown = String::new();
    if !logs.crash_log {
        logs.push(LogLevel::Warning, format!("BUG: command '{}' panicked: {msg}", spec.name));
        return format!("ERR internal error while running '{}': {msg}", spec.name);
    }
    if logs.hide_user_data {
        // Valkey's crash report with hide-user-data-from-log: each argument `*redacted*`.
        shown.push_str(&format!(" *redacted* ({} arguments)", argv.len()));
    } else {
        for a in argv.iter().take(8) {
            shown.push(' ');
            shown.push_str(&truncate_lossy(a, 64));
        }
        if argv.len() > 8 {
            shown.push_str(" ...");
        }
    }
    logs.push(LogLevel::Warning, format!("BUG: command '{}' panicked: {msg}; argv:{shown}", spec.name));
    format!("ERR internal error while running '{}': {msg}", spec.name)
}

/// The client as ACL LOG's `client-info` shows it: the CLIENT LIST fields the engine
/// knows (the host owns addresses, names and buffers); `cmd` is the refused command.
pub(crate) fn client_info(c: &Client, cmd: &str) -> String {
    format!(
        "id={} db={} multi={} watch={} cmd={} user={} resp={}",
        c.id,
        c.db,
        c.multi_len(),
        c.watched_len(),
        cmd,
        c.user.as_deref().unwrap_or(""),
        c.proto
    )
}

/// Picks the subcommand spec for container commands, with Valkey's errors.
pub(crate) fn resolve_subcommand(spec: &'static CommandSpec, argv: &[&[u8]]) -> Result<&'static CommandSpec, String> {
    // A container that also runs bare (COMMAND with no subcommand).
    let bare_ok = argv.len() == 1 && matches!(spec.exec, Exec::Core(_)) && spec.arity_ok(1);
    if spec.subcommands.is_empty() || bare_ok {
        if !spec.arity_ok(argv.len()) {
            return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
        }
        return Ok(spec);
    }
    let Some(sub_name) = argv.get(1) else {
        return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
    };
    match spec.subcommand(sub_name) {
        Some(sub) if sub.arity_ok(argv.len()) => Ok(sub),
        Some(sub) => Err(format!("ERR wrong number of arguments for '{}' command", sub.name)),
        None => Err(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncate_lossy(sub_name, 128),
            spec.name.to_uppercase()
        )),
    }
}

/// Valkey's "unknown command" reply, quoting the first arguments.
/// The error for a command with an argument longer than a key, field or member may be
/// ([`forkv_keyspace::MAX_KEY_LEN`], 4 GB); checked for every argument, values included,
/// so no command can reach a table with one.
fn oversized_argument(argv: &[&[u8]]) -> Option<&'static str> {
    argv.iter()
        .any(|a| forkv_keyspace::KeyTooLong::check(a).is_err())
        .then_some(errors::ARG_TOO_BIG)
}

fn unknown_command_error(argv: &[&[u8]]) -> String {
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push_str(&format!("'{}' ", truncate_lossy(a, room)));
    }
    format!("ERR unknown command '{}', with args beginning with: {}", truncate_lossy(argv[0], 128), args)
}

fn truncate_lossy(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// Argument ranges the parse scratch keeps between commands (a few KiB); a bigger table
/// left by a huge command is released.
const MAX_KEPT_RANGES: usize = 1024;

#[cfg(test)]
mod scratch_tests {
    use super::*;

    #[test]
    fn a_huge_command_does_not_pin_its_argument_table() {
        let mut e = Engine::new(1);
        e.add_client(1);
        let n = 100_000;
        let mut cmd = format!("*{}\r\n$4\r\nSADD\r\n$1\r\ns\r\n", n + 2).into_bytes();
        for i in 0..n {
            let m = i.to_string();
            cmd.extend_from_slice(format!("${}\r\n{m}\r\n", m.len()).as_bytes());
        }
        assert_eq!(e.feed(1, &cmd), Outcome::Done);
        assert_eq!(e.reply(), format!(":{n}\r\n").as_bytes());
        assert!(e.ranges.capacity() <= MAX_KEPT_RANGES, "kept {}", e.ranges.capacity());
    }
}

#[cfg(test)]
mod query_buffer_tests {
    use super::*;

    fn capacity(e: &Engine) -> usize {
        e.client(1).map_or(0, client::Client::query_buffer_capacity)
    }

    #[test]
    fn a_partial_command_gets_a_private_buffer_kept_after_it_and_freed_when_idle() {
        let mut e = Engine::new(1);
        e.add_client(1);
        assert_eq!(e.feed(1, b"PING\r\n"), Outcome::Done);
        assert_eq!(capacity(&e), 0, "a complete read runs from the host's buffer");
        e.clear_reply();
        assert_eq!(e.feed(1, b"*3\r\n$3\r\nset\r\n$2\r\na"), Outcome::Done);
        assert!(capacity(&e) >= client::QUERY_BUFFER_MIN_BYTES);
        assert_eq!(e.feed(1, b"a\r\n$1\r\nb\r\n"), Outcome::Done);
        assert_eq!(e.reply(), b"+OK\r\n");
        let kept = capacity(&e);
        assert!((client::QUERY_BUFFER_MIN_BYTES..=2 * client::QUERY_BUFFER_MIN_BYTES).contains(&kept), "kept {kept}");
        let last = e.client(1).map_or(0, |c| c.last_input_ms);
        // Not idle yet: kept. Idle for more than 2 whole seconds: freed.
        e.resize_query_buffers(last);
        assert_eq!(capacity(&e), kept);
        e.resize_query_buffers(last + 3000);
        assert_eq!(capacity(&e), 0);
    }

    #[test]
    fn a_big_buffer_is_trimmed_to_the_recent_peak_and_an_argument_being_read_is_kept() {
        let mut e = Engine::new(1);
        e.add_client(1);
        let big = vec![b'A'; 200_000];
        let mut cmd = format!("*3\r\n$3\r\nset\r\n$1\r\nx\r\n${}\r\n", big.len()).into_bytes();
        cmd.extend_from_slice(&big);
        cmd.extend_from_slice(b"\r\n");
        let (head, tail) = cmd.split_at(1000);
        e.feed(1, head);
        e.feed(1, tail);
        assert_eq!(e.reply(), b"+OK\r\n");
        e.clear_reply();
        let orig = capacity(&e);
        assert!(orig > 200_000, "the argument's buffer is kept: {orig}");
        let now = e.client(1).map_or(0, |c| c.last_input_ms);
        // The peak of this period was the big argument: kept, and the peak restarts.
        e.resize_query_buffers(now);
        assert_eq!(capacity(&e), orig);
        e.feed(1, b"PING\r\n");
        e.resize_query_buffers(now);
        let trimmed = capacity(&e);
        assert_eq!(trimmed, client::QUERY_BUFFER_MIN_BYTES, "trimmed to the recent peak, not below 16 KB");
        // A big argument half read keeps a buffer of its size while the client is busy;
        // idle, the buffer keeps only what it holds (the next read grows it again).
        let (head, _) = cmd.split_at(100_000);
        e.feed(1, head);
        e.resize_query_buffers(now);
        assert!(capacity(&e) >= cmd.len() - 30);
        e.resize_query_buffers(now + 5000);
        assert_eq!(capacity(&e), e.client(1).map_or(0, |c| c.inbuf.len()), "idle: trimmed to what it holds");
    }
}

#[cfg(test)]
mod panic_tests {
    use super::*;
    use crate::cmd::CmdResult;

    fn boom(_: &mut Ctx<'_>, _: &[&[u8]]) -> CmdResult {
        panic!("boom");
    }

    fn half_reply_then_boom(ctx: &mut Ctx<'_>, _: &[&[u8]]) -> CmdResult {
        ctx.reply.array(3);
        panic!("mid-reply");
    }

    #[test]
    fn a_panicking_handler_fails_its_command_only() {
        let mut e = Engine::new(1);
        e.add_client(1);
        let spec = table::lookup(b"get").expect("get is in the table");
        for handler in [boom as Handler, half_reply_then_boom as Handler] {
            assert_eq!(e.run(1, spec, handler, &[b"get", b"k"]), Outcome::Done);
            let reply = String::from_utf8_lossy(e.reply()).into_owned();
            assert!(reply.starts_with("-ERR internal error while running 'get': "), "{reply}");
            assert_eq!(reply.matches("\r\n").count(), 1, "nothing of the half-written reply is left: {reply}");
            e.clear_reply();
            let logs = e.logs.take();
            assert_eq!(logs.len(), 1);
            assert_eq!(logs[0].level, LogLevel::Warning);
            assert!(logs[0].message.starts_with("BUG: command 'get' panicked: "), "{}", logs[0].message);
        }
        // hide-user-data-from-log (default yes) shows no argument; with no, they are shown.
        let logs = |e: &mut Engine| {
            assert_eq!(e.run(1, spec, boom, &[b"get", b"secret-key"]), Outcome::Done);
            e.clear_reply();
            e.logs.take().remove(0).message
        };
        assert!(e.logs.hide_user_data);
        let hidden = logs(&mut e);
        assert!(hidden.ends_with("argv: *redacted* (2 arguments)") && !hidden.contains("secret-key"), "{hidden}");
        e.logs.hide_user_data = false;
        assert!(logs(&mut e).ends_with("argv: get secret-key"));
        // crash-log-enabled no: the panic's line without the crash report.
        e.logs.crash_log = false;
        assert_eq!(logs(&mut e), "BUG: command 'get' panicked: boom");
        e.logs.crash_log = true;
        // The engine keeps serving the same client.
        assert_eq!(e.feed(1, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), Outcome::Done);
        assert_eq!(e.reply(), b"+OK\r\n$1\r\nv\r\n");
    }
}

#[cfg(test)]
mod oversized_argument_tests {
    use super::*;

    /// A 4 GiB + 1 argument: calloc'd zero pages, never touched, so it costs no memory.
    fn huge() -> Vec<u8> {
        vec![0u8; forkv_keyspace::MAX_KEY_LEN + 1]
    }

    #[test]
    fn a_key_field_or_member_past_4_gb_is_an_error_reply() {
        let big = huge();
        let mut e = Engine::new(1);
        e.add_client(1);
        let expected = format!("-{}\r\n", errors::ARG_TOO_BIG);
        let cmds: [&[&[u8]]; 5] = [
            &[b"set", &big, b"v"],
            &[b"hset", b"h", &big, b"v"],
            &[b"sadd", b"s", &big],
            &[b"zadd", b"z", b"1", &big],
            &[b"rename", b"k", &big],
        ];
        for argv in cmds {
            assert_eq!(e.dispatch(1, argv), Outcome::Done);
            assert_eq!(String::from_utf8_lossy(e.reply()), expected, "{}", String::from_utf8_lossy(argv[0]));
            e.clear_reply();
        }
        assert_eq!(e.ks.len(0), 0, "nothing was stored");
        // The path scripts take (Engine::run without dispatch) refuses it too.
        let spec = table::lookup(b"sadd").expect("sadd is in the table");
        let Exec::Core(handler) = spec.exec else { panic!("sadd runs in the core") };
        assert_eq!(e.run(1, spec, handler, &[b"sadd", b"s", &big]), Outcome::Done);
        assert_eq!(String::from_utf8_lossy(e.reply()), expected);
        assert_eq!(e.ks.len(0), 0);
    }
}

/// Arguments from this size on get a query buffer of their exact size (Valkey's
/// PROTO_MBULK_BIG_ARG).
const BIG_ARGUMENT_BYTES: usize = 32 * 1024;

/// Before `extra` bytes are appended to `c`'s query buffer: when the command being read
/// still needs a big argument (`need`, what the parser asked for), the buffer is sized to
/// it once, as Valkey sizes its query buffer for a big bulk argument, instead of doubling
/// (which would let a client hold up to twice what it sent, and count it for client
/// eviction). Never beyond `limit` (client-query-buffer-limit: a client over it is closed).
fn reserve_for_argument(c: &mut Client, extra: usize, limit: usize) {
    let len = c.inbuf.len();
    let want = c.need.min(limit.saturating_add(1));
    if want > len + extra && want - len >= BIG_ARGUMENT_BYTES && c.inbuf.capacity() < want {
        c.inbuf.reserve_exact(want - len);
    }
}
