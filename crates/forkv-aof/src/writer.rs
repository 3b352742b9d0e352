//! Appending to the current incr file: the in-memory AOF buffer, write(2) with short-write
//! repair, the three fsync policies and the background fsync thread.
//!
//! This follows Valkey's `feedAppendOnlyFile` / `flushAppendOnlyFile`: commands accumulate in
//! a buffer during an event-loop iteration and are written before replies go out. With
//! `everysec` the fsync runs on a dedicated thread; if that fsync is still running when the
//! next write is due, the write is postponed (write(2) would block behind the fsync on
//! Linux) for up to 2 s, after which it is done anyway and counted in `aof_delayed_fsync`.
//!
//! Fork: the server may fork (BGSAVE / BGREWRITEAOF) while the fsync thread exists. The child
//! only has the forking thread, and the channel/atomics it shares with the fsync thread may
//! be in any state, so a fork child must never touch an [`AofWriter`] or
//! [`BackgroundFsync`] (nor drop them: use `_exit`). The rewrite child writes its own file
//! with [`crate::rewrite`] only. Open AOF fds are inherited by the child but not used; the
//! parent keeps writing and fsyncing them normally.

use std::fs::File;
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::resp::{encode_command, encode_select};

/// `appendfsync`: when the AOF is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every write, before replying (a failed fsync or write is fatal).
    Always,
    /// About once per second, on the background thread.
    EverySec,
    /// Never explicitly; the OS decides.
    No,
}

impl FsyncPolicy {
    /// The config value (`always`, `everysec`, `no`).
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

impl FromStr for FsyncPolicy {
    type Err = String;
    /// Parses a config value, case-insensitively.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::EverySec),
            "no" => Ok(FsyncPolicy::No),
            _ => Err(format!(
                "argument(s) must be one of the following: always, everysec, no (got '{s}')"
            )),
        }
    }
}

enum Job {
    /// fsync, then publish the tag (the bytes appended when it was queued) as synced.
    Fsync(Arc<File>, u64),
    FsyncAndClose(Arc<File>),
    #[cfg(test)]
    Sleep(std::time::Duration),
}

struct BgShared {
    /// Queued or running fsync jobs of the current file (Valkey `bioPendingJobsOfType`).
    pending_fsync: AtomicUsize,
    /// 0 when the last background fsync succeeded, else its errno (Valkey
    /// `aof_bio_fsync_status` / `aof_bio_fsync_errno`).
    last_errno: AtomicI32,
    /// The tag of the last background fsync that succeeded (WAITAOF's local progress).
    synced_mark: AtomicU64,
}

/// The background fsync thread (Valkey's BIO_AOF_FSYNC worker), started on first use.
pub struct BackgroundFsync {
    tx: Option<Sender<Job>>,
    handle: Option<JoinHandle<()>>,
    shared: Arc<BgShared>,
}

impl Default for BackgroundFsync {
    fn default() -> Self {
        Self::new()
    }
}

impl BackgroundFsync {
    /// No thread yet; it is spawned by the first job.
    pub fn new() -> Self {
        BackgroundFsync {
            tx: None,
            handle: None,
            shared: Arc::new(BgShared {
                pending_fsync: AtomicUsize::new(0),
                last_errno: AtomicI32::new(0),
                synced_mark: AtomicU64::new(0),
            }),
        }
    }

    /// True while an fsync of the current file is queued or running.
    pub fn in_progress(&self) -> bool {
        self.shared.pending_fsync.load(Ordering::Acquire) != 0
    }

    /// The errno of the last background fsync if it failed (writes should then be refused,
    /// as Valkey does), `None` if it succeeded.
    pub fn error(&self) -> Option<i32> {
        match self.shared.last_errno.load(Ordering::Acquire) {
            0 => None,
            e => Some(e),
        }
    }

    /// Clears a recorded fsync error (Valkey does so when AOF is switched back on).
    pub fn clear_error(&self) {
        self.shared.last_errno.store(0, Ordering::Release);
    }

    /// Queues an fsync (fdatasync) of `file`; returns at once. Once it succeeded,
    /// [`BackgroundFsync::synced_mark`] is at least `tag`.
    pub fn fsync(&mut self, file: Arc<File>, tag: u64) {
        self.shared.pending_fsync.fetch_add(1, Ordering::AcqRel);
        self.submit(Job::Fsync(file, tag));
    }

    /// The tag of the last background fsync that succeeded.
    pub fn synced_mark(&self) -> u64 {
        self.shared.synced_mark.load(Ordering::Acquire)
    }

    /// Queues an fsync of `file` and then closes it (when this was the last handle), for the
    /// incr file replaced by a rewrite. Not counted by [`BackgroundFsync::in_progress`].
    pub fn fsync_and_close(&mut self, file: Arc<File>) {
        self.submit(Job::FsyncAndClose(file));
    }

    #[cfg(test)]
    fn sleep_as_fsync(&mut self, d: std::time::Duration) {
        self.shared.pending_fsync.fetch_add(1, Ordering::AcqRel);
        self.submit(Job::Sleep(d));
    }

    fn submit(&mut self, job: Job) {
        if self.tx.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("aof-fsync".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        run_job(&shared, job);
                    }
                });
            match spawned {
                Ok(h) => {
                    self.tx = Some(tx);
                    self.handle = Some(h);
                }
                // No thread: do the work inline rather than lose an fsync.
                Err(_) => return run_job(&self.shared, job),
            }
        }
        if let Some(tx) = &self.tx {
            if let Err(mpsc::SendError(job)) = tx.send(job) {
                self.tx = None;
                run_job(&self.shared, job);
            }
        }
    }
}

fn record(shared: &BgShared, r: io::Result<()>) {
    match r {
        Ok(()) => shared.last_errno.store(0, Ordering::Release),
        Err(e) => {
            // EBADF/EINVAL: the fd was closed or cannot be synced (pipes etc.); Valkey ignores.
            let code = e.raw_os_error().unwrap_or(-1);
            if code != EBADF && code != EINVAL {
                shared.last_errno.store(code, Ordering::Release);
            }
        }
    }
}

fn run_job(shared: &BgShared, job: Job) {
    match job {
        Job::Fsync(f, tag) => {
            let r = f.sync_data();
            if r.is_ok() {
                shared.synced_mark.fetch_max(tag, Ordering::AcqRel);
            }
            record(shared, r);
            shared.pending_fsync.fetch_sub(1, Ordering::AcqRel);
        }
        Job::FsyncAndClose(f) => {
            record(shared, f.sync_data());
            drop(f);
        }
        #[cfg(test)]
        Job::Sleep(d) => {
            std::thread::sleep(d);
            shared.pending_fsync.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for BackgroundFsync {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Which fsync a flush performed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncDone {
    /// None.
    #[default]
    None,
    /// Inline (`always`).
    Inline,
    /// Queued on the background thread (`everysec`).
    Background,
}

/// What [`AofWriter::flush`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Bytes written.
    pub written: usize,
    /// The write was postponed because a background fsync is running (try again from cron).
    pub postponed: bool,
    /// Written although an fsync had been running for 2 s (Valkey logs "Asynchronous AOF
    /// fsync is taking too long (disk is busy?)" and counts `aof_delayed_fsync`).
    pub delayed_write: bool,
    /// The fsync performed.
    pub fsync: FsyncDone,
    /// How long write(2) took (ms), when there was something to write, and whether a
    /// background fsync was running then (the latency monitor's `aof-write-*` events).
    pub write_ms: Option<u64>,
    pub write_during_fsync: bool,
    /// How long the fsync under `appendfsync always` took (ms): `aof-fsync-always`.
    pub fsync_always_ms: Option<u64>,
}

/// A failed flush.
#[derive(Debug)]
pub struct FlushError {
    /// The write or fsync error (a short write is reported as `ENOSPC`, as Valkey).
    pub error: io::Error,
    /// With `appendfsync always` an AOF write or fsync error cannot be recovered (the reply
    /// is already queued): Valkey exits. Otherwise the data stays buffered and writes should
    /// be refused until a later flush succeeds.
    pub fatal: bool,
}

impl std::fmt::Display for FlushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fatal {
            write!(
                f,
                "Can't recover from AOF write error when the AOF fsync policy is 'always': {}",
                self.error
            )
        } else {
            write!(f, "Error writing to the AOF file: {}", self.error)
        }
    }
}

impl std::error::Error for FlushError {}

/// The `#TS:` line `aof-timestamp-enabled` writes (also at the head of a rewritten base).
pub fn timestamp_annotation(unix_secs: i64) -> String {
    format!("#TS:{unix_secs}\r\n")
}

/// The open incr file plus the AOF buffer and the size/fsync bookkeeping.
pub struct AofWriter {
    file: Arc<File>,
    buf: Vec<u8>,
    policy: FsyncPolicy,
    /// `no-appendfsync-on-rewrite`: skip fsyncs while a child process is active.
    pub no_fsync_on_rewrite: bool,
    selected_db: Option<usize>,
    current_size: u64,
    base_size: u64,
    last_incr_size: u64,
    last_incr_fsync_offset: u64,
    last_fsync_ms: i64,
    flush_postponed_start: Option<i64>,
    delayed_fsync: u64,
    last_write_errno: Option<i32>,
    bg: BackgroundFsync,
    /// Unix second of the last `#TS:` annotation written (`aof_cur_timestamp`).
    last_timestamp: i64,
    /// Bytes ever appended to the buffer (never reset; WAITAOF counts in it).
    appended: u64,
    /// Bytes of `appended` known to be on disk through an fsync done on this thread.
    synced_inline: u64,
    /// `appended` when the running rewrite switched to a new incr file: its base holds all
    /// of that, so once the rewrite is installed those bytes are on disk whatever the
    /// policy (Valkey's `fsynced_reploff_pending` taken when a rewrite starts).
    rewrite_covers: Option<u64>,
}

// errno values (identical on Linux and macOS).
const EBADF: i32 = 9;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;

/// Buffers larger than this are freed after a write instead of reused (Valkey: 4000 bytes).
const BUF_REUSE_MAX: usize = 64 * 1024;

impl AofWriter {
    /// Wraps an incr file opened for appending. `incr_size` is its current size;
    /// `current_size` / `base_size` start Valkey's `aof_current_size` and
    /// `aof_rewrite_base_size` (from [`crate::loader::LoadReport`]).
    pub fn new(
        file: File,
        policy: FsyncPolicy,
        incr_size: u64,
        current_size: u64,
        base_size: u64,
        now_ms: i64,
    ) -> Self {
        AofWriter {
            file: Arc::new(file),
            buf: Vec::new(),
            policy,
            no_fsync_on_rewrite: false,
            selected_db: None,
            current_size,
            base_size,
            last_incr_size: incr_size,
            last_incr_fsync_offset: incr_size,
            last_fsync_ms: now_ms,
            flush_postponed_start: None,
            delayed_fsync: 0,
            last_write_errno: None,
            bg: BackgroundFsync::new(),
            last_timestamp: 0,
            appended: 0,
            synced_inline: 0,
            rewrite_covers: None,
        }
    }

    /// The fsync policy.
    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    pub fn set_policy(&mut self, p: FsyncPolicy) {
        self.policy = p;
    }

    /// Adds raw bytes to the AOF buffer.
    pub fn append(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.appended += bytes.len() as u64;
    }

    /// Bytes ever appended (annotations and SELECTs included): a position in the
    /// stream of this writer that [`AofWriter::synced_total`] catches up with.
    pub fn appended_total(&self) -> u64 {
        self.appended
    }

    /// How much of [`AofWriter::appended_total`] an fsync has put on disk (Valkey's
    /// `fsynced_reploff`, in bytes of this writer).
    pub fn synced_total(&self) -> u64 {
        self.synced_inline.max(self.bg.synced_mark())
    }

    /// Continues the counts of [`AofWriter::appended_total`] from a previous writer
    /// (AOF switched off and on again), all of it counted as synced: WAITAOF positions
    /// taken before stay comparable.
    pub fn start_counts_at(&mut self, appended: u64) {
        self.appended += appended;
        self.synced_inline = self.synced_inline.max(appended);
    }

    /// Bytes appended and written to the file (no longer buffered).
    fn written_total(&self) -> u64 {
        self.appended - self.buf.len() as u64
    }

    /// `aof-timestamp-enabled`: adds a `#TS:<unix seconds>` annotation before what is
    /// appended next, when the second changed since the last one (Valkey's
    /// `genAofTimestampAnnotationIfNeeded`); `valkey-check-aof --truncate-to-timestamp`
    /// cuts a file at these, and the loader skips them.
    pub fn annotate_timestamp(&mut self, now_secs: i64) {
        if now_secs > self.last_timestamp {
            self.last_timestamp = now_secs;
            let ts = timestamp_annotation(now_secs);
            self.buf.extend_from_slice(ts.as_bytes());
            self.appended += ts.len() as u64;
        }
    }

    /// Adds a command, preceded by `SELECT` when `db` differs from the last one written
    /// (`feedAppendOnlyFile`); `None` never selects.
    pub fn append_command(&mut self, db: Option<usize>, argv: &[&[u8]]) {
        let before = self.buf.len();
        if let Some(d) = db {
            if self.selected_db != Some(d) {
                encode_select(&mut self.buf, d);
                self.selected_db = Some(d);
            }
        }
        encode_command(&mut self.buf, argv);
        self.appended += (self.buf.len() - before) as u64;
    }

    /// Forces the next command to be preceded by `SELECT` (done when a rewrite starts).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// Bytes waiting in the AOF buffer.
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// Writes the whole buffer (write(2) loop, retrying on EINTR and short writes). If the
    /// write stops part-way, the file is truncated back to its previous size so that it never
    /// ends in half a command; if that truncation fails the written part is dropped from the
    /// buffer and counted, as Valkey does. On error the unwritten data stays buffered.
    pub fn write_buffered(&mut self) -> io::Result<usize> {
        if self.buf.is_empty() {
            return Ok(0);
        }
        let (written, err) = write_all_counting(&self.file, &self.buf);
        if written == self.buf.len() {
            self.current_size += written as u64;
            self.last_incr_size += written as u64;
            self.last_write_errno = None;
            if self.buf.capacity() > BUF_REUSE_MAX {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
            return Ok(written);
        }
        let mut error = err.unwrap_or_else(|| io::Error::from(io::ErrorKind::WriteZero));
        if written > 0 {
            // Short write: Valkey reports ENOSPC.
            error = io::Error::from_raw_os_error(ENOSPC);
            // After a successful truncation nothing was written; otherwise keep what was.
            if self.file.set_len(self.last_incr_size).is_err() {
                self.current_size += written as u64;
                self.last_incr_size += written as u64;
                self.buf.drain(..written);
            }
        }
        self.last_write_errno = Some(error.raw_os_error().unwrap_or(-1));
        Err(error)
    }

    /// `flushAppendOnlyFile(force)`: writes the buffer and fsyncs per policy. With
    /// `everysec` and `force == false` the write is postponed while a background fsync runs
    /// (up to 2 s). `child_active` with [`AofWriter::no_fsync_on_rewrite`] skips the fsync.
    /// Call before replying to clients (force = false) and from cron.
    pub fn flush(
        &mut self,
        force: bool,
        now_ms: i64,
        child_active: bool,
    ) -> Result<FlushReport, FlushError> {
        let mut report = FlushReport::default();
        let mut sync_in_progress = false;
        if self.buf.is_empty() {
            // Even with nothing new, data written earlier may still need its fsync.
            let unsynced = self.last_incr_fsync_offset != self.last_incr_size;
            let due = match self.policy {
                FsyncPolicy::EverySec => {
                    unsynced
                        && now_ms.saturating_sub(self.last_fsync_ms) >= 1000
                        && !self.bg.in_progress()
                }
                FsyncPolicy::Always => unsynced,
                FsyncPolicy::No => false,
            };
            if !due {
                // Everything written is fsynced already (Valkey updates
                // fsynced_reploff_pending here too), except under `no`.
                let all_synced = self.last_incr_fsync_offset == self.last_incr_size;
                if all_synced && self.policy != FsyncPolicy::No && !self.bg.in_progress() {
                    self.synced_inline = self.synced_inline.max(self.appended);
                }
                return Ok(report);
            }
        } else {
            if self.policy == FsyncPolicy::EverySec {
                sync_in_progress = self.bg.in_progress();
            }
            if self.policy == FsyncPolicy::EverySec && !force && sync_in_progress {
                match self.flush_postponed_start {
                    None => {
                        self.flush_postponed_start = Some(now_ms);
                        report.postponed = true;
                        return Ok(report);
                    }
                    Some(start) if now_ms.saturating_sub(start) < 2000 => {
                        report.postponed = true;
                        return Ok(report);
                    }
                    Some(_) => {
                        self.delayed_fsync += 1;
                        report.delayed_write = true;
                    }
                }
            }
            let started = std::time::Instant::now();
            let res = self.write_buffered();
            report.write_ms = Some(started.elapsed().as_millis() as u64);
            report.write_during_fsync = sync_in_progress;
            self.flush_postponed_start = None;
            match res {
                Ok(n) => report.written = n,
                Err(error) => {
                    return Err(FlushError {
                        error,
                        fatal: self.policy == FsyncPolicy::Always,
                    })
                }
            }
        }
        if self.no_fsync_on_rewrite && child_active {
            return Ok(report);
        }
        match self.policy {
            FsyncPolicy::Always => {
                let started = std::time::Instant::now();
                if let Err(error) = self.file.sync_data() {
                    return Err(FlushError { error, fatal: true });
                }
                report.fsync_always_ms = Some(started.elapsed().as_millis() as u64);
                self.synced_inline = self.written_total();
                self.last_incr_fsync_offset = self.last_incr_size;
                self.last_fsync_ms = now_ms;
                report.fsync = FsyncDone::Inline;
            }
            FsyncPolicy::EverySec if now_ms.saturating_sub(self.last_fsync_ms) >= 1000 => {
                if !sync_in_progress {
                    let tag = self.written_total();
                    self.bg.fsync(Arc::clone(&self.file), tag);
                    self.last_incr_fsync_offset = self.last_incr_size;
                    report.fsync = FsyncDone::Background;
                }
                self.last_fsync_ms = now_ms;
            }
            _ => {}
        }
        Ok(report)
    }

    /// fsyncs the current file now, on this thread.
    pub fn fsync_now(&mut self, now_ms: i64) -> io::Result<()> {
        self.file.sync_data()?;
        self.synced_inline = self.written_total();
        self.last_incr_fsync_offset = self.last_incr_size;
        self.last_fsync_ms = now_ms;
        Ok(())
    }

    /// True while a background fsync of the current file is queued or running.
    pub fn fsync_in_progress(&self) -> bool {
        self.bg.in_progress()
    }

    /// Errno of a failed background fsync, if the last one failed.
    pub fn bg_fsync_error(&self) -> Option<i32> {
        self.bg.error()
    }

    /// Errno of the last failed write, `None` after a successful one (Valkey
    /// `aof_last_write_status` / `aof_last_write_errno`).
    pub fn last_write_error(&self) -> Option<i32> {
        self.last_write_errno
    }

    /// Switches appends to a new incr file (after [`crate::dir::start_rewrite`]). The old
    /// file is fsynced and closed on the background thread. Call `flush(true, ..)` first;
    /// anything still buffered goes to the new file.
    pub fn switch_file(&mut self, new_file: File, now_ms: i64) {
        // Everything appended so far is in the keyspace the rewrite's child snapshots.
        self.rewrite_covers = Some(self.appended);
        let old = std::mem::replace(&mut self.file, Arc::new(new_file));
        self.bg.fsync_and_close(old);
        self.last_fsync_ms = now_ms;
        self.last_incr_size = 0;
        self.last_incr_fsync_offset = 0;
        self.selected_db = None;
    }

    /// After a successful rewrite: `aof_current_size = base + current incr`, and that becomes
    /// the base size against which growth is measured.
    pub fn rewrite_done(&mut self, new_base_size: u64) {
        self.current_size = new_base_size + self.last_incr_size;
        self.base_size = self.current_size;
        // The new base (written and fsynced by the child, listed in an fsynced manifest)
        // holds everything appended before the rewrite began.
        if let Some(covered) = self.rewrite_covers.take() {
            self.synced_inline = self.synced_inline.max(covered);
        }
    }

    /// Sets both sizes (e.g. after loading).
    pub fn set_sizes(&mut self, current_size: u64, base_size: u64) {
        self.current_size = current_size;
        self.base_size = base_size;
    }

    /// INFO `aof_current_size`: base + all incr files, as written.
    pub fn current_size(&self) -> u64 {
        self.current_size
    }

    /// INFO `aof_base_size`: the size right after the last rewrite (or the base file size
    /// after a restart).
    pub fn base_size(&self) -> u64 {
        self.base_size
    }

    /// Size of the incr file being appended to.
    pub fn last_incr_size(&self) -> u64 {
        self.last_incr_size
    }

    /// INFO `aof_delayed_fsync`.
    pub fn delayed_fsync(&self) -> u64 {
        self.delayed_fsync
    }

    /// INFO `aof_pending_bio_fsync` (0 or 1 here).
    pub fn pending_bio_fsync(&self) -> usize {
        self.bg.shared.pending_fsync.load(Ordering::Acquire)
    }

    /// The automatic-rewrite test of `serverCron` (`auto-aof-rewrite-percentage`,
    /// `auto-aof-rewrite-min-size`): the AOF is larger than `min_size` and grew by at least
    /// `percentage` % over the base size. `percentage == 0` disables it.
    pub fn should_auto_rewrite(&self, percentage: u64, min_size: u64) -> bool {
        if percentage == 0 || self.current_size <= min_size {
            return false;
        }
        let base = self.base_size.max(1);
        let growth = (self.current_size.saturating_mul(100) / base).saturating_sub(100);
        growth >= percentage
    }

    /// Turning AOF off (`stopAppendOnly`): flushes, fsyncs and closes the file.
    pub fn close(mut self, now_ms: i64) -> io::Result<()> {
        if let Err(e) = self.flush(true, now_ms, false) {
            return Err(e.error);
        }
        self.fsync_now(now_ms)
    }
}

/// Writes `data` fully unless an error occurs; returns the bytes written and the error.
fn write_all_counting(mut f: &File, data: &[u8]) -> (usize, Option<io::Error>) {
    let mut done = 0;
    while done < data.len() {
        match f.write(&data[done..]) {
            Ok(0) => return (done, Some(io::Error::from(io::ErrorKind::WriteZero))),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdir::TestDir;
    use std::fs::{self, OpenOptions};
    use std::time::Duration;

    fn open(t: &TestDir) -> (File, std::path::PathBuf) {
        let p = t.path().join("a.incr.aof");
        (
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&p)
                .unwrap(),
            p,
        )
    }

    #[test]
    fn policy_parse() {
        assert_eq!(
            "EverySec".parse::<FsyncPolicy>().unwrap(),
            FsyncPolicy::EverySec
        );
        assert_eq!(
            "always".parse::<FsyncPolicy>().unwrap(),
            FsyncPolicy::Always
        );
        assert_eq!("no".parse::<FsyncPolicy>().unwrap().as_str(), "no");
        assert!("sometimes".parse::<FsyncPolicy>().is_err());
    }

    #[test]
    fn timestamp_annotation_once_per_second() {
        let t = TestDir::new("wts");
        let (f, p) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::No, 0, 0, 0, 0);
        w.annotate_timestamp(1_628_217_470);
        w.append_command(None, &[b"SET", b"a", b"1"]);
        w.annotate_timestamp(1_628_217_470);
        w.append_command(None, &[b"SET", b"b", b"2"]);
        w.annotate_timestamp(1_628_217_471);
        w.flush(true, 0, false).unwrap();
        let text = String::from_utf8(fs::read(&p).unwrap()).unwrap();
        assert!(text.starts_with("#TS:1628217470\r\n*3\r\n"), "{text}");
        assert_eq!(text.matches("#TS:").count(), 2);
        assert!(text.ends_with("#TS:1628217471\r\n"), "{text}");
    }

    #[test]
    fn append_select_write_sizes() {
        let t = TestDir::new("w1");
        let (f, p) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::No, 0, 100, 100, 0);
        w.append_command(Some(0), &[b"SET", b"a", b"1"]);
        w.append_command(Some(0), &[b"SET", b"b", b"2"]);
        w.append_command(Some(3), &[b"DEL", b"a"]);
        let len = w.buffer_len();
        let r = w.flush(false, 0, false).unwrap();
        assert_eq!(r.written, len);
        assert_eq!(r.fsync, FsyncDone::None);
        let data = fs::read(&p).unwrap();
        assert!(data.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET"));
        assert_eq!(data.windows(6).filter(|w| w == b"SELECT").count(), 2);
        assert_eq!(w.current_size(), 100 + len as u64);
        assert_eq!(w.last_incr_size(), len as u64);
        assert_eq!(w.buffer_len(), 0);
        assert!(w.should_auto_rewrite(10, 64));
        assert!(!w.should_auto_rewrite(10, 1 << 20));
    }

    #[test]
    fn always_fsyncs_inline_everysec_in_background() {
        let t = TestDir::new("w2");
        let (f, _) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::Always, 0, 0, 0, 0);
        w.append(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(w.flush(false, 0, false).unwrap().fsync, FsyncDone::Inline);
        assert_eq!(w.flush(false, 1, false).unwrap(), FlushReport::default());

        let (f, _) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::EverySec, 0, 0, 0, 0);
        w.append(b"x");
        assert_eq!(w.flush(false, 500, false).unwrap().fsync, FsyncDone::None);
        // Nothing buffered, but unsynced data and a second passed: fsync anyway.
        let r = w.flush(false, 1500, false).unwrap();
        assert_eq!((r.written, r.fsync), (0, FsyncDone::Background));
        for _ in 0..200 {
            if !w.fsync_in_progress() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!w.fsync_in_progress());
        assert_eq!(w.bg_fsync_error(), None);
        // no-appendfsync-on-rewrite with a child: writes but does not fsync.
        w.no_fsync_on_rewrite = true;
        w.append(b"y");
        let r = w.flush(false, 5000, true).unwrap();
        assert_eq!((r.written, r.fsync), (1, FsyncDone::None));
    }

    #[test]
    fn everysec_postpones_while_fsync_runs_then_writes_after_2s() {
        let t = TestDir::new("w3");
        let (f, p) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::EverySec, 0, 0, 0, 0);
        w.bg.sleep_as_fsync(Duration::from_millis(400));
        assert!(w.fsync_in_progress());
        w.append(b"abc");
        let r = w.flush(false, 10_000, false).unwrap();
        assert!(r.postponed);
        assert!(w.flush(false, 11_000, false).unwrap().postponed);
        assert_eq!(fs::read(&p).unwrap().len(), 0);
        // 2 s after the first postponement: written anyway, counted.
        let r = w.flush(false, 12_000, false).unwrap();
        assert!(!r.postponed && r.delayed_write);
        assert_eq!(r.written, 3);
        assert_eq!(w.delayed_fsync(), 1);
        // force ignores the pending fsync.
        w.bg.sleep_as_fsync(Duration::from_millis(200));
        w.append(b"d");
        assert_eq!(w.flush(true, 12_001, false).unwrap().written, 1);
        assert_eq!(fs::read(&p).unwrap(), b"abcd");
    }

    #[test]
    fn switch_file_and_rewrite_sizes() {
        let t = TestDir::new("w4");
        let (f, p1) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::EverySec, 0, 50, 50, 0);
        w.append_command(Some(1), &[b"SET", b"a", b"1"]);
        w.flush(true, 0, false).unwrap();
        let p2 = t.path().join("b.incr.aof");
        let f2 = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p2)
            .unwrap();
        w.switch_file(f2, 0);
        w.append_command(Some(1), &[b"SET", b"b", b"2"]);
        let n = w.flush(true, 0, false).unwrap().written;
        assert!(fs::read(&p2).unwrap().starts_with(b"*2\r\n$6\r\nSELECT"));
        assert!(fs::read(&p1).unwrap().len() > 10);
        assert_eq!(w.last_incr_size(), n as u64);
        w.rewrite_done(10);
        assert_eq!(
            (w.current_size(), w.base_size()),
            (10 + n as u64, 10 + n as u64)
        );
        w.close(0).unwrap();
    }

    #[test]
    fn an_installed_rewrite_covers_what_was_appended_before_it_under_any_policy() {
        let t = TestDir::new("w4b");
        let (f, _) = open(&t);
        let mut w = AofWriter::new(f, FsyncPolicy::No, 0, 0, 0, 0);
        w.append_command(Some(0), &[b"SET", b"a", b"1"]);
        w.flush(true, 0, false).unwrap();
        let before = w.appended_total();
        assert_eq!(w.synced_total(), 0, "appendfsync no never fsyncs");
        let f2 = OpenOptions::new().append(true).create(true).open(t.path().join("c.incr.aof")).unwrap();
        w.switch_file(f2, 0);
        w.append_command(Some(0), &[b"SET", b"b", b"2"]);
        w.flush(true, 0, false).unwrap();
        assert_eq!(w.synced_total(), 0, "not before the new base is installed");
        w.rewrite_done(10);
        assert_eq!(w.synced_total(), before, "the base holds what came before; the write after it is not fsynced");
        w.close(0).unwrap();
    }

    #[test]
    fn write_error_keeps_buffer() {
        let t = TestDir::new("w5");
        let p = t.path().join("ro");
        fs::write(&p, b"").unwrap();
        let f = File::open(&p).unwrap(); // read-only: write fails with EBADF
        let mut w = AofWriter::new(f, FsyncPolicy::EverySec, 0, 0, 0, 0);
        w.append(b"data");
        let e = w.flush(false, 0, false).unwrap_err();
        assert!(!e.fatal);
        assert_eq!(w.buffer_len(), 4);
        assert!(w.last_write_error().is_some());
        w.set_policy(FsyncPolicy::Always);
        assert!(w.flush(false, 0, false).unwrap_err().fatal);
    }
}
