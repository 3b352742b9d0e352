//! Replication, replica side: the primary's stream as this replica applies it (Valkey's
//! primary client: readQueryFromClient, processInputBuffer and commandProcessed for it).
//!
//! The host reads the link's socket and hands each read, with whatever it kept of the
//! previous one, to [`Server::feed_primary`], which in one call:
//! - finds the complete commands (a half-received one waits for the next read; a bare
//!   newline is the primary's keepalive and counts as a command that does nothing);
//! - runs them as the primary client (its replies are dropped, as Valkey never writes
//!   them), a command that only the host could run being refused;
//! - answers `REPLCONF GETACK` with `REPLCONF ACK <offset> [FACK <aof offset>]`, the
//!   offset being the one *before* the GETACK (Valkey's replconfCommand runs before its
//!   own bytes are counted);
//! - keeps the replica's offset (the bytes of the commands processed) and the AOF marks
//!   behind FACK ([`FsyncedOffset`]);
//! - passes what it applied on, unchanged, to this server's own replicas (chained
//!   replication).
//!
//! What the host needs back is packed in one buffer ([`PrimaryFeed::encode`]): the ACK
//! bytes to write to the primary, then how many input bytes were consumed and a status
//! byte, so that a read of the link costs one crossing.

use forkv_engine::Outcome;

use crate::step_status::{DELIVER, FLUSHED_ALL, LOGS, WOKEN};
use crate::wait_now::AofMarks;
use crate::Server;

/// Status bit of a [`PrimaryFeed`]: the primary's command got an error reply under
/// `propagation-error-behavior panic(-on-replicas)`; the host takes the request
/// (`take_panic_request`) and stops. The other bits are [`crate::step_status`]'s.
pub const PANIC: u8 = 0x08;

/// Bytes after the ACKs in an encoded [`PrimaryFeed`]: the consumed count (f64, little
/// endian) and the status byte.
pub const TRAILER: usize = 9;

/// The replica's bookkeeping of the link (Valkey's `server.primary` client state).
#[derive(Debug)]
pub struct PrimaryLink {
    /// The core client that runs the primary's commands (0: none).
    client: u64,
    /// The bytes of the primary's stream processed (-1: no history yet).
    offset: i64,
    /// How far the AOF is fsynced, in stream offsets (FACK).
    fsynced: FsyncedOffset,
    /// After a full sync the AOF starts again from the loaded data with a rewrite: until
    /// that rewrite is installed the ACKs carry no FACK, and then FACK is the offset the
    /// rewrite started at (Valkey's fsynced_reploff -1 in AOF_WAIT_REWRITE, and its
    /// fsynced_reploff_pending set when the rewrite starts): a write applied after the
    /// start is counted only once an fsync covers it.
    rewrite_pending: Option<i64>,
}

impl PrimaryLink {
    /// Client `id` runs the primary's commands from now on.
    pub(crate) fn set_client(&mut self, id: u64) {
        self.client = id;
    }

    /// An AOF rewrite was installed: the offset the post-sync rewrite started at is fsynced.
    pub(crate) fn rewrite_installed(&mut self) {
        if let Some(p) = self.rewrite_pending.take() {
            self.fsynced.best = self.fsynced.best.max(p);
        }
    }

    /// Client `id` went away: if it was the primary client, there is none.
    pub(crate) fn forget_client(&mut self, id: u64) {
        if self.client == id {
            self.client = 0;
        }
    }
}

impl Default for PrimaryLink {
    fn default() -> Self {
        PrimaryLink { client: 0, offset: -1, fsynced: FsyncedOffset::default(), rewrite_pending: None }
    }
}

/// What one read of the primary link produced for the host.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PrimaryFeed {
    /// Input bytes consumed (complete commands); the rest waits for the next read.
    pub consumed: usize,
    /// `REPLCONF ACK` commands to write to the primary, in order.
    pub acks: Vec<u8>,
    /// [`WOKEN`], [`FLUSHED_ALL`], [`LOGS`], [`DELIVER`] and [`PANIC`] bits.
    pub status: u8,
}

impl PrimaryFeed {
    /// The ACK bytes, then the consumed count (f64 LE) and the status byte.
    pub fn encode(self) -> Vec<u8> {
        let mut out = self.acks;
        out.extend_from_slice(&(self.consumed as f64).to_le_bytes());
        out.push(self.status);
        out
    }
}

/// One complete command of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StreamCommand {
    /// Offset just past the command.
    end: usize,
    /// `REPLCONF GETACK <anything>`: answered with `REPLCONF ACK`, not run.
    getack: bool,
}

/// The decimal integer in `b`, or None when it is not one (at most 12 digits).
fn parse_len(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 12 {
        return None;
    }
    b.iter().try_fold(0usize, |n, &c| c.is_ascii_digit().then(|| n * 10 + usize::from(c - b'0')))
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?.iter().position(|&c| c == b'\n').map(|i| from + i)
}

/// The complete commands at the start of `buf`, in order. A primary sends multibulk
/// commands; a bare newline (a keepalive) is a command of its own. Err on bytes that
/// are not the replication protocol (the host drops the link).
fn scan_commands(buf: &[u8]) -> Result<Vec<StreamCommand>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match buf[pos] {
            b'\n' => {
                pos += 1;
                out.push(StreamCommand { end: pos, getack: false });
                continue;
            }
            b'\r' => {
                match buf.get(pos + 1) {
                    None => break,
                    Some(b'\n') => {}
                    Some(_) => return Err("Protocol error: stray CR in the replication stream".into()),
                }
                pos += 2;
                out.push(StreamCommand { end: pos, getack: false });
                continue;
            }
            b'*' => {}
            c => return Err(format!("Protocol error: expected '*', got '{}' in the replication stream", char::from(c))),
        }
        let Some(nl) = line_end(buf, pos) else { break };
        let argc = (buf[nl - 1] == b'\r').then(|| parse_len(&buf[pos + 1..nl - 1])).flatten();
        let Some(argc) = argc else { return Err("Protocol error: invalid multibulk length in the replication stream".into()) };
        let mut p = nl + 1;
        let mut getack = argc == 3;
        let mut complete = true;
        for i in 0..argc {
            let Some(&c) = buf.get(p) else {
                complete = false;
                break;
            };
            if c != b'$' {
                return Err("Protocol error: expected '$' in the replication stream".into());
            }
            let Some(bl) = line_end(buf, p) else {
                complete = false;
                break;
            };
            let len = (buf[bl - 1] == b'\r').then(|| parse_len(&buf[p + 1..bl - 1])).flatten();
            let Some(len) = len else { return Err("Protocol error: invalid bulk length in the replication stream".into()) };
            let start = bl + 1;
            if start + len + 2 > buf.len() {
                complete = false;
                break;
            }
            let word = &buf[start..start + len];
            if getack && i == 0 {
                getack = word.eq_ignore_ascii_case(b"replconf");
            } else if getack && i == 1 {
                getack = word.eq_ignore_ascii_case(b"getack");
            }
            p = start + len + 2;
        }
        if !complete {
            break;
        }
        pos = p;
        out.push(StreamCommand { end: pos, getack });
    }
    Ok(out)
}

/// `REPLCONF ACK <offset>`, with `FACK <aof offset>` when the AOF is on.
pub fn ack_command(offset: i64, fack: Option<i64>) -> Vec<u8> {
    let o = offset.to_string();
    match fack {
        None => format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{o}\r\n", o.len()).into_bytes(),
        Some(f) => {
            let f = f.to_string();
            format!("*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{o}\r\n$4\r\nFACK\r\n${}\r\n{f}\r\n", o.len(), f.len()).into_bytes()
        }
    }
}

/// The replica's fsynced offset for FACK (Valkey's `fsynced_reploff` on a replica): after
/// each applied piece of the stream the AOF position it ends at is remembered with its
/// stream offset; an offset counts once the AOF is fsynced past its position.
#[derive(Debug, Default)]
pub struct FsyncedOffset {
    marks: std::collections::VecDeque<(u64, i64)>,
    pub(crate) best: i64,
}

impl FsyncedOffset {
    /// The stream up to `offset` was applied; `m` is the AOF after it (None: AOF off).
    pub fn mark(&mut self, offset: i64, m: Option<AofMarks>) {
        let Some(m) = m else { return };
        match self.marks.back_mut() {
            Some(last) if last.0 == m.appended => last.1 = offset,
            _ => self.marks.push_back((m.appended, offset)),
        }
    }

    /// The FACK to send at stream offset `offset`, or None while the AOF is off.
    pub fn fack(&mut self, offset: i64, m: Option<AofMarks>) -> Option<i64> {
        let Some(m) = m else {
            self.marks.clear();
            return None;
        };
        // While the AOF waits for its first rewrite nothing counts as fsynced.
        let synced = m.synced;
        while let Some(&(appended, off)) = self.marks.front() {
            if synced.is_none_or(|s| appended > s) {
                break;
            }
            self.best = self.best.max(off);
            self.marks.pop_front();
        }
        // Everything appended is fsynced: the offset itself is (PINGs add no AOF bytes).
        if synced.is_some_and(|s| s >= m.appended) {
            self.best = self.best.max(offset);
        }
        Some(self.best)
    }

    /// A new replication history (full sync, new primary): offsets start over.
    pub fn reset(&mut self) {
        self.marks.clear();
        self.best = 0;
    }
}

impl Server {
    /// The replica's offset in its primary's stream (-1: none yet).
    pub fn replica_offset(&self) -> i64 {
        self.primary_link.offset
    }

    /// A new history (a full sync's snapshot, a cached one, none: -1): the offset, and the
    /// FACK bookkeeping starts over.
    pub fn set_replica_offset(&mut self, offset: i64) {
        self.primary_link.offset = offset;
        self.primary_link.fsynced.reset();
        self.primary_link.rewrite_pending = None;
    }

    /// The stream up to the current offset was applied: remember where the AOF ends.
    fn mark_applied(&mut self) {
        let m = self.aof_sync_marks().map(|(appended, synced)| AofMarks { appended, synced });
        let off = self.primary_link.offset;
        self.primary_link.fsynced.mark(off, m);
    }

    /// `REPLCONF ACK <offset>` (with FACK when the AOF is on), as the link sends it once
    /// it is up, every second and for each GETACK.
    pub fn primary_ack(&mut self) -> Vec<u8> {
        let m = self.aof_sync_marks().map(|(appended, synced)| AofMarks { appended, synced });
        let off = self.primary_link.offset;
        if self.primary_link.rewrite_pending.is_some() && m.is_some() {
            return ack_command(off, None);
        }
        let fack = self.primary_link.fsynced.fack(off, m);
        ack_command(off, fack)
    }

    /// The link came up (a partial resync, or a full sync's snapshot loaded): the stream
    /// continues in database `db` (the snapshot's `repl-stream-db`; Valkey creates its
    /// primary client there), which is not part of the stream and so not counted. Returns
    /// the ACK the link sends first. `after_sync`: a full sync's snapshot was loaded and
    /// the AOF, if on, was started again with a rewrite (see `rewrite_pending`).
    pub fn primary_link_up(&mut self, db: Option<usize>, after_sync: bool) -> Vec<u8> {
        if let Some(db) = db.filter(|&d| d > 0) {
            let d = db.to_string();
            let select = format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{d}\r\n", d.len());
            self.run_primary(select.as_bytes());
        }
        if after_sync && self.aof.is_open() {
            self.primary_link.rewrite_pending = Some(self.primary_link.offset);
        }
        self.mark_applied();
        self.primary_ack()
    }

    /// One read of the primary link (see the module's essay): `buf` is what the host holds
    /// of the stream. Err on a protocol error (nothing was run).
    pub fn feed_primary(&mut self, buf: &[u8]) -> Result<PrimaryFeed, String> {
        // A pause (CLIENT PAUSE WRITE or ALL, a failover's or a shutdown's) holds the
        // primary's stream whole: nothing consumed, nothing run or acknowledged, until the
        // host hands the held bytes again after it (Valkey's PAUSE_ACTION_REPLICA: the
        // primary client's commands wait in its query buffer).
        self.engine.update_pause();
        if self.engine.is_paused() {
            return Ok(PrimaryFeed::default());
        }
        let cmds = scan_commands(buf)?;
        let Some(last) = cmds.last() else { return Ok(PrimaryFeed::default()) };
        let consumed = last.end;
        let mut acks = Vec::new();
        let mut from = 0;
        let mut run_from = 0;
        for c in &cmds {
            if c.getack {
                self.run_primary(&buf[run_from..from]);
                self.primary_link.offset += (from - run_from) as i64;
                self.mark_applied();
                acks.extend_from_slice(&self.primary_ack());
                self.primary_link.offset += (c.end - from) as i64;
                run_from = c.end;
            }
            from = c.end;
        }
        self.run_primary(&buf[run_from..from]);
        self.primary_link.offset += (from - run_from) as i64;
        self.mark_applied();
        // What was applied goes on, unchanged, to our own replicas (chained replication).
        self.repl_feed_upstream(&buf[..consumed]);
        let mut status = 0;
        if self.engine.has_woken() {
            status |= WOKEN;
        }
        if self.engine.ks.take_flushed_all() {
            status |= FLUSHED_ALL;
        }
        if !self.engine.logs.is_empty() {
            status |= LOGS;
        }
        if self.has_deliveries() {
            status |= DELIVER;
        }
        if self.engine.panic_request.is_some() {
            status |= PANIC;
        }
        Ok(PrimaryFeed { consumed, acks, status })
    }

    /// Runs complete commands as the primary client; replies are dropped. A command that
    /// only the host could run is refused (no write command needs the host).
    fn run_primary(&mut self, bytes: &[u8]) {
        let id = self.primary_link.client;
        if bytes.is_empty() || id == 0 {
            return;
        }
        let mut outcome = self.feed(id, bytes);
        while let Outcome::Host(argv) = outcome {
            let name = argv.first().map_or_else(|| "?".into(), |a| String::from_utf8_lossy(a).into_owned());
            self.engine.logs.push(forkv_engine::log::LogLevel::Warning, format!("The primary sent '{name}', which a replica does not run"));
            outcome = self.resume(id, b"-ERR not run on a replica\r\n");
        }
        self.clear_reply();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_complete_commands_and_getack() {
        let buf = b"\n*1\r\n$4\r\nPING\r\n*3\r\n$8\r\nreplconf\r\n$6\r\nGETACK\r\n$1\r\n*\r\n*2\r\n$3\r\nGET";
        let c = scan_commands(buf).expect("scan");
        assert_eq!(c, vec![StreamCommand { end: 1, getack: false }, StreamCommand { end: 15, getack: false }, StreamCommand { end: 52, getack: true }]);
    }

    #[test]
    fn scan_finds_boundaries_keepalives_getack_and_stops_at_partial_input() {
        let buf = b"*1\r\n$4\r\nPING\r\n\n*3\r\n$8\r\nreplconf\r\n$6\r\nGETACK\r\n$1\r\n*\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv";
        let c = scan_commands(buf).expect("scan");
        assert_eq!(c, vec![StreamCommand { end: 14, getack: false }, StreamCommand { end: 15, getack: false }, StreamCommand { end: 52, getack: true }]);
        assert!(scan_commands(b"+OK\r\n").expect_err("not the protocol").contains("expected '*'"));
        assert_eq!(scan_commands(b"*2\r\n$3\r\nGET").expect("scan"), vec![]);
    }

    #[test]
    fn scan_rejects_what_is_not_the_protocol() {
        assert!(scan_commands(b"GET x\r\n").is_err());
        assert!(scan_commands(b"*x\r\n").is_err());
        assert!(scan_commands(b"*1\r\n+OK\r\n").is_err());
        assert!(scan_commands(b"\rx").is_err());
        assert_eq!(scan_commands(b"\r").expect("scan"), vec![]);
    }

    #[test]
    fn fack_counts_marks_once_fsynced() {
        let mut f = FsyncedOffset::default();
        f.mark(10, Some(AofMarks { appended: 100, synced: Some(0) }));
        f.mark(20, Some(AofMarks { appended: 200, synced: Some(0) }));
        assert_eq!(f.fack(20, Some(AofMarks { appended: 200, synced: Some(150) })), Some(10));
        assert_eq!(f.fack(25, Some(AofMarks { appended: 200, synced: Some(200) })), Some(25));
        assert_eq!(f.fack(25, Some(AofMarks { appended: 200, synced: None })), Some(25));
        assert_eq!(f.fack(25, None), None);
    }

    #[test]
    fn ack_commands() {
        assert_eq!(ack_command(5, None), b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n5\r\n".to_vec());
        assert_eq!(ack_command(12, Some(3)), b"*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n12\r\n$4\r\nFACK\r\n$1\r\n3\r\n".to_vec());
    }
}
