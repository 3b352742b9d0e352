//! `Core`: the JavaScript-facing object that owns one engine (keyspace + clients).
//!
//! Hot path: `feed(id, chunk)` is the one napi crossing per socket read. It returns the
//! replies as one Buffer whose LAST byte is a status code (see
//! [`forkv_server::step_status`]): packing the status into the reply avoids building a
//! result object per read. The TypeScript wrapper (`ts/native/core.ts`) strips it.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_engine::Outcome;
use forkv_server::host_records::{command_rows, rename_pairs, ClientProtoName, Delivery, EngineLogLine, RenameError};
use forkv_server::Server;

use crate::host_types::{record_opt, records};

/// The core: one keyspace and its clients.
#[napi]
pub struct Core {
    pub(crate) server: Server,
    host_argv: Vec<Vec<u8>>,
    /// The host's buffers for `feedRead` (see `bindIo` and fastpath.rs).
    pub(crate) io: Option<crate::fastpath::IoBuffers>,
    /// Deliveries taken from the server that `takeDeliveriesInto` could not fit yet.
    pub(crate) deliveries: forkv_server::host_io::DeliveryRecords,
}

impl Drop for Core {
    fn drop(&mut self) {
        crate::fastpath::unregister(self);
    }
}

#[napi]
impl Core {
    /// The panic an error reply to the primary asked for (`propagation-error-behavior`):
    /// its message; the host logs it as Valkey's serverPanic and stops the server.
    #[napi]
    pub fn take_panic_request(&mut self) -> Option<String> {
        self.server.take_panic_request()
    }

    /// A core with `databases` empty databases.
    #[napi(constructor)]
    pub fn new(databases: u32) -> Self {
        crate::alloc::register_hooks();
        let mut server = Server::new(databases as usize);
        server.install_memory_probe(crate::alloc::used_bytes);
        Core { server, host_argv: Vec::new(), io: None, deliveries: Default::default() }
    }

    /// Hands the core the host's buffers for `feedRead` (see fastpath.rs): the shared read
    /// buffer, the reply buffer (again whenever the host replaces it) and a 16-byte result
    /// slot. The core keeps references to them until they are replaced or it is dropped.
    #[napi]
    pub fn bind_io(&mut self, input: Buffer, out: Buffer, slot: Buffer) -> Result<()> {
        self.io = Some(crate::fastpath::IoBuffers::new(input, out, slot)?);
        crate::fastpath::register(self);
        Ok(())
    }

    /// The read path's function, `feedRead(core, id, len, fd)`: runs `len` bytes of the
    /// bound read buffer for client `id`; sends the replies to `fd` when it is not -1 (an
    /// idle plain socket) and copies what remains to the bound reply buffer. Returns
    /// `remaining_reply_length * 256 + status` (the status byte of `feed`); the result
    /// slot gets the client's memory and the bytes sent (two f64, native endian).
    #[napi(ts_return_type = "(core: Core, id: number, len: number, fd: number) => number")]
    pub fn feed_read_function(env: &Env) -> Result<Function<'_, (), f64>> {
        env.create_function::<(), f64>("feedRead", crate::fastpath::feed_read)
    }

    /// `wakeRead(core, id, fd)`: as `wake`, with the result handed over as `feedRead`
    /// hands it (see fastpath.rs).
    #[napi(ts_return_type = "(core: Core, id: number, fd: number) => number")]
    pub fn wake_read_function(env: &Env) -> Result<Function<'_, (), f64>> {
        env.create_function::<(), f64>("wakeRead", crate::fastpath::wake_read)
    }

    /// `resumeRead(core, id, fd, hostReply)`: as `resume`, with the result handed over as
    /// `feedRead` hands it (see fastpath.rs).
    #[napi(ts_return_type = "(core: Core, id: number, fd: number, hostReply: Buffer) => number")]
    pub fn resume_read_function(env: &Env) -> Result<Function<'_, (), f64>> {
        env.create_function::<(), f64>("resumeRead", crate::fastpath::resume_read)
    }

    /// `takeDeliveriesInto(core)`: the deliveries as records in the bound reply buffer
    /// (see fastpath.rs); returns `bytes * 2 + more`.
    #[napi(ts_return_type = "(core: Core) => number")]
    pub fn take_deliveries_into_function(env: &Env) -> Result<Function<'_, (), f64>> {
        env.create_function::<(), f64>("takeDeliveriesInto", crate::fastpath::take_deliveries_into)
    }

    /// Takes the process memory figures the host samples on its cron tick (MEMORY STATS,
    /// DOCTOR): resident set size and the peak of allocated bytes it has seen. The
    /// allocated bytes are read at the same instant.
    #[napi]
    pub fn sample_memory(&mut self, rss: f64, peak: f64) {
        self.server.sample_host_memory(rss as usize, peak as usize);
    }

    /// Registers a connection; `peer` is its address as CLIENT LIST and SLOWLOG show it
    /// (`ip:port`, `<socket path>:0` for a client of the unix socket, `unix`);
    /// `debug_allowed`/`module_allowed` apply `enable-debug-command`/`enable-module-command`.
    #[napi]
    pub fn add_client(&mut self, id: u32, debug_allowed: bool, module_allowed: bool, peer: String, unix: bool) {
        self.server.add_client(u64::from(id));
        self.set_client_info(id, debug_allowed, module_allowed, peer, unix);
    }

    /// Sets what the host knows of a registered client (as `addClient`), for a
    /// connection a busy script accepted and registered already.
    #[napi]
    pub fn set_client_info(&mut self, id: u32, debug_allowed: bool, module_allowed: bool, peer: String, unix: bool) {
        self.server.set_client_info(u64::from(id), debug_allowed, module_allowed, peer, unix);
    }

    /// SHUTDOWN waits for its replicas: writes are paused (`on`) until the shutdown is
    /// cancelled (`!on`). True when held clients were woken (the host serves them).
    #[napi]
    pub fn pause_for_shutdown(&mut self, on: bool) -> bool {
        self.server.pause_for_shutdown(on)
    }

    /// A FAILOVER runs: writes are paused (`on`) until it ends (`!on`). True when held
    /// clients were woken (the host serves them).
    #[napi]
    pub fn pause_for_failover(&mut self, on: bool) -> bool {
        self.server.pause_for_failover(on)
    }

    /// A new client id (connections and internal clients: one counter with the
    /// connections a busy script accepts).
    #[napi]
    pub fn allocate_client_id(&mut self) -> u32 {
        self.server.allocate_client_id() as u32
    }

    /// The descriptors of the plain TCP and unix listening sockets and of the TLS bridge
    /// (the private socket on which the host's TLS worker forwards TLS clients), on which
    /// a busy script accepts new connections.
    #[napi]
    pub fn set_busy_listeners(&mut self, tcp: Vec<i32>, unix: Vec<i32>, tls_bridge: Vec<i32>) {
        use forkv_server::ListenerKind;
        let all: Vec<(i32, ListenerKind)> = tcp
            .into_iter()
            .map(|fd| (fd, ListenerKind::Tcp))
            .chain(unix.into_iter().map(|fd| (fd, ListenerKind::Unix)))
            .chain(tls_bridge.into_iter().map(|fd| (fd, ListenerKind::TlsBridge)))
            .collect();
        self.server.set_busy_listeners(&all);
    }

    /// The accept-time refusals applied to connections accepted while a script is busy:
    /// `maxclients`, and protected mode (`localOnly`: only loopback and unix clients, the
    /// others get `-<protectedError>`).
    #[napi]
    pub fn set_accept_policy(&mut self, maxclients: u32, local_only: bool, protected_error: String) {
        self.server.set_accept_policy(forkv_server::AcceptPolicy { maxclients: maxclients as usize, local_only, protected_error });
    }

    /// Connections accepted while a script was busy, for the host to adopt (the WOKEN
    /// status bit is set while there are any).
    #[napi(ts_return_type = "import('./host-types').BusyAcceptedConn[]")]
    pub fn take_busy_accepted<'env>(&mut self, env: &'env Env) -> Result<Array<'env>> {
        records(env, &self.server.take_busy_accepted())
    }

    /// Clients whose protocol or name HELLO/RESET changed while a script was busy: their
    /// ids, for the host to refresh its copies (`clientProtoAndName`).
    #[napi]
    pub fn take_busy_client_changes(&mut self) -> Vec<u32> {
        self.server.take_busy_client_changes().into_iter().map(|id| id as u32).collect()
    }

    /// A client's protocol and name as the engine has them, or null.
    #[napi(ts_return_type = "import('./host-types').ClientProtoName | null")]
    pub fn client_proto_and_name<'env>(&self, env: &'env Env, id: u32) -> Result<Option<Object<'env>>> {
        record_opt(env, self.server.client_proto_and_name(u64::from(id)).map(|(proto, name)| ClientProtoName { proto, name }))
    }

    /// The raw descriptor of a plain TCP or unix client's socket: a busy script serves
    /// it directly (BUSY replies, SCRIPT KILL) while Node's loop cannot run.
    #[napi]
    pub fn set_client_fd(&mut self, id: u32, fd: i32) {
        self.server.set_client_fd(u64::from(id), fd);
    }

    /// The socket of client `id` holds output the host queued (true), or has drained.
    #[napi]
    pub fn set_output_pending(&mut self, id: u32, pending: bool) {
        self.server.set_output_pending(u64::from(id), pending);
    }

    /// Forgets a connection.
    #[napi]
    pub fn remove_client(&mut self, id: u32) {
        self.server.remove_client(u64::from(id));
    }

    /// Processes one socket read; returns replies + the client's memory (8 bytes) + status byte.
    #[napi]
    pub fn feed<'env>(&mut self, env: &'env Env, id: u32, chunk: BufferSlice) -> Result<BufferSlice<'env>> {
        let outcome = self.server.feed(u64::from(id), &chunk);
        self.finish(env, id, outcome)
    }

    /// Continues after a host command; `reply` is its encoded reply.
    #[napi]
    pub fn resume<'env>(&mut self, env: &'env Env, id: u32, reply: BufferSlice) -> Result<BufferSlice<'env>> {
        let outcome = self.server.resume(u64::from(id), &reply);
        self.finish(env, id, outcome)
    }

    /// Writes what a woken client got (served, timed out, unblocked), then processes the
    /// input it pipelined meanwhile; returns replies, memory and status like `feed`.
    #[napi]
    pub fn wake<'env>(&mut self, env: &'env Env, id: u32) -> Result<BufferSlice<'env>> {
        let outcome = self.server.wake(u64::from(id));
        self.finish(env, id, outcome)
    }

    /// The clients announced by the WOKEN status bit, in the order they were served.
    #[napi]
    pub fn take_woken(&mut self) -> Vec<u32> {
        self.server.take_woken().into_iter().map(|id| id as u32).collect()
    }

    /// A blocked client's deadline in ms since the epoch (0 = none), or null.
    #[napi]
    pub fn block_deadline(&self, id: u32) -> Option<f64> {
        self.server.block_deadline(u64::from(id)).map(|d| d as f64)
    }

    /// Ends a blocked client's wait as a timeout, or with -UNBLOCKED when `error`
    /// (CLIENT UNBLOCK); false when it was not blocked. The client is then woken.
    #[napi]
    pub fn unblock_client(&mut self, id: u32, error: bool) -> bool {
        self.server.unblock_client(u64::from(id), error)
    }

    /// REPLICAOF host port: every blocked client gets `-UNBLOCKED` and is woken; returns
    /// how many.
    #[napi]
    pub fn unblock_all_for_role_change(&mut self) -> u32 {
        self.server.unblock_all_for_role_change() as u32
    }

    /// Drops a client's subscriptions silently (RESET).
    #[napi]
    pub fn reset_pubsub(&mut self, id: u32) {
        self.server.reset_pubsub(u64::from(id));
    }

    /// Takes a client out of MONITOR mode (RESET).
    #[napi]
    pub fn reset_monitor(&mut self, id: u32) {
        self.server.reset_monitor(u64::from(id));
    }

    /// The messages announced by the DELIVER status bit, one entry per receiving client
    /// (those `takeDeliveriesInto` left first).
    #[napi(ts_return_type = "import('./host-types').Delivery[]")]
    pub fn take_deliveries<'env>(&mut self, env: &'env Env) -> Result<Array<'env>> {
        let deliveries: Vec<Delivery> = self.deliveries.take_all(&mut self.server).into_iter().map(|(id, data)| Delivery { id, data, memory: self.server.client_memory(id) }).collect();
        records(env, &deliveries)
    }

    /// Leaves MULTI and forgets WATCHed keys (RESET).
    #[napi]
    pub fn reset_transaction(&mut self, id: u32) {
        self.server.reset_transaction(u64::from(id));
    }

    /// Turns client-side caching off for a connection (RESET).
    #[napi]
    pub fn reset_tracking(&mut self, id: u32) {
        self.server.reset_tracking(u64::from(id));
    }

    /// Commands run since the start or the last CONFIG RESETSTAT (INFO
    /// `total_commands_processed`): the host reads it at both ends of an event-loop turn
    /// for INFO debug's `eventloop_cmd_per_cycle_max`, so it costs no object.
    #[napi]
    pub fn commands_processed(&self) -> f64 {
        self.server.commands_processed() as f64
    }

    /// The status byte of a feed/resume/wake (see [`forkv_server::step_status`]); keeps a
    /// host command's argv for `takeHost()`.
    pub(crate) fn status_byte(&mut self, outcome: Outcome) -> u8 {
        let (status, argv) = self.server.step_status(outcome);
        if let Some(argv) = argv {
            self.host_argv = argv;
        }
        status
    }

    /// The client's memory in the core (see `clientMemory`) as the 8 bytes (f64, little
    /// endian) that end a feed result: the host measures the client after each turn
    /// without a second crossing.
    fn memory_bytes(&self, id: u32) -> [u8; 8] {
        (self.server.client_memory(u64::from(id)) as f64).to_le_bytes()
    }

    /// Appends to the replies the client's memory (8 bytes, see `memory_bytes`) and the
    /// status byte, and hands them over.
    fn finish<'env>(&mut self, env: &'env Env, id: u32, outcome: Outcome) -> Result<BufferSlice<'env>> {
        let status = self.status_byte(outcome);
        let memory = self.memory_bytes(id);
        self.server.append_to_reply(&memory);
        self.server.append_to_reply(&[status]);
        let buf = BufferSlice::copy_from(env, self.server.reply());
        self.server.clear_reply();
        buf
    }

    /// The hot path of the data path: processes the first `len` bytes of `input` (the
    /// host's reused read buffer) and copies the replies into `out` (its reused reply
    /// buffer), so a socket read costs no Buffer on either side. Returns
    /// `reply_length * 256 + status` (the status byte of `feed`). When the replies are
    /// longer than `out`, nothing is copied: they wait for `takeReply()`. The client's
    /// memory afterwards goes to the first 8 bytes of `memory` (f64, little endian), as
    /// `feed` appends it.
    #[napi]
    pub fn feed_into(&mut self, id: u32, input: BufferSlice, len: u32, mut out: BufferSlice, mut memory: BufferSlice) -> f64 {
        let n = (len as usize).min(input.len());
        let outcome = self.server.feed(u64::from(id), &input[..n]);
        let status = self.status_byte(outcome);
        if let Some(dst) = memory.get_mut(..8) {
            dst.copy_from_slice(&self.memory_bytes(id));
        }
        let reply = self.server.reply();
        let reply_len = reply.len();
        if let Some(dst) = out.get_mut(..reply_len) {
            dst.copy_from_slice(reply);
            self.server.clear_reply();
        }
        reply_len as f64 * 256.0 + f64::from(status)
    }

    /// The replies `feedInto` left because they did not fit its buffer.
    #[napi]
    pub fn take_reply<'env>(&mut self, env: &'env Env) -> Result<BufferSlice<'env>> {
        let buf = BufferSlice::copy_from(env, self.server.reply());
        self.server.clear_reply();
        buf
    }

    /// The log lines announced by the LOGS status bit.
    #[napi(ts_return_type = "import('./host-types').EngineLogLine[]")]
    pub fn take_logs<'env>(&mut self, env: &'env Env) -> Result<Array<'env>> {
        records(env, &self.server.take_logs().into_iter().map(EngineLogLine::from).collect())
    }

    /// The argv of the host command announced by the last status byte.
    #[napi]
    pub fn take_host(&mut self) -> Vec<Buffer> {
        std::mem::take(&mut self.host_argv).into_iter().map(Buffer::from).collect()
    }

    /// Marks a connection to close after its replies.
    #[napi]
    pub fn close_after_reply(&mut self, id: u32) {
        self.server.close_after_reply(u64::from(id));
    }

    /// The connection's socket belongs to a forked Lua debugging session (SCRIPT DEBUG
    /// YES): close the host's descriptor without shutting the connection down.
    #[napi]
    pub fn client_detached(&self, id: u32) -> bool {
        self.server.client_detached(u64::from(id))
    }

    /// Kills the forked Lua debugging sessions (SHUTDOWN).
    #[napi]
    pub fn kill_ldb_sessions(&mut self) {
        self.server.kill_ldb_sessions();
    }

    /// Sets a connection's protocol version (HELLO).
    #[napi]
    pub fn set_client_proto(&mut self, id: u32, proto: u32) {
        self.server.set_client_proto(u64::from(id), proto as u8);
    }

    // --- ACL seam for the host's AUTH / HELLO AUTH / RESET (moves with issue 9's restructure).

    /// AUTH / HELLO AUTH: verifies `user`/`pass` with the engine's ACL; on success the
    /// connection is authenticated as that user. Returns null, or Valkey's error reply.
    #[napi]
    /// `user` is null for `AUTH <password>`.
    pub fn acl_auth(&mut self, id: u32, user: Option<BufferSlice>, pass: BufferSlice) -> Option<String> {
        self.server.acl_auth(u64::from(id), user.as_deref(), &pass).err()
    }

    /// An ACL user of that name exists (CLIENT KILL USER).
    #[napi]
    pub fn acl_user_exists(&self, name: String) -> bool {
        self.server.acl_user_exists(&name)
    }

    /// RESET: the connection goes back to the default user (authenticated only when
    /// the default user needs no password).
    #[napi]
    pub fn acl_reset_client(&mut self, id: u32) {
        self.server.acl_reset_client(u64::from(id));
    }

    /// The users in aclfile format (ACL SAVE writes it).
    #[napi]
    pub fn acl_file_text(&self) -> String {
        self.server.acl_file_text()
    }

    /// Replaces the users with an aclfile's (ACL LOAD, start-up); null or the error.
    #[napi]
    pub fn acl_load_file(&mut self, path: String, text: String) -> Option<String> {
        self.server.acl_load_file(&path, &text).err()
    }

    /// A `user` directive of the config file (its words after `user`); null or the error.
    #[napi]
    pub fn acl_config_user(&mut self, words: Vec<String>) -> Option<String> {
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        self.server.acl_config_user(&words).err()
    }
    // --- end of the ACL seam.

    /// Sets a connection's name as SLOWLOG shows it (CLIENT SETNAME, HELLO SETNAME, RESET).
    #[napi]
    pub fn set_client_name(&mut self, id: u32, name: String) {
        self.server.set_client_name(u64::from(id), name);
    }

    /// Selects a database for a connection (RESET).
    #[napi]
    pub fn set_client_db(&mut self, id: u32, db: u32) {
        self.server.set_client_db(u64::from(id), db as usize);
    }

    /// The memory a connection holds in the core, in bytes (its part of CLIENT LIST
    /// `tot-mem` and of client eviction's figure): see `Client::memory_usage`, plus its
    /// pub/sub subscriptions. 0 for an unknown id.
    #[napi]
    pub fn client_memory(&self, id: u32) -> f64 {
        self.server.client_memory(u64::from(id)) as f64
    }

    /// The clients cron's visit of some connections (see `Server::clients_cron`): trims
    /// their query buffers and returns the memory each holds in the core, in order.
    #[napi]
    pub fn clients_cron(&mut self, ids: Vec<u32>) -> Vec<f64> {
        let ids: Vec<u64> = ids.into_iter().map(u64::from).collect();
        self.server.clients_cron(&ids).into_iter().map(|m| m as f64).collect()
    }

    /// CLIENT NO-EVICT is on for a connection.
    #[napi]
    pub fn client_no_evict(&self, id: u32) -> bool {
        self.server.client_no_evict(u64::from(id))
    }

    /// What the core knows about a connection (see [`forkv_server::client_view`]).
    #[napi(ts_return_type = "import('./host-types').ClientState | null")]
    pub fn client_state<'env>(&self, env: &'env Env, id: u32) -> Result<Option<Object<'env>>> {
        self.server.client_view(u64::from(id)).map(|v| crate::host_types::record(env, &v)).transpose()
    }

    /// Applies settings: only the properties given, by their names in
    /// [`forkv_server::settings::EngineSettings::FIELDS`] (the TypeScript type is generated
    /// from it). An unknown name or a value of the wrong type throws.
    #[napi(ts_args_type = "settings: import('./host-types').EngineSettings")]
    pub fn configure(&mut self, settings: Object) -> Result<()> {
        self.server.configure(crate::host_types::input(&settings)?);
        Ok(())
    }

    /// `locale-collate`: sets the locale SORT ALPHA compares in ("" for the environment's);
    /// false when the system has no such locale.
    #[napi]
    pub fn set_locale_collate(&mut self, name: String) -> bool {
        forkv_engine::collate::set_locale_collate(&name)
    }

    /// Evicts keys now if the memory is over `maxmemory` (after CONFIG SET maxmemory, and
    /// from the cron, as Valkey's eviction time proc); returns "ok", "running" or "fail".
    #[napi]
    pub fn evict(&mut self) -> String {
        // Deletions go to the AOF like the active expire cycle's; their invalidations and
        // `evicted` keyspace events go out now (the host then delivers them).
        self.server.evict().name().into()
    }

    /// The client output the host holds in socket buffers, total and of replicas: counted
    /// in `used_memory`; replica output is not counted for eviction.
    #[napi]
    pub fn set_client_output_memory(&mut self, total: f64, replicas: f64) {
        self.server.set_client_output_memory(total.max(0.0) as usize, replicas.max(0.0) as usize);
    }

    /// The memory of the normal and pubsub clients as the host measures it (client
    /// eviction's figure): a pipelined batch stops where its replies bring it to the
    /// client-eviction limit, so that the host evicts before the next command.
    #[napi]
    pub fn set_clients_memory(&mut self, normal: f64) {
        self.server.set_clients_memory(normal.max(0.0) as usize);
    }

    /// Periodic work (Valkey's serverCron / databasesCron): active expiry within a time
    /// budget, and incremental rehashing when no fork child shares our pages.
    #[napi]
    pub fn cron(&mut self, expire_budget_ms: f64, rehash: bool) {
        self.server.cron(std::time::Duration::from_micros((expire_budget_ms * 1000.0) as u64), rehash);
    }

    /// Counters for INFO (see [`forkv_server::counters`]).
    #[napi(ts_return_type = "import('./host-types').CoreStats")]
    pub fn stats<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        crate::host_types::record(env, &self.server.counters())
    }

    /// Resets the counters CONFIG RESETSTAT clears.
    #[napi]
    pub fn reset_stats(&mut self) {
        self.server.reset_stats();
    }

    /// `latency-tracking` and `latency-tracking-info-percentiles`.
    #[napi]
    pub fn set_latency_tracking(&mut self, on: bool, percentiles: Vec<f64>) {
        self.server.set_latency_tracking(on, percentiles);
    }

    /// Replaces a group of the host's INFO facts (`facts`, `listeners`, `replication`,
    /// `debug`): `[name, value]` pairs in print order.
    #[napi]
    pub fn set_host_info(&mut self, group: String, fields: Vec<Vec<String>>) -> Result<()> {
        let pairs = fields.into_iter().map(|mut kv| {
            let v = kv.pop().unwrap_or_default();
            let k = kv.pop().unwrap_or_default();
            (k, v)
        });
        if self.server.set_host_info(&group, pairs.collect()) {
            Ok(())
        } else {
            Err(Error::from_reason(format!("unknown INFO fact group '{group}'")))
        }
    }

    /// Sets the single INFO facts given as `[name, value]` pairs, keeping the others (the
    /// cron pushes only the facts that changed).
    #[napi]
    pub fn merge_host_facts(&mut self, fields: Vec<Vec<String>>) {
        let pairs = fields.into_iter().map(|mut kv| {
            let v = kv.pop().unwrap_or_default();
            let k = kv.pop().unwrap_or_default();
            (k, v)
        });
        self.server.merge_host_facts(pairs.collect());
    }

    /// INFO for the requested section names (none: the default sections).
    #[napi]
    pub fn info(&mut self, sections: Vec<String>) -> String {
        let names: Vec<&[u8]> = sections.iter().map(|s| s.as_bytes()).collect();
        self.server.info(&names)
    }

    /// The allocator behind Rust's allocations (INFO `mem_allocator`).
    #[napi]
    pub fn mem_allocator() -> String {
        crate::alloc::allocator_name().to_string()
    }

    /// Writes `data` to the descriptor of a plain TCP or unix client socket now, without
    /// blocking (the host's data path, when the socket's own queue is empty). Returns the
    /// bytes the kernel took, fewer than `data.length` when its buffer is full; -1 when the
    /// connection is broken (the host's stream write then reports the error and closes it).
    #[napi]
    pub fn send_now(fd: i32, data: BufferSlice) -> f64 {
        match forkv_server::direct_send::send_nonblocking(fd, &data) {
            Ok(n) => n as f64,
            Err(_) => -1.0,
        }
    }

    /// Valkey glob matching (CONFIG GET patterns and others use the same rules).
    #[napi]
    pub fn glob_match(pattern: String, subject: String, nocase: bool) -> bool {
        forkv_keyspace::glob::glob_match(pattern.as_bytes(), subject.as_bytes(), nocase)
    }

    /// Valkey's `sdssplitargs` over one configuration line: the same implementation the AOF
    /// manifest reader uses, so valkey.conf and the manifest agree on quoting. `null` for
    /// unbalanced quotes or a closing quote followed by a non-blank.
    #[napi]
    pub fn split_args(line: Buffer) -> Option<Vec<Buffer>> {
        forkv_keyspace::sds::split_args(&line).map(|args| args.into_iter().map(Buffer::from).collect())
    }

    /// Valkey's "== CRITICAL ==" line for an error reply `reply` that `from` sends to `to`
    /// after `command` (the one wording, forkv-engine's `propagation_error`); null when the
    /// reply is no error.
    #[napi]
    pub fn critical_line(from: String, to: String, reply: Buffer, command: String) -> Option<String> {
        let error = forkv_engine::propagation_error::error_text(&reply)?;
        Some(forkv_engine::propagation_error::critical_line(&from, &to, &error, &command))
    }

    /// Applies the configuration's `rename-command` directives (pairs of OLD and NEW names,
    /// NEW empty to remove) to the process-wide command table, before the first command.
    /// Returns Valkey's error and the index of the failing directive, or null.
    #[napi(ts_return_type = "import('./host-types').RenameError | null")]
    pub fn apply_rename_commands(env: &Env, pairs: Vec<Vec<Buffer>>) -> Result<Option<Object<'_>>> {
        record_opt(env, forkv_engine::table::apply_renames(&rename_pairs(&pairs)).err().map(RenameError::from))
    }

    /// Checks `rename-command` directives as `applyRenameCommands` would, applying nothing.
    #[napi(ts_return_type = "import('./host-types').RenameError | null")]
    pub fn check_rename_commands(env: &Env, pairs: Vec<Vec<Buffer>>) -> Result<Option<Object<'_>>> {
        record_opt(env, forkv_engine::table::check_renames(&rename_pairs(&pairs)).err().map(RenameError::from))
    }

    /// Every top-level command (the README's command list is generated from this).
    #[napi(ts_return_type = "import('./host-types').CommandRow[]")]
    pub fn command_table(env: &Env) -> Result<Array<'_>> {
        records(env, &command_rows())
    }
}

