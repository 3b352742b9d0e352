//! RDB snapshots: SAVE writes the file in this process; BGSAVE is the composition
//! "fork + atomic file + RDB writer": the child (`forkv-snapshot`) writes
//! `temp-<pid>.rdb` with the RDB writer over the keyspace as of the fork, fsyncs, renames
//! it over the target and fsyncs the directory; the parent takes the child into the
//! [`JobSlot`](crate::jobs::JobSlot), and the cron's poll reaps it.

use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use forkv_keyspace::Keyspace;
use forkv_rdb::WriteOptions;
use forkv_snapshot::{ChildExit, ChildKind, ForkError};

use crate::host_types::host_type;
use crate::Server;

/// The child's write buffer, allocated before fork (the child must not grow the heap
/// it shares page by page with the parent more than it needs).
const CHILD_WRITE_BUFFER: usize = 1 << 20;

/// The diskless transfer child's write buffer (one pipe's worth).
const TRANSFER_WRITE_BUFFER: usize = 1 << 16;

/// Where and how a snapshot is written.
#[derive(Clone, Debug)]
pub struct RdbTarget {
    /// The data directory (`dir`).
    pub dir: PathBuf,
    /// The file name in it (`dbfilename`).
    pub filename: String,
    /// Format options (version, compression, checksum, AUX fields).
    pub write: WriteOptions,
    /// Pause after each key (`rdb-key-save-delay`, for tests).
    pub key_save_delay: Duration,
    /// `rdb-save-incremental-fsync`: sync the file every 4 MiB while writing it.
    pub incremental_fsync: bool,
}

/// The RDB format settings of a save (`rdb-version`, `rdbcompression`, `rdbchecksum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdbFormat {
    /// RDB version to write (9..=11).
    pub version: u32,
    pub compression: bool,
    pub checksum: bool,
}

/// A forked snapshot child, as the parent sees it right after fork.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forked {
    pub pid: i32,
    /// How long fork() took (INFO `latest_fork_usec`).
    pub fork_usec: u64,
}

/// Writes the keyspace to `target` through `temp_name` (fsync, rename, directory fsync);
/// returns (keys written, bytes).
pub fn write_rdb_file(ks: &Keyspace, target: &RdbTarget, temp_name: &str, buffer: Vec<u8>, progress: &mut dyn FnMut(u64)) -> io::Result<(u64, u64)> {
    let delay = target.key_save_delay;
    let mut keys = 0;
    let dir = Path::new(&target.dir);
    let bytes = forkv_snapshot::write_file_atomically_synced(dir, &target.filename, temp_name, buffer, target.incremental_fsync, |w| {
        let stats = forkv_rdb::write_rdb(w, ks, &target.write, &mut |p| {
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

/// Keys in every database (INFO `current_save_keys_total`).
pub fn total_keys(ks: &Keyspace) -> u64 {
    (0..ks.db_count()).map(|i| ks.len(i) as u64).sum()
}

host_type! {
#[input = "ReplSaveInfo"]
/// A replica's place in its primary's stream, saved as the `repl-stream-db`, `repl-id`
/// and `repl-offset` AUX fields (Valkey's rdbSaveInfo): restarted from the file, the
/// replica continues with a partial resynchronization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplSaveInfo {
    /// The database the stream that follows the snapshot is in (the primary client's).
    pub stream_db: u32,
    /// The primary's replication ID.
    pub repl_id: String,
    /// The bytes of the stream the snapshot holds.
    pub repl_offset: u64,
}
}

host_type! {
#[input = "RdbSaveOptions"]
/// How to write an RDB file, as the host's configuration says.
#[derive(Clone, Debug, PartialEq)]
pub struct RdbSaveOptions {
    pub dir: String,
    pub filename: String,
    pub compression: bool,
    pub checksum: bool,
    /// RDB version to write (9..=11).
    pub version: u32,
    /// Microseconds the writer sleeps after each key (`rdb-key-save-delay`, for tests).
    pub key_save_delay_us: u64,
    /// `rdb-save-incremental-fsync`: the file is synced every 4 MiB while it is written.
    pub incremental_fsync: Option<bool>,
    /// SAVE in process only: a SIGINT during the save removes its temp file and exits
    /// with status 1 (the shutdown save after a signal, as Valkey's second SIGINT).
    pub exit_on_sigint: Option<bool>,
    /// The replication AUX fields (Valkey's rdbSaveInfo), written by a replica that has
    /// a primary's history.
    pub repl: Option<ReplSaveInfo>,
}
}

impl Server {
    /// The snapshot target of the host's save options.
    pub fn rdb_target_of(&self, o: &RdbSaveOptions) -> RdbTarget {
        let format = RdbFormat { version: o.version, compression: o.compression, checksum: o.checksum };
        let mut target = self.rdb_target(PathBuf::from(&o.dir), o.filename.clone(), format, o.repl.as_ref(), Duration::from_micros(o.key_save_delay_us));
        target.incremental_fsync = o.incremental_fsync.unwrap_or(false);
        target
    }

    /// The RDB writer's options for `format`, with the AUX fields a save carries: the
    /// `used-mem` figure of the engine's memory probe, and the replication fields (in
    /// Valkey's order, rdbSaveInfoAuxFields) when given.
    pub fn rdb_write_options(&self, format: RdbFormat, repl: Option<&ReplSaveInfo>) -> WriteOptions {
        let mut extra_aux = WriteOptions::default().extra_aux;
        if let Some(r) = repl {
            extra_aux.push((b"repl-stream-db".to_vec(), r.stream_db.to_string().into_bytes()));
            extra_aux.push((b"repl-id".to_vec(), r.repl_id.clone().into_bytes()));
            extra_aux.push((b"repl-offset".to_vec(), r.repl_offset.to_string().into_bytes()));
        }
        WriteOptions {
            version: format.version,
            compression: format.compression,
            checksum: format.checksum,
            used_mem: self.engine.allocated_memory() as u64,
            extra_aux,
            ..WriteOptions::default()
        }
    }

    /// The target of an RDB save to `dir`/`filename` (see [`Server::rdb_write_options`]).
    pub fn rdb_target(&self, dir: PathBuf, filename: String, format: RdbFormat, repl: Option<&ReplSaveInfo>, key_save_delay: Duration) -> RdbTarget {
        RdbTarget { dir, filename, write: self.rdb_write_options(format, repl), key_save_delay, incremental_fsync: false }
    }

    /// `target` with the function libraries to write before the keys.
    fn with_functions(&self, mut target: RdbTarget) -> RdbTarget {
        target.write.functions = self.engine.function_codes();
        target
    }

    /// SAVE: writes the snapshot in this process, blocking, as Valkey's SAVE does.
    pub fn save_rdb(&self, target: &RdbTarget) -> io::Result<(u64, u64)> {
        let temp = format!("temp-{}.rdb", std::process::id());
        let target = self.with_functions(target.clone());
        write_rdb_file(&self.engine.ks, &target, &temp, Vec::with_capacity(CHILD_WRITE_BUFFER), &mut |_| {})
    }

    /// BGSAVE: forks; the child writes the snapshot as of this instant and logs
    /// "DB saved on disk". Refused while another job runs.
    pub fn bgsave(&mut self, target: RdbTarget) -> Result<Forked, ForkError> {
        let buffer = Vec::with_capacity(CHILD_WRITE_BUFFER);
        // The libraries are copied before the fork: the child never touches the VM.
        let target = self.with_functions(target);
        let ks = &self.engine.ks;
        let total = total_keys(ks);
        let temp_dir = target.dir.clone();
        let spawned = forkv_snapshot::spawn_child(ChildKind::Rdb, move |ctx| {
            ctx.set_keys_total(total);
            let temp = format!("temp-{}.rdb", ctx.pid());
            match write_rdb_file(ks, &target, &temp, buffer, &mut |k| ctx.report_progress(k)) {
                Ok(_) => {
                    ctx.log(forkv_snapshot::LogLevel::Notice, "DB saved on disk");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        });
        let mut handle = spawned?;
        // INFO current_save_keys_total is known at fork time (Valkey: dbTotalServerKeyCount),
        // before the child's first progress record arrives.
        handle.set_keys_total(total);
        let forked = Forked { pid: handle.pid(), fork_usec: handle.fork_usec() };
        let temp = temp_dir.join(format!("temp-{}.rdb", handle.pid()));
        self.adopt_job(handle, crate::jobs::JobTarget::File, Some(temp));
        Ok(forked)
    }

    /// The diskless full sync (Valkey's rdbSaveToReplicasSockets): forks a child that
    /// writes `$EOF:<mark>\r\n`, the snapshot as of this instant, then `<mark>` into a
    /// pipe; returns the child and the pipe's read end, which the host copies to every
    /// replica attached to the transfer. The child fails (EPIPE) if the host closes it.
    /// The snapshot is the one the replicas waiting for this fork asked for
    /// (`REPLCONF rdb-filter-only`, see [`crate::repl_request`]).
    pub fn bgsave_to_replicas(&mut self, target: RdbTarget, mark: &str) -> Result<(Forked, OwnedFd), ForkError> {
        let (read_end, write_end) = transfer_pipe().map_err(ForkError::Pipe)?;
        let filter = self.repl().fork_filter().unwrap_or_default();
        let mut target = self.with_functions(target);
        if filter.exclude_functions {
            target.write.functions.clear();
        }
        target.write.exclude_data = filter.exclude_data;
        let ks = &self.engine.ks;
        let total = if filter.exclude_data { 0 } else { total_keys(ks) };
        let mark = mark.as_bytes().to_vec();
        let spawned = forkv_snapshot::spawn_child_with_output(ChildKind::Rdb, write_end, move |ctx| {
            ctx.set_keys_total(total);
            let fd = ctx.output_fd().ok_or("no transfer pipe")?;
            // SAFETY: `fd` is the pipe's write end, open in this child and owned by nobody
            // else here; the File closes it when the job ends.
            let pipe = unsafe { std::fs::File::from_raw_fd(fd) };
            write_eof_framed(pipe, ks, &target, &mark, &mut |k| ctx.report_progress(k)).map_err(|e| e.to_string())
        });
        let mut handle = spawned?;
        handle.set_keys_total(total);
        let forked = Forked { pid: handle.pid(), fork_usec: handle.fork_usec() };
        self.adopt_job(handle, crate::jobs::JobTarget::ReplicaSockets, None);
        Ok((forked, read_end))
    }
}

/// Writes the snapshot framed for a diskless transfer: `$EOF:<mark>\r\n`, the RDB, `<mark>`.
pub fn write_eof_framed(out: impl Write, ks: &Keyspace, target: &RdbTarget, mark: &[u8], progress: &mut dyn FnMut(u64)) -> io::Result<()> {
    let delay = target.key_save_delay;
    // Smaller than a file's buffer: the replicas see the transfer progress (and the host
    // notices a replica gone) at the pace the child writes.
    let mut w = BufWriter::with_capacity(TRANSFER_WRITE_BUFFER, out);
    w.write_all(b"$EOF:")?;
    w.write_all(mark)?;
    w.write_all(b"\r\n")?;
    w.flush()?;
    forkv_rdb::write_rdb(&mut w, ks, &target.write, &mut |p| {
        progress(p.keys_done);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        Ok(())
    })?;
    w.write_all(mark)?;
    w.flush()
}

/// The transfer pipe: both ends close-on-exec (Node's child processes never get them);
/// enlarged to 1 MB when the kernel allows, fewer wake-ups for the copying parent.
fn transfer_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned only here.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETPIPE_SZ only resizes this pipe; failure (a lower limit) is harmless.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    Ok((r, w))
}

/// The line Valkey logs when an RDB child ends (`backgroundSaveDoneHandlerDisk`, or
/// `...Socket` for a diskless transfer).
pub fn rdb_child_end_line(exit: &ChildExit, socket: bool) -> (forkv_engine::log::LogLevel, String) {
    use forkv_engine::log::LogLevel;
    use forkv_snapshot::ChildOutcome;
    let signal = match &exit.outcome {
        ChildOutcome::Ok if socket => return (LogLevel::Notice, "Background RDB transfer terminated with success".into()),
        ChildOutcome::Ok => return (LogLevel::Notice, "Background saving terminated with success".into()),
        ChildOutcome::Failed { .. } | ChildOutcome::Lost if socket => return (LogLevel::Warning, "Background transfer error".into()),
        ChildOutcome::Failed { message, .. } if message.is_empty() => return (LogLevel::Warning, "Background saving error".into()),
        ChildOutcome::Failed { message, .. } => return (LogLevel::Warning, format!("Background saving error: {message}")),
        ChildOutcome::Lost => return (LogLevel::Warning, "Background saving error: child status lost (reaped elsewhere)".into()),
        ChildOutcome::KilledBySignal(s) => *s,
        ChildOutcome::Cancelled => libc::SIGUSR1,
    };
    let what = if socket { "transfer" } else { "saving" };
    (LogLevel::Warning, format!("Background {what} terminated by signal {signal}"))
}
