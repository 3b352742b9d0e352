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
        std::mem::take(&mut self.buf)
    }
}

/// Appends a command as a RESP multibulk (the AOF crate's encoder: one format).
pub use forkv_aof::encode_command;
