//! Replication, primary side (Valkey's `replication.c` for a primary): the replication
//! IDs and offset, the backlog that serves partial resynchronisations, and the replicas
//! attached to this server with their state and acknowledgements.
//!
//! The stream sent to replicas is the propagation stream (`forkv_engine::propagate`):
//! [`Replication::feed`] appends each finished piece of it to the backlog and to the
//! output of every online replica (through the [`Outbox`], which the host writes to the
//! sockets). The master offset counts every byte of that stream.
//!
//! The backlog is the one replication buffer, as Valkey's shared one: a replica whose full
//! sync is still running holds the offset it needs from (its snapshot's), and the backlog
//! keeps everything from the oldest such offset, past `repl-backlog-size` if it must; so
//! the stream since a fork is held once however many replicas wait for it, a replica can
//! continue from anything still held, and the backlog returns to its size once no replica
//! holds it back.
//!
//! A full sync is disk-based: the host forks a BGSAVE (or attaches the replica to one a
//! previous replica started), streams the file as `$<len>\r\n<bytes>` once the child is
//! done, then puts the replica online and writes what was buffered since the fork.

use std::collections::BTreeMap;

use crate::host_types::host_type;
use crate::outbox::Outbox;
use crate::repl_request::{parse_rdb_only, RdbFilter};
use crate::stream_buf::StreamBuf;

/// Where a replica is in its synchronisation (Valkey's `SLAVE_STATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for a BGSAVE to start (another child is running).
    WaitBgsaveStart,
    /// Attached to a running BGSAVE: the stream since its fork is buffered.
    WaitBgsaveEnd,
    /// The snapshot file is being written to the socket.
    SendBulk,
    /// Receives the stream as it is produced.
    Online,
    /// Asked for the snapshot only (`REPLCONF rdb-only 1`) and was sent it: it is closed.
    RdbTransmitted,
}

impl ReplicaState {
    /// The name INFO prints.
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
            ReplicaState::RdbTransmitted => "rdb_transmitted",
        }
    }
}

/// One attached replica (a client that sent SYNC or PSYNC) or a client that announced
/// itself with REPLCONF before it did.
#[derive(Clone, Debug)]
pub struct Replica {
    /// None until SYNC/PSYNC.
    pub state: Option<ReplicaState>,
    /// REPLCONF listening-port.
    pub listening_port: u32,
    /// REPLCONF ip-address.
    pub announced_ip: Option<String>,
    /// REPLCONF capa psync2 (the +CONTINUE reply carries the replication ID).
    pub capa_psync2: bool,
    /// REPLCONF capa eof: the replica reads a snapshot framed by `$EOF:<mark>` (a
    /// diskless transfer).
    pub capa_eof: bool,
    /// Attached to a diskless transfer (the child writes to its socket through the host):
    /// nothing else may be written to it until the transfer ends.
    pub socket_transfer: bool,
    /// Online after a diskless transfer, but the stream waits for its first REPLCONF ACK
    /// (Valkey's repl_start_cmd_stream_on_ack): bytes right after the end mark could be
    /// read together with it.
    pub stream_on_ack: bool,
    /// Every byte of its diskless transfer was handed to its socket (the child's pipe
    /// ended): its first REPLCONF ACK puts it online and starts its stream, without
    /// waiting for the child to be reaped (Valkey's replconf ACK: checkChildrenDone, then
    /// replicaStartCommandStream).
    pub rdb_sent: bool,
    /// The offset the last REPLCONF ACK reported.
    pub ack_offset: u64,
    /// The offset the replica's AOF is fsynced up to (`REPLCONF ACK <o> FACK <aof o>`;
    /// WAITAOF counts it).
    pub aof_offset: u64,
    /// When the last REPLCONF ACK arrived (ms), or the sync started.
    pub ack_time_ms: u64,
    /// The master offset the replica's snapshot corresponds to.
    pub psync_initial_offset: u64,
    /// The offset of the first byte of the stream it still needs from the backlog (the
    /// one after its snapshot's), until its stream starts; None: it holds nothing back.
    hold_from: Option<u64>,
    /// `REPLCONF rdb-only 1`: the snapshot and nothing after it (see [`crate::repl_request`]).
    pub rdb_only: bool,
    /// `REPLCONF rdb-filter-only`: what its snapshot leaves out.
    pub filter: RdbFilter,
}

/// What PSYNC/SYNC decided.
#[derive(Debug, PartialEq, Eq)]
pub enum SyncDecision {
    /// Partial resynchronisation: these bytes (`+CONTINUE` line and the backlog from the
    /// requested offset) go to the replica, which is online.
    Continue(Vec<u8>),
    /// A full sync is needed; the host starts or joins a BGSAVE.
    Full,
    /// Refused with this error (a filtered snapshot asked without `capa eof`).
    Refused(&'static str),
}

/// The backlog: the last `size` bytes of the stream, or more while replicas hold them.
#[derive(Default)]
struct Backlog {
    buf: StreamBuf,
}

/// Primary-side replication state.
pub struct Replication {
    /// The current replication ID (40 hex characters).
    pub replid: String,
    /// The previous ID (all zeros when none).
    pub replid2: String,
    /// Bytes of stream produced so far (`master_repl_offset`).
    pub offset: u64,
    /// Configured backlog size (`repl-backlog-size`).
    pub backlog_size: usize,
    backlog: Option<Backlog>,
    replicas: BTreeMap<u64, Replica>,
    /// When the last replica went away (ms), for `repl_backlog_ttl`-like bookkeeping.
    pub no_replicas_since_ms: u64,
    /// The last offset `replid2` is valid for, plus one (`second_repl_offset`; -1: none).
    second_offset: i64,
    /// How replicas synced (INFO `sync_full`, `sync_partial_ok`, `sync_partial_err`).
    pub sync_stats: SyncStats,
    /// This server is itself a replica: the stream its replicas get is the one it
    /// receives from its primary, byte for byte (Valkey's chained replication,
    /// replicationFeedStreamFromPrimaryStream), never its own propagation.
    pub proxy: bool,
}

/// Counts of full and partial resynchronizations served (CONFIG RESETSTAT clears them).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct SyncStats {
    /// Full resynchronizations (SYNC, or a PSYNC that could not continue).
    pub full: u64,
    /// PSYNCs continued from the backlog.
    pub partial_ok: u64,
    /// PSYNCs naming a history (not `?`) that could not continue.
    pub partial_err: u64,
}

host_type! {
#[record = "ReplicaRow"]
/// One row of INFO replication's `slaveN` lines.
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    pub id: u64,
    pub state: &'static str,
    pub listening_port: u32,
    pub announced_ip: Option<String>,
    pub ack_offset: u64,
    pub aof_offset: u64,
    pub lag_sec: u64,
    /// The stream it holds in the backlog, not yet sent (while its full sync runs).
    pub held_bytes: u64,
}
}

host_type! {
#[record = "ReplInfo"]
/// INFO replication's primary fields.
#[derive(Clone, Debug)]
pub struct ReplInfo {
    pub replid: String,
    pub replid2: String,
    pub offset: u64,
    pub second_offset: i64,
    pub backlog_active: bool,
    pub backlog_first_byte_offset: u64,
    pub backlog_histlen: u64,
    pub replicas: Vec<ReplicaInfo>,
}
}

const ZERO_ID: &str = "0000000000000000000000000000000000000000";

impl Replication {
    /// A primary with a fresh random replication ID, no backlog and no replicas.
    pub fn new(replid: String) -> Self {
        Replication {
            replid,
            replid2: ZERO_ID.to_string(),
            offset: 0,
            backlog_size: 10 << 20,
            backlog: None,
            replicas: BTreeMap::new(),
            no_replicas_since_ms: 0,
            second_offset: -1,
            sync_stats: SyncStats::default(),
            proxy: false,
        }
    }

    /// A replica finished a full sync from a primary at `offset` of history `replid`:
    /// that is now its own history (Valkey's readSyncBulkPayload after loading), with a
    /// fresh backlog from which its own replicas can continue.
    pub fn adopt_primary(&mut self, replid: &str, offset: u64) {
        self.replid = replid.to_string();
        self.replid2 = ZERO_ID.to_string();
        self.second_offset = -1;
        self.offset = offset;
        self.backlog = Some(Backlog::default());
    }

    /// A replica continued with its primary at `offset`: its history goes on when the
    /// primary's ID is the same and the offset matches; a primary that changed its ID (a
    /// failover upstream) makes the old ID the second one (Valkey's PSYNC +CONTINUE
    /// with a new ID). Without a matching history, the primary's is adopted afresh.
    /// Returns true when the replication ID changed (the replicas must reconnect).
    pub fn continue_primary(&mut self, replid: &str, offset: u64) -> bool {
        if self.backlog.is_none() || self.offset != offset {
            let changed = self.replid != replid;
            self.adopt_primary(replid, offset);
            return changed;
        }
        if self.replid == replid {
            return false;
        }
        self.replid2 = std::mem::replace(&mut self.replid, replid.to_string());
        self.second_offset = offset as i64 + 1;
        true
    }

    /// A replica that processed `offset` bytes of its primary's stream `primary_replid`
    /// becomes a primary (Valkey's shiftReplicationId): that history is the second ID,
    /// `new_id` the current one, the offset continues. The backlog the replica kept of
    /// its primary's stream stays: its replicas continue with the second ID (PSYNC2).
    pub fn promote(&mut self, primary_replid: &str, offset: u64, new_id: String) {
        if self.offset != offset || self.replid != primary_replid {
            self.backlog = None;
        }
        self.replid2 = primary_replid.to_string();
        self.second_offset = offset as i64 + 1;
        self.replid = new_id;
        self.offset = offset;
        self.proxy = false;
        // `repl-backlog-ttl` counts from the promotion, not from an old departure.
        self.no_replicas_since_ms = 0;
    }

    /// A primary restarted from a snapshot that carries its history (`repl-id`,
    /// `repl-offset`; Valkey's loadDataFromDisk): that history becomes the second ID, valid
    /// up to `offset`, and the offset is rebased on it, so that its replicas continue with
    /// a partial resynchronization (+CONTINUE with this server's own new ID). The backlog
    /// keeps what the load put in it (the deletions of the keys found expired, which then
    /// follow `offset`), or a fresh one starts. `repl-backlog-ttl` counts from now.
    pub fn restore_primary(&mut self, replid: &str, offset: u64, now_ms: u64) {
        self.replid2 = replid.to_string();
        self.second_offset = offset as i64 + 1;
        self.offset += offset;
        self.open_backlog();
        self.no_replicas_since_ms = now_ms;
    }

    /// Starts a backlog if there is none (Valkey's createReplicationBacklog before the
    /// start-up load of a primary, whose expired keys are propagated into it).
    pub fn open_backlog(&mut self) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::default());
        }
    }

    /// Frees the backlog, keeping the offset (Valkey's freeReplicationBacklog after a
    /// start-up load without a history to continue).
    pub fn drop_backlog(&mut self) {
        self.backlog = None;
    }

    /// DEBUG CHANGE-REPL-ID (Valkey's changeReplicationId + clearReplicationId2): a new
    /// current ID, no previous one; replicas asking to continue the old history need a
    /// full sync.
    pub fn change_id(&mut self, new_id: String) {
        self.replid = new_id;
        self.replid2 = ZERO_ID.to_string();
        self.second_offset = -1;
    }

    /// `repl-backlog-ttl` (Valkey's replicationCron): a primary without replicas for more
    /// than `ttl_secs` seconds frees its backlog and takes a new replication ID (the
    /// previous one cleared), so that a replica coming back later gets a full sync rather
    /// than a history the primary no longer holds. Never on a replica (`proxy`), nor with
    /// `ttl_secs` 0. The idle time counts from the last replica's departure, or from the
    /// first check after the backlog came to be without one (a promotion). Returns true
    /// when the backlog was freed.
    pub fn free_idle_backlog(&mut self, ttl_secs: u64, now_ms: u64, new_id: impl FnOnce() -> String) -> bool {
        if ttl_secs == 0 || self.proxy || self.backlog.is_none() || self.has_replicas() {
            return false;
        }
        if self.no_replicas_since_ms == 0 {
            self.no_replicas_since_ms = now_ms;
            return false;
        }
        if now_ms.saturating_sub(self.no_replicas_since_ms) / 1000 <= ttl_secs {
            return false;
        }
        self.change_id(new_id());
        self.backlog = None;
        true
    }

    /// Forgets every attached replica (this server becomes a replica); returns their ids.
    pub fn detach_all(&mut self, now_ms: u64) -> Vec<u64> {
        let ids: Vec<u64> = self.replicas.iter().filter(|(_, r)| r.state.is_some()).map(|(&id, _)| id).collect();
        for id in &ids {
            self.remove(*id, now_ms);
        }
        ids
    }

    /// True while a backlog exists: the propagation stream must be produced.
    pub fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// The first offset the backlog still holds (`repl_backlog_first_byte_offset`).
    pub fn backlog_first_byte_offset(&self) -> u64 {
        match &self.backlog {
            Some(b) => self.offset + 1 - b.buf.len() as u64,
            None => 0,
        }
    }

    /// Bytes in the backlog (`repl_backlog_histlen`).
    pub fn backlog_histlen(&self) -> u64 {
        self.backlog.as_ref().map_or(0, |b| b.buf.len() as u64)
    }

    /// Memory of the backlog, as allocated (its blocks): INFO `mem_total_replication_buffers`
    /// adds what waits in the replicas' sockets.
    pub fn backlog_allocated(&self) -> usize {
        self.backlog.as_ref().map_or(0, |b| b.buf.allocated())
    }

    /// Memory the backlog holds past `repl-backlog-size` (for replicas still syncing): not
    /// counted as data by `maxmemory` (Valkey's freeMemoryGetNotCountedMemory).
    pub fn pending_bytes(&self) -> usize {
        self.backlog_allocated().saturating_sub(self.backlog_size)
    }

    /// The stream replica `id` holds in the backlog, not yet sent to it (part of its output
    /// buffer, as Valkey's replicas reference the shared replication buffer).
    pub fn pending_bytes_of(&self, id: u64) -> usize {
        let held = self.replicas.get(&id).and_then(|r| r.hold_from);
        held.map_or(0, |from| (self.offset + 1).saturating_sub(from) as usize)
    }

    /// Sets the backlog size; a smaller backlog forgets its oldest bytes.
    pub fn set_backlog_size(&mut self, size: usize) {
        self.backlog_size = size.max(1);
        self.trim_backlog();
    }

    /// Forgets the backlog's bytes beyond `repl-backlog-size` that no replica holds.
    fn trim_backlog(&mut self) {
        let held_from = self.replicas.values().filter_map(|r| r.hold_from).min();
        let end = self.offset + 1;
        let Some(b) = &mut self.backlog else {
            return;
        };
        let mut keep = self.backlog_size as u64;
        if let Some(from) = held_from {
            keep = keep.max(end.saturating_sub(from));
        }
        let excess = (b.buf.len() as u64).saturating_sub(keep);
        b.buf.trim_front(excess as usize);
    }

    /// The stream replica `id` held, taken out to be sent (its stream starts): it holds
    /// nothing back any more.
    fn take_held(&mut self, id: u64) -> Vec<u8> {
        let first = self.backlog_first_byte_offset();
        let Some(from) = self.replicas.get_mut(&id).and_then(|r| r.hold_from.take()) else {
            return Vec::new();
        };
        let bytes = match &self.backlog {
            Some(b) => b.buf.copy_from(from.saturating_sub(first) as usize),
            None => Vec::new(),
        };
        self.trim_backlog();
        bytes
    }

    /// Appends a finished piece of the stream: backlog, online replicas' outputs, and the
    /// buffers of replicas still syncing.
    pub fn feed(&mut self, bytes: &[u8], outbox: &mut Outbox) {
        if bytes.is_empty() {
            return;
        }
        let Some(b) = &mut self.backlog else {
            // Without replicas or a backlog the offset still moves, by one per piece
            // (Valkey's replicationFeedReplicas): WAITAOF waits for the offset of a write,
            // which a replica that syncs later must not meet with its first ACK. A replica's
            // offset is its primary's.
            if !self.proxy {
                self.offset += 1;
            }
            return;
        };
        self.offset += bytes.len() as u64;
        b.buf.extend_from_slice(bytes);
        // Replicas still syncing find these bytes in the backlog (they hold it back).
        for (&id, r) in self.replicas.iter() {
            if r.state == Some(ReplicaState::Online) && r.hold_from.is_none() {
                outbox.buffer(id).extend_from_slice(bytes);
            }
        }
        self.trim_backlog();
    }

    fn entry(&mut self, id: u64, now_ms: u64) -> &mut Replica {
        self.replicas.entry(id).or_insert_with(|| Replica {
            state: None,
            listening_port: 0,
            announced_ip: None,
            capa_psync2: false,
            capa_eof: false,
            socket_transfer: false,
            stream_on_ack: false,
            rdb_sent: false,
            ack_offset: 0,
            aof_offset: 0,
            ack_time_ms: now_ms,
            psync_initial_offset: 0,
            hold_from: None,
            rdb_only: false,
            filter: RdbFilter::default(),
        })
    }

    /// The replica record of a client, if it announced itself or synced.
    pub fn replica(&self, id: u64) -> Option<&Replica> {
        self.replicas.get(&id)
    }

    /// True when the client sent SYNC or PSYNC already.
    pub fn is_replica(&self, id: u64) -> bool {
        self.replicas.get(&id).is_some_and(|r| r.state.is_some())
    }

    /// REPLCONF for client `id` (`args` after the command name): the reply to write, or
    /// None for the options that get no reply (ACK, GETACK).
    pub fn replconf(&mut self, id: u64, args: &[&[u8]], now_ms: u64) -> Option<Result<(), String>> {
        if !args.len().is_multiple_of(2) {
            return Some(Err("ERR syntax error".into()));
        }
        for (i, pair) in args.chunks_exact(2).enumerate() {
            let (opt, val) = (pair[0], pair[1]);
            let name = String::from_utf8_lossy(opt).to_ascii_lowercase();
            match name.as_str() {
                "listening-port" => match parse_u64(val).filter(|&p| p <= 65535) {
                    Some(p) => self.entry(id, now_ms).listening_port = p as u32,
                    None => return Some(Err("ERR value is not an integer or out of range".into())),
                },
                "ip-address" => self.entry(id, now_ms).announced_ip = Some(String::from_utf8_lossy(val).into_owned()),
                "capa" => {
                    if val.eq_ignore_ascii_case(b"psync2") {
                        self.entry(id, now_ms).capa_psync2 = true;
                    } else if val.eq_ignore_ascii_case(b"eof") {
                        self.entry(id, now_ms).capa_eof = true;
                    }
                }
                "ack" => {
                    // Only a synced replica acknowledges; no reply either way. FACK may
                    // follow: how far its AOF is fsynced (Valkey's repl_aof_off).
                    if let (Some(r), Some(off)) = (self.replicas.get_mut(&id), parse_u64(val)) {
                        if r.state.is_some() {
                            r.ack_offset = r.ack_offset.max(off);
                            if let [fack, aof, ..] = &args[2 * i + 2..] {
                                if fack.eq_ignore_ascii_case(b"fack") {
                                    if let Some(aof) = parse_u64(aof) {
                                        r.aof_offset = r.aof_offset.max(aof);
                                    }
                                }
                            }
                            r.ack_time_ms = now_ms;
                        }
                    }
                    return None;
                }
                "fack" => return None,
                "getack" => return None,
                "rdb-only" => match parse_rdb_only(val) {
                    Ok(on) => self.entry(id, now_ms).rdb_only = on,
                    Err(e) => return Some(Err(e.into())),
                },
                "rdb-filter-only" => {
                    if let Err(e) = self.entry(id, now_ms).filter.set_filter_only(val) {
                        return Some(Err(e));
                    }
                }
                "version" => {}
                _ => return Some(Err(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(opt)))),
            }
        }
        Some(Ok(()))
    }

    /// PSYNC `replid` `offset` (or SYNC with `psync` None): a partial resync when the ID
    /// matches and the backlog holds the offset; else a full sync is needed.
    pub fn sync(&mut self, id: u64, psync: Option<(&[u8], &[u8])>, now_ms: u64) -> SyncDecision {
        if let Some(e) = self.sync_refusal(id) {
            return SyncDecision::Refused(e);
        }
        if let Some((replid, offset)) = psync {
            if let Some(bytes) = self.try_partial(id, replid, offset, now_ms) {
                self.sync_stats.partial_ok += 1;
                return SyncDecision::Continue(bytes);
            }
            // `?` asks for a full sync on purpose: no failed attempt (as Valkey counts).
            if !replid.starts_with(b"?") {
                self.sync_stats.partial_err += 1;
            }
        }
        self.sync_stats.full += 1;
        if self.backlog.is_none() {
            // The first replica: a new history begins (Valkey's createReplicationBacklog
            // after changeReplicationId).
            self.backlog = Some(Backlog::default());
        }
        let r = self.entry(id, now_ms);
        r.state = Some(ReplicaState::WaitBgsaveStart);
        r.ack_time_ms = now_ms;
        SyncDecision::Full
    }

    /// Why SYNC/PSYNC from `id` is refused before anything else: a filtered snapshot only
    /// goes to the replica's socket, so it needs `capa eof` (Valkey's syncCommand).
    pub fn sync_refusal(&self, id: u64) -> Option<&'static str> {
        let r = self.replicas.get(&id)?;
        (r.filter.filtered() && !r.capa_eof).then_some("ERR Filtered replica requires EOF capability")
    }

    fn try_partial(&mut self, id: u64, replid: &[u8], offset: &[u8], now_ms: u64) -> Option<Vec<u8>> {
        let b = self.backlog.as_ref()?;
        let off = parse_u64(offset)?;
        // The current history, or the previous one up to where it ended (PSYNC2).
        let second = replid == self.replid2.as_bytes() && self.second_offset >= 0 && off <= self.second_offset as u64;
        if replid != self.replid.as_bytes() && !second {
            return None;
        }
        let first = self.offset + 1 - b.buf.len() as u64;
        if off < first || off > self.offset + 1 {
            return None;
        }
        let skip = (off - first) as usize;
        let psync2 = self.replicas.get(&id).is_some_and(|r| r.capa_psync2);
        let mut out = if psync2 { format!("+CONTINUE {}\r\n", self.replid).into_bytes() } else { b"+CONTINUE\r\n".to_vec() };
        out.extend_from_slice(&b.buf.copy_from(skip));
        let current = self.offset;
        let r = self.entry(id, now_ms);
        r.state = Some(ReplicaState::Online);
        r.ack_offset = off.saturating_sub(1);
        r.ack_time_ms = now_ms;
        r.psync_initial_offset = current;
        Some(out)
    }

    /// A replica waiting for a BGSAVE that another one started can join it: it gets that
    /// replica's buffer and offset. True when it joined (the host then sends the
    /// `+FULLRESYNC` line from [`Replication::fullresync_line`]).
    /// Only a replica that asked for the same snapshot joins; one that wants the stream
    /// after it never joins a fork only snapshot-only replicas wait for (nobody held the
    /// stream since; Valkey's syncCommand, CASE 1).
    pub fn join_running_sync(&mut self, id: u64) -> bool {
        let Some(me) = self.replicas.get(&id) else {
            return false;
        };
        let (rdb_only, filter) = (me.rdb_only, me.filter);
        let donor = self
            .replicas
            .iter()
            .find(|(&other, r)| other != id && r.state == Some(ReplicaState::WaitBgsaveEnd) && !r.socket_transfer && (!r.rdb_only || rdb_only))
            .filter(|(_, r)| r.filter == filter)
            .map(|(_, r)| (r.hold_from, r.psync_initial_offset));
        let Some((hold_from, offset)) = donor else {
            return false;
        };
        let Some(r) = self.replicas.get_mut(&id) else {
            return false;
        };
        r.state = Some(ReplicaState::WaitBgsaveEnd);
        r.hold_from = if rdb_only { None } else { hold_from };
        r.psync_initial_offset = offset;
        true
    }

    /// A BGSAVE for replication was forked (`socket`: a diskless transfer): every replica
    /// waiting for one that asked for the snapshot of [`Replication::fork_filter`] is
    /// attached to it at the current offset (the others wait for the next fork). Returns
    /// their ids. A snapshot-only replica holds no stream.
    pub fn bgsave_started(&mut self, socket: bool) -> Vec<u64> {
        let offset = self.offset;
        let Some(filter) = self.fork_filter() else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for (&id, r) in self.replicas.iter_mut() {
            if r.state == Some(ReplicaState::WaitBgsaveStart) && r.filter == filter {
                r.state = Some(ReplicaState::WaitBgsaveEnd);
                r.socket_transfer = socket;
                r.rdb_sent = false;
                r.hold_from = if r.rdb_only { None } else { Some(offset + 1) };
                r.psync_initial_offset = offset;
                ids.push(id);
            }
        }
        ids
    }

    /// What the next fork for replicas writes: the filter of the first replica waiting
    /// for one (Valkey's replicationStartPendingFork takes the first one's `replica_req`);
    /// None when none waits.
    pub fn fork_filter(&self) -> Option<RdbFilter> {
        self.replicas.values().find(|r| r.state == Some(ReplicaState::WaitBgsaveStart)).map(|r| r.filter)
    }

    /// The `+FULLRESYNC <replid> <offset>` line for a replica attached to a BGSAVE.
    pub fn fullresync_line(&self, id: u64) -> Vec<u8> {
        let offset = self.replicas.get(&id).map_or(self.offset, |r| r.psync_initial_offset);
        format!("+FULLRESYNC {} {}\r\n", self.replid, offset).into_bytes()
    }

    /// True when some replica waits for a BGSAVE to be started.
    pub fn waiting_for_bgsave(&self) -> bool {
        self.replicas.values().any(|r| r.state == Some(ReplicaState::WaitBgsaveStart))
    }

    /// The BGSAVE ended: replicas attached to it move to sending the file (returned), or
    /// are returned to be disconnected when it failed.
    pub fn bgsave_done(&mut self) -> Vec<u64> {
        let mut ids = Vec::new();
        for (&id, r) in self.replicas.iter_mut() {
            if r.state == Some(ReplicaState::WaitBgsaveEnd) {
                r.state = Some(ReplicaState::SendBulk);
                ids.push(id);
            }
        }
        ids
    }

    /// The file was sent: the replica is online; returns what was buffered since the fork.
    /// A snapshot-only replica is not (Valkey's replicaPutOnline): None, it must be closed.
    pub fn online(&mut self, id: u64, now_ms: u64) -> Option<Vec<u8>> {
        match self.replicas.get_mut(&id) {
            Some(r) if r.rdb_only => {
                r.state = Some(ReplicaState::RdbTransmitted);
                None
            }
            Some(r) => {
                r.state = Some(ReplicaState::Online);
                r.ack_time_ms = now_ms;
                Some(self.take_held(id))
            }
            None => Some(Vec::new()),
        }
    }

    /// A diskless transfer to `id` ended: it is online, but its stream (buffered since the
    /// fork) starts with its first REPLCONF ACK (see [`Replication::start_stream_on_ack`]).
    /// False for a snapshot-only replica, which must be closed instead.
    pub fn online_on_ack(&mut self, id: u64, now_ms: u64) -> bool {
        let Some(r) = self.replicas.get_mut(&id) else {
            return true;
        };
        r.socket_transfer = false;
        r.rdb_sent = false;
        if r.rdb_only {
            r.state = Some(ReplicaState::RdbTransmitted);
            return false;
        }
        r.state = Some(ReplicaState::Online);
        r.stream_on_ack = true;
        r.ack_time_ms = now_ms;
        true
    }

    /// The diskless transfer's last byte (its end mark) was written to these replicas:
    /// each goes online with its first REPLCONF ACK (see [`Replication::start_stream_on_ack`]).
    pub fn transfer_sent(&mut self, ids: &[u64]) {
        for id in ids {
            if let Some(r) = self.replicas.get_mut(id) {
                if r.state == Some(ReplicaState::WaitBgsaveEnd) && r.socket_transfer {
                    r.rdb_sent = true;
                }
            }
        }
    }

    /// After a REPLCONF ACK from `id`: when its stream waited for it, the buffered stream
    /// (returned) starts now. A replica whose diskless transfer was all sent is put online
    /// by this ACK: it loaded the snapshot, whether or not the child was reaped yet.
    pub fn start_stream_on_ack(&mut self, id: u64, now_ms: u64) -> Option<Vec<u8>> {
        let r = self.replicas.get_mut(&id)?;
        // A snapshot-only replica never starts a stream; it is closed once its transfer ends.
        if r.rdb_sent && r.state == Some(ReplicaState::WaitBgsaveEnd) && !r.rdb_only {
            r.state = Some(ReplicaState::Online);
            r.socket_transfer = false;
            r.rdb_sent = false;
            r.ack_time_ms = now_ms;
            return Some(self.take_held(id));
        }
        if !r.stream_on_ack || r.state != Some(ReplicaState::Online) {
            return None;
        }
        r.stream_on_ack = false;
        Some(self.take_held(id))
    }

    /// True when replica `id` announced `capa eof` (it can take a diskless transfer).
    pub fn capa_eof(&self, id: u64) -> bool {
        self.replicas.get(&id).is_some_and(|r| r.capa_eof)
    }

    /// Replicas waiting for a BGSAVE to start, and the longest time (ms) one has waited
    /// (Valkey's replicationStartPendingFork: `repl-diskless-sync-delay` and
    /// `repl-diskless-sync-max-replicas`).
    pub fn waiting_start(&self, now_ms: u64) -> (usize, u64) {
        self.replicas
            .values()
            .filter(|r| r.state == Some(ReplicaState::WaitBgsaveStart))
            .fold((0, 0), |(n, idle), r| (n + 1, idle.max(now_ms.saturating_sub(r.ack_time_ms))))
    }

    /// True when every replica the next fork serves (those waiting for one that asked for
    /// the first one's snapshot) announced `capa eof`.
    pub fn waiting_all_eof(&self) -> bool {
        let filter = self.fork_filter();
        self.replicas.values().filter(|r| r.state == Some(ReplicaState::WaitBgsaveStart) && Some(r.filter) == filter).all(|r| r.capa_eof)
    }

    /// Forgets a client (disconnected).
    pub fn remove(&mut self, id: u64, now_ms: u64) {
        let Some(gone) = self.replicas.remove(&id) else {
            return;
        };
        if !self.replicas.values().any(|r| r.state.is_some()) {
            self.no_replicas_since_ms = now_ms;
        }
        // What it held back in the backlog may go now.
        if gone.hold_from.is_some() {
            self.trim_backlog();
        }
    }

    /// Replicas in pre-sync states that get a newline to keep their link alive (Valkey's
    /// replicationCron: WAIT_BGSAVE_START, and WAIT_BGSAVE_END of a disk-based sync).
    pub fn keepalive_newlines(&self, outbox: &mut Outbox) {
        for (&id, r) in &self.replicas {
            // A diskless transfer's socket carries the child's bytes only.
            let pre_sync = matches!(r.state, Some(ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd));
            if pre_sync && !r.socket_transfer {
                outbox.buffer(id).push(b'\n');
            }
        }
    }

    /// True when some client sent SYNC or PSYNC.
    pub fn has_replicas(&self) -> bool {
        self.replicas.values().any(|r| r.state.is_some())
    }

    /// Every replica's state, acknowledged offset and AOF-fsynced offset (WAIT, WAITAOF).
    pub fn states(&self) -> impl Iterator<Item = (Option<ReplicaState>, u64, u64)> + '_ {
        self.replicas.values().map(|r| (r.state, r.ack_offset, r.aof_offset))
    }

    /// Number of synced replicas that are online.
    pub fn online_count(&self) -> usize {
        self.replicas.values().filter(|r| r.state == Some(ReplicaState::Online)).count()
    }

    /// Online replicas whose last acknowledgement is at most `max_lag_s` seconds old, as
    /// INFO's `lag` counts it (Valkey's `refreshGoodReplicasCount`).
    pub fn good_count(&self, max_lag_s: u64, now_ms: u64) -> usize {
        self.replicas.values().filter(|r| r.state == Some(ReplicaState::Online) && now_ms.saturating_sub(r.ack_time_ms) / 1000 <= max_lag_s).count()
    }

    /// INFO rows for every replica that sent SYNC/PSYNC, in attach order.
    pub fn info(&self, now_ms: u64) -> Vec<ReplicaInfo> {
        self.replicas
            .iter()
            .filter_map(|(&id, r)| {
                let state = r.state?;
                Some(ReplicaInfo {
                    id,
                    state: state.name(),
                    listening_port: r.listening_port,
                    announced_ip: r.announced_ip.clone(),
                    ack_offset: r.ack_offset,
                    aof_offset: r.aof_offset,
                    lag_sec: now_ms.saturating_sub(r.ack_time_ms) / 1000,
                    held_bytes: self.pending_bytes_of(id) as u64,
                })
            })
            .collect()
    }

    /// The previous replication ID and the offset it is valid up to (plus one) for INFO
    /// (`master_replid2`, `second_repl_offset`; -1 when there is none).
    pub fn second(&self) -> (&str, i64) {
        (&self.replid2, self.second_offset)
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repl() -> Replication {
        Replication::new("a".repeat(40))
    }

    #[test]
    fn no_backlog_no_stream() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.feed(b"abc", &mut o);
        // Nothing is kept; the offset moves by one per piece, as Valkey's does for WAITAOF.
        assert_eq!(r.offset, 1);
        assert!(!r.active());
    }

    #[test]
    fn a_restarted_primary_keeps_what_its_load_fed_after_the_saved_offset() {
        let mut r = repl();
        let mut o = Outbox::default();
        let old = "c".repeat(40);
        r.open_backlog();
        r.feed(b"DELS", &mut o);
        r.restore_primary(&old, 1000, 5_000);
        assert_eq!((r.offset, r.second_offset, r.backlog_histlen()), (1004, 1001, 4));
        assert_eq!(r.backlog_first_byte_offset(), 1001);
        assert_eq!(r.replconf(7, &[b"capa", b"psync2"], 6_000), Some(Ok(())));
        let top = r.replid.clone();
        match r.sync(7, Some((old.as_bytes(), b"1001")), 6_000) {
            SyncDecision::Continue(b) => assert_eq!(b, format!("+CONTINUE {top}\r\nDELS").into_bytes()),
            _ => panic!("the saved history continues with the deletions"),
        }
    }

    #[test]
    fn a_restarted_primary_continues_its_saved_history_as_the_second_id() {
        let mut r = repl();
        let old = "c".repeat(40);
        r.restore_primary(&old, 1000, 5_000);
        assert_eq!((r.replid2.as_str(), r.second_offset, r.offset), (old.as_str(), 1001, 1000));
        assert_eq!(r.backlog_first_byte_offset(), 1001);
        let top = r.replid.clone();
        assert_eq!(r.replconf(7, &[b"capa", b"psync2"], 6_000), Some(Ok(())));
        match r.sync(7, Some((old.as_bytes(), b"1001")), 6_000) {
            SyncDecision::Continue(b) => assert_eq!(b, format!("+CONTINUE {top}\r\n").into_bytes()),
            _ => panic!("the saved history continues"),
        }
        assert_eq!(r.sync(8, Some((old.as_bytes(), b"1002")), 6_000), SyncDecision::Full, "past the saved offset");
    }

    #[test]
    fn an_idle_backlog_is_freed_after_the_ttl_with_a_new_id() {
        let mut r = repl();
        let mut o = Outbox::default();
        assert_eq!(r.sync(7, None, 0), SyncDecision::Full);
        r.feed(b"abc", &mut o);
        assert!(!r.free_idle_backlog(1, 100_000, || "b".repeat(40)), "a replica is attached");
        r.remove(7, 10_000);
        assert!(!r.free_idle_backlog(0, 100_000, || "b".repeat(40)), "ttl 0: never");
        assert!(!r.free_idle_backlog(3, 13_999, || "b".repeat(40)));
        r.proxy = true;
        assert!(!r.free_idle_backlog(3, 14_000, || "b".repeat(40)), "a replica keeps its backlog");
        r.proxy = false;
        assert!(r.free_idle_backlog(3, 14_000, || "b".repeat(40)));
        assert!(!r.active());
        assert_eq!((r.replid.as_str(), r.replid2.as_str(), r.offset), ("b".repeat(40).as_str(), ZERO_ID, 3));
        // A replica asking to continue the old history now needs a full sync.
        let old = "a".repeat(40);
        assert_eq!(r.sync(8, Some((old.as_bytes(), b"4")), 20_000), SyncDecision::Full);
    }

    #[test]
    fn good_replicas_are_online_with_a_recent_ack() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.sync(7, None, 0);
        r.sync(8, None, 0);
        assert_eq!(r.good_count(10, 0), 0, "still syncing");
        r.bgsave_started(false);
        r.bgsave_done();
        r.online(7, 1_000);
        r.feed(b"x", &mut o);
        assert_eq!(r.good_count(10, 1_000), 1, "8 is still waiting for its snapshot");
        assert_eq!(r.good_count(2, 3_999), 1, "lag 2 s is within 2");
        assert_eq!(r.good_count(2, 4_000), 0, "lag 3 s is not");
        assert_eq!(r.replconf(7, &[b"ack", b"1"], 4_000), None);
        assert_eq!(r.good_count(2, 4_500), 1, "an ACK makes it good again");
    }

    #[test]
    fn full_sync_buffers_then_goes_online() {
        let mut r = repl();
        let mut o = Outbox::default();
        assert_eq!(r.sync(7, None, 0), SyncDecision::Full);
        assert!(r.waiting_for_bgsave());
        r.feed(b"before", &mut o);
        assert_eq!(r.bgsave_started(false), vec![7]);
        assert_eq!(r.fullresync_line(7), format!("+FULLRESYNC {} 6\r\n", "a".repeat(40)).into_bytes());
        r.feed(b"during", &mut o);
        assert!(o.is_empty());
        assert_eq!(r.bgsave_done(), vec![7]);
        r.feed(b"+bulk", &mut o);
        assert_eq!(r.online(7, 0), Some(b"during+bulk".to_vec()));
        r.feed(b"live", &mut o);
        assert_eq!(o.take(), vec![(7, b"live".to_vec())]);
        assert_eq!(r.offset, 21);
        assert_eq!(r.info(0)[0].state, "online");
    }

    #[test]
    fn partial_resync_from_the_backlog() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.sync(1, None, 0);
        r.feed(b"0123456789", &mut o);
        let id = "a".repeat(40);
        assert_eq!(r.replconf(2, &[b"capa", b"psync2"], 0), Some(Ok(())));
        match r.sync(2, Some((id.as_bytes(), b"5")), 0) {
            SyncDecision::Continue(b) => assert_eq!(b, format!("+CONTINUE {id}\r\n456789").into_bytes()),
            _ => panic!("expected continue"),
        }
        assert_eq!(r.sync(3, Some((id.as_bytes(), b"50")), 0), SyncDecision::Full);
        assert_eq!(r.sync(4, Some((b"x", b"5")), 0), SyncDecision::Full);
        r.set_backlog_size(4);
        assert_eq!(r.backlog_first_byte_offset(), 7);
        assert_eq!(r.sync(5, Some((id.as_bytes(), b"5")), 0), SyncDecision::Full);
        assert_eq!(r.sync_stats, SyncStats { full: 4, partial_ok: 1, partial_err: 3 });
    }

    #[test]
    fn promotion_keeps_the_primary_history_as_second_id() {
        let mut r = repl();
        r.promote(&"b".repeat(40), 120, "c".repeat(40));
        assert_eq!((r.replid.as_str(), r.offset), ("c".repeat(40).as_str(), 120));
        assert_eq!(r.second(), ("b".repeat(40).as_str(), 121));
        assert!(!r.active());
    }

    #[test]
    fn a_replica_passes_on_its_primary_history_and_keeps_it_when_promoted() {
        let mut r = repl();
        let mut o = Outbox::default();
        let top = "b".repeat(40);
        r.proxy = true;
        r.adopt_primary(&top, 100);
        assert!(r.active());
        assert_eq!((r.replid.as_str(), r.offset, r.backlog_first_byte_offset()), (top.as_str(), 100, 101));
        r.replconf(2, &[b"capa", b"psync2"], 0);
        r.feed(b"0123456789", &mut o);
        // A sub-replica continues with the top primary's ID and offsets.
        match r.sync(2, Some((top.as_bytes(), b"105")), 0) {
            SyncDecision::Continue(b) => assert_eq!(b, format!("+CONTINUE {top}\r\n456789").into_bytes()),
            _ => panic!("expected continue"),
        }
        // The same history continued upstream: nothing changes.
        assert!(!r.continue_primary(&top, 110));
        // The primary failed over: its new ID is ours, the old one the second.
        let next = "c".repeat(40);
        assert!(r.continue_primary(&next, 110));
        assert_eq!(r.second(), (top.as_str(), 111));
        match r.sync(3, Some((top.as_bytes(), b"111")), 0) {
            SyncDecision::Continue(b) => assert_eq!(b, b"+CONTINUE\r\n".to_vec()),
            _ => panic!("the second ID continues up to where it ended"),
        }
        assert_eq!(r.sync(4, Some((top.as_bytes(), b"112")), 0), SyncDecision::Full, "not beyond it");
        // A promotion keeps the backlog: replicas continue with the second ID.
        r.feed(b"ab", &mut o);
        r.promote(&next, 112, "d".repeat(40));
        assert!(r.active() && !r.proxy);
        assert!(matches!(r.sync(5, Some((next.as_bytes(), b"113")), 0), SyncDecision::Continue(_)));
        // A history that does not match the backlog starts a new one.
        assert!(r.continue_primary(&"e".repeat(40), 500));
        assert_eq!((r.offset, r.backlog_histlen()), (500, 0));
    }

    #[test]
    fn replconf_options_and_acks() {
        let mut r = repl();
        assert_eq!(r.replconf(1, &[b"listening-port", b"6380", b"capa", b"eof"], 0), Some(Ok(())));
        assert_eq!(r.replconf(1, &[b"ack"], 0), Some(Err("ERR syntax error".into())));
        assert!(matches!(r.replconf(1, &[b"bogus", b"1"], 0), Some(Err(e)) if e == "ERR Unrecognized REPLCONF option: bogus"));
        r.sync(1, None, 0);
        assert_eq!(r.replconf(1, &[b"ack", b"42", b"fack", b"40"], 2500), None);
        let info = r.info(3600);
        assert_eq!((info[0].listening_port, info[0].ack_offset, info[0].aof_offset, info[0].lag_sec), (6380, 42, 40, 1));
        r.replconf(1, &[b"ack", b"50"], 2600);
        assert_eq!((r.info(3600)[0].ack_offset, r.info(3600)[0].aof_offset), (50, 40), "an ACK without FACK keeps the AOF offset");
    }

    #[test]
    fn replicas_syncing_share_the_backlog_which_outgrows_its_size_until_they_stop_holding_it() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.set_backlog_size(100);
        r.sync(1, None, 0);
        r.sync(2, None, 0);
        assert_eq!(r.bgsave_started(false), vec![1, 2]);
        let chunk = [b'x'; 1000];
        for _ in 0..50 {
            r.feed(&chunk, &mut o);
        }
        // Held once for both: 50,000 bytes in 16 KB blocks, not twice that.
        assert_eq!(r.backlog_histlen(), 50_000);
        assert!(r.backlog_allocated() < 4 * crate::stream_buf::BLOCK_BYTES + 512, "{}", r.backlog_allocated());
        assert_eq!((r.pending_bytes_of(1), r.pending_bytes_of(2)), (50_000, 50_000));
        // A third replica continues from anything still held, past repl-backlog-size.
        assert!(matches!(r.sync(3, Some((r.replid.clone().as_bytes(), b"30001")), 0), SyncDecision::Continue(b) if b.len() == 11 + 20_000));
        r.remove(1, 0);
        assert_eq!(r.backlog_histlen(), 50_000, "replica 2 still holds it");
        r.bgsave_done();
        assert_eq!(r.online(2, 0).map(|b| b.len()), Some(50_000));
        assert_eq!((r.backlog_histlen(), r.pending_bytes_of(2)), (100, 0));
        assert!(r.backlog_allocated() <= 2 * crate::stream_buf::BLOCK_BYTES + 512, "{}", r.backlog_allocated());
        r.feed(b"live", &mut o);
        assert_eq!(o.take().iter().map(|(id, b)| (*id, b.len())).collect::<Vec<_>>(), vec![(2, 4), (3, 4)]);
    }

    #[test]
    fn diskless_transfer_streams_after_the_first_ack() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.replconf(3, &[b"capa", b"eof", b"capa", b"psync2"], 0);
        r.sync(3, None, 0);
        r.sync(4, None, 0);
        assert!(r.capa_eof(3) && !r.capa_eof(4));
        assert!(!r.waiting_all_eof());
        assert_eq!(r.waiting_start(1500), (2, 1500));
        r.remove(4, 0);
        assert!(r.waiting_all_eof());
        assert_eq!(r.bgsave_started(true), vec![3]);
        r.keepalive_newlines(&mut o);
        assert!(o.is_empty(), "no newline inside a diskless transfer");
        r.sync(5, None, 0);
        assert!(!r.join_running_sync(5), "a socket transfer cannot be joined");
        r.feed(b"during", &mut o);
        assert_eq!(r.bgsave_done(), vec![3]);
        assert!(r.online_on_ack(3, 0));
        r.feed(b"+after", &mut o);
        assert!(!o.has(3), "the stream waits for the ACK");
        assert_eq!(r.info(0)[0].state, "online");
        r.replconf(3, &[b"ack", b"6"], 0);
        assert_eq!(r.start_stream_on_ack(3, 0), Some(b"during+after".to_vec()));
        assert_eq!(r.start_stream_on_ack(3, 0), None);
        r.feed(b"live", &mut o);
        assert_eq!(o.take(), vec![(3, b"live".to_vec())]);
    }

    #[test]
    fn a_transfer_all_sent_goes_online_with_the_first_ack_before_the_reap() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.replconf(3, &[b"capa", b"eof"], 0);
        r.sync(3, None, 0);
        assert_eq!(r.bgsave_started(true), vec![3]);
        r.feed(b"during", &mut o);
        r.replconf(3, &[b"ack", b"0"], 0);
        assert_eq!(r.start_stream_on_ack(3, 0), None, "an ACK before the end mark was sent changes nothing");
        assert_eq!(r.info(0)[0].state, "wait_bgsave");
        r.transfer_sent(&[3]);
        r.replconf(3, &[b"ack", b"6"], 500);
        assert_eq!(r.start_stream_on_ack(3, 500), Some(b"during".to_vec()));
        assert_eq!(r.info(500)[0].state, "online");
        // The child is reaped later: the replica is no longer waiting for it.
        assert!(r.bgsave_done().is_empty());
        r.feed(b"live", &mut o);
        assert_eq!(o.take(), vec![(3, b"live".to_vec())]);
    }
    #[test]
    fn replconf_rdb_only_and_filter_only_words_and_the_eof_requirement() {
        let mut r = repl();
        assert_eq!(r.replconf(1, &[b"rdb-only", b"2"], 0), Some(Err("ERR value is out of range, value must between 0 and 1".into())));
        assert_eq!(r.replconf(1, &[b"rdb-filter-only", b"functions x"], 0), Some(Err("ERR Unsupported rdb-filter-only option: x".into())));
        assert_eq!(r.replconf(1, &[b"rdb-only", b"1", b"rdb-filter-only", b""], 0), Some(Ok(())));
        let me = r.replica(1).map(|m| (m.rdb_only, m.filter));
        assert_eq!(me, Some((true, RdbFilter { exclude_data: true, exclude_functions: true })));
        // A filtered snapshot goes to the socket only: no SYNC without capa eof.
        assert_eq!(r.sync(1, None, 0), SyncDecision::Refused("ERR Filtered replica requires EOF capability"));
        assert!(!r.is_replica(1) && r.sync_stats.full == 0);
        r.replconf(1, &[b"capa", b"eof"], 0);
        assert_eq!(r.sync(1, None, 0), SyncDecision::Full);
    }

    #[test]
    fn a_fork_serves_the_replicas_that_asked_for_the_first_ones_snapshot() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.replconf(1, &[b"capa", b"eof", b"rdb-filter-only", b"functions"], 0);
        r.replconf(2, &[b"capa", b"eof"], 0);
        r.replconf(3, &[b"capa", b"eof", b"rdb-filter-only", b"FUNCTIONS", b"rdb-only", b"1"], 0);
        for id in [1, 2, 3] {
            assert_eq!(r.sync(id, None, 0), SyncDecision::Full);
        }
        let functions_only = RdbFilter { exclude_data: true, exclude_functions: false };
        assert_eq!(r.fork_filter(), Some(functions_only));
        assert!(r.waiting_all_eof());
        assert_eq!(r.bgsave_started(true), vec![1, 3]);
        assert_eq!(r.fork_filter(), Some(RdbFilter::default()), "replica 2 waits for the next fork");
        r.feed(b"during", &mut o);
        assert_eq!((r.pending_bytes_of(1), r.pending_bytes_of(3)), (6, 0), "a snapshot-only replica holds no stream");
        assert_eq!(r.bgsave_done(), vec![1, 3]);
        assert!(r.online_on_ack(1, 0));
        assert!(!r.online_on_ack(3, 0), "snapshot only: to be closed");
        assert_eq!(r.replica(3).and_then(|m| m.state), Some(ReplicaState::RdbTransmitted));
        r.replconf(3, &[b"ack", b"6"], 0);
        assert_eq!(r.start_stream_on_ack(3, 0), None, "never a stream");
        assert_eq!(r.bgsave_started(false), vec![2]);
    }

    #[test]
    fn a_snapshot_only_replica_joins_a_disk_save_but_a_full_replica_never_joins_a_snapshot_only_one() {
        let mut r = repl();
        let mut o = Outbox::default();
        r.replconf(1, &[b"rdb-only", b"1"], 0);
        r.sync(1, None, 0);
        assert_eq!(r.bgsave_started(false), vec![1]);
        r.sync(2, None, 0);
        assert!(!r.join_running_sync(2), "nobody held the stream since that fork");
        r.replconf(3, &[b"rdb-only", b"1"], 0);
        r.sync(3, None, 0);
        assert!(r.join_running_sync(3));
        r.replconf(4, &[b"capa", b"eof", b"rdb-filter-only", b"functions"], 0);
        r.sync(4, None, 0);
        assert!(!r.join_running_sync(4), "another snapshot");
        r.feed(b"x", &mut o);
        assert_eq!(r.bgsave_done(), vec![1, 3]);
        assert_eq!(r.online(1, 0), None);
        assert_eq!(r.online(3, 0), None);
        assert_eq!(r.info(0).iter().map(|i| i.state).collect::<Vec<_>>(), vec!["rdb_transmitted", "wait_bgsave", "rdb_transmitted", "wait_bgsave"]);
    }
}
