//! forkv's server without Node: the state a Valkey server keeps beside its keyspace, and
//! the one place where every command that Rust can run is run.
//!
//! # Layers
//!
//! `forkv-engine` turns client bytes into replies for the commands that live next to the
//! data: it parses RESP, checks each command against the table (arity, auth, MULTI,
//! MISCONF, loading, the subscribed-mode gate) and runs the data, transaction and
//! blocking commands. A command it does not run itself comes back to its caller as
//! `Outcome::Host(argv)`, with the client suspended until `Engine::resume` is given that
//! command's reply, so replies keep their order.
//!
//! This crate is that caller. [`Server`] owns the engine and the state that commands of
//! the command table's `Exec::Server` kind need: today the pub/sub registry with its
//! per-client delivery lists ([`pubsub`], [`outbox`]). It also owns the one
//! background-job slot ([`jobs`]: the forked child, its progress and copy-on-write
//! reports, the dirty counter at fork), the RDB snapshot composition ([`snapshot`]:
//! SAVE in process, BGSAVE as fork + atomic file + RDB writer), the AOF while it is
//! written ([`persist::aof_job`]: open, per-turn flush, BGREWRITEAOF start and finish),
//! whether the AOF is on and its write-error gate ([`persist::aof_state`]), the loading
//! of RDB files and AOF directories at start-up and for DEBUG RELOAD/LOADAOF
//! ([`persist::load`], on a loader thread) and the persistence policy
//! ([`persist::policy`]: save rules, BGSAVE and rewrite scheduling, automatic rewrites
//! and their back-off, the save status behind MISCONF, FLUSHALL's reset). What the host is
//! told about the job slot (a child's progress, run time and end, in the words the logs
//! and INFO use) is decided in [`job_report`], and where each engine setting the host
//! keeps in sync with CONFIG lands in [`settings`]: the binding only converts values.
//! INFO's persistence section is built here from that state ([`persist::info`]), and the
//! persistence log lines are written here too, on the engine's log queue the host drains.
//! What the binding hands the host besides replies is decided here as well: the status
//! byte ending every feed result ([`step_status`]), a connection's view for CLIENT LIST
//! ([`client_view`]), the INFO counters ([`counters`]) and the memory samples. The types
//! the host sees by name (the engine settings going in, those records coming out) are
//! defined once, here, with a table of their fields ([`host_types`]): the binding converts
//! them field by field through it, and the host's TypeScript types
//! (`ts/native/host-types.ts`) are generated from it. Everything else the host asks of the
//! server (a connection's controls, the reply buffer of a feed and the data path's direct
//! write of it, the log queue, the ACL seam of AUTH/HELLO/RESET, the figures the host
//! measures) is a method of [`Server`] (`host_calls.rs`, [`direct_send`]): the binding never
//! reaches into the engine or the job slot.
//!
//! A replica's link to its primary is applied here too ([`primary_link`]): the host hands
//! each read of it to [`Server::feed_primary`], which runs the primary's commands, answers
//! GETACK and keeps the replica's offset, the FACK marks and the feed of its own replicas.
//!
//! [`Server::feed`], [`Server::resume`] and [`Server::wake`] drive the engine and run
//! every `Exec::Server` command in place, so that the only `Outcome::Host` a caller ever
//! sees is one that needs the host (`Exec::Host`: sockets, the configuration store,
//! logging, timers). The shutdown's persistence steps run here too, in Valkey's order
//! ([`persist::shutdown`]); the host closes the sockets and exits after them. Everything here is
//! tested with `cargo test`, no Node involved; the Node binding (`forkv-napi`) converts
//! between JavaScript values and this type.
//!
//! # Calling a command from inside the server
//!
//! [`Server::call`] is the synchronous entry point for code that runs *inside* a command,
//! as Lua's `redis.call` does: it runs one command for a given client context, without
//! returning to the event loop, and returns that command's encoded reply (RESP in the
//! client's protocol). Blocking commands answer as their non-blocking form there, a
//! message the call publishes to its own client is queued on that client's stream
//! (ahead of the reply of the command that made the call, as in Valkey), and a command
//! that only the host can run is refused with an error reply, never half-run.
//!
//! Lua's `redis.call` itself runs inside the engine (EVAL is an engine command), which
//! cannot see this crate: for the commands of this crate it uses the runner [`Server::new`]
//! installs in the engine (`forkv_engine::ServerCommands`, sharing the pub/sub state with
//! the server through an `Rc<RefCell>` that is never borrowed across a dispatch). So
//! PUBLISH, SPUBLISH and PUBSUB work from scripts, with the same registry and outbox.
//!
//! # Delivery to other clients
//!
//! PUBLISH (from a client or from [`Server::call`]) encodes each message once per
//! receiver, in the receiver's protocol, into that receiver's [`outbox::Outbox`].
//! [`Server::has_deliveries`] tells the host after a feed that some are waiting and
//! [`Server::take_deliveries`] hands them over, client by client, for one write each.
//! The publishing client's own messages go out in its reply stream, before the PUBLISH
//! reply (Valkey writes them to its buffer first).

pub mod aof_load;
pub mod client_view;
pub mod counters;
pub mod info;
pub mod job_report;
mod busy_accept;
mod busy_io;
pub mod direct_send;
mod host_calls;
pub mod host_io;
pub mod host_records;
mod host_memory;
pub mod host_types;
pub mod jobs;
mod memory;
pub mod outbox;
pub mod persist;
pub mod primary_link;
pub mod pubsub;
pub mod repl;
pub mod repl_request;
pub mod settings;
pub mod snapshot;
pub mod step_status;
pub mod stream_buf;
pub mod wait_now;
pub mod write_gate;

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use forkv_engine::table::{self, Exec};
use forkv_engine::{Engine, Outcome, ServerCommands};
use forkv_keyspace::notify;

use crate::jobs::{JobPoll, JobSlot};
use crate::outbox::Outbox;
use crate::pubsub::{PubSub, Space};
use crate::repl::{Replication, SyncDecision};
pub use crate::busy_accept::{AcceptPolicy, BusyAccepted, ListenerKind};

/// Why [`Server::call`] could not run a command: the reply is then an error reply.
#[derive(Debug, PartialEq, Eq)]
pub enum CallError {
    /// No such client is registered.
    NoClient,
}

/// The state of the server's own commands: shared between [`Server`] and the runner it
/// installs in the engine for scripts ([`OwnRunner`]). Never borrowed across a dispatch,
/// so the two never hold it at once.
struct Own {
    /// Channel, pattern and shard channel subscriptions.
    pubsub: PubSub,
    /// Messages waiting for delivery, per receiving client.
    outbox: Outbox,
    /// Replication as a primary: IDs, offset, backlog, attached replicas (REPLCONF is
    /// one of the server's own commands).
    repl: Replication,
    /// Clients in MONITOR mode, in the order they entered it.
    monitors: Vec<u64>,
    /// The facts INFO needs from the host (see [`info`]).
    host_info: info::HostInfo,
    /// Raw socket descriptors of the clients a busy script may serve ([`busy_io`]).
    fds: busy_io::ClientFds,
    /// The host's plain TCP and unix listeners, on which a busy script accepts ([`busy_accept`]).
    listeners: Vec<busy_accept::Listener>,
    /// The host's accept-time refusals, applied to connections accepted while busy.
    accept_policy: AcceptPolicy,
    /// Connections accepted while busy, not yet adopted by the host.
    busy_accepted: Vec<BusyAccepted>,
    /// The last client id handed out (ids of the host's connections and the busy loop's).
    next_client_id: u64,
    /// Replicas whose stream started with their first ACK after a diskless transfer, not
    /// yet reported to the host.
    stream_started: Vec<u64>,
    /// The AOF's progress as of the host's last flush; None while the AOF is off.
    aof_marks: Option<wait_now::AofMarks>,
}

/// The server's own state as the engine's plug-ins share it.
type Shared = Rc<RefCell<Own>>;

/// The server: the engine, the pub/sub registry and the deliveries waiting for the host.
pub struct Server {
    /// The keyspace, the clients' protocol state and the command table's Rust handlers.
    pub engine: Engine,
    /// The one background job (BGSAVE or AOF rewrite child).
    pub jobs: JobSlot,
    own: Rc<RefCell<Own>>,
    /// True while an AOF is written: the stream is kept for it in `aof_stream`.
    aof_on: bool,
    aof_stream: Vec<u8>,
    /// The ACL generation last checked against the connections ([`Server::enforce_acl_changes`]).
    acl_generation: u64,
    /// The AOF being appended to, if any ([`persist::aof_job`]).
    pub aof: persist::aof_job::AofFile,
    /// Save rules, BGSAVE scheduling, the last save's status, MISCONF ([`persist::policy`]).
    pub rdb_policy: persist::policy::RdbPolicy,
    /// BGREWRITEAOF scheduling, automatic rewrites and their back-off ([`persist::policy`]).
    pub rewrite_policy: persist::policy::RewritePolicy,
    /// The load in progress and the last AOF load's manifest ([`persist::load`]).
    load: persist::load::LoadState,
    /// Whether the AOF is on, and its last write's error ([`persist::aof_state`]).
    aof_status: persist::aof_state::AofStatus,
    /// The end of a rewrite child a job report handed the host, kept for the AOF side's
    /// finish ([`Server::aof_rewrite_reaped_logged`]): the host passes nothing back.
    rewrite_end: Option<job_report::JobEnd>,
    /// `min-replicas-to-write` and the good replicas, for the write gate ([`write_gate`]).
    min_replicas: write_gate::MinReplicas,
    /// The replica's link to its primary: client, offset, FACK ([`primary_link`]).
    primary_link: primary_link::PrimaryLink,
}

/// The server's own commands as scripts reach them (see [`ServerCommands`]).
struct OwnRunner(Rc<RefCell<Own>>);

impl ServerCommands for OwnRunner {
    fn run(&mut self, engine: &mut Engine, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) -> bool {
        let own = &mut *self.0.borrow_mut();
        run_own(engine, own, id, argv, out) || run_from_host_facts(engine, own, id, argv, out)
    }

    fn take_own_messages(&mut self, id: u64) -> Option<Vec<u8>> {
        self.0.borrow_mut().outbox.take_for(id)
    }

    fn reset_client(&mut self, engine: &mut Engine, id: u64) {
        let own = &mut *self.0.borrow_mut();
        own.pubsub.drop_client(engine, id);
        own.monitors.retain(|&m| m != id);
        engine.monitor.set_on(!own.monitors.is_empty());
    }

    fn memory(&self, engine: &Engine) -> forkv_engine::memory_stats::ServerMemory {
        memory::server_memory(engine, &self.0.borrow())
    }
}

impl Server {
    /// A server over `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        let own = Rc::new(RefCell::new(Own {
            pubsub: PubSub::default(),
            outbox: Outbox::default(),
            repl: Replication::new(random_replid()),
            monitors: Vec::new(),
            host_info: info::HostInfo::default(),
            fds: busy_io::ClientFds::default(),
            listeners: Vec::new(),
            accept_policy: AcceptPolicy::default(),
            busy_accepted: Vec::new(),
            next_client_id: 0,
            stream_started: Vec::new(),
            aof_marks: None,
        }));
        let mut engine = Engine::new(databases);
        engine.set_server_commands(Box::new(OwnRunner(Rc::clone(&own))));
        engine.set_busy_events(Box::new(busy_io::BusyIo::new(Rc::clone(&own))));
        if let Some(seed) = os_random_seed() {
            engine.seed_secure_random(&seed);
        }
        Server { engine, jobs: JobSlot::default(), own, aof_on: false, aof_stream: Vec::new(), acl_generation: 0, aof: Default::default(), rdb_policy: persist::policy::RdbPolicy::new(persist::policy::unix_now()), rewrite_policy: Default::default(), load: Default::default(), aof_status: Default::default(), rewrite_end: None, min_replicas: Default::default(), primary_link: Default::default() }
    }

    /// Channel, pattern and shard channel subscriptions.
    pub fn pubsub(&self) -> Ref<'_, PubSub> {
        Ref::map(self.own.borrow(), |o| &o.pubsub)
    }

    /// The memory client `id` holds in the core, in bytes: [`forkv_engine::client::Client::memory_usage`]
    /// plus its pub/sub subscriptions and, for a replica still syncing, the stream buffered
    /// for it (its part of CLIENT LIST `tot-mem`, of INFO `mem_clients_*` and of client
    /// eviction's figure). 0 for an unknown id.
    pub fn client_memory(&self, id: u64) -> usize {
        let Some(c) = self.engine.client(id) else { return 0 };
        memory::client_memory(c, &self.own.borrow(), id)
    }

    /// Valkey's clientsCron for the clients the host visits this tick (a slice of them,
    /// so that the work per tick stays bounded): trims each one's query buffer when it is
    /// idle or far over its recent peak, and returns the memory each then holds in the
    /// core ([`Server::client_memory`]), in the order of `ids`.
    pub fn clients_cron(&mut self, ids: &[u64]) -> Vec<usize> {
        let now = forkv_engine::cmd::now_ms();
        ids.iter()
            .map(|&id| {
                self.engine.resize_query_buffer_of(id, now);
                self.client_memory(id)
            })
            .collect()
    }

    /// Replication as a primary: IDs, offset, backlog, attached replicas.
    pub fn repl(&self) -> Ref<'_, Replication> {
        Ref::map(self.own.borrow(), |o| &o.repl)
    }

    /// Replication state, for changes (configuration, the host's bookkeeping).
    pub fn repl_mut(&mut self) -> RefMut<'_, Replication> {
        RefMut::map(self.own.borrow_mut(), |o| &mut o.repl)
    }

    /// Records the AOF's progress (bytes appended, bytes fsynced) after a flush, for the
    /// WAITAOF a script calls (see [`wait_now`]).
    pub fn set_aof_marks(&mut self, appended: u64, synced: Option<u64>) {
        if self.aof_on {
            self.own.borrow_mut().aof_marks = Some(wait_now::AofMarks { appended, synced });
        }
    }

    /// Turns the AOF's share of the propagation stream on or off.
    pub fn set_aof(&mut self, on: bool) {
        self.pump_stream();
        self.aof_on = on;
        if !on {
            self.aof_stream.clear();
            self.own.borrow_mut().aof_marks = None;
        }
        self.update_propagation();
    }

    /// The stream is produced while an AOF or a replication backlog consumes it.
    fn update_propagation(&mut self) {
        let want = self.aof_on || self.own.borrow().repl.active();
        if want != self.engine.prop.enabled {
            self.engine.set_propagation(want);
        }
    }

    /// Moves the finished part of the propagation stream to its consumers: the AOF's
    /// buffer and the replication backlog and replicas. A command still executing keeps
    /// its bytes until it ends.
    pub fn pump_stream(&mut self) {
        if self.engine.prop.in_unit() || self.engine.prop.pending().is_empty() {
            return;
        }
        let replica_only = self.engine.prop.has_replica_only();
        let bytes = self.engine.prop.take();
        let own = &mut *self.own.borrow_mut();
        // A replica's replicas get its primary's stream instead (see repl_feed_upstream).
        if !own.repl.proxy {
            own.repl.feed(&bytes, &mut own.outbox);
        }
        if self.aof_on {
            if replica_only {
                self.aof_stream.extend_from_slice(&forkv_engine::propagate::without_replica_only(&bytes));
            } else if self.aof_stream.is_empty() {
                self.aof_stream = bytes;
            } else {
                self.aof_stream.extend_from_slice(&bytes);
            }
        }
        self.engine.stream_buffered_bytes = stream_buffered(&self.aof_stream, own);
    }

    /// Tells the engine how much of the stream this crate holds (see [`stream_buffered`])
    /// where `own` is not borrowed yet.
    fn refresh_stream_buffers(&mut self) {
        self.engine.stream_buffered_bytes = stream_buffered(&self.aof_stream, &self.own.borrow());
    }

    /// Takes the stream waiting for the AOF.
    pub fn take_aof_stream(&mut self) -> Vec<u8> {
        self.pump_stream();
        let taken = std::mem::take(&mut self.aof_stream);
        self.refresh_stream_buffers();
        taken
    }

    /// SYNC (`psync` None) or PSYNC replid offset from client `id`. On a partial resync
    /// the `+CONTINUE` line and the backlog's bytes are queued for the client; on a full
    /// sync the client waits for a BGSAVE (see [`Server::repl_bgsave_started`]).
    pub fn repl_sync(&mut self, id: u64, psync: Option<(&[u8], &[u8])>) -> SyncDecision {
        if let Some(e) = self.repl().sync_refusal(id) {
            return SyncDecision::Refused(e);
        }
        self.pump_stream();
        // A replica is never held by CLIENT PAUSE (its REPLCONF ACKs keep flowing).
        if let Some(c) = self.engine.client_mut(id) {
            c.replica = true;
        }
        if !self.own.borrow().repl.active() {
            // A new history begins with the backlog (Valkey's changeReplicationId).
            self.own.borrow_mut().repl.replid = random_replid();
        }
        let decision = {
            let own = &mut *self.own.borrow_mut();
            let decision = own.repl.sync(id, psync, now_ms());
            if let SyncDecision::Continue(bytes) = &decision {
                own.outbox.buffer(id).extend_from_slice(bytes);
            }
            decision
        };
        self.update_propagation();
        // A partial resync puts the replica online at once.
        self.refresh_good_replicas();
        decision
    }

    /// A replica waiting for a BGSAVE joins the one another replica started, if any; its
    /// `+FULLRESYNC` line (PSYNC only) is queued. True when it joined.
    pub fn repl_join_running(&mut self, id: u64, psync: bool) -> bool {
        let own = &mut *self.own.borrow_mut();
        if !own.repl.join_running_sync(id) {
            return false;
        }
        if psync {
            let line = own.repl.fullresync_line(id);
            own.outbox.buffer(id).extend_from_slice(&line);
        }
        self.engine.stream_buffered_bytes = stream_buffered(&self.aof_stream, own);
        true
    }

    /// A BGSAVE for replication was just forked: waiting replicas attach to it at the
    /// current offset; `psync_ids` get their `+FULLRESYNC` line. The stream after the
    /// fork starts with a SELECT. Returns the attached ids.
    pub fn repl_bgsave_started(&mut self, psync_ids: &[u64], socket: bool) -> Vec<u64> {
        self.pump_stream();
        let own = &mut *self.own.borrow_mut();
        let ids = own.repl.bgsave_started(socket);
        for &id in &ids {
            if psync_ids.contains(&id) {
                let line = own.repl.fullresync_line(id);
                own.outbox.buffer(id).extend_from_slice(&line);
            }
        }
        self.engine.prop.reset_db();
        self.engine.stream_buffered_bytes = stream_buffered(&self.aof_stream, own);
        ids
    }

    /// The snapshot was sent to replica `id`: it goes online; what was buffered since
    /// the fork is queued for it. False for a replica that asked for the snapshot only
    /// (`REPLCONF rdb-only 1`): the host closes it.
    pub fn repl_online(&mut self, id: u64) -> bool {
        self.pump_stream();
        let online = {
            let own = &mut *self.own.borrow_mut();
            match own.repl.online(id, now_ms()) {
                Some(pending) => {
                    if !pending.is_empty() {
                        own.outbox.buffer(id).extend_from_slice(&pending);
                    }
                    self.engine.stream_buffered_bytes = stream_buffered(&self.aof_stream, own);
                    true
                }
                None => false,
            }
        };
        self.refresh_good_replicas();
        online
    }

    /// A diskless transfer to replica `id` ended: it is online; its stream starts with its
    /// first REPLCONF ACK. False for a snapshot-only replica: the host closes it.
    pub fn repl_online_on_ack(&mut self, id: u64) -> bool {
        self.pump_stream();
        let online = self.own.borrow_mut().repl.online_on_ack(id, now_ms());
        self.refresh_good_replicas();
        online
    }

    /// The diskless transfer's end mark was written to these replicas: their first
    /// REPLCONF ACK puts them online (see [`repl::Replication::transfer_sent`]).
    pub fn repl_transfer_sent(&mut self, ids: &[u64]) {
        self.own.borrow_mut().repl.transfer_sent(ids);
    }

    /// Replicas whose stream started with an ACK since the last call (the host logs
    /// "Synchronization with replica .. succeeded" for them).
    pub fn repl_take_stream_started(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.own.borrow_mut().stream_started)
    }

    /// Replicas waiting for a BGSAVE to start, the longest wait (ms), whether all of those
    /// the next fork serves take a diskless transfer (announced `capa eof`), and whether
    /// they asked for a filtered snapshot (which only goes to their sockets).
    pub fn repl_waiting_start(&self) -> host_records::ReplWaiting {
        let r = self.repl();
        let (count, max_idle_ms) = r.waiting_start(now_ms());
        let filtered = r.fork_filter().is_some_and(|f| f.filtered());
        host_records::ReplWaiting { count, max_idle_ms, all_eof: r.waiting_all_eof(), filtered }
    }

    /// A primary becomes a replica: the replicas attached to it are returned (the host
    /// closes them, as Valkey does) and forgotten.
    pub fn repl_detach_replicas(&mut self) -> Vec<u64> {
        let ids = self.repl_mut().detach_all(now_ms());
        self.refresh_good_replicas();
        ids
    }

    /// INFO replication's rows of the attached replicas, as of now.
    pub fn repl_replicas_info(&self) -> Vec<repl::ReplicaInfo> {
        self.repl().info(now_ms())
    }

    /// INFO replication's primary fields, as of now.
    pub fn repl_info(&self) -> repl::ReplInfo {
        let replicas = self.repl_replicas_info();
        let r = self.repl();
        let (replid2, second_offset) = r.second();
        repl::ReplInfo {
            replid: r.replid.clone(),
            replid2: replid2.to_string(),
            offset: r.offset,
            second_offset,
            backlog_active: r.active(),
            backlog_first_byte_offset: r.backlog_first_byte_offset(),
            backlog_histlen: r.backlog_histlen(),
            replicas,
        }
    }

    /// A replica's full sync empties the dataset before the primary's loads (Valkey's
    /// emptyData); `lazy` (`replica-lazy-flush`) frees the old data on a background
    /// thread. Returns the number of keys there were.
    pub fn repl_empty_for_sync(&mut self, lazy: bool) -> u64 {
        self.engine.ks.empty_for_sync(lazy) as u64
    }

    /// Keys in every database (Valkey's dbTotalServerKeyCount: `repl-diskless-load
    /// on-empty-db` loads from the socket only into an empty dataset).
    pub fn db_total_keys(&self) -> u64 {
        snapshot::total_keys(&self.engine.ks)
    }

    /// DEBUG CHANGE-REPL-ID (see [`Replication::change_id`]): returns the new ID.
    pub fn repl_change_id(&mut self) -> String {
        let id = random_replid();
        self.repl_mut().change_id(id.clone());
        id
    }

    /// `repl-backlog-ttl` (see [`Replication::free_idle_backlog`]): true when the backlog
    /// was freed now.
    pub fn repl_free_idle_backlog(&mut self, ttl_secs: u64) -> bool {
        self.pump_stream();
        self.repl_mut().free_idle_backlog(ttl_secs, now_ms(), random_replid)
    }

    /// REPLICAOF NO ONE (see [`Replication::promote`]): returns the new replication ID.
    pub fn repl_promote(&mut self, primary_replid: &str, offset: u64) -> String {
        self.pump_stream();
        let id = random_replid();
        self.repl_mut().promote(primary_replid, offset, id.clone());
        // The stream we start begins with a SELECT: a replica that continues with us may
        // be in another database than the one our primary's stream left us in (Valkey's
        // replicationUnsetPrimary resets `replicas_eldb`).
        self.engine.prop.reset_db();
        id
    }

    /// This server replicates a primary (`on`) or not: while it does, its replicas get
    /// the primary's stream (fed by [`Server::repl_feed_upstream`]), not its own.
    pub fn repl_set_proxy(&mut self, on: bool) {
        self.pump_stream();
        self.own.borrow_mut().repl.proxy = on;
    }

    /// Bytes of the primary's stream this replica applied: to its backlog and its own
    /// replicas, unchanged, so that they share the primary's replication ID and offsets.
    pub fn repl_feed_upstream(&mut self, bytes: &[u8]) {
        self.pump_stream();
        let own = &mut *self.own.borrow_mut();
        own.repl.feed(bytes, &mut own.outbox);
        self.engine.stream_buffered_bytes = stream_buffered(&self.aof_stream, own);
    }

    /// The replica loaded its primary's snapshot of history `replid` at `offset` (see
    /// [`Replication::adopt_primary`]).
    pub fn repl_adopt_primary(&mut self, replid: &str, offset: u64) {
        self.pump_stream();
        self.own.borrow_mut().repl.adopt_primary(replid, offset);
        self.update_propagation();
    }

    /// After the start-up load of a primary (Valkey's loadDataFromDisk): each key the load
    /// skipped as expired is propagated as a DEL (UNLINK with `lazyfree-lazy-expire`) into
    /// a new backlog, to the replicas only (never the AOF, as replicationFeedReplicas);
    /// then a snapshot with its `repl-id`/`repl-offset` (`history`) makes that history the
    /// second ID, its offset rebased on it (see [`Replication::restore_primary`]), so that
    /// the replicas continue and delete those keys too. Without a history the backlog
    /// goes again, the offset kept, as Valkey's does.
    pub fn repl_restore_primary(&mut self, history: Option<(&str, u64)>) {
        self.pump_stream();
        let expired = self.take_expired_at_start();
        if !expired.is_empty() {
            self.own.borrow_mut().repl.open_backlog();
            self.update_propagation();
            // The stream starts with its SELECT (Valkey's replicas_eldb is -1 at start).
            self.engine.prop.reset_db();
            self.engine.prop.log_expired(&expired, self.engine.ks.lazyfree.expire);
            let bytes = self.engine.prop.take();
            let own = &mut *self.own.borrow_mut();
            own.repl.feed(&bytes, &mut own.outbox);
        }
        match history {
            Some((replid, offset)) => {
                self.own.borrow_mut().repl.restore_primary(replid, offset, now_ms());
                if expired.is_empty() {
                    self.engine.prop.reset_db();
                }
            }
            None => self.own.borrow_mut().repl.drop_backlog(),
        }
        self.update_propagation();
        self.refresh_stream_buffers();
    }

    /// The database the replication stream last selected (Valkey's `replicas_eldb`; None
    /// when the next command starts with a SELECT).
    pub fn repl_stream_db(&self) -> Option<usize> {
        self.engine.prop.last_db()
    }

    /// The replica continued with its primary (see [`Replication::continue_primary`]):
    /// true when the replication ID changed.
    pub fn repl_continue_primary(&mut self, replid: &str, offset: u64) -> bool {
        self.pump_stream();
        let changed = self.own.borrow_mut().repl.continue_primary(replid, offset);
        self.update_propagation();
        changed
    }

    /// Once per second (replicationCron): a PING into the stream every `ping_period`
    /// seconds when `ping` is set (a primary only: a replica passes on its primary's),
    /// and a newline to replicas still waiting for their snapshot.
    pub fn repl_cron(&mut self, ping: bool) {
        self.pump_stream();
        let own = &mut *self.own.borrow_mut();
        if ping && !own.repl.proxy && own.repl.has_replicas() {
            own.repl.feed(b"*1\r\n$4\r\nPING\r\n", &mut own.outbox);
        }
        own.repl.keepalive_newlines(&mut own.outbox);
    }

    /// WAIT: `REPLCONF GETACK *` into the stream, so that online replicas acknowledge
    /// their offset now rather than at their next once-a-second ACK. False without
    /// replicas (nothing is sent).
    pub fn repl_request_ack(&mut self) -> bool {
        self.pump_stream();
        let own = &mut *self.own.borrow_mut();
        if own.repl.proxy || own.repl.online_count() == 0 {
            return false;
        }
        own.repl.feed(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n", &mut own.outbox);
        true
    }

    /// Registers a connection.
    pub fn add_client(&mut self, id: u64) {
        self.engine.add_client(id);
    }

    /// Registers the link to this server's primary as client `id` (Valkey's primary
    /// client): its commands are obeyed on a read-only replica, without ACL checks.
    pub fn add_primary_client(&mut self, id: u64) {
        self.add_client(id);
        self.primary_link.set_client(id);
        if let Some(c) = self.engine.client_mut(id) {
            c.primary = true;
            c.authenticated = true;
            c.user = None;
        }
    }

    /// CONFIG RESETSTAT: the engine's counters and the full/partial sync counts.
    pub fn reset_stats(&mut self) {
        self.engine.reset_stats();
        self.repl_mut().sync_stats = Default::default();
    }

    /// The raw socket of client `id` (a plain TCP or unix connection), which a busy
    /// script may read and write directly (see [`busy_io`]). Clients without one wait
    /// for the script's end.
    pub fn set_client_fd(&mut self, id: u64, fd: i32) {
        if fd >= 0 {
            self.own.borrow_mut().fds.insert(id, fd);
            if let Some(c) = self.engine.client_mut(id) {
                c.socket_fd = Some(fd);
            }
        }
    }

    /// A new client id (one counter for the host's connections, its internal clients
    /// and the connections a busy script accepts).
    pub fn allocate_client_id(&mut self) -> u64 {
        let own = &mut *self.own.borrow_mut();
        own.next_client_id += 1;
        own.next_client_id
    }

    /// The descriptors of the host's listening sockets (plain TCP, unix, its TLS bridge),
    /// on which a busy script accepts new connections (see [`busy_accept`]).
    pub fn set_busy_listeners(&mut self, listeners: &[(i32, ListenerKind)]) {
        self.own.borrow_mut().listeners = listeners.iter().filter(|(fd, _)| *fd >= 0).map(|&(fd, kind)| busy_accept::Listener { fd, kind }).collect();
    }

    /// The host's accept-time rules for connections accepted while a script is busy.
    pub fn set_accept_policy(&mut self, policy: AcceptPolicy) {
        self.own.borrow_mut().accept_policy = policy;
    }

    /// Connections accepted while a script was busy, for the host to adopt.
    pub fn take_busy_accepted(&mut self) -> Vec<BusyAccepted> {
        std::mem::take(&mut self.own.borrow_mut().busy_accepted)
    }

    /// Connections accepted while busy, or clients HELLO/RESET changed while busy,
    /// wait for the host.
    pub fn has_busy_accepted(&self) -> bool {
        !self.own.borrow().busy_accepted.is_empty() || self.engine.has_busy_client_changes()
    }

    /// The host holds output for client `id` that its socket has not taken yet (or no
    /// longer): a busy script leaves such a client alone.
    pub fn set_output_pending(&mut self, id: u64, pending: bool) {
        if let Some(c) = self.engine.client_mut(id) {
            c.output_pending = pending;
        }
    }

    /// Forgets a connection: its subscriptions, undelivered messages, WATCHed keys and
    /// blocked command.
    pub fn remove_client(&mut self, id: u64) {
        self.primary_link.forget_client(id);
        let mut own = self.own.borrow_mut();
        own.pubsub.drop_client(&mut self.engine, id);
        own.outbox.drop_client(id);
        let was_replica = own.repl.is_replica(id);
        own.repl.remove(id, now_ms());
        own.fds.remove(&id);
        drop(own);
        if was_replica {
            self.refresh_good_replicas();
        }
        self.refresh_stream_buffers();
        self.reset_monitor(id);
        self.engine.remove_client(id);
    }

    /// Takes a client out of MONITOR mode (RESET, disconnection).
    pub fn reset_monitor(&mut self, id: u64) {
        let mut own = self.own.borrow_mut();
        own.monitors.retain(|&m| m != id);
        let on = !own.monitors.is_empty();
        drop(own);
        self.engine.monitor.set_on(on);
    }

    /// True when client `id` is in MONITOR mode (CLIENT LIST flag `O`).
    pub fn is_monitor(&self, id: u64) -> bool {
        self.own.borrow().monitors.contains(&id)
    }

    /// Copies the MONITOR lines the engine recorded to every monitoring client.
    fn deliver_monitor_lines(&mut self) {
        if !self.engine.monitor.has_lines() {
            return;
        }
        let lines = self.engine.monitor.take();
        let own = &mut *self.own.borrow_mut();
        for &m in &own.monitors {
            own.outbox.buffer(m).extend_from_slice(&lines);
        }
    }

    /// Drops a client's subscriptions silently (RESET).
    pub fn reset_pubsub(&mut self, id: u64) {
        self.own.borrow_mut().pubsub.drop_client(&mut self.engine, id);
    }

    /// Handles one socket read from client `id` (see [`Engine::feed`]); the replies are
    /// in `engine.reply()`. Never returns a command of the server's own.
    pub fn feed(&mut self, id: u64, chunk: &[u8]) -> Outcome {
        let outcome = self.engine.feed(id, chunk);
        self.settle(id, outcome)
    }

    /// Continues after the host ran a command (see [`Engine::resume`]).
    pub fn resume(&mut self, id: u64, host_reply: &[u8]) -> Outcome {
        // The host's error replies count in errorstats as the engine's do.
        self.engine.count_host_reply(host_reply);
        let outcome = self.engine.resume(id, host_reply);
        self.settle(id, outcome)
    }

    /// Continues a woken client (see [`Engine::wake`]).
    pub fn wake(&mut self, id: u64) -> Outcome {
        let outcome = self.engine.wake(id);
        self.settle(id, outcome)
    }

    /// Runs the server's own commands the engine handed up, until the outcome is one
    /// for the host.
    fn settle(&mut self, id: u64, mut outcome: Outcome) -> Outcome {
        loop {
            self.enforce_acl_changes();
            self.publish_events();
            self.deliver_monitor_lines();
            let Outcome::Host(argv) = &outcome else {
                self.pump_stream();
                // The batch is over: BCAST invalidations go out (Valkey: before sleeping).
                self.engine.tracking_broadcast();
                self.deliver_invalidations();
                return outcome;
            };
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            let mut reply = Vec::new();
            if !self.run_own(id, &args, &mut reply) {
                self.pump_stream();
                self.deliver_invalidations();
                return outcome;
            }
            // REPLCONF ACK may have handed a replica's buffered stream on.
            self.refresh_stream_buffers();
            // Messages the command published to its own client follow the reply of the
            // top-level command (after EXEC's whole reply inside MULTI).
            if self.own.borrow().outbox.has(id) {
                self.engine.note_own_messages();
            }
            outcome = self.engine.resume(id, &reply);
        }
    }

    /// After users changed (ACL SETUSER, DELUSER, LOAD): connections authenticated as a
    /// user that no longer exists, and subscribers whose user no longer allows one of
    /// their channels or patterns, are closed (Valkey's ACLKillPubsubClientsIfNeeded and
    /// the disconnection of a deleted user's clients). The caller gets its reply first.
    fn enforce_acl_changes(&mut self) {
        if self.engine.acl.generation == self.acl_generation {
            return;
        }
        self.acl_generation = self.engine.acl.generation;
        let engine = &self.engine;
        let user_of = |id: u64| engine.client(id).and_then(|c| c.user.clone());
        let mut doomed: Vec<u64> = engine
            .clients_iter()
            .filter(|c| c.user.as_deref().is_some_and(|u| engine.acl.user(u).is_none()))
            .map(|c| c.id)
            .collect();
        let refused = self.own.borrow().pubsub.clients_refused(|id, name, pattern| {
            user_of(id).is_none_or(|u| engine.acl.may_keep_subscription(&u, name, pattern))
        });
        doomed.extend(refused);
        for id in doomed {
            self.engine.close_soon(id);
        }
    }

    /// Moves the client-side caching invalidations the engine encoded for clients into
    /// their outboxes (after the current client's replies: a message a command caused
    /// for its own client is already in its reply stream, after the reply).
    fn deliver_invalidations(&mut self) {
        if !self.engine.csc.has_deliveries() {
            return;
        }
        let own = &mut *self.own.borrow_mut();
        for (id, bytes) in self.engine.csc.take_deliveries() {
            own.outbox.buffer(id).extend_from_slice(&bytes);
        }
    }

    /// Runs one of the server's own commands (see [`run_own`]).
    fn run_own(&mut self, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) -> bool {
        run_own(&mut self.engine, &mut self.own.borrow_mut(), id, argv, out)
    }

    /// Runs one command for client `id` synchronously and returns its encoded reply:
    /// the entry point for code running inside a command (scripts). Blocking commands
    /// answer as their non-blocking form; a command only the host can run gets an error
    /// reply. The caller checks script-specific rules (`noscript` flags) first.
    pub fn call(&mut self, id: u64, argv: &[&[u8]]) -> Result<Vec<u8>, CallError> {
        let Some(client) = self.engine.client_mut(id) else {
            return Err(CallError::NoClient);
        };
        if argv.is_empty() {
            return Ok(b"-ERR wrong number of arguments\r\n".to_vec());
        }
        let was_nonblocking = std::mem::replace(&mut client.nonblocking_call, true);
        let start = self.engine.reply().len();
        let outcome = self.engine.dispatch(id, argv);
        let mut reply = self.engine.reply_mut().split_off(start);
        if let Outcome::Host(host_argv) = outcome {
            self.engine.end_host_command(id);
            let args: Vec<&[u8]> = host_argv.iter().map(Vec::as_slice).collect();
            let ran = self.run_own(id, &args, &mut reply) || run_from_host_facts(&mut self.engine, &self.own.borrow(), id, &args, &mut reply);
            if !ran {
                let name = String::from_utf8_lossy(argv[0]).to_lowercase();
                reply = format!("-ERR '{name}' command is not available from inside another command\r\n").into_bytes();
            }
        }
        self.publish_events();
        self.deliver_monitor_lines();
        // Messages to the calling client follow the reply of the command that made this
        // call (Valkey's pending_push_messages).
        if self.own.borrow().outbox.has(id) {
            self.engine.note_own_messages();
        }
        if let Some(c) = self.engine.client_mut(id) {
            c.nonblocking_call = was_nonblocking;
        }
        Ok(reply)
    }

    /// Periodic work (Valkey's databasesCron): the active expire cycle within `budget`,
    /// each deleted key propagated; incremental rehashing when `rehash` (the caller
    /// says no when a fork child shares the pages).
    pub fn cron(&mut self, budget: std::time::Duration, rehash: bool) {
        // A CLIENT PAUSE past its deadline ends here when no command came to end it;
        // the clients it held are among the woken ones the host serves.
        self.engine.update_pause();
        // Forked Lua debugging sessions that ended (Valkey's checkChildrenDone).
        self.engine.reap_ldb_children();
        let ks = &mut self.engine.ks;
        ks.set_now(forkv_engine::cmd::now_ms());
        // Not while a load runs (Valkey runs no serverCron then): the keys that are about
        // to be replaced (DEBUG LOADAOF) must not expire into the AOF being loaded.
        if !self.engine.cfg.loading {
            let started = std::time::Instant::now();
            ks.active_expire_cycle(budget);
            self.engine.latency.add_if_needed("expire-cycle", started.elapsed().as_millis() as u64);
        }
        let ks = &mut self.engine.ks;
        ks.resize_tables();
        // Rehashing moves entries: never while a fork child shares the pages.
        if rehash && !self.jobs.is_running() {
            ks.rehash_step(100);
        }
        self.engine.propagate_expired();
        self.publish_events();
        // MIGRATE's connections unused for ten seconds (Valkey's migrateCloseTimedoutSockets).
        let now = forkv_engine::cmd::now_ms();
        self.engine.migrate.close_idle(now / 1000);
        // Keys the cycle deleted, the key-table limit, the BCAST batch.
        self.engine.tracking_cron();
        self.deliver_invalidations();
        // Acknowledgements age: the good replicas behind min-replicas-to-write.
        self.refresh_good_replicas();
    }

    /// An eviction pass for the host (after CONFIG SET maxmemory, and from the cron, as
    /// Valkey's eviction time proc): evicts, then queues what the evicted keys cause for
    /// other clients (client-side caching invalidations, then `evicted` events), for the
    /// host to write out right away.
    pub fn evict(&mut self) -> forkv_engine::evict::EvictResult {
        let result = self.engine.perform_evictions();
        self.deliver_invalidations();
        self.publish_events();
        result
    }

    /// Publishes the keyspace events raised since the last call (see
    /// [`forkv_keyspace::notify`]): each on `__keyspace@<db>__:<key>` (message: the
    /// event) and then `__keyevent@<db>__:<event>` (message: the key), as the
    /// `notify-keyspace-events` flags ask.
    pub fn publish_events(&mut self) {
        if !self.engine.ks.notify.has_events() {
            return;
        }
        let flags = self.engine.ks.notify.flags();
        let events = self.engine.ks.notify.take();
        let mut own = self.own.borrow_mut();
        let own = &mut *own;
        for ev in events {
            if flags & notify::KEYSPACE != 0 {
                let mut channel = format!("__keyspace@{}__:", ev.db).into_bytes();
                channel.extend_from_slice(&ev.key);
                own.pubsub.publish(&self.engine, &mut own.outbox, Space::Channel, &channel, ev.event.as_bytes());
            }
            if flags & notify::KEYEVENT != 0 {
                let channel = format!("__keyevent@{}__:{}", ev.db, ev.event);
                own.pubsub.publish(&self.engine, &mut own.outbox, Space::Channel, channel.as_bytes(), &ev.key);
            }
        }
    }

    /// Replaces a group of the host's INFO facts (see [`info::HostInfo::set`]); false for
    /// an unknown group.
    pub fn set_host_info(&mut self, group: &str, fields: Vec<(String, String)>) -> bool {
        self.own.borrow_mut().host_info.set(group, fields)
    }

    /// Sets the host's single INFO facts in `fields`, keeping the others (see
    /// [`info::HostInfo::merge_facts`]).
    pub fn merge_host_facts(&mut self, fields: Vec<(String, String)>) {
        self.own.borrow_mut().host_info.merge_facts(fields);
    }

    /// INFO for the requested sections (see [`info`]).
    pub fn info(&mut self, sections: &[&[u8]]) -> String {
        self.refresh_persistence_info();
        let own = self.own.borrow();
        let memory = memory::server_memory(&self.engine, &own);
        info::render(&mut self.engine, &own.host_info, own.pubsub.stats(), info::ReplFacts::of(&own.repl), memory, sections)
    }

    /// Takes a freshly forked child into the job slot: the keyspace stops moving entries
    /// (no rehash, no resize) while the child shares its pages, and the dirty counter at
    /// fork is kept for the save's bookkeeping.
    pub fn adopt_job(&mut self, child: forkv_snapshot::ChildHandle, target: jobs::JobTarget, temp: Option<std::path::PathBuf>) {
        // Valkey's serverFork: the `fork` latency event and the fork rate DOCTOR rates.
        let fork_usec = child.fork_usec();
        if fork_usec > 0 {
            let used = self.engine.used_memory() as f64;
            self.engine.latency.fork_rate = used * 1_000_000.0 / fork_usec as f64 / (1024.0 * 1024.0 * 1024.0);
        }
        self.engine.latency.add_if_needed("fork", fork_usec / 1000);
        let dirty = self.engine.ks.dirty;
        self.jobs.adopt(child, target, temp, dirty);
        self.engine.ks.set_child_active(true);
    }

    /// Drains the running job's reports and reaps it if it ended (never waits).
    pub fn poll_job(&mut self) -> Option<JobPoll> {
        let poll = self.jobs.poll()?;
        if let Some(ms) = poll.unlink_ms {
            self.engine.latency.add_if_needed("rdb-unlink-temp-file", ms);
        }
        if let Some(exit) = &poll.done {
            self.engine.ks.set_child_active(false);
            self.job_ended(exit, poll.target);
        }
        Some(poll)
    }

    /// Polls the running job until it is reaped or `timeout` passes.
    pub fn wait_job(&mut self, timeout: std::time::Duration) -> Option<JobPoll> {
        let poll = self.jobs.wait(timeout)?;
        if let Some(exit) = &poll.done {
            self.engine.ks.set_child_active(false);
            self.job_ended(exit, poll.target);
        }
        Some(poll)
    }

    /// After a successful save: forget the changes the snapshot covers; those made while
    /// the child was writing stay counted, as in Valkey.
    pub fn saved_changes(&mut self, covered: u64) {
        let ks = &mut self.engine.ks;
        ks.dirty = ks.dirty.saturating_sub(covered);
    }

    /// True when messages wait for delivery to clients (see [`Server::take_deliveries`]).
    pub fn has_deliveries(&self) -> bool {
        !self.own.borrow().outbox.is_empty()
    }

    /// Takes every waiting delivery: (client id, bytes to write), one entry per client.
    pub fn take_deliveries(&mut self) -> Vec<(u64, Vec<u8>)> {
        self.own.borrow_mut().outbox.take()
    }
}

/// The stream this crate holds for the AOF and for replicas still syncing (or waiting for
/// their first ACK): with the AOF buffer and replica output, memory Valkey leaves out of what
/// `maxmemory` counts (freeMemoryGetNotCountedMemory). The engine is told wherever those
/// buffers change, so that an eviction check never sees a stale figure: a full sync's
/// buffered stream would otherwise count as data and evict keys (unit/maxmemory's
/// replica-buffer cases).
fn stream_buffered(aof_stream: &[u8], own: &Own) -> usize {
    aof_stream.len() + own.repl.pending_bytes()
}

/// Runs one of the server's own commands (`Exec::Server`), appending its reply to
/// `out`; false when `argv` names a command that is not one. A command that panics
/// fails alone (an error reply and a BUG log line), as the engine's do.
fn run_own(engine: &mut Engine, own: &mut Own, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) -> bool {
    let Some(spec) = argv.first().and_then(|name| table::lookup(name)) else {
        return false;
    };
    if !is_own(spec) {
        return false;
    }
    let mark = out.len();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_own_spec(engine, own, spec, id, argv, out)));
    if let Err(payload) = run {
        out.truncate(mark);
        let err = forkv_engine::panicked(&mut engine.logs, spec, argv, payload.as_ref());
        let proto = engine.client(id).map_or(2, |c| c.proto);
        forkv_engine::reply::Reply::new(out, proto).error(&err);
    }
    true
}

fn run_own_spec(engine: &mut Engine, own: &mut Own, spec: &'static table::CommandSpec, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) {
    let names = &argv[1..];
    let proto = engine.client(id).map_or(2, |c| c.proto);
    match spec.name {
        "subscribe" => own.pubsub.subscribe(engine, id, Space::Channel, names, out),
        "psubscribe" => own.pubsub.subscribe(engine, id, Space::Pattern, names, out),
        "ssubscribe" => own.pubsub.subscribe(engine, id, Space::Shard, names, out),
        "unsubscribe" => own.pubsub.unsubscribe(engine, id, Space::Channel, names, out),
        "punsubscribe" => own.pubsub.unsubscribe(engine, id, Space::Pattern, names, out),
        "sunsubscribe" => own.pubsub.unsubscribe(engine, id, Space::Shard, names, out),
        "publish" | "spublish" => {
            let space = if spec.name == "publish" { Space::Channel } else { Space::Shard };
            let (channel, message) = (argv.get(1).copied().unwrap_or_default(), argv.get(2).copied().unwrap_or_default());
            let n = own.pubsub.publish(engine, &mut own.outbox, space, channel, message);
            // The replicas' subscribers get it too (never the AOF; see forkv_engine::propagate).
            if own.repl.active() {
                let db = engine.client(id).map_or(0, |c| c.db);
                engine.prop.log_for_replicas(db, argv);
            }
            forkv_engine::reply::Reply::new(out, proto).int(n as i64);
        }
        "pubsub" => pubsub::introspect(&own.pubsub, proto, argv, out),
        // Valkey ignores a second MONITOR (no reply) from a client already in the mode.
        "monitor" => {
            if !own.monitors.contains(&id) {
                own.monitors.push(id);
                engine.monitor.set_on(true);
                forkv_engine::reply::Reply::new(out, proto).ok();
            }
        }
        "replconf" => match own.repl.replconf(id, names, now_ms()) {
            Some(Ok(())) => forkv_engine::reply::Reply::new(out, proto).ok(),
            Some(Err(e)) => forkv_engine::reply::Reply::new(out, proto).error(&e),
            None => {
                // The first ACK after a diskless transfer starts the replica's stream.
                if let Some(pending) = own.repl.start_stream_on_ack(id, now_ms()) {
                    own.outbox.buffer(id).extend_from_slice(&pending);
                    own.stream_started.push(id);
                }
            }
        },
        // `is_own` and this match list the same commands (a test checks it).
        _ => forkv_engine::reply::Reply::new(out, proto).error(&format!("ERR unknown command '{}'", spec.name)),
    }
}

/// The host commands a command running inside the server (a script) may call, answered
/// from the facts the host last pushed (see [`info`]): INFO and LASTSAVE. Clients get
/// them from the host, which pushes fresh facts first. False for another command.
fn run_from_host_facts(engine: &mut Engine, own: &Own, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) -> bool {
    let Some(spec) = argv.first().and_then(|name| table::lookup(name)) else {
        return false;
    };
    let proto = engine.client(id).map_or(2, |c| c.proto);
    match spec.name {
        "info" => {
            let memory = memory::server_memory(engine, own);
            let text = info::render(engine, &own.host_info, own.pubsub.stats(), info::ReplFacts::of(&own.repl), memory, &argv[1..]);
            forkv_engine::reply::Reply::new(out, proto).verbatim(text.as_bytes(), "txt");
        }
        "lastsave" => {
            let at = own.host_info.persistence.iter().find(|(k, _)| k == "rdb_last_save_time").map_or(0, |(_, v)| v.parse().unwrap_or(0));
            forkv_engine::reply::Reply::new(out, proto).int(at);
        }
        // A client that may block is served by the host, which waits.
        "wait" if engine.client(id).is_some_and(|c| c.deny_blocking()) => wait_now::wait(engine, &own.repl, id, argv, out),
        "waitaof" if engine.client(id).is_some_and(|c| c.deny_blocking()) => {
            wait_now::waitaof(engine, &own.repl, own.aof_marks, id, argv, out)
        }
        _ => return false,
    }
    true
}

/// Milliseconds since the epoch, unsigned.
/// A host command's argv as the host takes it: a `rename-command` NEW name is handed
/// over as the command it names, by the table's own name (the host dispatches on those).
pub fn host_argv(mut argv: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    if let Some(spec) = argv.first().and_then(|first| table::lookup(first)) {
        argv[0] = spec.name.as_bytes().to_vec();
    }
    argv
}

fn now_ms() -> u64 {
    forkv_engine::cmd::now_ms().max(0) as u64
}

/// A fresh replication ID: 40 hex characters (Valkey's getRandomHexChars).
fn random_replid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    let mut n = 0u64;
    while out.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        out.push_str(&format!("{:016x}", h.finish()));
        n += 1;
    }
    out.truncate(40);
    out
}

/// True for the commands this crate runs (`Exec::Server`, or a container whose
/// subcommands are).
fn is_own(spec: &table::CommandSpec) -> bool {
    match spec.exec {
        Exec::Server => true,
        Exec::Container => spec.subcommands.iter().all(|s| matches!(s.exec, Exec::Server)),
        _ => false,
    }
}

/// 32 bytes from the operating system's CSPRNG, the seed of the engine's random source
/// for secrets (ACL GENPASS); `None` where the device cannot be read (GENPASS then
/// refuses rather than print a guessable password).
fn os_random_seed() -> Option<[u8; 32]> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)).ok()?;
    Some(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_command_in_the_table_is_run_here() {
        let mut s = Server::new(1);
        s.add_client(1);
        let mut checked = 0;
        for spec in table::all() {
            if !is_own(spec) {
                continue;
            }
            let name = spec.name.as_bytes();
            let argv: Vec<&[u8]> = match spec.name {
                "pubsub" => vec![name, b"numpat"],
                "publish" | "spublish" => vec![name, b"c", b"m"],
                "replconf" => vec![name, b"listening-port", b"1"],
                "monitor" => vec![name],
                _ => vec![name, b"c"],
            };
            let mut out = Vec::new();
            assert!(s.run_own(1, &argv, &mut out), "{} is Exec::Server but not run by the server", spec.name);
            assert!(!out.is_empty());
            assert!(!out.starts_with(b"-ERR unknown command"), "{} has no implementation here", spec.name);
            checked += 1;
        }
        assert!(checked >= 9);
    }
}

