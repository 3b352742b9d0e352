//! The append-only file while the server runs: opening it for appending, flushing the
//! propagated writes (write + fsync per `appendfsync`, Valkey's `flushAppendOnlyFile`),
//! closing it, and BGREWRITEAOF as the composition "new incr file + fork + base writer +
//! install" (Valkey 7+'s multi-part protocol: the new incr file is opened BEFORE the fork,
//! so writes made during the rewrite land there and none is lost; when the child is
//! reaped, [`Server::aof_rewrite_done`] renames its base into the directory and persists
//! the manifest).
//!
//! Switching the AOF on at runtime (`CONFIG SET appendonly yes`, Valkey's
//! `AOF_WAIT_REWRITE`) is the same composition over a temp incr file, which becomes a
//! real incr file only when the first rewrite succeeds.
//!
//! Loading the AOF (start-up, DEBUG LOADAOF) is in [`crate::aof_load`]; the state it hands
//! over is a [`LoadedAof`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use forkv_aof::writer::FlushReport;
use forkv_aof::{dir, manifest, AofWriter, FsyncPolicy, Manifest};
use forkv_engine::latency::LatencyMonitor;
use forkv_keyspace::Keyspace;
use forkv_snapshot::ChildKind;

use crate::snapshot::{total_keys, Forked};
use crate::Server;

/// How the AOF is written (from the configuration).
#[derive(Clone, Debug)]
pub struct AofSettings {
    /// `dir`: where `appenddirname` lives and where rewrite temp files go.
    pub work_dir: PathBuf,
    /// `appenddirname`.
    pub dirname: String,
    /// `appendfilename`: prefix of every file name and of the manifest.
    pub filename: String,
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// `aof-use-rdb-preamble`: bases are RDB files (else commands).
    pub use_rdb_preamble: bool,
    /// `no-appendfsync-on-rewrite`.
    pub no_fsync_on_rewrite: bool,
    /// RDB format of a preamble base (`aof_base` is set when writing).
    pub rdb: forkv_rdb::WriteOptions,
    /// Pause after each key in the rewrite child (`rdb-key-save-delay`, for tests).
    pub key_save_delay: Duration,
    /// `aof-disable-auto-gc`: keep history files instead of deleting them.
    pub disable_auto_gc: bool,
    /// `aof-timestamp-enabled`: `#TS:` annotations in incr files and AOF-format bases.
    pub timestamps: bool,
    /// `aof-rewrite-incremental-fsync`: the rewrite child syncs its file every 4 MiB.
    pub incremental_fsync: bool,
}

/// What a finished AOF load hands to [`Server::aof_open`].
#[derive(Clone, Debug)]
pub struct LoadedAof {
    pub manifest: Manifest,
    pub base_size: u64,
}

/// The outcome of one flush that wrote or postponed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    pub written: u64,
    /// `everysec` with an fsync still running: the write waits (at most 2 s).
    pub postponed: bool,
}

/// INFO persistence aof_* figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AofSizes {
    pub current_size: u64,
    pub base_size: u64,
    pub buffer_length: u64,
    pub delayed_fsync: u64,
    pub pending_bio_fsync: u64,
}

/// What [`Server::aof_rewrite_done`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RewriteDone {
    pub ok: bool,
    /// Why installing the new base failed (None when the child itself failed).
    pub error: Option<String>,
    pub new_base: String,
    /// The temp incr file's new name when the rewrite switched the AOF on.
    pub new_incr: Option<String>,
    /// The temp incr file removed because the rewrite that would switch the AOF on failed.
    pub temp_incr_removed: Option<String>,
    pub base_size: u64,
    /// History files scheduled for deletion.
    pub history_deleted: u32,
}

/// An open AOF being appended to.
struct OpenAof {
    settings: AofSettings,
    /// `<dir>/<appenddirname>`.
    dir: PathBuf,
    manifest: Manifest,
    writer: AofWriter,
    /// Being switched on: the writer appends to the temp incr file until the first rewrite
    /// succeeds.
    initial: bool,
}

/// The AOF part of the server's state.
#[derive(Default)]
pub struct AofFile {
    open: Option<OpenAof>,
    /// DEBUG AOF-FLUSH-SLEEP: pause before each AOF write with data.
    flush_sleep: Duration,
    /// Bytes the AOF writers before the current one appended (WAITAOF positions span
    /// CONFIG SET appendonly no/yes).
    appended_before: u64,
    /// The running rewrite child's pid and the base format it writes (RDB preamble or
    /// commands): `aof-use-rdb-preamble` as it was at the fork, whatever it says when
    /// the child ends, names the base the parent installs.
    rewrite_preamble: Option<(i32, bool)>,
}

impl AofFile {
    /// True while an AOF is open (including while it is being switched on).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The manifest in force, while open.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.open.as_ref().map(|a| &a.manifest)
    }
}

/// An OS error as C's strerror prints it ("No space left on device"), without Rust's
/// " (os error 28)" suffix: Valkey's MISCONF and log lines carry the bare text.
pub fn strerror_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match (e.raw_os_error(), s.rfind(" (os error ")) {
        (Some(_), Some(i)) => s[..i].to_string(),
        _ => s,
    }
}

fn now_ms() -> i64 {
    forkv_engine::cmd::now_ms()
}

/// Writes a base file from `ks` and the function libraries' `functions`: an RDB preamble
/// or commands (FUNCTION LOAD for each library, then the keys, as Valkey's
/// `rewriteAppendOnlyFileRio`), per `aof-use-rdb-preamble`.
fn write_base(ks: &Keyspace, functions: &[Vec<u8>], s: &AofSettings, delay: Duration, w: &mut dyn Write, progress: &mut dyn FnMut(u64)) -> std::io::Result<()> {
    let mut tick = |k: u64| {
        progress(k);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    };
    if s.use_rdb_preamble {
        let opts = forkv_rdb::WriteOptions { functions: functions.to_vec(), aof_base: true, ..s.rdb.clone() };
        forkv_rdb::write_rdb(w, ks, &opts, &mut |p| {
            tick(p.keys_done);
            Ok(())
        })?;
    } else {
        if s.timestamps {
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

impl Server {
    /// Opens the AOF for appending (after loading `loaded`, or with nothing to load):
    /// creates the directory, a base from the current data if none exists, and the incr
    /// file. The error is the log line's text.
    pub fn aof_open(&mut self, settings: AofSettings, loaded: Option<LoadedAof>) -> Result<(), String> {
        let work = &settings.work_dir;
        let d = dir::aof_dir(work, &settings.dirname);
        let mut m = match loaded.as_ref() {
            Some(l) => l.manifest.clone(),
            None => dir::load_manifest(&d, &settings.filename).map_err(|e| e.to_string())?.unwrap_or_default(),
        };
        let ks = &self.engine.ks;
        let functions = self.engine.function_codes();
        // In process: no `rdb-key-save-delay` (a test knob for the rewrite child).
        let (file, incr_size) = dir::open_on_server_start(work, &settings.dirname, &settings.filename, &mut m, settings.use_rdb_preamble, &mut |w| {
            write_base(ks, &functions, &settings, Duration::ZERO, w, &mut |_| {})
        })
        .map_err(|e| format!("Can't open the append-only file: {e}"))?;
        // Files a crash left listed as history go now (Valkey's aofDelHistoryFiles at start).
        delete_history_in_background(&d, &settings, &mut m);
        let current = dir::total_size(&d, &m).unwrap_or(incr_size);
        let base = loaded.map(|l| l.base_size).or_else(|| m.base.as_ref().and_then(|b| dir::file_size(&d, &b.name).ok())).unwrap_or(0);
        let writer = self.new_aof_writer(file, &settings, incr_size, current, base);
        self.aof.open = Some(OpenAof { settings, dir: d, manifest: m, writer, initial: false });
        self.set_aof(true);
        self.set_aof_state(super::aof_state::AofState::On);
        Ok(())
    }

    fn new_aof_writer(&mut self, file: std::fs::File, s: &AofSettings, incr_size: u64, current: u64, base: u64) -> AofWriter {
        let mut writer = AofWriter::new(file, s.fsync, incr_size, current, base, now_ms());
        writer.no_fsync_on_rewrite = s.no_fsync_on_rewrite;
        writer.start_counts_at(self.aof.appended_before);
        self.engine.latency.aof_fsync_always = s.fsync == FsyncPolicy::Always;
        writer
    }

    /// CONFIG SET appendonly yes at runtime, or a rewrite started while the AOF is being
    /// switched on: opens the temp incr file, where the writes made while the child runs
    /// accumulate, then forks the child that writes the first base.
    /// [`Server::aof_rewrite_done`] renames both into place and lists them in the manifest;
    /// until then the manifest on disk (and any earlier AOF files) is untouched.
    pub fn aof_start_initial_rewrite(&mut self, settings: AofSettings) -> Result<Forked, String> {
        let r = self.initial_rewrite(settings);
        self.rewrite_policy.started(r.is_ok());
        r
    }

    fn initial_rewrite(&mut self, settings: AofSettings) -> Result<Forked, String> {
        if self.jobs.is_running() {
            return Err("EEXIST child already running".into());
        }
        let d = dir::aof_dir(&settings.work_dir, &settings.dirname);
        dir::create_dir_if_missing(&d).map_err(|e| format!("Can't open or create append-only dir {}: {}", settings.dirname, strerror_text(&e)))?;
        let m = dir::load_manifest(&d, &settings.filename).map_err(|e| e.to_string())?.unwrap_or_default();
        let temp = manifest::temp_incr_name(&settings.filename);
        let file = dir::create_temp_incr(&d, &settings.filename).map_err(|e| format!("Can't open the append-only file {temp}: {}", strerror_text(&e)))?;
        let writer = self.new_aof_writer(file, &settings, 0, 0, 0);
        self.aof.open = Some(OpenAof { settings: settings.clone(), dir: d.clone(), manifest: m, writer, initial: true });
        self.set_aof(true);
        self.engine.prop.reset_db();
        self.fork_rewrite_child(&settings).inspect_err(|_| {
            // No child: nothing is switched on, and the temp incr goes.
            self.aof.open = None;
            self.set_aof(false);
            let _ = std::fs::remove_file(d.join(&temp));
        })
    }

    /// CONFIG SET aof-disable-auto-gc no: deletes the history files kept meanwhile
    /// (Valkey's `aofDelHistoryFiles`), per `settings`. Returns how many were scheduled.
    pub fn aof_delete_history(&mut self, settings: &AofSettings) -> u32 {
        match &mut self.aof.open {
            Some(a) => delete_history_in_background(&a.dir, settings, &mut a.manifest),
            None => 0,
        }
    }

    /// Stops appending (CONFIG SET appendonly no, shutdown): writes, fsyncs and closes; a
    /// scheduled rewrite is forgotten. The AOF is off once the file is closed.
    pub fn aof_close(&mut self) -> std::io::Result<()> {
        self.close_aof_file()?;
        self.set_aof_state(super::aof_state::AofState::Off);
        Ok(())
    }

    fn close_aof_file(&mut self) -> std::io::Result<()> {
        self.rewrite_policy.scheduled = false;
        // A failed write here surfaces as the close's error.
        let _ = self.aof_flush(true);
        self.set_aof(false);
        if let Some(a) = self.aof.open.take() {
            self.aof.appended_before = a.writer.appended_total();
            let temp = a.initial.then(|| a.dir.join(manifest::temp_incr_name(&a.settings.filename)));
            a.writer.close(now_ms())?;
            // Switched off before the first rewrite finished: the temp incr is never used.
            if let Some(p) = temp {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(())
    }

    /// CONFIG SET aof-timestamp-enabled.
    pub fn aof_set_timestamps(&mut self, on: bool) {
        if let Some(a) = &mut self.aof.open {
            a.settings.timestamps = on;
        }
    }

    /// DEBUG AOF-FLUSH-SLEEP: sleep this long before each AOF write that has data.
    pub fn aof_set_flush_sleep(&mut self, pause: Duration) {
        self.aof.flush_sleep = pause;
    }

    /// CONFIG SET appendfsync.
    pub fn aof_set_fsync(&mut self, fsync: FsyncPolicy) {
        if let Some(a) = &mut self.aof.open {
            a.writer.set_policy(fsync);
            a.settings.fsync = fsync;
            self.engine.latency.aof_fsync_always = fsync == FsyncPolicy::Always;
        }
    }

    /// Moves the propagated writes into the AOF and writes/fsyncs per policy
    /// (`flushAppendOnlyFile`); `force` writes even when `everysec` would postpone.
    /// The error is the OS error's text (for MISCONF and the log).
    pub fn aof_flush(&mut self, force: bool) -> Result<Flushed, String> {
        if !self.aof_take_stream() {
            return Ok(Flushed::default());
        }
        let child = self.jobs.is_running();
        let Some(a) = &mut self.aof.open else {
            return Ok(Flushed::default());
        };
        // DEBUG AOF-FLUSH-SLEEP: a pause before writing, so tests can catch a reply that
        // would leave before its write.
        if !self.aof.flush_sleep.is_zero() && a.writer.buffer_len() > 0 {
            std::thread::sleep(self.aof.flush_sleep);
        }
        let flushed = a.writer.flush(force, now_ms(), child);
        let (appended, synced) = (a.writer.appended_total(), a.writer.synced_total());
        // What a script's WAITAOF sees until the next turn (Valkey's fsynced_reploff).
        let synced = self.aof_fsync_counted(synced);
        self.set_aof_marks(appended, synced);
        match flushed {
            Ok(r) => {
                record_flush_latency(&mut self.engine.latency, &r, child);
                Ok(Flushed { written: r.written as u64, postponed: r.postponed })
            }
            Err(e) => Err(strerror_text(&e.error)),
        }
    }

    /// The shutdown's flush (Valkey's `flushAppendOnlyFile(1)` and `fsync`): everything
    /// pending is written, whatever the fsync policy, and fsynced now. The write status
    /// is kept as by the turn's flush. The error is the OS error's text.
    pub fn aof_write_and_fsync(&mut self) -> Result<(), String> {
        if let super::aof_state::TurnFlush::Failed { error, .. } = self.aof_flush_turn(true) {
            return Err(error);
        }
        match &mut self.aof.open {
            Some(a) => a.writer.fsync_now(now_ms()).map_err(|e| strerror_text(&e)),
            None => Ok(()),
        }
    }

    /// WAITAOF: moves the propagated writes into the AOF buffer, then reports (appended,
    /// fsynced) byte positions; None while the AOF is off.
    pub fn aof_sync_marks(&mut self) -> Option<(u64, Option<u64>)> {
        self.aof_take_stream();
        let a = self.aof.open.as_ref()?;
        let (appended, synced) = (a.writer.appended_total(), a.writer.synced_total());
        let synced = self.aof_fsync_counted(synced);
        self.set_aof_marks(appended, synced);
        Some((appended, synced))
    }

    /// How far the AOF counts as fsynced: not at all while it waits for its first rewrite
    /// (Valkey's `fsynced_reploff` stays -1 in `AOF_WAIT_REWRITE`: the data is only safe
    /// once that rewrite's base is installed, which switches the AOF on).
    fn aof_fsync_counted(&self, synced: u64) -> Option<u64> {
        (self.aof_status.state() != super::aof_state::AofState::WaitRewrite).then_some(synced)
    }

    /// AOF sizes and counters for INFO; None while the AOF is off.
    pub fn aof_sizes(&self) -> Option<AofSizes> {
        let w = &self.aof.open.as_ref()?.writer;
        Some(AofSizes {
            current_size: w.current_size(),
            base_size: w.base_size(),
            buffer_length: w.buffer_len() as u64,
            delayed_fsync: w.delayed_fsync(),
            pending_bio_fsync: w.pending_bio_fsync() as u64,
        })
    }

    /// True when `auto-aof-rewrite-percentage`/`-min-size` call for a rewrite.
    pub fn aof_should_auto_rewrite(&self, percentage: u64, min_size: u64) -> bool {
        self.aof.open.as_ref().is_some_and(|a| a.writer.should_auto_rewrite(percentage, min_size))
    }

    /// BGREWRITEAOF: opens a new incr file (writes from now on go there), then forks a
    /// child that writes the new base from the keyspace as it is at this instant.
    pub fn aof_rewrite_start(&mut self, settings: AofSettings) -> Result<Forked, String> {
        let r = self.rewrite(settings);
        self.rewrite_policy.started(r.is_ok());
        r
    }

    fn rewrite(&mut self, settings: AofSettings) -> Result<Forked, String> {
        if self.jobs.is_running() {
            return Err("EEXIST child already running".into());
        }
        // Everything before the fork must be in the old incr file; a failed write is
        // retried by the next flush (the buffer is kept), as in Valkey.
        let _ = self.aof_flush(true);
        if let Some(a) = &mut self.aof.open {
            let (m, file) = dir::start_rewrite(&a.dir, &a.settings.filename, &a.manifest).map_err(|e| format!("Can't open new incr AOF: {e}"))?;
            a.manifest = m;
            a.writer.switch_file(file, now_ms());
            self.engine.prop.reset_db();
        }
        self.fork_rewrite_child(&settings)
    }

    /// Forks the rewrite child: it writes the new base from the keyspace as it is now into
    /// `temp-rewriteaof-bg-<pid>.aof` and exits; the job slot adopts it.
    fn fork_rewrite_child(&mut self, settings: &AofSettings) -> Result<Forked, String> {
        let ks = &self.engine.ks;
        let total = total_keys(ks);
        let s = settings.clone();
        // The libraries are copied before the fork: the child never touches the VM.
        let functions = self.engine.function_codes();
        let spawned = forkv_snapshot::spawn_child(ChildKind::AofRewrite, move |ctx| {
            ctx.set_keys_total(total);
            let tmp = s.work_dir.join(manifest::temp_rewrite_bg_name(ctx.pid() as u32));
            dir::write_file_synced_incrementally(&tmp, s.incremental_fsync, &mut |w| write_base(ks, &functions, &s, s.key_save_delay, w, &mut |k| ctx.report_progress(k)))
                .map_err(|e| format!("Error writing the rewritten AOF: {e}"))?;
            ctx.log(forkv_snapshot::LogLevel::Notice, "Successfully created the temporary AOF base file");
            Ok(())
        });
        let mut handle = spawned.map_err(|e| format!("fork: {e}"))?;
        handle.set_keys_total(total);
        let forked = Forked { pid: handle.pid(), fork_usec: handle.fork_usec() };
        self.aof.rewrite_preamble = Some((forked.pid, settings.use_rdb_preamble));
        self.adopt_job(handle, crate::jobs::JobTarget::File, None);
        Ok(forked)
    }

    /// After the rewrite child `child_pid` exited (`backgroundRewriteDoneHandler`): on
    /// success installs the new base, marks the old files history, persists the manifest
    /// and deletes the history. On failure removes the temp files; the old files stay in
    /// force (and a first rewrite's temp incr goes, the AOF staying off until the next).
    /// The base's format is the one the child was forked with (see `rewrite_preamble`);
    /// every other setting is read from `settings` now.
    pub fn aof_rewrite_done(&mut self, settings: &AofSettings, child_pid: i32, ok: bool) -> RewriteDone {
        let mut settings = settings.clone();
        if let Some((_, preamble)) = self.aof.rewrite_preamble.take().filter(|(pid, _)| *pid == child_pid) {
            settings.use_rdb_preamble = preamble;
        }
        let settings = &settings;
        let d = dir::aof_dir(&settings.work_dir, &settings.dirname);
        let initial = self.aof.open.as_ref().is_some_and(|a| a.initial);
        let r = if ok { self.install_rewrite(settings, &d, child_pid, initial) } else { Err(String::new()) };
        self.rewrite_policy.finished(r.is_ok(), initial);
        match r {
            Ok(done) => {
                // Valkey's backgroundRewriteDoneHandler: a switch-on is complete.
                if self.aof_status.state() == super::aof_state::AofState::WaitRewrite {
                    self.set_aof_state(super::aof_state::AofState::On);
                }
                // A replica's FACK reaches the offset its post-sync rewrite started at.
                self.primary_link.rewrite_installed();
                done
            }
            Err(e) => {
                dir::remove_rewrite_temp_files(&settings.work_dir, child_pid as u32);
                let mut done = RewriteDone { error: (!e.is_empty()).then_some(e), ..RewriteDone::default() };
                if initial {
                    // The first rewrite failed: what the temp incr holds is dropped with it
                    // (the next rewrite's base covers those writes), and nothing is appended
                    // until that rewrite forks (Valkey keeps AOF_WAIT_REWRITE and reschedules).
                    self.aof.open = None;
                    self.set_aof(false);
                    let temp = manifest::temp_incr_name(&settings.filename);
                    let _ = std::fs::remove_file(d.join(&temp));
                    done.temp_incr_removed = Some(temp);
                }
                done
            }
        }
    }

    /// The successful half of [`Server::aof_rewrite_done`]: renames the child's base (and
    /// the temp incr when the AOF is being switched on) into the directory, persists the
    /// manifest and schedules the history for deletion.
    fn install_rewrite(&mut self, s: &AofSettings, d: &Path, child_pid: i32, initial: bool) -> Result<RewriteDone, String> {
        let aof_on = self.aof.open.is_some() && !initial;
        let m = match &self.aof.open {
            Some(a) => a.manifest.clone(),
            None => dir::load_manifest(d, &s.filename).map_err(|e| e.to_string())?.unwrap_or_default(),
        };
        dir::create_dir_if_missing(d).map_err(|e| e.to_string())?;
        let rename_started = std::time::Instant::now();
        let finished = dir::finish_rewrite(&s.work_dir, d, &s.filename, &m, child_pid as u32, s.use_rdb_preamble, aof_on, initial);
        self.engine.latency.add_if_needed("aof-rename", rename_started.elapsed().as_millis() as u64);
        let finished = finished.map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
        let mut manifest = finished.manifest;
        let new_incr = if initial { manifest.last_incr().map(|i| i.name.clone()) } else { None };
        let history = delete_history_in_background(d, s, &mut manifest);
        if let Some(a) = &mut self.aof.open {
            a.manifest = manifest;
            a.initial = false;
            a.writer.rewrite_done(finished.base_size);
        }
        Ok(RewriteDone { ok: true, error: None, new_base: finished.new_base, new_incr, temp_incr_removed: None, base_size: finished.base_size, history_deleted: history })
    }

    /// DEBUG LOADAOF read the directory again: its manifest is the one in force.
    pub fn aof_adopt_manifest(&mut self, m: Manifest) {
        if let Some(a) = &mut self.aof.open {
            a.manifest = m;
        }
    }

    /// Moves the finished part of the propagation stream into the AOF buffer (with a
    /// timestamp annotation when enabled). False while the AOF is off.
    fn aof_take_stream(&mut self) -> bool {
        if self.aof.open.is_none() {
            return false;
        }
        let pending = self.take_aof_stream();
        if let Some(a) = &mut self.aof.open {
            if !pending.is_empty() {
                if a.settings.timestamps {
                    a.writer.annotate_timestamp(now_ms() / 1000);
                }
                a.writer.append(&pending);
            }
        }
        true
    }
}

/// The latency monitor's AOF events of one flush (Valkey's flushAppendOnlyFile): the
/// write under its circumstance and as `aof-write`, and the fsync under `always`.
fn record_flush_latency(m: &mut LatencyMonitor, r: &FlushReport, child: bool) {
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
fn delete_history_in_background(dir: &Path, s: &AofSettings, m: &mut Manifest) -> u32 {
    if s.disable_auto_gc {
        return 0;
    }
    let history = m.take_history();
    if history.is_empty() {
        return 0;
    }
    if dir::persist_manifest(dir, &s.filename, m).is_err() {
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
