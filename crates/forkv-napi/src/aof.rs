//! Append-only file entry points of `Core`: loading the multi-part AOF at start, opening
//! it for appending, flushing the propagated writes (write + fsync per `appendfsync`), and
//! BGREWRITEAOF in a forked child (Valkey 7+ protocol: a new incr file is opened BEFORE the
//! fork, so writes made during the rewrite land there and none is lost).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use forkv_aof::{dir, manifest, AofWriter, FsyncPolicy, Manifest};
use forkv_server::aof_load::{load_aof, AofLoadParams};
use forkv_keyspace::Keyspace;
use forkv_snapshot::ChildKind;

use crate::core::Core;
use crate::persistence::ForkReport;

/// AOF settings from the configuration.
#[napi(object)]
#[derive(Clone)]
pub struct AofOptions {
    /// `dir`: where `appenddirname` lives and where rewrite temp files go.
    pub dir: String,
    pub dirname: String,
    /// `appendfilename`: prefix of every file name and the manifest.
    pub filename: String,
    /// always / everysec / no
    pub fsync: String,
    pub use_rdb_preamble: bool,
    pub load_truncated: bool,
    pub no_fsync_on_rewrite: bool,
    /// RDB options for a preamble base.
    pub rdb_compression: bool,
    pub rdb_checksum: bool,
    pub rdb_version: u32,
    /// Microseconds slept per key in the rewrite child (`rdb-key-save-delay`, for tests).
    pub key_save_delay_us: f64,
    /// Microseconds slept per key read from an RDB preamble (`key-load-delay`, for tests).
    pub key_load_delay_us: f64,
    /// `aof-disable-auto-gc`: keep history files instead of deleting them.
    pub disable_auto_gc: bool,
    /// `aof-timestamp-enabled`: `#TS:` annotations in incr files and AOF-format bases.
    pub timestamps: bool,
}

/// Result of a flush.
#[napi(object)]
pub struct AofFlushResult {
    pub ok: bool,
    pub error: Option<String>,
    pub written: f64,
    pub postponed: bool,
}

/// WAITAOF's view of the local AOF: bytes appended so far and how many of them are fsynced
/// (Valkey's `fsynced_reploff`, counted in this process's AOF bytes).
#[napi(object)]
pub struct AofSyncMarks {
    pub appended: f64,
    pub synced: f64,
}

/// INFO persistence aof_* numbers.
#[napi(object)]
pub struct AofInfo {
    pub current_size: f64,
    pub base_size: f64,
    pub buffer_length: f64,
    pub delayed_fsync: f64,
    pub pending_bio_fsync: f64,
}

/// What BGREWRITEAOF did when its child ended.
#[napi(object)]
pub struct AofRewriteDone {
    pub ok: bool,
    pub error: Option<String>,
    pub new_base: String,
    /// The temp incr file's new name when the rewrite switched AOF on.
    pub new_incr: Option<String>,
    /// The temp incr file removed because the rewrite that would switch AOF on failed.
    pub temp_incr_removed: Option<String>,
    pub base_size: f64,
    pub history_deleted: u32,
}

/// An open AOF being appended to.
pub struct AofState {
    opts: AofOptions,
    dir: PathBuf,
    manifest: Manifest,
    writer: AofWriter,
    /// AOF is being switched on (Valkey's `AOF_WAIT_REWRITE`): the writer appends to the
    /// temp incr file, which becomes a real incr file only when the first rewrite succeeds.
    initial: bool,
}

/// State carried from a finished load to `aof_open`.
pub struct LoadedAof {
    manifest: Manifest,
    base_size: u64,
}

/// An OS error as C's strerror prints it ("No space left on device"), without Rust's
/// " (os error 28)" suffix: Valkey's MISCONF and log lines carry the bare text.
fn strerror_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match (e.raw_os_error(), s.rfind(" (os error ")) {
        (Some(_), Some(i)) => s[..i].to_string(),
        _ => s,
    }
}

fn policy(s: &str) -> FsyncPolicy {
    match s {
        "always" => FsyncPolicy::Always,
        "no" => FsyncPolicy::No,
        _ => FsyncPolicy::EverySec,
    }
}

fn now_ms() -> i64 {
    forkv_engine::cmd::now_ms()
}

fn rdb_opts(o: &AofOptions, functions: &[Vec<u8>]) -> forkv_rdb::WriteOptions {
    forkv_rdb::WriteOptions {
        functions: functions.to_vec(),
        version: o.rdb_version,
        compression: o.rdb_compression,
        checksum: o.rdb_checksum,
        aof_base: true,
        used_mem: crate::alloc::used_bytes() as u64,
        ..forkv_rdb::WriteOptions::default()
    }
}

/// What the host is told about an AOF load.
fn load_summary(ks: &Keyspace, report: forkv_aof::LoadReport, functions: Vec<Vec<u8>>) -> crate::persistence::LoadSummary {
    crate::persistence::LoadSummary {
        keys: (0..ks.db_count()).map(|i| ks.len(i) as u64).sum(),
        expired_skipped: 0,
        bytes: report.current_size,
        version: 0,
        aof: Some(LoadedAof { manifest: report.manifest.clone(), base_size: report.base_size }),
        truncated_at: report.truncated_at.clone(),
        commands: report.commands,
        empty_skipped: 0,
        notes: Vec::new(),
        functions,
    }
}

/// Writes a base file from `ks` and the function libraries' `functions`: an RDB preamble
/// or commands (FUNCTION LOAD for each library, then the keys, as Valkey's
/// `rewriteAppendOnlyFileRio`), per `aof-use-rdb-preamble`.
fn write_base(ks: &Keyspace, functions: &[Vec<u8>], o: &AofOptions, w: &mut dyn Write, progress: &mut dyn FnMut(u64)) -> std::io::Result<()> {

    let delay = Duration::from_micros(o.key_save_delay_us.max(0.0) as u64);
    let mut tick = |k: u64| {
        progress(k);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    };
    if o.use_rdb_preamble {
        forkv_rdb::write_rdb(w, ks, &rdb_opts(o, functions), &mut |p| {
            tick(p.keys_done);
            Ok(())
        })?;
    } else {
        if o.timestamps {
            w.write_all(forkv_aof::timestamp_annotation(now_ms() / 1000).as_bytes())?;
        }
        forkv_aof::rewrite_functions_as_commands(w, functions)?;
        forkv_aof::rewrite_keyspace_as_commands(w, ks, now_ms(), &mut |k| {
            tick(k);
            Ok(())
        })?;
    }
    Ok(())
}

#[napi]
impl Core {
    /// Starts loading the AOF directory in a background thread (start-up with appendonly
    /// yes); `poll_load` installs the result as for RDB files.
    #[napi]
    pub fn start_aof_load(&mut self, opts: AofOptions) {
        let (tx, rx) = std::sync::mpsc::channel();
        let params = AofLoadParams { log: Some(tx), ..self.aof_load_params(&opts) };
        let started = Instant::now();
        let handle = std::thread::spawn(move || {
            let loaded = load_aof(&params).map_err(|e| e.to_string())?;
            let summary = load_summary(&loaded.ks, loaded.report, loaded.functions);
            Ok((loaded.ks, summary))
        });
        self.persistence.set_loader(started, handle);
        self.persistence.set_load_logs(rx);
        self.server.engine.cfg.loading = true;
    }

    /// DEBUG LOADAOF (Valkey's `loadAppendOnlyFiles` from `debugCommand`): writes what is
    /// pending, then loads the AOF directory as at start-up, on the loader thread, while
    /// every other client gets `-LOADING` (where Valkey answers them from
    /// `processEventsWhileBlocked`). `poll_load` returns the result; then
    /// `aof_adopt_reload` makes it the dataset's AOF. If the files cannot be loaded the
    /// dataset stays as it was (Valkey exits).
    #[napi]
    pub fn start_aof_reload(&mut self, opts: AofOptions) {
        self.aof_flush(true);
        self.start_aof_load(opts);
    }

    /// After a DEBUG LOADAOF load was installed by `poll_load`: appending goes on into the
    /// current incr file of the manifest just loaded. Loaded commands are not changes
    /// (Valkey resets server.dirty), and nothing of the load is propagated.
    #[napi]
    pub fn aof_adopt_reload(&mut self) {
        self.server.engine.prop.take();
        // The files may end in another database than the one the stream last selected
        // (written behind its back): the next write selects its database again.
        self.server.engine.prop.reset_db();
        let loaded = self.persistence.take_loaded_aof();
        if let (Some(a), Some(loaded)) = (&mut self.aof, loaded) {
            a.manifest = loaded.manifest;
        }
    }

    /// The loader's parameters from the AOF options and the server's state.
    fn aof_load_params(&self, opts: &AofOptions) -> AofLoadParams {
        AofLoadParams {
            work_dir: PathBuf::from(&opts.dir),
            dirname: opts.dirname.clone(),
            filename: opts.filename.clone(),
            load_truncated: opts.load_truncated,
            databases: self.server.engine.ks.db_count(),
            limits: *self.server.engine.ks.encoding_limits(),
            key_load_delay_us: opts.key_load_delay_us as i64,
            busy_reply_threshold_ms: self.server.engine.cfg.busy_reply_threshold_ms,
            log: None,
        }
    }

    /// Opens the AOF for appending (after loading, or with nothing to load). Creates the
    /// directory, a base from the current data if none exists, and the incr file.
    #[napi]
    pub fn aof_open(&mut self, opts: AofOptions) -> Result<()> {
        let work = PathBuf::from(&opts.dir);
        let loaded = self.persistence.take_loaded_aof();
        let mut m = match loaded.as_ref() {
            Some(l) => l.manifest.clone(),
            None => {
                let d = dir::aof_dir(&work, &opts.dirname);
                dir::load_manifest(&d, &opts.filename).map_err(|e| Error::from_reason(e.to_string()))?.unwrap_or_default()
            }
        };
        let ks = &self.server.engine.ks;
        let functions = self.server.engine.function_codes();
        // In process: no `rdb-key-save-delay` (see aof_enable_now).
        let in_process = AofOptions { key_save_delay_us: 0.0, ..opts.clone() };
        let (file, incr_size) = dir::open_on_server_start(&work, &opts.dirname, &opts.filename, &mut m, opts.use_rdb_preamble, &mut |w| {
            write_base(ks, &functions, &in_process, w, &mut |_| {})
        })
        .map_err(|e| Error::from_reason(format!("Can't open the append-only file: {e}")))?;
        let d = dir::aof_dir(&work, &opts.dirname);
        // Files a crash left listed as history go now (Valkey's aofDelHistoryFiles at start).
        delete_history_in_background(&d, &opts, &mut m);
        let current = dir::total_size(&d, &m).unwrap_or(incr_size);
        let base = loaded.map(|l| l.base_size).or_else(|| m.base.as_ref().and_then(|b| dir::file_size(&d, &b.name).ok())).unwrap_or(0);
        let mut writer = AofWriter::new(file, policy(&opts.fsync), incr_size, current, base, now_ms());
        writer.no_fsync_on_rewrite = opts.no_fsync_on_rewrite;
        writer.start_counts_at(self.persistence.aof_appended_before);
        self.server.engine.latency.aof_fsync_always = opts.fsync == "always";
        self.aof = Some(AofState { opts, dir: d, manifest: m, writer, initial: false });
        self.server.set_aof(true);
        Ok(())
    }

    /// CONFIG SET appendonly yes at runtime, or a rewrite started while AOF is being
    /// switched on (Valkey's `AOF_WAIT_REWRITE`): opens the temp incr file, where the writes
    /// made while the child runs accumulate, then forks the child that writes the first
    /// base. `aof_rewrite_done` renames both into place and lists them in the manifest;
    /// until then the manifest on disk (and any earlier AOF files) is untouched.
    #[napi]
    pub fn aof_start_initial_rewrite(&mut self, opts: AofOptions) -> Result<ForkReport> {
        if self.server.jobs.is_running() {
            return Err(Error::from_reason("EEXIST child already running"));
        }
        let work = PathBuf::from(&opts.dir);
        let d = dir::aof_dir(&work, &opts.dirname);
        dir::create_dir_if_missing(&d).map_err(|e| Error::from_reason(format!("Can't open or create append-only dir {}: {}", opts.dirname, strerror_text(&e))))?;
        let m = dir::load_manifest(&d, &opts.filename).map_err(|e| Error::from_reason(e.to_string()))?.unwrap_or_default();
        let file = dir::create_temp_incr(&d, &opts.filename)
            .map_err(|e| Error::from_reason(format!("Can't open the append-only file {}: {}", manifest::temp_incr_name(&opts.filename), strerror_text(&e))))?;
        let mut writer = AofWriter::new(file, policy(&opts.fsync), 0, 0, 0, now_ms());
        writer.no_fsync_on_rewrite = opts.no_fsync_on_rewrite;
        writer.start_counts_at(self.persistence.aof_appended_before);
        self.server.engine.latency.aof_fsync_always = opts.fsync == "always";
        self.aof = Some(AofState { opts: opts.clone(), dir: d.clone(), manifest: m, writer, initial: true });
        self.server.set_aof(true);
        self.server.engine.prop.reset_db();
        self.fork_rewrite_child(&opts).inspect_err(|_| {
            // No child: nothing is switched on, and the temp incr goes.
            self.aof = None;
            self.server.set_aof(false);
            let _ = std::fs::remove_file(d.join(manifest::temp_incr_name(&opts.filename)));
        })
    }

    /// CONFIG SET aof-disable-auto-gc no: deletes the history files kept meanwhile
    /// (Valkey's `aofDelHistoryFiles`). Returns how many were scheduled for deletion.
    #[napi]
    pub fn aof_delete_history(&mut self, opts: AofOptions) -> u32 {
        match &mut self.aof {
            Some(a) => delete_history_in_background(&a.dir, &opts, &mut a.manifest),
            None => 0,
        }
    }

    /// Stops appending (CONFIG SET appendonly no, shutdown): writes, fsyncs and closes.
    #[napi]
    pub fn aof_close(&mut self) -> Result<()> {
        self.aof_flush(true);
        self.server.set_aof(false);
        if let Some(state) = self.aof.take() {
            self.persistence.aof_appended_before = state.writer.appended_total();
            let temp = state.initial.then(|| state.dir.join(manifest::temp_incr_name(&state.opts.filename)));
            state.writer.close(now_ms()).map_err(|e| Error::from_reason(e.to_string()))?;
            // Switched off before the first rewrite finished: the temp incr is never used.
            if let Some(p) = temp {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(())
    }

    /// CONFIG SET aof-timestamp-enabled.
    #[napi]
    pub fn aof_set_timestamps(&mut self, on: bool) {
        if let Some(a) = &mut self.aof {
            a.opts.timestamps = on;
        }
    }

    /// DEBUG AOF-FLUSH-SLEEP <microseconds>: sleep before each AOF write that has data (0
    /// turns it off).
    #[napi]
    pub fn aof_set_flush_sleep(&mut self, micros: f64) {
        self.persistence.aof_flush_sleep = Duration::from_micros(micros.max(0.0) as u64);
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    #[napi]
    pub fn aof_set_fsync(&mut self, fsync: String) {
        if let Some(a) = &mut self.aof {
            a.writer.set_policy(policy(&fsync));
            self.server.engine.latency.aof_fsync_always = fsync == "always";
            a.opts.fsync = fsync;
        }
    }

    /// Moves the propagated writes into the AOF and writes/fsyncs per policy
    /// (`flushAppendOnlyFile`). Call once per event-loop turn, before replies go out when
    /// `appendfsync always`.
    #[napi]
    pub fn aof_flush(&mut self, force: bool) -> AofFlushResult {
        if !self.aof_take_stream() {
            return AofFlushResult { ok: true, error: None, written: 0.0, postponed: false };
        }
        let Some(a) = &mut self.aof else {
            return AofFlushResult { ok: true, error: None, written: 0.0, postponed: false };
        };
        // DEBUG AOF-FLUSH-SLEEP: a pause before writing, so tests can catch a reply that
        // would leave before its write.
        if !self.persistence.aof_flush_sleep.is_zero() && a.writer.buffer_len() > 0 {
            std::thread::sleep(self.persistence.aof_flush_sleep);
        }
        let child = self.server.jobs.is_running();
        let flushed = a.writer.flush(force, now_ms(), child);
        // What a script's WAITAOF sees until the next turn (Valkey's fsynced_reploff).
        self.server.set_aof_marks(a.writer.appended_total(), a.writer.synced_total());
        match flushed {
            Ok(r) => {
                record_flush_latency(&mut self.server.engine.latency, &r, child);
                AofFlushResult { ok: true, error: None, written: r.written as f64, postponed: r.postponed }
            }
            Err(e) => AofFlushResult { ok: false, error: Some(strerror_text(&e.error)), written: 0.0, postponed: false },
        }
    }

    /// WAITAOF: moves the propagated writes into the AOF buffer, then reports how far
    /// the AOF goes and how far it is fsynced; None while the AOF is off.
    #[napi]
    pub fn aof_sync_marks(&mut self) -> Option<AofSyncMarks> {
        self.aof_take_stream();
        let a = self.aof.as_ref()?;
        self.server.set_aof_marks(a.writer.appended_total(), a.writer.synced_total());
        Some(AofSyncMarks { appended: a.writer.appended_total() as f64, synced: a.writer.synced_total() as f64 })
    }

    /// AOF sizes and counters for INFO.
    #[napi]
    pub fn aof_info(&self) -> Option<AofInfo> {
        let a = self.aof.as_ref()?;
        Some(AofInfo {
            current_size: a.writer.current_size() as f64,
            base_size: a.writer.base_size() as f64,
            buffer_length: a.writer.buffer_len() as f64,
            delayed_fsync: a.writer.delayed_fsync() as f64,
            pending_bio_fsync: a.writer.pending_bio_fsync() as f64,
        })
    }

    /// True when `auto-aof-rewrite-percentage`/`-min-size` call for a rewrite.
    #[napi]
    pub fn aof_should_auto_rewrite(&self, percentage: f64, min_size: f64) -> bool {
        match &self.aof {
            Some(a) => a.writer.should_auto_rewrite(percentage as u64, min_size as u64),
            None => false,
        }
    }

    /// BGREWRITEAOF: opens a new incr file (writes from now on go there), then forks a
    /// child that writes the new base from the keyspace as it is at this instant.
    #[napi]
    pub fn aof_rewrite_start(&mut self, opts: AofOptions) -> Result<ForkReport> {
        if self.server.jobs.is_running() {
            return Err(Error::from_reason("EEXIST child already running"));
        }
        // Everything before the fork must be in the old incr file.
        self.aof_flush(true);
        if let Some(a) = &mut self.aof {
            let (m, file) = dir::start_rewrite(&a.dir, &a.opts.filename, &a.manifest)
                .map_err(|e| Error::from_reason(format!("Can't open new incr AOF: {e}")))?;
            a.manifest = m;
            a.writer.switch_file(file, now_ms());
            self.server.engine.prop.reset_db();
        }
        self.fork_rewrite_child(&opts)
    }

    /// Forks the rewrite child: it writes the new base from the keyspace as it is now into
    /// `temp-rewriteaof-bg-<pid>.aof` and exits; the job slot adopts it.
    fn fork_rewrite_child(&mut self, opts: &AofOptions) -> Result<ForkReport> {
        let work = PathBuf::from(&opts.dir);
        let ks = &self.server.engine.ks;
        let total: u64 = (0..ks.db_count()).map(|i| ks.len(i) as u64).sum();
        let child_opts = opts.clone();
        // The libraries are copied before the fork: the child never touches the VM.
        let functions = self.server.engine.function_codes();
        let spawned = forkv_snapshot::spawn_child(ChildKind::AofRewrite, move |ctx| {
            ctx.set_keys_total(total);
            let tmp = work.join(manifest::temp_rewrite_bg_name(ctx.pid() as u32));
            dir::write_file_synced(&tmp, &mut |w| write_base(ks, &functions, &child_opts, w, &mut |k| ctx.report_progress(k)))
                .map_err(|e| format!("Error writing the rewritten AOF: {e}"))?;
            ctx.log(forkv_snapshot::LogLevel::Notice, "Successfully created the temporary AOF base file");
            Ok(())
        });
        let mut handle = spawned.map_err(|e| Error::from_reason(format!("fork: {e}")))?;
        handle.set_keys_total(total);
        let report = ForkReport { pid: handle.pid(), fork_usec: handle.fork_usec() as f64 };
        self.server.adopt_job(handle, None);
        Ok(report)
    }

    /// After the rewrite child exited (`backgroundRewriteDoneHandler`): on success install
    /// the new base, mark the old files history, persist the manifest, delete history.
    /// On failure remove the temp files; the old files stay in force.
    #[napi]
    pub fn aof_rewrite_done(&mut self, opts: AofOptions, child_pid: i32, ok: bool) -> AofRewriteDone {
        let work = PathBuf::from(&opts.dir);
        let d = dir::aof_dir(&work, &opts.dirname);
        let initial = self.aof.as_ref().is_some_and(|a| a.initial);
        let r = if ok { self.install_rewrite(&opts, &work, &d, child_pid, initial) } else { Err(String::new()) };
        match r {
            Ok(done) => done,
            Err(e) => {
                dir::remove_rewrite_temp_files(&work, child_pid as u32);
                let mut done = AofRewriteDone { ok: false, error: (!e.is_empty()).then_some(e), new_base: String::new(), new_incr: None, temp_incr_removed: None, base_size: 0.0, history_deleted: 0 };
                if initial {
                    // The first rewrite failed: what the temp incr holds is dropped with it
                    // (the next rewrite's base covers those writes), and nothing is appended
                    // until that rewrite forks (Valkey keeps AOF_WAIT_REWRITE and reschedules).
                    self.aof = None;
                    self.server.set_aof(false);
                    let temp = manifest::temp_incr_name(&opts.filename);
                    let _ = std::fs::remove_file(d.join(&temp));
                    done.temp_incr_removed = Some(temp);
                }
                done
            }
        }
    }

    /// The successful half of [`Core::aof_rewrite_done`]: renames the child's base (and the
    /// temp incr when AOF is being switched on) into the directory, persists the manifest
    /// and schedules the history for deletion.
    fn install_rewrite(&mut self, opts: &AofOptions, work: &Path, d: &Path, child_pid: i32, initial: bool) -> std::result::Result<AofRewriteDone, String> {
        let aof_on = self.aof.is_some() && !initial;
        let m = match &self.aof {
            Some(a) => a.manifest.clone(),
            None => dir::load_manifest(d, &opts.filename).map_err(|e| e.to_string())?.unwrap_or_default(),
        };
        dir::create_dir_if_missing(d).map_err(|e| e.to_string())?;
        let rename_started = std::time::Instant::now();
        let finished = dir::finish_rewrite(work, d, &opts.filename, &m, child_pid as u32, opts.use_rdb_preamble, aof_on, initial);
        self.server.engine.latency.add_if_needed("aof-rename", rename_started.elapsed().as_millis() as u64);
        let finished = finished.map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
        let mut manifest = finished.manifest;
        let new_incr = if initial { manifest.last_incr().map(|i| i.name.clone()) } else { None };
        let history = delete_history_in_background(d, opts, &mut manifest);
        if let Some(a) = &mut self.aof {
            a.manifest = manifest;
            a.initial = false;
            a.writer.rewrite_done(finished.base_size);
        }
        Ok(AofRewriteDone { ok: true, error: None, new_base: finished.new_base, new_incr, temp_incr_removed: None, base_size: finished.base_size as f64, history_deleted: history })
    }
}

impl Core {
    /// Moves the finished part of the propagation stream into the AOF buffer (with a
    /// timestamp annotation when enabled). False while the AOF is off.
    fn aof_take_stream(&mut self) -> bool {
        let Some(a) = &mut self.aof else {
            return false;
        };
        let pending = self.server.take_aof_stream();
        if !pending.is_empty() {
            if a.opts.timestamps {
                a.writer.annotate_timestamp(now_ms() / 1000);
            }
            a.writer.append(&pending);
        }
        true
    }
}

/// The latency monitor's AOF events of one flush (Valkey's flushAppendOnlyFile): the
/// write under its circumstance and as `aof-write`, and the fsync under `always`.
fn record_flush_latency(m: &mut forkv_engine::latency::LatencyMonitor, r: &forkv_aof::writer::FlushReport, child: bool) {
    if let Some(ms) = r.write_ms {
        let event = if r.write_during_fsync {
            "aof-write-pending-fsync"
        } else if child {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        m.add_if_needed(event, ms);
        m.add_if_needed("aof-write", ms);
    }
    if let Some(ms) = r.fsync_always_ms {
        m.add_if_needed("aof-fsync-always", ms);
    }
}

/// Drops the history entries from the manifest (persisted at once), then unlinks the files
/// on a short-lived thread: unlinking a large base blocks for tens of milliseconds, which
/// Valkey also moves off the main thread (bio lazy free). A crash before the unlink only
/// leaves unreferenced files. Returns how many files were scheduled.
/// With `aof-disable-auto-gc` history files stay (listed as history) until it is turned off.
fn delete_history_in_background(dir: &Path, opts: &AofOptions, m: &mut Manifest) -> u32 {
    if opts.disable_auto_gc {
        return 0;
    }
    let prefix = &opts.filename;
    let history = m.take_history();
    if history.is_empty() {
        return 0;
    }
    if dir::persist_manifest(dir, prefix, m).is_err() {
        // Keep them listed as history: the next rewrite retries.
        m.history = history;
        return 0;
    }
    let names: Vec<String> = history.into_iter().map(|a| a.name).collect();
    let dir = dir.to_path_buf();
    let n = names.len() as u32;
    std::thread::spawn(move || {
        let _ = dir::unlink_files(&dir, &names);
    });
    n
}
