//! Forking: [`spawn_child`] and the parent's [`ChildHandle`].
//!
//! Parent-side sequence (Valkey's `serverFork`): claim the single child slot, open the info
//! pipe, block every signal, `fork()`, restore the mask, time the fork. The child side is in
//! [`crate::child`].

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Instant;

use crate::child::{run_child, ChildCtx};
use crate::childinfo::{ChildInfo, ChildStats, DoneInfo, RecordReader};

/// The pid of this process's active child, 0 if none, [`RESERVED`] while a fork is in
/// progress. Cleared when the child is reaped.
static ACTIVE_CHILD: AtomicI32 = AtomicI32::new(0);
/// Marks the slot as taken by a fork that has not returned yet.
const RESERVED: i32 = -1;
static TOTAL_FORKS: AtomicU64 = AtomicU64::new(0);
static LATEST_FORK_USEC: AtomicU64 = AtomicU64::new(0);

/// What the child is for. BGSAVE and BGREWRITEAOF are mutually exclusive: one child at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// BGSAVE: writes an RDB snapshot.
    Rdb,
    /// BGREWRITEAOF: writes a new AOF base file.
    AofRewrite,
    /// A forked Lua debugging session (`SCRIPT DEBUG YES`): runs the script on the
    /// client's socket and exits, so its changes die with it. Not mutually exclusive with
    /// the others (Valkey's `CHILD_TYPE_LDB`): see [`spawn_session_child`].
    Ldb,
}

impl ChildKind {
    /// The child's process title, set with `prctl(PR_SET_NAME)` on Linux (Valkey uses
    /// `redis-rdb-bgsave` / `redis-aof-rewrite`). The kernel keeps the first 15 bytes, so `ps`
    /// shows `forkv-rdb-bgsav` / `forkv-aof-rewri`.
    pub fn process_title(self) -> &'static str {
        match self {
            ChildKind::Rdb => "forkv-rdb-bgsave",
            ChildKind::AofRewrite => "forkv-aof-rewrite",
            ChildKind::Ldb => "forkv-lua-debug",
        }
    }

    pub(crate) fn process_title_c(self) -> &'static std::ffi::CStr {
        match self {
            ChildKind::Rdb => c"forkv-rdb-bgsave",
            ChildKind::AofRewrite => c"forkv-aof-rewrite",
            ChildKind::Ldb => c"forkv-lua-debug",
        }
    }

    /// The label of the CoW log line: `Fork CoW for RDB: …` / `Fork CoW for AOF rewrite: …`.
    pub fn cow_label(self) -> &'static str {
        match self {
            ChildKind::Rdb => "RDB",
            ChildKind::AofRewrite => "AOF rewrite",
            ChildKind::Ldb => "Lua debugging session",
        }
    }
}

/// Why [`spawn_child`] did not start a child.
#[derive(Debug)]
pub enum ForkError {
    /// A child from this process is still alive or unreaped (Valkey: `errno = EEXIST`). `pid` is
    /// -1 if another fork is in progress at this very moment.
    ChildExists {
        /// The active child's pid.
        pid: i32,
    },
    /// The child-info pipe could not be created (e.g. `EMFILE`).
    Pipe(io::Error),
    /// `fork()` failed (`EAGAIN`, `ENOMEM`: see overcommit in [`crate::syscheck`]).
    Fork(io::Error),
}

impl ForkError {
    /// The errno this maps to: `EEXIST` for [`ForkError::ChildExists`], else the OS error.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            ForkError::ChildExists { .. } => Some(libc::EEXIST),
            ForkError::Pipe(e) | ForkError::Fork(e) => e.raw_os_error(),
        }
    }
}

impl fmt::Display for ForkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForkError::ChildExists { pid } if *pid > 0 => {
                write!(f, "another child process is active (pid {pid})")
            }
            ForkError::ChildExists { .. } => write!(f, "another fork is in progress"),
            ForkError::Pipe(e) => write!(f, "can't open the child info pipe: {e}"),
            ForkError::Fork(e) => write!(f, "fork: {}", crate::sys::error_text(e)),
        }
    }
}

impl std::error::Error for ForkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ForkError::ChildExists { .. } => None,
            ForkError::Pipe(e) | ForkError::Fork(e) => Some(e),
        }
    }
}

/// The pid of this process's active child (forked by [`spawn_child`], not yet reaped).
pub fn active_child_pid() -> Option<i32> {
    match ACTIVE_CHILD.load(Ordering::Acquire) {
        pid if pid > 0 => Some(pid),
        _ => None,
    }
}

/// INFO stats `total_forks`: successful forks by this process.
pub fn total_forks() -> u64 {
    TOTAL_FORKS.load(Ordering::Relaxed)
}

/// INFO stats `latest_fork_usec`: how long the latest `fork()` call took, in µs.
pub fn latest_fork_usec() -> u64 {
    LATEST_FORK_USEC.load(Ordering::Relaxed)
}

/// Releases the child slot when the child is reaped (only if it still holds `pid`).
pub(crate) fn release_slot(pid: i32) {
    let _ = ACTIVE_CHILD.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Acquire);
}

/// The parent's handle on a running (or finished, unreaped) child.
///
/// Poll it from the server cron: [`ChildHandle::drain_info`] for progress and log lines,
/// [`ChildHandle::try_reap`] for the end. Dropping an unreaped handle kills and reaps the child
/// (see the `Drop` impl in [`crate::reap`]).
pub struct ChildHandle {
    pub(crate) pid: i32,
    pub(crate) kind: ChildKind,
    pub(crate) started_at: Instant,
    pub(crate) fork_usec: u64,
    pub(crate) read_fd: Option<OwnedFd>,
    pub(crate) reader: RecordReader,
    pub(crate) queued: Vec<ChildInfo>,
    pub(crate) stats: ChildStats,
    pub(crate) done: Option<DoneInfo>,
    pub(crate) reaped: bool,
}

impl fmt::Debug for ChildHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildHandle")
            .field("pid", &self.pid)
            .field("kind", &self.kind)
            .field("fork_usec", &self.fork_usec)
            .field("reaped", &self.reaped)
            .finish_non_exhaustive()
    }
}

impl ChildHandle {
    /// The child's pid (temp files are named after it: `temp-<pid>.rdb`).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// What the child is for.
    pub fn kind(&self) -> ChildKind {
        self.kind
    }

    /// When the fork happened (for `rdb_last_bgsave_time_sec` / `rdb_current_bgsave_time_sec`).
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// How long `fork()` took, in µs (`latest_fork_usec`).
    pub fn fork_usec(&self) -> u64 {
        self.fork_usec
    }

    /// The read end of the child-info pipe (non-blocking), for callers that want to poll it;
    /// `None` once reaped.
    pub fn info_fd(&self) -> Option<RawFd> {
        self.read_fd.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The live INFO figures, as of the last [`ChildHandle::drain_info`] / `try_reap`.
    pub fn stats(&self) -> &ChildStats {
        &self.stats
    }

    /// Sets `current_save_keys_total` from the parent, which knows the key count at fork time
    /// (Valkey: `dbTotalServerKeyCount()`).
    pub fn set_keys_total(&mut self, keys_total: u64) {
        self.stats.keys_total = keys_total;
    }
}

/// Forks a child that runs `job` and exits; returns the parent's handle.
///
/// Call it from the thread that owns the server state (Node's JS main thread), inside a
/// synchronous call, with everything the job needs already allocated and moved into the closure.
/// In the child, the job runs after signal handlers are reset and inherited fds are closed (see
/// the crate docs). `Ok(())` makes the child `_exit(0)`, `Err(message)` makes it send the
/// message and `_exit(1)`, and a panic is caught and reported as an error. The job must not use
/// threads, async runtimes, napi, V8, std stdout/stderr or any lock that another thread of the
/// parent might have held.
///
/// The closure may borrow from the caller (`&Keyspace`, say): the child gets a copy-on-write
/// image of the parent's memory as of the fork, so nothing needs to be `Send` or `'static`.
///
/// Fails with [`ForkError::ChildExists`] while a previous child is unreaped.
pub fn spawn_child<F>(kind: ChildKind, job: F) -> Result<ChildHandle, ForkError>
where
    F: FnOnce(&mut ChildCtx) -> Result<(), String>,
{
    spawn(kind, None, true, job)
}

/// [`spawn_child`] with one more descriptor for the job: `output` stays open in the child
/// (as fd 4, see [`ChildCtx::output_fd`]) and is closed in the parent right after the fork,
/// so that the parent reading the other end of a pipe sees EOF when the child is done
/// (the diskless replication transfer: the child writes the RDB into a pipe).
pub fn spawn_child_with_output<F>(
    kind: ChildKind,
    output: OwnedFd,
    job: F,
) -> Result<ChildHandle, ForkError>
where
    F: FnOnce(&mut ChildCtx) -> Result<(), String>,
{
    spawn(kind, Some(output), true, job)
}

/// A child beside the background job, not in its slot (Valkey's `CHILD_TYPE_LDB`): a
/// BGSAVE may run meanwhile, and several may run at once. `output` is the descriptor the
/// job serves (a client's socket, see [`ChildCtx::output_fd`]); the parent's copy passed
/// here is closed right after the fork, the caller's own descriptor is untouched. The
/// child resets signals, closes every other inherited fd and leaves with `_exit`, as
/// [`spawn_child`]'s does; reap it with [`ChildHandle::try_reap`].
pub fn spawn_session_child<F>(
    kind: ChildKind,
    output: OwnedFd,
    job: F,
) -> Result<ChildHandle, ForkError>
where
    F: FnOnce(&mut ChildCtx) -> Result<(), String>,
{
    spawn(kind, Some(output), false, job)
}

fn spawn<F>(
    kind: ChildKind,
    output: Option<OwnedFd>,
    exclusive: bool,
    job: F,
) -> Result<ChildHandle, ForkError>
where
    F: FnOnce(&mut ChildCtx) -> Result<(), String>,
{
    if exclusive {
        if let Err(pid) =
            ACTIVE_CHILD.compare_exchange(0, RESERVED, Ordering::AcqRel, Ordering::Acquire)
        {
            return Err(ForkError::ChildExists { pid });
        }
    }
    let slot = SlotGuard { armed: exclusive };

    let (read_end, write_end) = info_pipe().map_err(ForkError::Pipe)?;
    // Allocated before the fork so the parent side needs nothing new afterwards.
    let reader = RecordReader::new();
    let queued = Vec::with_capacity(16);

    let old_mask = block_all_signals();
    let started_at = Instant::now();
    // SAFETY: fork() duplicates the process; the child only runs `run_child`, which never
    // returns, resets signals, closes inherited fds and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        run_child(
            kind,
            write_end.as_raw_fd(),
            output.as_ref().map(AsRawFd::as_raw_fd),
            job,
        );
    }
    drop(output);
    let fork_error = (pid < 0).then(io::Error::last_os_error);
    let fork_usec = u64::try_from(started_at.elapsed().as_micros()).unwrap_or(u64::MAX);
    restore_signal_mask(&old_mask);
    if let Some(e) = fork_error {
        return Err(ForkError::Fork(e));
    }
    // The parent must not hold the write end, or it would never see EOF when the child exits.
    drop(write_end);

    if exclusive {
        ACTIVE_CHILD.store(pid, Ordering::Release);
    }
    slot.disarm();
    TOTAL_FORKS.fetch_add(1, Ordering::Relaxed);
    LATEST_FORK_USEC.store(fork_usec, Ordering::Relaxed);

    Ok(ChildHandle {
        pid,
        kind,
        started_at,
        fork_usec,
        read_fd: Some(read_end),
        reader,
        queued,
        stats: ChildStats::default(),
        done: None,
        reaped: false,
    })
}

/// Gives the child slot back if `spawn_child` fails after claiming it.
struct SlotGuard {
    armed: bool,
}

impl SlotGuard {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if self.armed {
            release_slot(RESERVED);
        }
    }
}

/// A pipe with both ends `O_CLOEXEC | O_NONBLOCK`: (read end, write end).
fn info_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        for fd in fds {
            // SAFETY: fcntl on descriptors we just created.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                let fl = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
        }
    }
    // SAFETY: both descriptors are freshly created, open, and owned by nobody else.
    let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok(pair)
}

/// Blocks every signal in the calling thread; returns the previous mask.
fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask initialise and use it, and only
    // change the calling thread's mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

/// Restores the calling thread's signal mask.
fn restore_signal_mask(old: &libc::sigset_t) {
    // SAFETY: `old` is a mask previously returned by pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}
