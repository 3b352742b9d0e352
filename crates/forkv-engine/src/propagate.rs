//! Command propagation to the append-only file: writes are logged in RESP, with a SELECT
//! whenever the database differs from the previous logged command's (Valkey's
//! `feedAppendOnlyFile`). Commands with relative or random effects are logged by their
//! effect by the handlers themselves (see `Ctx::also_propagate`).

/// Collects the RESP form of executed writes until the host flushes them to the AOF.
#[derive(Default)]
pub struct Propagator {
    /// True when an AOF is being written (appendonly yes or a rewrite is starting).
    pub enabled: bool,
    buf: Vec<u8>,
    last_db: Option<usize>,
    /// Set by a handler that logged its effect instead of its own argv.
    pub(crate) suppress_current: bool,
}

impl Propagator {
    /// Logs one command executed in `db`.
    pub fn log(&mut self, db: usize, argv: &[&[u8]]) {
        if !self.enabled {
            return;
        }
        if self.last_db != Some(db) {
            let db_s = db.to_string();
            encode_command(&mut self.buf, &[b"SELECT", db_s.as_bytes()]);
            self.last_db = Some(db);
        }
        encode_command(&mut self.buf, argv);
    }

    /// Forgets the last database so that the next command is preceded by SELECT (a new
    /// AOF file begins).
    pub fn reset_db(&mut self) {
        self.last_db = None;
    }

    /// Bytes waiting to be written to the AOF.
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
