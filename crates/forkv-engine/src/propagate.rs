//! Command propagation to the append-only file: writes are logged in RESP, with a SELECT
//! whenever the database differs from the previous logged command's (Valkey's
//! `feedAppendOnlyFile`). Commands with relative or random effects are logged by their
//! effect by the handlers themselves (see `Ctx::also_propagate`).
//!
//! A transaction's writes are logged as one unit: EXEC collects them apart and, when
//! there is more than one, wraps them in MULTI ... EXEC so that a replay applies all or
//! nothing (Valkey's `propagatePendingCommands`; a single write is atomic by itself and
//! goes out bare, a read-only transaction leaves no trace).
//!
//! One command is an execution unit too ([`Propagator::begin_unit`] /
//! [`Propagator::end_unit`]): the keys its lookups found expired and deleted are
//! propagated as a DEL (UNLINK with `lazyfree-lazy-expire yes`) ahead of the command's
//! own effects, and a unit with more than one operation is wrapped in MULTI ... EXEC,
//! except for the commands that touch arbitrary keys (SCAN, RANDOMKEY, KEYS), whose
//! deletions go out bare, as Valkey's `propagatePendingCommands` does. Keys the active
//! expire cycle deletes are propagated one by one, unwrapped.
//!
//! PUBLISH and SPUBLISH go to the replicas only (Valkey's `forceCommandPropagation(c,
//! PROPAGATE_REPL)`), so that a replica's subscribers get the messages published on its
//! primary: they enter the one stream like any operation (a transaction wraps them with
//! its writes) and [`without_replica_only`] takes them out of the AOF's copy.

/// Collects the RESP form of executed writes until the host flushes them to the AOF.
#[derive(Default)]
pub struct Propagator {
    /// True when an AOF is being written (appendonly yes or a rewrite is starting).
    pub enabled: bool,
    buf: Vec<u8>,
    last_db: Option<usize>,
    /// Set by a handler that logged its effect instead of its own argv.
    pub(crate) suppress_current: bool,
    /// Inside EXEC: the transaction's writes, and how many there are. Kept apart from
    /// `buf` so that an AOF flush while EXEC waits on a host command never splits it.
    tx: Option<(Vec<u8>, usize)>,
    /// The command being executed, while one is.
    unit: Option<Unit>,
    /// The pending bytes hold a replicas-only operation (see [`Propagator::log_for_replicas`]).
    replica_only: bool,
}

/// Where the executing command's operations begin in the stream, so that deletions
/// found during it can be put ahead of them and the whole wrapped.
struct Unit {
    /// Offset of the unit's first byte in the buffer it writes to.
    start: usize,
    /// `last_db` when the unit began.
    db_before: Option<usize>,
    /// The SELECT (db, encoded length) the unit's first operation began with.
    first_select: Option<(usize, usize)>,
    /// Operations logged in the unit.
    ops: usize,
}

impl Propagator {
    /// Logs one command executed in `db`.
    pub fn log(&mut self, db: usize, argv: &[&[u8]]) {
        if !self.enabled {
            return;
        }
        let out = match &mut self.tx {
            Some((buf, ops)) => {
                *ops += 1;
                buf
            }
            None => &mut self.buf,
        };
        // In a transaction the SELECT goes inside MULTI, as Valkey writes it.
        if self.last_db != Some(db) {
            let at = out.len();
            let db_s = db.to_string();
            encode_command(out, &[b"SELECT", db_s.as_bytes()]);
            self.last_db = Some(db);
            if let Some(u) = &mut self.unit {
                if u.start == at {
                    u.first_select = Some((db, out.len() - at));
                }
            }
        }
        encode_command(out, argv);
        if let Some(u) = &mut self.unit {
            u.ops += 1;
        }
    }

    /// Logs a command that goes to the replicas but never to the AOF (PUBLISH).
    pub fn log_for_replicas(&mut self, db: usize, argv: &[&[u8]]) {
        if self.enabled {
            self.log(db, argv);
            self.replica_only = true;
        }
    }

    /// True when the pending bytes (or a running transaction's) hold a replicas-only
    /// operation: the AOF's copy must go through [`without_replica_only`].
    pub fn has_replica_only(&self) -> bool {
        self.replica_only
    }

    fn target(&mut self) -> &mut Vec<u8> {
        match &mut self.tx {
            Some((buf, _)) => buf,
            None => &mut self.buf,
        }
    }

    /// A command starts executing (see the module notes).
    pub fn begin_unit(&mut self) {
        if !self.enabled {
            return;
        }
        let start = self.target().len();
        self.unit = Some(Unit { start, db_before: self.last_db, first_select: None, ops: 0 });
    }

    /// The command is over: `expired` are the keys its lookups deleted (db, key), put
    /// ahead of its own operations as `DEL`/`UNLINK` (`unlink`); `may_wrap` is false for
    /// the commands whose deletions go out unwrapped.
    pub fn end_unit(&mut self, expired: &[(usize, Box<[u8]>)], unlink: bool, may_wrap: bool) {
        let Some(u) = self.unit.take() else {
            return;
        };
        if !self.enabled {
            return;
        }
        let in_tx = self.tx.is_some();
        let wrap = !in_tx && may_wrap && expired.len() + u.ops > 1;
        if expired.is_empty() && !wrap {
            return;
        }
        let tail = self.target().split_off(u.start);
        let db_after = self.last_db;
        self.last_db = u.db_before;
        let verb: &[u8] = if unlink { b"UNLINK" } else { b"DEL" };
        for (db, key) in expired {
            self.log(*db, &[verb, key]);
        }
        if u.ops > 0 {
            // The tail was encoded for `db_before`; re-select where the deletions left
            // another database, and drop its own SELECT where they selected the same.
            let mut tail_body: &[u8] = &tail;
            match u.first_select {
                Some((db, len)) if self.last_db == Some(db) => tail_body = &tail[len..],
                Some(_) => {}
                None => {
                    if let Some(db) = u.db_before.filter(|&d| self.last_db != Some(d)) {
                        let db_s = db.to_string();
                        encode_command(self.target(), &[b"SELECT", db_s.as_bytes()]);
                    }
                }
            }
            self.target().extend_from_slice(tail_body);
            self.last_db = db_after;
        }
        if wrap {
            let out = self.target();
            let body = out.split_off(u.start);
            encode_command(out, &[b"MULTI"]);
            out.extend_from_slice(&body);
            encode_command(out, &[b"EXEC"]);
        }
    }

    /// Logs keys deleted outside any command (the active expire cycle): one operation
    /// each, unwrapped.
    pub fn log_expired(&mut self, expired: &[(usize, Box<[u8]>)], unlink: bool) {
        let verb: &[u8] = if unlink { b"UNLINK" } else { b"DEL" };
        for (db, key) in expired {
            self.log(*db, &[verb, key]);
        }
    }

    /// EXEC starts: collect the writes that follow as one transaction.
    pub fn begin_transaction(&mut self) {
        self.tx = Some((Vec::new(), 0));
    }

    /// A transaction (EXEC, a script) is collecting writes.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// EXEC is over: append its writes, wrapped in MULTI/EXEC when there are several.
    pub fn end_transaction(&mut self) {
        let Some((body, ops)) = self.tx.take() else {
            return;
        };
        if ops > 1 {
            encode_command(&mut self.buf, &[b"MULTI"]);
            self.buf.extend_from_slice(&body);
            encode_command(&mut self.buf, &[b"EXEC"]);
        } else {
            self.buf.extend_from_slice(&body);
        }
    }

    /// Drops a transaction's writes unpropagated (a script stopped by SHUTDOWN NOSAVE).
    /// The next command gets its SELECT again.
    pub fn discard_transaction(&mut self) {
        if self.tx.take().is_some() {
            self.last_db = None;
        }
    }

    /// The database the stream last selected (None: the next command starts with SELECT).
    pub fn last_db(&self) -> Option<usize> {
        self.last_db
    }

    /// Forgets the last database so that the next command is preceded by SELECT (a new
    /// AOF file begins).
    pub fn reset_db(&mut self) {
        self.last_db = None;
    }

    /// Bytes waiting to be written to the AOF (a running transaction's are not yet).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// True while a command's operations are being collected (its bytes may still move).
    pub fn in_unit(&self) -> bool {
        self.unit.is_some()
    }

    /// Bytes allocated for the AOF buffer while an AOF is written (MEMORY STATS
    /// `aof.buffer`), 0 otherwise.
    pub fn buffer_bytes(&self) -> usize {
        if self.enabled {
            self.buf.capacity()
        } else {
            0
        }
    }

    /// Takes the pending bytes.
    pub fn take(&mut self) -> Vec<u8> {
        // A transaction still collecting keeps its own replicas-only operations.
        self.replica_only = self.replica_only && self.tx.is_some();
        std::mem::take(&mut self.buf)
    }
}

/// The commands replicas get and the AOF does not (see the module notes).
fn is_replica_only(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"PUBLISH") || name.eq_ignore_ascii_case(b"SPUBLISH")
}

/// The AOF's copy of a stream: `stream` without its PUBLISH and SPUBLISH commands. The
/// stream is this module's own encoding; should a command not parse, the rest is kept
/// as it is.
pub fn without_replica_only(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stream.len());
    let mut at = 0;
    while at < stream.len() {
        let Some((len, first)) = command_extent(&stream[at..]) else {
            out.extend_from_slice(&stream[at..]);
            break;
        };
        if !is_replica_only(first) {
            out.extend_from_slice(&stream[at..at + len]);
        }
        at += len;
    }
    out
}

/// The length of the RESP multibulk command at the start of `bytes` and its first
/// argument, or None when it does not parse.
fn command_extent(bytes: &[u8]) -> Option<(usize, &[u8])> {
    fn line(bytes: &[u8], at: usize, tag: u8) -> Option<(usize, usize)> {
        if bytes.get(at) != Some(&tag) {
            return None;
        }
        let end = at + bytes.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(bytes.get(at + 1..end)?).ok()?.parse().ok()?;
        Some((n, end + 2))
    }
    let (argc, mut at) = line(bytes, 0, b'*')?;
    let mut first: &[u8] = &[];
    for i in 0..argc {
        let (len, start) = line(bytes, at, b'$')?;
        let end = start.checked_add(len)?;
        if i == 0 {
            first = bytes.get(start..end)?;
        }
        if bytes.get(end..end + 2)? != b"\r\n" {
            return None;
        }
        at = end + 2;
    }
    Some((at, first))
}

/// Appends a command as a RESP multibulk (the AOF crate's encoder: one format).
pub use forkv_aof::encode_command;

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(cmds: &[&[&[u8]]]) -> Vec<u8> {
        let mut out = Vec::new();
        for argv in cmds {
            encode_command(&mut out, argv);
        }
        out
    }

    #[test]
    fn the_aof_copy_drops_publish_and_keeps_the_rest() {
        let mut p = Propagator { enabled: true, ..Default::default() };
        p.begin_transaction();
        p.log(0, &[b"SET", b"k", b"v"]);
        p.log_for_replicas(0, &[b"publish", b"ch", b"m\r\n"]);
        p.log_for_replicas(0, &[b"SPUBLISH", b"sh", b""]);
        p.end_transaction();
        assert!(p.has_replica_only());
        let all = p.take();
        assert!(!p.has_replica_only());
        assert_eq!(
            all,
            stream(&[&[b"MULTI"], &[b"SELECT", b"0"], &[b"SET", b"k", b"v"], &[b"publish", b"ch", b"m\r\n"], &[b"SPUBLISH", b"sh", b""], &[b"EXEC"]])
        );
        assert_eq!(without_replica_only(&all), stream(&[&[b"MULTI"], &[b"SELECT", b"0"], &[b"SET", b"k", b"v"], &[b"EXEC"]]));
    }

    #[test]
    fn nothing_is_logged_for_replicas_while_propagation_is_off() {
        let mut p = Propagator::default();
        p.log_for_replicas(0, &[b"PUBLISH", b"ch", b"m"]);
        assert!(p.take().is_empty());
        assert!(!p.has_replica_only());
    }

    #[test]
    fn a_stream_that_does_not_parse_is_kept_from_there_on() {
        let mut s = stream(&[&[b"PUBLISH", b"a", b"b"], &[b"SET", b"k", b"v"]]);
        s.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n$9\r\nshort");
        let expected = [&stream(&[&[b"SET", b"k", b"v"]])[..], b"*2\r\n$3\r\nDEL\r\n$9\r\nshort"].concat();
        assert_eq!(without_replica_only(&s), expected);
    }
}
