//! Loading the dataset, as Valkey's `loadDataFromDisk` and `DEBUG RELOAD`/`LOADAOF`:
//! the start-up load of the RDB file or the AOF directory on a loader thread (the engine
//! answers `-LOADING` meanwhile, and [`Server::poll_load`] installs the result), and the
//! synchronous RDB load of `DEBUG RELOAD`.
//!
//! A load builds a fresh keyspace beside the live one, under the configured encoding
//! limits, and installs it in one step with its function libraries, so a file that cannot
//! be loaded leaves the dataset as it was. An AOF load also keeps the manifest it read:
//! the AOF opened after it ([`Server::aof_open_loaded`]) or the one a `DEBUG LOADAOF`
//! reloaded ([`Server::aof_adopt_reload`]) appends according to it.
//!
//! The host only starts a load, polls it from a timer and logs the report.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use forkv_engine::log::LogLine;
use forkv_engine::RestorePolicy;
use forkv_keyspace::Keyspace;
use forkv_rdb::{LoadOptions, LoadProgress};

use super::aof_job::LoadedAof;
use super::stream_input::{stream_input, StreamInput};
use crate::aof_load::{load_aof, AofLoadParams};
use crate::Server;

/// What a load produced besides the keyspace: the figures of its log lines and INFO.
#[derive(Clone, Debug, Default)]
pub struct LoadSummary {
    pub keys: u64,
    pub expired_skipped: u64,
    pub bytes: u64,
    /// RDB version of the file (0 for an AOF).
    pub version: u32,
    /// AOF: the manifest read, for the AOF that appends after the load.
    pub aof: Option<LoadedAof>,
    /// AOF: the file cut at a truncated tail, and its new length.
    pub truncated_at: Option<(String, u64)>,
    /// AOF: commands replayed.
    pub commands: u64,
    /// RDB: empty collections skipped (old servers could save them).
    pub empty_skipped: u64,
    /// Notice-level lines to log before the summary line (the skipped empty keys).
    pub notes: Vec<String>,
    /// The function libraries' codes, installed with the keyspace.
    pub functions: Vec<Vec<u8>>,
    /// RDB: the `repl-stream-db` AUX field (the database the primary's stream is in).
    pub repl_stream_db: Option<u32>,
    /// RDB: the `repl-id` and `repl-offset` AUX fields (a replica's place in its primary's
    /// stream), when both are there and well-formed.
    pub repl_position: Option<(String, u64)>,
    /// RDB, a primary's start-up load: the keys skipped as expired (database, name), which
    /// its replicas must delete too (see [`Server::repl_restore_primary`]).
    pub expired_keys: Vec<(usize, Box<[u8]>)>,
}

impl LoadSummary {
    fn from_rdb(stats: &mut forkv_rdb::LoadStats) -> Self {
        LoadSummary {
            keys: stats.keys_loaded,
            expired_skipped: stats.expired_skipped,
            bytes: stats.bytes_read,
            version: stats.version,
            empty_skipped: stats.empty_skipped,
            notes: stats.log_lines(),
            functions: stats.functions.clone(),
            repl_stream_db: stats
                .aux_value("repl-stream-db")
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse().ok()),
            repl_position: repl_position(stats),
            expired_keys: std::mem::take(&mut stats.expired_keys),
            ..LoadSummary::default()
        }
    }

    fn from_aof(ks: &Keyspace, report: forkv_aof::LoadReport, functions: Vec<Vec<u8>>) -> Self {
        LoadSummary {
            keys: (0..ks.db_count()).map(|i| ks.len(i) as u64).sum(),
            bytes: report.current_size,
            aof: Some(LoadedAof { manifest: report.manifest, base_size: report.base_size }),
            truncated_at: report.truncated_at,
            commands: report.commands,
            functions,
            ..LoadSummary::default()
        }
    }
}

/// The `repl-id` (40 hex digits) and `repl-offset` (a non-negative integer) AUX fields, as
/// Valkey's rdbLoad takes them (it ignores an ID of another length, and -1 as the offset).
fn repl_position(stats: &forkv_rdb::LoadStats) -> Option<(String, u64)> {
    let id = stats.aux_value("repl-id")?;
    if id.len() != 40 || !id.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let offset = std::str::from_utf8(stats.aux_value("repl-offset")?).ok()?.parse::<u64>().ok()?;
    Some((String::from_utf8_lossy(id).into_owned(), offset))
}

/// A finished load: what it produced and how long it took.
#[derive(Clone, Debug)]
pub struct LoadDone {
    pub summary: LoadSummary,
    pub elapsed: Duration,
    /// An AOF directory was loaded (else an RDB file).
    pub aof: bool,
}

/// Where the AOF directory is and how it loads (the configuration's part of
/// [`AofLoadParams`]; the server adds its databases, limits and script threshold).
#[derive(Clone, Debug)]
pub struct AofSource {
    /// `dir`: the working directory holding `appenddirname`.
    pub work_dir: PathBuf,
    pub dirname: String,
    pub filename: String,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// `cluster-enabled` (see [`AofLoadParams::cluster_enabled`]).
    pub cluster_enabled: bool,
    /// `key-load-delay` in microseconds (a test knob).
    pub key_load_delay_us: i64,
    /// `loading-process-events-interval-bytes`: bytes of an RDB preamble between two
    /// event points (the commands after it have one every 1024).
    pub events_interval_bytes: u64,
}

type ThreadResult = Result<(Keyspace, LoadSummary), String>;

struct LoaderThread {
    started: Instant,
    progress: Arc<LoadProgress>,
    handle: JoinHandle<ThreadResult>,
    /// Log lines the thread sends while it runs (a slow script replayed from the AOF).
    logs: Option<Receiver<LogLine>>,
    /// Which load this is: its end is logged in that load's words (`persist/load_log.rs`).
    purpose: LoadPurpose,
}

/// Why a load on the loader thread runs; its end is logged accordingly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadPurpose {
    /// The start-up load of the RDB file or the AOF directory.
    Startup,
    /// A replica loads the RDB file its primary sent (a full sync).
    ReplicaSync,
    /// `DEBUG LOADAOF`.
    DebugLoadAof,
}

/// The load in progress, and the manifest of the last AOF load until the AOF takes it.
#[derive(Default)]
pub struct LoadState {
    thread: Option<LoaderThread>,
    loaded_aof: Option<LoadedAof>,
    /// The input of a load from a primary's socket (see [`Server::start_rdb_stream_load`]).
    input: Option<StreamInput>,
    /// The last RDB loaded on the loader thread (start-up, a replica's full sync from a
    /// file or a socket): keys loaded and keys skipped as expired (INFO `rdb_last_load_keys_*`).
    last_rdb_keys: (u64, u64),
    /// The keys a primary's start-up load skipped as expired, until their deletions are
    /// propagated (see [`Server::repl_restore_primary`]).
    expired_at_start: Vec<(usize, Box<[u8]>)>,
}

impl Server {
    /// Starts loading the RDB file at `path` on a loader thread (start-up, a replica's
    /// full sync). The engine answers `-LOADING` until [`Server::poll_load`] installs it.
    /// `key_load_delay_us` is `key-load-delay` (see `forkv_rdb::LoadOptions`);
    /// `events_interval_bytes` is `loading-process-events-interval-bytes` (see
    /// [`Server::load_events`]).
    pub fn start_rdb_load(&mut self, path: PathBuf, key_load_delay_us: i64, events_interval_bytes: u64) {
        let dbs = self.engine.ks.db_count();
        // Values are built under the configured encoding limits (a big zipmap hash becomes
        // a hashtable on load, as in Valkey).
        let limits = *self.engine.ks.encoding_limits();
        let progress = Arc::new(LoadProgress::new(events_interval_bytes));
        let mut opts = LoadOptions { key_load_delay_us, progress: Some(progress.clone()), ..self.rdb_load_options() };
        // A primary names the keys it skips as expired: their deletions go to its replicas
        // (Valkey's RDBFLAGS_FEED_REPL; a replica skips none).
        opts.record_expired = opts.skip_expired;
        let handle = std::thread::spawn(move || {
            let mut ks = Keyspace::new(dbs);
            ks.set_encoding_limits(limits);
            let mut stats = load_rdb_file(&path, &mut ks, &opts)?;
            Ok((ks, LoadSummary::from_rdb(&mut stats)))
        });
        self.start_loader(handle, progress, None, LoadPurpose::Startup);
    }

    /// [`Server::start_rdb_load`] for a replica's full sync: the same load, logged as a
    /// replica logs it.
    pub fn start_replica_load(&mut self, path: PathBuf, key_load_delay_us: i64, events_interval_bytes: u64) {
        self.start_rdb_load(path, key_load_delay_us, events_interval_bytes);
        if let Some(t) = self.load.thread.as_mut() {
            t.purpose = LoadPurpose::ReplicaSync;
        }
    }

    /// Starts loading an RDB as it arrives from a primary's socket (`repl-diskless-load`,
    /// Valkey's replicaLoadPrimaryRDBFromSocket): the host feeds it with
    /// [`Server::feed_load_input`] and ends it with [`Server::end_load_input`]. The new
    /// keyspace is built beside the live one, so a failed load (a short read, a corrupt
    /// stream) leaves the data as it was: `swapdb` keeps the old data that way, and the
    /// host empties it first for the other modes. `async_loading`: the live data is served
    /// meanwhile (Valkey's async_loading, `swapdb` with the same replication ID), else
    /// clients get `-LOADING`. `size_hint_max` bounds RESIZEDB hints (0 when the size is
    /// not announced).
    pub fn start_rdb_stream_load(&mut self, key_load_delay_us: i64, events_interval_bytes: u64, size_hint_max: u64, async_loading: bool) {
        let dbs = self.engine.ks.db_count();
        let limits = *self.engine.ks.encoding_limits();
        let progress = Arc::new(LoadProgress::new(events_interval_bytes));
        let opts = LoadOptions { key_load_delay_us, size_hint_max, progress: Some(progress.clone()), ..self.rdb_load_options() };
        let (input, reader) = stream_input();
        let handle = std::thread::spawn(move || {
            let mut ks = Keyspace::new(dbs);
            ks.set_encoding_limits(limits);
            let reader = std::io::BufReader::with_capacity(1 << 16, reader);
            let mut stats = forkv_rdb::load_rdb(reader, &mut ks, &opts).map_err(|e| {
                // Valkey's rdbReportError for a load from a socket: a short read is a lost
                // link (the replica resumes), anything else a corrupt stream.
                let line = format!("Internal error in RDB reading offset {}, function at forkv-rdb -> {}", e.offset, e.message());
                if e.is_read_failure() {
                    format!("{line}. Failure loading rdb format from socket, assuming connection error, resuming operation.")
                } else {
                    format!("{line}. Failure loading rdb format")
                }
            })?;
            Ok((ks, LoadSummary::from_rdb(&mut stats)))
        });
        self.load.input = Some(input);
        self.start_loader(handle, progress, None, LoadPurpose::ReplicaSync);
        if async_loading {
            self.engine.cfg.loading = false;
            self.engine.cfg.async_loading = true;
        }
    }

    /// One chunk of the snapshot of the load from a socket (nothing when none runs).
    pub fn feed_load_input(&mut self, bytes: &[u8]) {
        if let Some(input) = &self.load.input {
            input.feed(bytes);
        }
    }

    /// The snapshot's input ended (its end mark or its announced size was reached, or the
    /// link was lost: then the load fails with a short read).
    pub fn end_load_input(&mut self) {
        if let Some(mut input) = self.load.input.take() {
            input.end();
        }
    }

    /// Bytes fed to the load from a socket and not yet read by it.
    pub fn load_input_queued(&self) -> usize {
        self.load.input.as_ref().map_or(0, StreamInput::queued)
    }

    /// True while a load runs beside the data that is served (see
    /// [`Server::start_rdb_stream_load`]).
    pub fn is_async_loading(&self) -> bool {
        self.engine.cfg.async_loading
    }

    /// Starts loading the AOF directory on a loader thread (start-up with appendonly yes);
    /// [`Server::poll_load`] installs it as for an RDB file.
    pub fn start_aof_load(&mut self, src: &AofSource) {
        let (tx, rx) = mpsc::channel();
        let progress = Arc::new(LoadProgress::new(src.events_interval_bytes));
        let params = AofLoadParams {
            work_dir: src.work_dir.clone(),
            dirname: src.dirname.clone(),
            filename: src.filename.clone(),
            load_truncated: src.load_truncated,
            databases: self.engine.ks.db_count(),
            limits: *self.engine.ks.encoding_limits(),
            key_load_delay_us: src.key_load_delay_us,
            progress: progress.clone(),
            propagation_error_behavior: self.engine.cfg.propagation_error_behavior,
            cluster_enabled: src.cluster_enabled,
            busy_reply_threshold_ms: self.engine.cfg.busy_reply_threshold_ms,
            log: Some(tx),
        };
        let handle = std::thread::spawn(move || {
            let loaded = load_aof(&params).map_err(|e| e.to_string())?;
            let summary = LoadSummary::from_aof(&loaded.ks, loaded.report, loaded.functions);
            Ok((loaded.ks, summary))
        });
        self.start_loader(handle, progress, Some(rx), LoadPurpose::Startup);
    }

    /// DEBUG LOADAOF (Valkey's `loadAppendOnlyFiles` from `debugCommand`): writes what is
    /// pending, forcing past a running everysec fsync (Valkey's `flushAppendOnlyFile(1)`),
    /// then loads the AOF directory as at start-up while every other client gets
    /// `-LOADING`. After [`Server::poll_load`], [`Server::aof_adopt_reload`] makes it the
    /// dataset's AOF. Files that cannot be loaded leave the dataset as it was (Valkey
    /// exits).
    pub fn start_aof_reload(&mut self, src: &AofSource) {
        // A failed write is the flush's own business (its error gate); the load reads
        // what reached the files either way.
        let _ = self.aof_flush(true);
        self.start_aof_load(src);
        if let Some(t) = self.load.thread.as_mut() {
            t.purpose = LoadPurpose::DebugLoadAof;
        }
    }

    fn start_loader(&mut self, handle: JoinHandle<ThreadResult>, progress: Arc<LoadProgress>, logs: Option<Receiver<LogLine>>, purpose: LoadPurpose) {
        self.load.thread = Some(LoaderThread { started: Instant::now(), progress, handle, logs, purpose });
        self.engine.cfg.loading = true;
    }

    /// The event points the running load passed (Valkey serves its clients at each, see
    /// `forkv_rdb::LoadProgress`); None when nothing loads. The host holds client input
    /// between them.
    pub fn load_events(&self) -> Option<u64> {
        self.load.thread.as_ref().map(|t| t.progress.events())
    }

    /// The keys loaded and skipped as expired by the last RDB load of the loader thread
    /// (INFO `rdb_last_load_keys_loaded` and `rdb_last_load_keys_expired`).
    pub fn last_rdb_load_keys(&self) -> (u64, u64) {
        self.load.last_rdb_keys
    }

    /// Takes the keys the start-up load of a primary skipped as expired (once).
    pub(crate) fn take_expired_at_start(&mut self) -> Vec<(usize, Box<[u8]>)> {
        std::mem::take(&mut self.load.expired_at_start)
    }

    /// True while a loader thread runs (until [`Server::poll_load`] installs its result).
    pub fn is_loading(&self) -> bool {
        self.load.thread.is_some()
    }

    /// Never waits: `Ok(None)` while loading (or when nothing loads); when the thread is
    /// done, installs its keyspace and libraries in place of the live ones and returns the
    /// summary, or the loader's error (the dataset stays as it was). The lines the loader
    /// logged so far are in the engine's log queue either way, and so are, once it ended,
    /// the lines of its end (`persist/load_log.rs`).
    pub fn poll_load(&mut self) -> Result<Option<LoadDone>, String> {
        self.drain_load_logs();
        if !self.load.thread.as_ref().is_some_and(|t| t.handle.is_finished()) {
            return Ok(None);
        }
        let Some(thread) = self.load.thread.take() else {
            return Ok(None);
        };
        // The thread is done: what it sent after the first drain is read now.
        forward_logs(&mut self.engine, thread.logs.as_ref());
        self.engine.cfg.loading = false;
        self.engine.cfg.async_loading = false;
        self.end_load_input();
        let purpose = thread.purpose;
        let mut result = self.install_load(thread);
        if let Ok(done) = &mut result {
            self.load.expired_at_start = match purpose {
                LoadPurpose::Startup => std::mem::take(&mut done.summary.expired_keys),
                _ => Vec::new(),
            };
        }
        self.log_load_end(purpose, &result);
        result.map(Some)
    }

    /// Joins a finished loader thread and installs its dataset.
    fn install_load(&mut self, thread: LoaderThread) -> Result<LoadDone, String> {
        let joined = thread.handle.join().map_err(|_| "the loading thread panicked".to_string())?;
        let (ks, mut summary) = joined?;
        self.engine.load_function_codes(&summary.functions, RestorePolicy::Flush)?;
        self.engine.ks.replace_data(ks);
        let aof = summary.aof.is_some();
        if !aof {
            self.load.last_rdb_keys = (summary.keys, summary.expired_skipped);
        }
        self.load.loaded_aof = summary.aof.take();
        Ok(LoadDone { summary, elapsed: thread.started.elapsed(), aof })
    }

    /// Moves the loader thread's log lines to the engine's queue, which the host drains.
    fn drain_load_logs(&mut self) {
        let logs = self.load.thread.as_ref().and_then(|t| t.logs.as_ref());
        forward_logs(&mut self.engine, logs);
    }

    /// After a DEBUG LOADAOF load was installed by [`Server::poll_load`]: appending goes on
    /// into the current incr file of the manifest just loaded. Loaded commands are not
    /// changes (Valkey resets `server.dirty`), and nothing of the load is propagated.
    pub fn aof_adopt_reload(&mut self) {
        self.engine.prop.take();
        // The files may end in another database than the one the stream last selected
        // (written behind its back): the next write selects its database again.
        self.engine.prop.reset_db();
        if let Some(loaded) = self.load.loaded_aof.take() {
            self.aof_adopt_manifest(loaded.manifest);
        }
        self.log(forkv_engine::log::LogLevel::Notice, "Append Only File loaded by DEBUG LOADAOF");
    }

    /// Opens the AOF for appending after the start-up load (or with nothing loaded): see
    /// [`Server::aof_open`]; the manifest the AOF load read, if any, is the one used.
    pub fn aof_open_loaded(&mut self, settings: super::aof_job::AofSettings) -> Result<(), String> {
        let loaded = self.load.loaded_aof.take();
        self.aof_open(settings, loaded)
    }

    /// DEBUG RELOAD's load: the RDB file at `path`, synchronously; by default in place of
    /// the data and the function libraries; with `noflush` beside them, where a library or
    /// key that exists already is an error, unless `merge` (the file's wins), as Valkey's
    /// RDBFLAGS_ALLOW_DUP. The libraries are checked before any key changes.
    pub fn load_rdb_now(&mut self, path: &Path, noflush: bool, merge: bool) -> Result<LoadDone, String> {
        let started = Instant::now();
        let mut fresh = Keyspace::new(self.engine.ks.db_count());
        fresh.set_encoding_limits(*self.engine.ks.encoding_limits());
        let opts = self.rdb_load_options();
        let mut stats = load_rdb_file(path, &mut fresh, &opts)?;
        let policy = match (noflush, merge) {
            (false, _) => RestorePolicy::Flush,
            (true, false) => RestorePolicy::Append,
            (true, true) => RestorePolicy::Replace,
        };
        self.engine.load_function_codes(&stats.functions, policy)?;
        if noflush {
            // Into the live keyspace this time: existing keys stay (or are replaced).
            let opts = LoadOptions { replace_existing: merge, ..opts };
            load_rdb_file(path, &mut self.engine.ks, &opts)?;
        } else {
            self.engine.ks.replace_data(fresh);
        }
        Ok(LoadDone { summary: LoadSummary::from_rdb(&mut stats), elapsed: started.elapsed(), aof: false })
    }

    /// How RDB files load now: the checksum is skipped after
    /// `DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`; a replica keeps the keys past their TTL
    /// (its primary's DELs remove them; Valkey skips them only when `iAmPrimary()`).
    fn rdb_load_options(&self) -> LoadOptions {
        LoadOptions {
            verify_checksum: !self.engine.debug.skip_checksum_validation,
            skip_expired: !self.engine.ks.is_replica(),
            ..LoadOptions::default()
        }
    }
}

fn forward_logs(engine: &mut forkv_engine::Engine, logs: Option<&Receiver<LogLine>>) {
    if let Some(rx) = logs {
        for line in rx.try_iter() {
            engine.logs.push(line.level, line.message);
        }
    }
}

/// Loads the RDB file at `path` into `ks`; the error names the file and offset.
fn load_rdb_file(path: &Path, ks: &mut Keyspace, opts: &LoadOptions) -> Result<forkv_rdb::LoadStats, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("Fatal error loading the DB, check server logs. Can't open {shown}: {e}"))?;
    // RESIZEDB hints are believed up to what the file's size can hold (8 bytes a key).
    let size_hint_max = file.metadata().map_or(0, |m| m.len() / 8);
    let opts = &LoadOptions { size_hint_max, ..opts.clone() };
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    forkv_rdb::load_rdb(reader, ks, opts).map_err(|e| {
        // More lines, logged as they are, after a corrupt or short file: Valkey's
        // rdbReportError line (the one RESTORE logs too), then its last words.
        let tail = if e.is_read_failure() {
            format!(
                "\nInternal error in RDB reading offset {}, function at forkv-rdb -> {}\nTerminating server after rdb file reading failure.",
                e.offset,
                e.message()
            )
        } else {
            String::new()
        };
        format!("{shown}: {e}{tail}")
    })
}
