//! Persistence entry points of `Core`: SAVE, BGSAVE in a forked child, polling and
//! reaping the child, loading RDB files (in a background thread at start-up, so clients
//! can be answered `-LOADING` meanwhile).
//!
//! The fork happens here, on the JS main thread, inside a synchronous napi call: no
//! command can be half-applied, so the child sees a consistent keyspace (DESIGN.md §2).

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_keyspace::Keyspace;
use forkv_rdb::{LoadOptions, WriteOptions};
use forkv_snapshot::{ChildExit, ChildHandle, ChildInfo, ChildKind, ChildOutcome, ForkError};

use crate::core::Core;

/// Write buffer handed to the child, allocated before the fork (the child should not need
/// to grow its heap for I/O).
const CHILD_WRITE_BUFFER: usize = 1 << 20;

/// How to write an RDB file.
#[napi(object)]
pub struct RdbSaveOptions {
    pub dir: String,
    pub filename: String,
    pub compression: bool,
    pub checksum: bool,
    /// RDB version to write (9..=11).
    pub version: u32,
    /// Microseconds the writer sleeps after each key (`rdb-key-save-delay`, for tests).
    pub key_save_delay_us: f64,
}

/// Result of a synchronous save.
#[napi(object)]
pub struct SaveReport {
    pub ok: bool,
    pub error: Option<String>,
    pub keys: f64,
    pub bytes: f64,
}

/// A started child.
#[napi(object)]
pub struct ForkReport {
    pub pid: i32,
    pub fork_usec: f64,
}

/// A log line the child sent, to be printed by the host's logger.
#[napi(object)]
pub struct ChildLogLine {
    pub level: String,
    pub message: String,
}

/// How a child ended.
#[napi(object)]
pub struct ChildDone {
    pub pid: i32,
    /// "rdb" or "aof".
    pub kind: String,
    /// "ok", "err", "signal", "cancelled".
    pub outcome: String,
    pub message: String,
    pub signal: i32,
    pub duration_ms: f64,
    pub cow_peak: f64,
    pub keys_processed: f64,
}

/// What a poll found: log lines, current progress, and the exit if the child ended.
#[napi(object)]
pub struct ChildPoll {
    pub logs: Vec<ChildLogLine>,
    pub done: Option<ChildDone>,
}

/// Progress of the running child, for INFO.
#[napi(object)]
pub struct ChildProgress {
    pub pid: i32,
    pub kind: String,
    pub elapsed_ms: f64,
    pub keys_processed: f64,
    pub keys_total: f64,
    pub cow_bytes: f64,
    pub cow_peak: f64,
    pub fork_perc: f64,
}

/// Fork counters for INFO stats.
#[napi(object)]
pub struct ForkStats {
    pub latest_fork_usec: f64,
    pub total_forks: f64,
}

/// Result of loading a file.
#[napi(object)]
pub struct LoadReport {
    pub keys: f64,
    pub expired_skipped: f64,
    pub bytes: f64,
    pub version: u32,
    pub millis: f64,
    /// AOF: commands replayed.
    pub commands: f64,
    /// AOF: the file cut at a truncated tail, and its new length.
    pub truncated_file: Option<String>,
    pub truncated_at: Option<f64>,
    /// RDB: empty collections skipped (old servers could save them).
    pub empty_skipped: f64,
    /// Notice-level lines to log before the summary line (the skipped empty keys).
    pub notes: Vec<String>,
}

/// What a loader thread produced besides the keyspace.
pub struct LoadSummary {
    pub keys: u64,
    pub expired_skipped: u64,
    pub bytes: u64,
    pub version: u32,
    pub aof: Option<crate::aof::LoadedAof>,
    pub truncated_at: Option<(String, u64)>,
    pub commands: u64,
    pub empty_skipped: u64,
    pub notes: Vec<String>,
}

impl LoadSummary {
    fn from_rdb(stats: &forkv_rdb::LoadStats) -> Self {
        LoadSummary {
            keys: stats.keys_loaded,
            expired_skipped: stats.expired_skipped,
            bytes: stats.bytes_read,
            version: stats.version,
            aof: None,
            truncated_at: None,
            commands: 0,
            empty_skipped: stats.empty_skipped,
            notes: stats.log_lines(),
        }
    }
}

/// Persistence state owned by a `Core`.
#[derive(Default)]
pub struct Persistence {
    child: Option<ChildHandle>,
    /// Temp file the running child writes (removed if it fails).
    child_temp: Option<PathBuf>,
    loader: Option<Loader>,
    /// An AOF load's manifest, kept for `aof_open`.
    loaded_aof: Option<crate::aof::LoadedAof>,
}

type LoadResult = std::result::Result<(Keyspace, LoadSummary), String>;

struct Loader {
    started: Instant,
    handle: JoinHandle<LoadResult>,
}

impl Persistence {
    /// True while a fork child (BGSAVE or rewrite) runs.
    pub fn has_child(&self) -> bool {
        self.child.is_some()
    }

    /// Takes ownership of a freshly forked child.
    pub fn adopt_child(&mut self, child: ChildHandle, temp: Option<PathBuf>) {
        self.child = Some(child);
        self.child_temp = temp;
    }

    /// Installs a loader thread.
    pub fn set_loader(&mut self, started: Instant, handle: JoinHandle<LoadResult>) {
        self.loader = Some(Loader { started, handle });
    }

    /// Hands a manifest to the next `aof_open` (after an in-process rewrite).
    pub fn set_loaded_manifest(&mut self, manifest: forkv_aof::Manifest, base_size: u64) {
        self.loaded_aof = Some(crate::aof::LoadedAof::new(manifest, base_size));
    }

    /// The manifest of the AOF loaded at start, once.
    pub fn take_loaded_aof(&mut self) -> Option<crate::aof::LoadedAof> {
        self.loaded_aof.take()
    }
}

fn rdb_write_options(o: &RdbSaveOptions, aof_base: bool) -> WriteOptions {
    WriteOptions {
        version: o.version,
        compression: o.compression,
        checksum: o.checksum,
        aof_base,
        used_mem: crate::alloc::used_bytes() as u64,
        ..WriteOptions::default()
    }
}

fn kind_name(k: ChildKind) -> &'static str {
    match k {
        ChildKind::Rdb => "rdb",
        ChildKind::AofRewrite => "aof",
    }
}

fn level_name(l: forkv_snapshot::LogLevel) -> &'static str {
    match l {
        forkv_snapshot::LogLevel::Debug => "debug",
        forkv_snapshot::LogLevel::Verbose => "verbose",
        forkv_snapshot::LogLevel::Notice => "notice",
        forkv_snapshot::LogLevel::Warning => "warning",
    }
}

fn collect_logs(info: Vec<ChildInfo>, logs: &mut Vec<ChildLogLine>) {
    for i in info {
        if let ChildInfo::Log { level, message } = i {
            logs.push(ChildLogLine { level: level_name(level).into(), message });
        }
    }
}

fn done_of(exit: ChildExit) -> (ChildDone, Vec<ChildInfo>) {
    let (outcome, message, signal) = match &exit.outcome {
        ChildOutcome::Ok => ("ok", String::new(), 0),
        ChildOutcome::Failed { message, .. } => ("err", message.clone(), 0),
        ChildOutcome::KilledBySignal(s) => ("signal", String::new(), *s),
        ChildOutcome::Cancelled => ("cancelled", String::new(), libc::SIGUSR1),
        ChildOutcome::Lost => ("err", "child status lost (reaped elsewhere)".into(), 0),
    };
    let done = ChildDone {
        pid: exit.pid,
        kind: kind_name(exit.kind).into(),
        outcome: outcome.into(),
        message,
        signal,
        duration_ms: exit.duration.as_secs_f64() * 1000.0,
        cow_peak: exit.cow_peak as f64,
        keys_processed: exit.keys_processed as f64,
    };
    (done, exit.info)
}

/// Writes the keyspace to `dir/filename` through `temp_name` (fsync, rename, dir fsync).
fn write_rdb_file(
    ks: &Keyspace,
    o: &RdbSaveOptions,
    temp_name: &str,
    buffer: Vec<u8>,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<(u64, u64)> {
    let opts = rdb_write_options(o, false);
    let delay = Duration::from_micros(o.key_save_delay_us.max(0.0) as u64);
    let mut keys = 0;
    let bytes = forkv_snapshot::write_file_atomically_with_buffer(Path::new(&o.dir), &o.filename, temp_name, buffer, |w| {
        let stats = forkv_rdb::write_rdb(w, ks, &opts, &mut |p| {
            progress(p.keys_done);
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            Ok(())
        })?;
        keys = stats.keys_written;
        Ok(())
    })?;
    Ok((keys, bytes))
}

fn total_keys(ks: &Keyspace) -> u64 {
    (0..ks.db_count()).map(|i| ks.len(i) as u64).sum()
}

#[napi]
impl Core {
    /// SAVE: writes the RDB file in this process, blocking (as Valkey's SAVE does).
    #[napi]
    pub fn save_rdb(&mut self, opts: RdbSaveOptions) -> SaveReport {
        let temp = format!("temp-{}.rdb", std::process::id());
        match write_rdb_file(&self.server.engine.ks, &opts, &temp, Vec::with_capacity(CHILD_WRITE_BUFFER), &mut |_| {}) {
            Ok((keys, bytes)) => SaveReport { ok: true, error: None, keys: keys as f64, bytes: bytes as f64 },
            Err(e) => SaveReport { ok: false, error: Some(e.to_string()), keys: 0.0, bytes: 0.0 },
        }
    }

    /// BGSAVE: forks; the child writes the snapshot as of this instant.
    #[napi]
    pub fn bgsave(&mut self, opts: RdbSaveOptions) -> Result<ForkReport> {
        let buffer = Vec::with_capacity(CHILD_WRITE_BUFFER);
        let dir = PathBuf::from(&opts.dir);
        let ks = &self.server.engine.ks;
        let total = total_keys(ks);
        let spawned = forkv_snapshot::spawn_child(ChildKind::Rdb, move |ctx| {
            ctx.set_keys_total(total);
            let temp = format!("temp-{}.rdb", ctx.pid());
            match write_rdb_file(ks, &opts, &temp, buffer, &mut |k| ctx.report_progress(k)) {
                Ok(_) => {
                    ctx.log(forkv_snapshot::LogLevel::Notice, "DB saved on disk");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        });
        let mut handle = spawned.map_err(fork_error)?;
        // INFO current_save_keys_total is known at fork time (Valkey: dbTotalServerKeyCount),
        // before the child's first progress record arrives.
        handle.set_keys_total(total);
        let report = ForkReport { pid: handle.pid(), fork_usec: handle.fork_usec() as f64 };
        let temp = dir.join(format!("temp-{}.rdb", handle.pid()));
        self.persistence.adopt_child(handle, Some(temp));
        self.server.engine.ks.set_child_active(true);
        Ok(report)
    }

    /// Drains the child's messages and reaps it if it ended (never waits).
    #[napi]
    pub fn poll_child(&mut self) -> Option<ChildPoll> {
        let child = self.persistence.child.as_mut()?;
        let mut logs = Vec::new();
        collect_logs(child.drain_info(), &mut logs);
        let done = match child.try_reap() {
            None => None,
            Some(exit) => {
                let ok = exit.is_ok();
                let (done, info) = done_of(exit);
                collect_logs(info, &mut logs);
                if !ok {
                    // A failed or killed child cannot clean up after itself.
                    if let Some(temp) = self.persistence.child_temp.take() {
                        let _ = std::fs::remove_file(temp);
                    }
                }
                self.persistence.child = None;
                self.persistence.child_temp = None;
                self.server.engine.ks.set_child_active(false);
                Some(done)
            }
        };
        Some(ChildPoll { logs, done })
    }

    /// The running child's progress (INFO persistence), if any.
    #[napi]
    pub fn child_progress(&self) -> Option<ChildProgress> {
        let c = self.persistence.child.as_ref()?;
        let s = c.stats();
        Some(ChildProgress {
            pid: c.pid(),
            kind: kind_name(c.kind()).into(),
            elapsed_ms: c.started_at().elapsed().as_secs_f64() * 1000.0,
            keys_processed: s.keys_processed as f64,
            keys_total: s.keys_total as f64,
            cow_bytes: s.cow_bytes as f64,
            cow_peak: s.cow_peak as f64,
            fork_perc: s.fork_perc(),
        })
    }

    /// Cancels the running child with SIGUSR1 (BGSAVE CANCEL, SHUTDOWN, FLUSHALL).
    #[napi]
    pub fn kill_child(&mut self) -> bool {
        match &self.persistence.child {
            Some(c) => c.kill_cancel().is_ok(),
            None => false,
        }
    }

    /// Waits up to `ms` for the running child to end (SHUTDOWN after a cancel).
    #[napi]
    pub fn wait_child(&mut self, ms: u32) -> Option<ChildPoll> {
        let deadline = Instant::now() + Duration::from_millis(u64::from(ms));
        loop {
            let poll = self.poll_child()?;
            if poll.done.is_some() || Instant::now() >= deadline {
                return Some(poll);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// After a successful save: forget the changes the snapshot covers (those made while a
    /// child was writing stay counted, as in Valkey).
    #[napi]
    pub fn saved_changes(&mut self, covered: f64) {
        let ks = &mut self.server.engine.ks;
        ks.dirty = ks.dirty.saturating_sub(covered as u64);
    }

    /// Fork counters (INFO stats latest_fork_usec, total_forks).
    #[napi]
    pub fn fork_stats(&self) -> ForkStats {
        ForkStats {
            latest_fork_usec: forkv_snapshot::latest_fork_usec() as f64,
            total_forks: forkv_snapshot::total_forks() as f64,
        }
    }

    /// Loads an RDB file synchronously into the (emptied) keyspace (DEBUG RELOAD).
    #[napi]
    pub fn load_rdb_now(&mut self, path: String) -> Result<LoadReport> {
        let started = Instant::now();
        let mut fresh = Keyspace::new(self.server.engine.ks.db_count());
        fresh.set_encoding_limits(*self.server.engine.ks.encoding_limits());
        let opts = self.rdb_load_options();
        let stats = load_file(&path, &mut fresh, &opts).map_err(Error::from_reason)?;
        self.server.engine.ks.replace_data(fresh);
        Ok(report(&LoadSummary::from_rdb(&stats), started))
    }

    /// Starts loading an RDB file in a background thread (start-up). While it runs the
    /// engine answers `-LOADING`; `poll_load` installs the result.
    #[napi]
    pub fn start_load(&mut self, path: String) {
        let dbs = self.server.engine.ks.db_count();
        // Values are built under the configured encoding limits (a big zipmap hash becomes
        // a hashtable on load, as in Valkey).
        let limits = *self.server.engine.ks.encoding_limits();
        let opts = self.rdb_load_options();
        let handle = std::thread::spawn(move || {
            let mut ks = Keyspace::new(dbs);
            ks.set_encoding_limits(limits);
            let stats = load_file(&path, &mut ks, &opts)?;
            Ok((ks, LoadSummary::from_rdb(&stats)))
        });
        self.persistence.set_loader(Instant::now(), handle);
        self.server.engine.cfg.loading = true;
    }

    /// How RDB files load now: the checksum is skipped after
    /// `DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`.
    fn rdb_load_options(&self) -> LoadOptions {
        LoadOptions { verify_checksum: !self.server.engine.debug.skip_checksum_validation, ..LoadOptions::default() }
    }

    /// `None` while loading; then the load's report, or an error with the reason.
    #[napi]
    pub fn poll_load(&mut self) -> Result<Option<LoadReport>> {
        let Some(loader) = &self.persistence.loader else {
            return Ok(None);
        };
        if !loader.handle.is_finished() {
            return Ok(None);
        }
        let Some(loader) = self.persistence.loader.take() else {
            return Ok(None);
        };
        self.server.engine.cfg.loading = false;
        let joined = loader.handle.join().map_err(|_| Error::from_reason("the loading thread panicked"))?;
        let (ks, mut summary) = joined.map_err(Error::from_reason)?;
        self.server.engine.ks.replace_data(ks);
        self.persistence.loaded_aof = summary.aof.take();
        Ok(Some(report(&summary, loader.started)))
    }
}

fn report(s: &LoadSummary, started: Instant) -> LoadReport {
    LoadReport {
        keys: s.keys as f64,
        expired_skipped: s.expired_skipped as f64,
        bytes: s.bytes as f64,
        version: s.version,
        millis: started.elapsed().as_secs_f64() * 1000.0,
        commands: s.commands as f64,
        truncated_file: s.truncated_at.as_ref().map(|(f, _)| f.clone()),
        truncated_at: s.truncated_at.as_ref().map(|(_, n)| *n as f64),
        empty_skipped: s.empty_skipped as f64,
        notes: s.notes.clone(),
    }
}

/// Loads `path` into `ks`; the error names the file and offset.
fn load_file(path: &str, ks: &mut Keyspace, opts: &LoadOptions) -> std::result::Result<forkv_rdb::LoadStats, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("Fatal error loading the DB, check server logs. Can't open {path}: {e}"))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    forkv_rdb::load_rdb(reader, ks, opts).map_err(|e| format!("{path}: {e}"))
}

/// Maps a fork failure to the error text INFO/logs show ("Can't save in background: ...").
fn fork_error(e: ForkError) -> Error {
    match e {
        ForkError::ChildExists { pid } => Error::from_reason(format!("EEXIST child {pid} already running")),
        other => Error::from_reason(format!("fork: {other}")),
    }
}
