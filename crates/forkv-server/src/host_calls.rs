//! What the host asks of the server beside feeding it: a connection's controls (RESET's
//! parts, CLIENT UNBLOCK, pauses, closing), the reply buffer a feed fills, the log queue,
//! the ACL seam of the host's AUTH/HELLO/RESET and the figures the host measures for the
//! engine (client output, client-eviction memory, latency tracking). Each is a method of
//! [`Server`], so the binding converts values and never reaches into the engine's fields.

use forkv_engine::log::LogLine;

use crate::Server;

impl Server {
    /// The panic an error reply to the primary asked for (`propagation-error-behavior`).
    pub fn take_panic_request(&mut self) -> Option<String> {
        self.engine.take_panic_request()
    }

    /// SHUTDOWN waits for its replicas: writes pause (`on`) until it is cancelled. True
    /// when held clients were woken.
    pub fn pause_for_shutdown(&mut self, on: bool) -> bool {
        self.engine.pause_for_shutdown(on)
    }

    /// A FAILOVER runs: writes pause (`on`) until it ends. True when held clients were woken.
    pub fn pause_for_failover(&mut self, on: bool) -> bool {
        self.engine.pause_for_failover(on)
    }

    /// Clients whose protocol or name changed while a script was busy.
    pub fn take_busy_client_changes(&mut self) -> Vec<u64> {
        self.engine.take_busy_client_changes()
    }

    /// A client's protocol and name, or None for an unknown id.
    pub fn client_proto_and_name(&self, id: u64) -> Option<(u8, String)> {
        self.engine.client(id).map(|c| (c.proto, c.name.clone()))
    }

    /// The connection's socket belongs to a forked Lua debugging session (SCRIPT DEBUG YES).
    pub fn client_detached(&self, id: u64) -> bool {
        self.engine.client(id).is_some_and(|c| c.detached)
    }

    /// CLIENT NO-EVICT is on for a connection.
    pub fn client_no_evict(&self, id: u64) -> bool {
        self.engine.client(id).is_some_and(|c| c.no_evict)
    }

    /// The clients woken since the last call, in the order they were served.
    pub fn take_woken(&mut self) -> Vec<u64> {
        self.engine.take_woken()
    }

    /// A blocked client's deadline in ms since the epoch (0: none), or None.
    pub fn block_deadline(&self, id: u64) -> Option<i64> {
        self.engine.block_deadline(id)
    }

    /// Ends a blocked client's wait as a timeout, or with -UNBLOCKED when `error`; false
    /// when it was not blocked.
    pub fn unblock_client(&mut self, id: u64, error: bool) -> bool {
        self.engine.unblock(id, error)
    }

    /// REPLICAOF host port: every blocked client gets `-UNBLOCKED`; returns how many.
    pub fn unblock_all_for_role_change(&mut self) -> usize {
        self.engine.unblock_all_for_role_change()
    }

    /// Leaves MULTI and forgets WATCHed keys (RESET).
    pub fn reset_transaction(&mut self, id: u64) {
        self.engine.reset_transaction(id);
    }

    /// Turns client-side caching off for a connection (RESET).
    pub fn reset_tracking(&mut self, id: u64) {
        self.engine.disable_tracking(id);
    }

    /// Marks a connection to close after its replies.
    pub fn close_after_reply(&mut self, id: u64) {
        self.engine.close_after_reply(id);
    }

    /// Kills the forked Lua debugging sessions (SHUTDOWN).
    pub fn kill_ldb_sessions(&mut self) {
        self.engine.kill_ldb_sessions();
    }

    /// Commands run since the start or the last CONFIG RESETSTAT.
    pub fn commands_processed(&self) -> u64 {
        self.engine.stats.total_commands_processed
    }

    /// The replies the last feed, resume or wake produced, not yet handed over.
    pub fn reply(&self) -> &[u8] {
        self.engine.reply()
    }

    /// Forgets the replies (the host has them).
    pub fn clear_reply(&mut self) {
        self.engine.clear_reply();
    }

    /// Forgets the first `n` bytes of the replies (written to the socket already).
    pub fn consume_reply(&mut self, n: usize) {
        let reply = self.engine.reply_mut();
        reply.drain(..n.min(reply.len()));
    }

    /// Appends `trailer` to the replies (the binding's memory figure and status byte).
    pub fn append_to_reply(&mut self, trailer: &[u8]) {
        self.engine.reply_mut().extend_from_slice(trailer);
    }

    /// The log lines waiting for the host's logger.
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        self.engine.logs.take()
    }

    /// AUTH / HELLO AUTH (`user` None for `AUTH <password>`): Valkey's error reply, or
    /// the connection is authenticated as that user.
    pub fn acl_auth(&mut self, id: u64, user: Option<&[u8]>, pass: &[u8]) -> Result<(), String> {
        self.engine.acl_auth(id, user, pass)
    }

    /// An ACL user of that name exists (CLIENT KILL USER).
    pub fn acl_user_exists(&self, name: &str) -> bool {
        self.engine.acl.user(name).is_some()
    }

    /// RESET: the connection goes back to the default user.
    pub fn acl_reset_client(&mut self, id: u64) {
        self.engine.acl_reset_client(id);
    }

    /// The users in aclfile format (ACL SAVE).
    pub fn acl_file_text(&self) -> String {
        self.engine.acl.to_file_text()
    }

    /// Replaces the users with an aclfile's (ACL LOAD, start-up).
    pub fn acl_load_file(&mut self, path: &str, text: &str) -> Result<(), String> {
        self.engine.acl.load_file_text(path, text)
    }

    /// A `user` directive of the config file (its words after `user`).
    pub fn acl_config_user(&mut self, words: &[&[u8]]) -> Result<(), String> {
        self.engine.acl.config_user(words)
    }

    /// The client output the host holds in socket buffers, total and of replicas (counted
    /// in `used_memory`; replica output is not counted for eviction).
    pub fn set_client_output_memory(&mut self, total: usize, replicas: usize) {
        self.engine.client_output_bytes = total;
        self.engine.replica_output_bytes = replicas;
    }

    /// The memory of the normal and pubsub clients as the host measures it (client
    /// eviction's figure).
    pub fn set_clients_memory(&mut self, normal: usize) {
        self.engine.client_eviction.clients_memory = normal;
    }

    /// `latency-tracking` and `latency-tracking-info-percentiles`.
    pub fn set_latency_tracking(&mut self, on: bool, percentiles: Vec<f64>) {
        let st = &mut self.engine.cmdstats;
        st.latency_tracking = on;
        st.percentiles = percentiles;
    }

    /// `save` and `stop-writes-on-bgsave-error` as configured.
    pub fn rdb_set_save_rules(&mut self, rules: Vec<crate::persist::policy::SaveRule>, stop_writes_on_error: bool) {
        self.rdb_policy.set_rules(rules, stop_writes_on_error);
        self.refresh_write_gate();
    }

    /// LASTSAVE: the last successful save's time (seconds since the epoch).
    pub fn rdb_last_save_time(&self) -> i64 {
        self.rdb_policy.last_save_time
    }

    /// Cancels the running child with SIGUSR1 (BGSAVE CANCEL, SHUTDOWN, FLUSHALL); false
    /// when none runs.
    pub fn cancel_job(&mut self) -> bool {
        self.jobs.cancel()
    }
}
