//! Command propagation to the append-only file: writes are logged in RESP, with a SELECT
//! whenever the database differs from the previous logged command's (Valkey's
//! `feedAppendOnlyFile`). Commands with relative or random effects are logged by their
//! effect by the handlers themselves (see `Ctx::also_propagate`).
//!
//! A transaction's writes are logged as one unit: EXEC collects them apart and, when
//! there is more than one, wraps them in MULTI ... EXEC so that a replay applies all or
//! nothing (Valkey's `propagatePendingCommands`; a single write is atomic by itself and
//! goes out bare, a read-only transaction leaves no trace).

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
            let db_s = db.to_string();
            encode_command(out, &[b"SELECT", db_s.as_bytes()]);
            self.last_db = Some(db);
        }
        encode_command(out, argv);
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

    /// Forgets the last database so that the next command is preceded by SELECT (a new
    /// AOF file begins).
    pub fn reset_db(&mut self) {
        self.last_db = None;
    }

    /// Bytes waiting to be written to the AOF (a running transaction's are not yet).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the pending bytes.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Appends a command as a RESP multibulk (the AOF crate's encoder: one format).
pub use forkv_aof::encode_command;
