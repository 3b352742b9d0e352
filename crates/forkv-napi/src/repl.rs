//! Replication as a primary, for the host: SYNC/PSYNC decisions, the BGSAVE that serves
//! full syncs, replicas going online, the once-a-second cron and INFO replication. The
//! state lives in `forkv_server::repl`; bytes for replicas go through the deliveries.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_server::repl::SyncDecision;

use crate::core::Core;

#[napi]
impl Core {
    /// SYNC (no arguments) or PSYNC replid offset: "continue" (the reply and backlog are
    /// queued as a delivery; the replica is online), "full" (it waits for a BGSAVE), or
    /// else the error that refuses it.
    #[napi]
    pub fn repl_sync(&mut self, id: u32, replid: Option<Buffer>, offset: Option<Buffer>) -> String {
        let psync = match (&replid, &offset) {
            (Some(r), Some(o)) => Some((r.as_ref(), o.as_ref())),
            _ => None,
        };
        match self.server.repl_sync(u64::from(id), psync) {
            SyncDecision::Continue(_) => "continue".into(),
            SyncDecision::Full => "full".into(),
            SyncDecision::Refused(e) => e.into(),
        }
    }

    /// True when the client already sent SYNC or PSYNC.
    #[napi]
    pub fn repl_is_replica(&self, id: u32) -> bool {
        self.server.repl().is_replica(u64::from(id))
    }

    /// Attaches a waiting replica to the BGSAVE another replica started (true), queuing
    /// its `+FULLRESYNC` line when it sent PSYNC.
    #[napi]
    pub fn repl_join_running(&mut self, id: u32, psync: bool) -> bool {
        self.server.repl_join_running(u64::from(id), psync)
    }

    /// True when replicas wait for a BGSAVE to start.
    #[napi]
    pub fn repl_waiting_for_bgsave(&self) -> bool {
        self.server.repl().waiting_for_bgsave()
    }

    /// Right after the BGSAVE fork: waiting replicas attach to it; those in `psync_ids`
    /// get `+FULLRESYNC`. Returns the attached ids.
    /// `socket`: the child is a diskless transfer (no newlines go to those replicas).
    #[napi]
    pub fn repl_bgsave_started(&mut self, psync_ids: Vec<u32>, socket: bool) -> Vec<u32> {
        let ids: Vec<u64> = psync_ids.into_iter().map(u64::from).collect();
        self.server.repl_bgsave_started(&ids, socket).into_iter().map(|i| i as u32).collect()
    }

    /// A diskless transfer to replica `id` ended: online, its stream starts with its
    /// first REPLCONF ACK. False: it asked for the snapshot only, close it.
    #[napi]
    pub fn repl_online_on_ack(&mut self, id: u32) -> bool {
        self.server.repl_online_on_ack(u64::from(id))
    }

    /// The diskless transfer's end mark was written to these replicas: their first
    /// REPLCONF ACK puts them online, whether or not the child was reaped.
    #[napi]
    pub fn repl_transfer_sent(&mut self, ids: Vec<u32>) {
        let ids: Vec<u64> = ids.into_iter().map(u64::from).collect();
        self.server.repl_transfer_sent(&ids);
    }

    /// Replicas whose stream started with an ACK since the last call.
    #[napi]
    pub fn repl_take_stream_started(&mut self) -> Vec<u32> {
        self.server.repl_take_stream_started().into_iter().map(|i| i as u32).collect()
    }

    /// Keys in every database (`repl-diskless-load on-empty-db`).
    #[napi]
    pub fn db_total_keys(&self) -> f64 {
        self.server.db_total_keys() as f64
    }

    /// A replica's full sync empties the dataset before the primary's loads (Valkey's
    /// emptyData); `lazy` (`replica-lazy-flush`) frees the old data on a background
    /// thread. Returns the number of keys there were.
    #[napi]
    pub fn repl_empty_for_sync(&mut self, lazy: bool) -> f64 {
        self.server.repl_empty_for_sync(lazy) as f64
    }

    /// `repl-backlog-ttl` (once a second): frees the backlog of a primary that has had no
    /// replica for more than `ttl_secs` seconds, with a new replication ID; true when freed.
    #[napi]
    pub fn repl_free_idle_backlog(&mut self, ttl_secs: f64) -> bool {
        self.server.repl_free_idle_backlog(ttl_secs.max(0.0) as u64)
    }

    /// DEBUG CHANGE-REPL-ID: a new replication ID, the previous one cleared.
    #[napi]
    pub fn repl_change_id(&mut self) -> String {
        self.server.repl_change_id()
    }

    /// True when replica `id` announced `capa eof`.
    #[napi]
    pub fn repl_capa_eof(&self, id: u32) -> bool {
        self.server.repl().capa_eof(u64::from(id))
    }

    /// Replicas waiting for a BGSAVE to start, the longest wait (ms), and whether all of
    /// them take a diskless transfer (announced `capa eof`).
    #[napi(ts_return_type = "import('./host-types').ReplWaiting")]
    pub fn repl_waiting_start<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        crate::host_types::record(env, &self.server.repl_waiting_start())
    }

    /// The BGSAVE ended: the replicas attached to it (to be sent the file, or closed when
    /// it failed).
    #[napi]
    pub fn repl_bgsave_done(&mut self) -> Vec<u32> {
        self.server.repl_mut().bgsave_done().into_iter().map(|i| i as u32).collect()
    }

    /// The file was sent: the replica is online and what was buffered is delivered.
    /// False: it asked for the snapshot only, close it.
    #[napi]
    pub fn repl_online(&mut self, id: u32) -> bool {
        self.server.repl_online(u64::from(id))
    }

    /// Once a second: PING into the stream when `ping`, newlines to waiting replicas.
    #[napi]
    pub fn repl_cron(&mut self, ping: bool) {
        self.server.repl_cron(ping);
    }

    /// This server replicates a primary (true) or not: while it does, its replicas get
    /// the primary's stream as received (chained replication).
    #[napi]
    pub fn repl_set_proxy(&mut self, on: bool) {
        self.server.repl_set_proxy(on);
    }

    /// Bytes of the primary's stream this replica applied, for its backlog and replicas.
    #[napi]
    pub fn repl_feed_upstream(&mut self, bytes: Buffer) {
        self.server.repl_feed_upstream(bytes.as_ref());
    }

    /// The primary's snapshot of history `replid` at `offset` is loaded: its history is
    /// this replica's, with a fresh backlog.
    #[napi]
    pub fn repl_adopt_primary(&mut self, replid: String, offset: f64) {
        self.server.repl_adopt_primary(&replid, offset.max(0.0) as u64);
    }

    /// After a primary's start-up load: the keys it skipped as expired are propagated as
    /// deletions, and a snapshot carrying its `repl-id`/`repl-offset` (both given) makes
    /// that history its second ID, so that its replicas continue (Valkey's loadDataFromDisk).
    #[napi]
    pub fn repl_restore_primary(&mut self, replid: Option<String>, offset: Option<f64>) {
        let history = replid.as_deref().zip(offset.map(|o| o.max(0.0) as u64));
        self.server.repl_restore_primary(history);
    }

    /// The database the replication stream last selected (Valkey's `replicas_eldb`), or
    /// null when the next command starts with a SELECT.
    #[napi]
    pub fn repl_stream_db(&self) -> Option<u32> {
        self.server.repl_stream_db().map(|d| d as u32)
    }

    /// The replica continued with its primary (PSYNC +CONTINUE) at `offset`: true when
    /// the replication ID changed (its own replicas must reconnect to learn it).
    #[napi]
    pub fn repl_continue_primary(&mut self, replid: String, offset: f64) -> bool {
        self.server.repl_continue_primary(&replid, offset.max(0.0) as u64)
    }

    /// `repl-backlog-size`.
    #[napi]
    pub fn repl_set_backlog_size(&mut self, bytes: f64) {
        self.server.repl_mut().set_backlog_size(bytes.clamp(1.0, usize::MAX as f64) as usize);
    }

    /// True when deliveries wait (the cron's stream, replicas going online).
    #[napi]
    pub fn has_deliveries(&self) -> bool {
        self.server.has_deliveries()
    }

    /// Registers the link to this server's primary as client `id` (Valkey's primary
    /// client): its commands are obeyed on a read-only replica, without ACL checks.
    #[napi]
    pub fn add_primary_client(&mut self, id: u32) {
        self.server.add_primary_client(u64::from(id));
    }

    /// WAIT: asks the online replicas for an acknowledgement (`REPLCONF GETACK *` in the
    /// stream, delivered by the host); false when there are none.
    #[napi]
    pub fn repl_request_ack(&mut self) -> bool {
        self.server.repl_request_ack()
    }

    /// A replica becomes a primary (REPLICAOF NO ONE): its primary's history becomes the
    /// second ID (valid up to `offset`), a new ID starts here. Returns the new ID.
    #[napi]
    pub fn repl_promote(&mut self, primary_replid: String, offset: f64) -> String {
        self.server.repl_promote(&primary_replid, offset.max(0.0) as u64)
    }

    /// A primary becomes a replica: the replicas attached to it are returned (the host
    /// closes them, as Valkey does) and forgotten.
    #[napi]
    pub fn repl_detach_replicas(&mut self) -> Vec<u32> {
        self.server.repl_detach_replicas().into_iter().map(|i| i as u32).collect()
    }

    /// INFO replication's primary fields (see [`forkv_server::Server::repl_info`]).
    #[napi(ts_return_type = "import('./host-types').ReplInfo")]
    pub fn repl_info<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        crate::host_types::record(env, &self.server.repl_info())
    }
}
