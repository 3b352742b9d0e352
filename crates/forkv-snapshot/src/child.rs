//! The child side: what runs between `fork()` and `_exit`, and [`ChildCtx`], the job's end of
//! the info pipe.
//!
//! Everything here runs in a process whose other threads vanished at the fork, so it only
//! makes system calls and touches memory it owns. It never takes a std lock, never uses
//! stdout/stderr, and never returns to the caller of [`crate::spawn_child`].

use std::fmt::Write as _;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crate::childinfo::{
    encode_done, encode_log, encode_progress, LogLevel, RecordFields, MAX_MESSAGE_LEN, RECORD_SIZE,
};
use crate::cow::{CowSampler, CowStats};
use crate::fork::ChildKind;
use crate::sys::{close_fd, coarse_monotonic_us, StackBuf};

/// The fd number the info pipe is moved to in the child (the first one after stdio).
const CHILD_INFO_FD: RawFd = 3;
/// Where the job's output descriptor goes in the child, when there is one.
const CHILD_OUTPUT_FD: RawFd = 4;
/// Default spacing of progress records (Valkey: about once a second).
const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// How long the final record may wait for room in a full pipe before the child gives up on it
/// (the exit status still tells the parent how the job ended).
const DONE_SEND_PATIENCE_MS: u64 = 10_000;

/// The info pipe of this (child) process, for the panic hook; -1 in the parent.
static PANIC_INFO_FD: AtomicI32 = AtomicI32::new(-1);

/// The job's side of the child: progress, log lines and COW sampling, sent over the info pipe.
///
/// Every send is one atomic `write(2)` of a fixed-size record on a non-blocking pipe. If the
/// parent has fallen behind and the pipe is full, progress and log records are dropped
/// (counted in [`ChildCtx::dropped_records`]) rather than stalling the save. If the parent is
/// gone (`EPIPE`), the child exits with status 1, as Valkey's does.
pub struct ChildCtx {
    kind: ChildKind,
    pid: i32,
    fd: RawFd,
    keys_total: u64,
    keys_processed: u64,
    interval_us: u64,
    last_send_us: Option<u64>,
    cow: CowSampler,
    dropped: u64,
    /// The job's output descriptor (the write end of a pipe the parent reads), if the
    /// child was spawned with one.
    output: Option<RawFd>,
}

impl ChildCtx {
    fn new(kind: ChildKind, fd: RawFd, output: Option<RawFd>) -> Self {
        Self {
            output,
            kind,
            // SAFETY: getpid has no preconditions and is async-signal-safe.
            pid: unsafe { libc::getpid() },
            fd,
            keys_total: 0,
            keys_processed: 0,
            interval_us: duration_us(DEFAULT_PROGRESS_INTERVAL),
            last_send_us: None,
            cow: CowSampler::default(),
            dropped: 0,
        }
    }

    /// What this child is for.
    pub fn kind(&self) -> ChildKind {
        self.kind
    }

    /// The output descriptor passed to [`crate::spawn_child_with_output`] or
    /// [`crate::spawn_session_child`] (kept open in the child, at fd 4), or None.
    pub fn output_fd(&self) -> Option<RawFd> {
        self.output
    }

    /// This child's pid (name temp files after it: `temp-<pid>.rdb`).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sets the total number of keys the job expects to write (`current_save_keys_total`),
    /// sent with the next progress record. Optional: the parent may set it instead.
    pub fn set_keys_total(&mut self, keys_total: u64) {
        self.keys_total = keys_total;
    }

    /// Changes how often progress records go out (default one second, like Valkey).
    pub fn set_progress_interval(&mut self, interval: Duration) {
        self.interval_us = duration_us(interval);
    }

    /// Records progress; cheap enough to call after every key. At most once per progress
    /// interval it samples copy-on-write (subject to the duty cycle in [`crate::cow`]) and
    /// sends a progress record with the latest COW figure. The first call always sends.
    pub fn report_progress(&mut self, keys_processed: u64) {
        self.keys_processed = keys_processed;
        let now = coarse_monotonic_us();
        if let Some(last) = self.last_send_us {
            if now.saturating_sub(last) < self.interval_us {
                return;
            }
        }
        self.last_send_us = Some(now);
        if self.cow.maybe_sample() && self.cow.stats().current > 0 {
            self.log_cow(LogLevel::Verbose);
        }
        let st = self.cow.stats();
        let rec = encode_progress(&RecordFields {
            keys_processed: self.keys_processed,
            keys_total: self.keys_total,
            cow_bytes: st.current,
            cow_updated_us: st.updated_us,
            ..RecordFields::default()
        });
        self.send(&rec, false);
    }

    /// Sends a log line for the parent to print with its own logger (truncated to
    /// [`MAX_MESSAGE_LEN`] bytes).
    pub fn log(&mut self, level: LogLevel, message: &str) {
        let rec = encode_log(level, message);
        self.send(&rec, false);
    }

    /// Copy-on-write figures sampled so far.
    pub fn cow_stats(&self) -> CowStats {
        self.cow.stats()
    }

    /// Records dropped because the pipe was full.
    pub fn dropped_records(&self) -> u64 {
        self.dropped
    }

    /// Valkey's `Fork CoW for RDB: current X MB, peak Y MB, average Z MB`.
    fn log_cow(&mut self, level: LogLevel) {
        let st = self.cow.stats();
        let mut line = StackBuf::<128>::new();
        let _ = write!(
            line,
            "Fork CoW for {}: current {} MB, peak {} MB, average {} MB",
            self.kind.cow_label(),
            st.current >> 20,
            st.peak >> 20,
            st.average >> 20
        );
        let rec = encode_log(level, line.as_str());
        self.send(&rec, false);
    }

    /// The last words: a fresh COW sample, Valkey's CoW log line on success, the Done record.
    fn finish(&mut self, ok: bool, message: &str) {
        self.cow.sample();
        if ok {
            self.log_cow(LogLevel::Notice);
        }
        let st = self.cow.stats();
        let rec = encode_done(
            ok,
            &RecordFields {
                keys_processed: self.keys_processed,
                keys_total: self.keys_total,
                cow_bytes: st.current,
                cow_updated_us: st.updated_us,
                cow_peak: st.peak,
                cow_average: st.average,
                message,
            },
        );
        self.send(&rec, true);
    }

    /// Writes one record. `must` records wait (bounded) for room in a full pipe.
    fn send(&mut self, rec: &[u8; RECORD_SIZE], must: bool) {
        let mut waited_ms = 0u64;
        loop {
            match write_record(self.fd, rec) {
                Ok(()) => return,
                Err(e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => {
                    if !must || waited_ms >= DONE_SEND_PATIENCE_MS {
                        self.dropped += 1;
                        return;
                    }
                    wait_writable(self.fd, 100);
                    waited_ms += 100;
                }
                Err(e) if e == libc::EPIPE => parent_gone(),
                Err(_) => {
                    self.dropped += 1;
                    return;
                }
            }
        }
    }
}

/// One `write(2)` of a whole record, retried on `EINTR`. Returns the errno on failure.
fn write_record(fd: RawFd, rec: &[u8; RECORD_SIZE]) -> Result<(), i32> {
    loop {
        // SAFETY: `rec` is a valid buffer of RECORD_SIZE bytes; write is async-signal-safe.
        let n = unsafe { libc::write(fd, rec.as_ptr().cast(), RECORD_SIZE) };
        if n >= 0 {
            // Writes of at most PIPE_BUF bytes are all-or-nothing on a pipe.
            return Ok(());
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

fn wait_writable(fd: RawFd, timeout_ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd; poll is async-signal-safe.
    unsafe {
        libc::poll(&mut pfd, 1, timeout_ms);
    }
}

/// The parent closed the pipe (it died): stop, as Valkey's child does.
fn parent_gone() -> ! {
    let msg = b"forkv child: failed reporting info to parent (broken pipe), exiting\n";
    // SAFETY: raw write(2) to stderr needs no lock; _exit skips atexit handlers.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(1)
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The child's whole life after `fork()` returned 0. Never returns, never unwinds.
pub(crate) fn run_child<F>(kind: ChildKind, info_fd: RawFd, output: Option<RawFd>, job: F) -> !
where
    F: FnOnce(&mut ChildCtx) -> Result<(), String>,
{
    // Anything that panics outside the job's own catch_unwind must not unwind into the
    // caller's (parent's) code either.
    let code = panic::catch_unwind(AssertUnwindSafe(|| child_main(kind, info_fd, output, job)))
        .unwrap_or(1);
    // SAFETY: _exit ends the process without running atexit handlers or static destructors
    // (Node's and V8's would run with their threads missing).
    unsafe { libc::_exit(code) }
}

fn child_main<F>(kind: ChildKind, info_fd: RawFd, output: Option<RawFd>, job: F) -> i32
where
    F: FnOnce(&mut ChildCtx) -> Result<(), String>,
{
    reset_signal_dispositions();
    if kind == ChildKind::Ldb {
        // A debugging session outlives no signal of the parent's: SIGTERM and SIGINT
        // are the parent's to handle (Valkey's LDB child ignores them too).
        ignore_signal(libc::SIGTERM);
        ignore_signal(libc::SIGINT);
    }
    unblock_all_signals();
    let (fd, output) = close_inherited_fds(info_fd, output);
    PANIC_INFO_FD.store(fd, Ordering::Relaxed);
    set_process_title(kind);
    crate::oom::apply_in_child();
    install_panic_hook();

    let mut ctx = ChildCtx::new(kind, fd, output);
    match panic::catch_unwind(AssertUnwindSafe(|| job(&mut ctx))) {
        Ok(Ok(())) => {
            ctx.finish(true, "");
            0
        }
        Ok(Err(message)) => {
            ctx.finish(false, &message);
            1
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string payload)");
            let mut line = StackBuf::<MAX_MESSAGE_LEN>::new();
            let _ = write!(line, "child panicked: {what}");
            ctx.finish(false, line.as_str());
            // Do not run the payload's destructor: nothing useful can come of it here.
            std::mem::forget(payload);
            1
        }
    }
}

/// The highest signal number to reset.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn max_signal() -> i32 {
    libc::SIGRTMAX()
}

/// The highest signal number to reset.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn max_signal() -> i32 {
    31
}

/// Every signal back to `SIG_DFL`, except `SIGPIPE`, which is ignored. The parent's handlers
/// (libuv's among them) would otherwise run in the child and write into pipes shared with the
/// parent.
fn reset_signal_dispositions() {
    for sig in 1..=max_signal() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction is plain data (all-zero is valid); sigemptyset/sigaction only
        // change this process's dispositions and are async-signal-safe. Failures (glibc's
        // reserved signals 32/33) are ignored.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = if sig == libc::SIGPIPE {
                libc::SIG_IGN
            } else {
                libc::SIG_DFL
            };
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Sets `sig` to `SIG_IGN`.
fn ignore_signal(sig: i32) {
    // SAFETY: sigaction is plain data (all-zero is valid); this only changes this
    // process's disposition of `sig`.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_IGN;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Clears the signal mask inherited from the fork (everything was blocked around it).
fn unblock_all_signals() {
    // SAFETY: sigset_t is plain data; sigprocmask only changes this (now single-threaded)
    // process's mask.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Moves the info pipe to fd 3 (and the job's output, if any, to fd 4) and closes every
/// other fd above 2. Returns the descriptors the two now have.
fn close_inherited_fds(info_fd: RawFd, output: Option<RawFd>) -> (RawFd, Option<RawFd>) {
    // An output already sitting on 3 would be replaced by the info pipe's dup2: move it
    // above 4 first (F_DUPFD picks the lowest free number from there).
    let output = output.map(|o| {
        if o == CHILD_INFO_FD {
            // SAFETY: F_DUPFD only duplicates a descriptor of this process.
            let moved = unsafe { libc::fcntl(o, libc::F_DUPFD, CHILD_OUTPUT_FD + 1) };
            if moved >= 0 {
                moved
            } else {
                o
            }
        } else {
            o
        }
    });
    let fd = move_to(info_fd, CHILD_INFO_FD, output);
    let output = output.map(|o| move_to(o, CHILD_OUTPUT_FD, Some(fd)));
    let keep = [Some(fd), output];
    close_all_above_stdio_except(&keep);
    (fd, output)
}

/// `dup2(fd, to)` unless `fd` is already there or `to` holds `busy` (then `fd` stays).
fn move_to(fd: RawFd, to: RawFd, busy: Option<RawFd>) -> RawFd {
    if fd == to || busy == Some(to) {
        return fd;
    }
    // SAFETY: dup2 atomically replaces whatever inherited fd was on `to`.
    let rc = unsafe { libc::dup2(fd, to) };
    if rc == to {
        to
    } else {
        fd
    }
}

/// True when `fd` is one of the descriptors to keep.
fn kept(keep: &[Option<RawFd>], fd: RawFd) -> bool {
    keep.contains(&Some(fd))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn close_all_above_stdio_except(keep: &[Option<RawFd>]) {
    // No allocation in the child: at most two descriptors are kept, sorted in place.
    let mut sorted = [RawFd::MAX; 2];
    for (slot, k) in sorted
        .iter_mut()
        .zip(keep.iter().flatten().filter(|&&k| k > 2))
    {
        *slot = *k;
    }
    sorted.sort_unstable();
    let mut from = 3;
    let mut ok = true;
    for k in sorted.into_iter().filter(|&k| k != RawFd::MAX) {
        ok &= close_range(from, k - 1);
        from = k + 1;
    }
    if ok && close_range(from, RawFd::MAX) {
        return;
    }
    if close_listed_in_proc(keep) {
        return;
    }
    close_up_to_limit(keep);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn close_all_above_stdio_except(keep: &[Option<RawFd>]) {
    close_up_to_limit(keep);
}

/// `close_range(first, last)` (Linux ≥ 5.9); an empty range counts as success.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn close_range(first: RawFd, last: RawFd) -> bool {
    if last < first {
        return true;
    }
    let (Ok(first), Ok(last)) = (libc::c_uint::try_from(first), libc::c_uint::try_from(last))
    else {
        return false;
    };
    let flags: libc::c_uint = 0;
    // SAFETY: close_range only closes descriptors of this process; ENOSYS on old kernels.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    rc == 0
}

/// Closes the fds listed in `/proc/self/fd` (read with raw `getdents64`, no allocation).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn close_listed_in_proc(keep: &[Option<RawFd>]) -> bool {
    // SAFETY: NUL-terminated path; open is async-signal-safe.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return false;
    }
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: `buf` is writable for its length; getdents64 fills it with dirent64 records.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len()) };
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16 @16, d_type u8 @18, d_name @19.
        let mut off = 0usize;
        while off + 19 < n {
            let reclen = usize::from(u16::from_ne_bytes([buf[off + 16], buf[off + 17]]));
            if reclen == 0 {
                break;
            }
            let end = (off + reclen).min(n);
            if let Some(fd) = parse_fd_name(&buf[off + 19..end]) {
                if fd > 2 && !kept(keep, fd) && fd != dir {
                    close_fd(fd);
                }
            }
            off += reclen;
        }
    }
    close_fd(dir);
    true
}

/// The fd number of a `/proc/self/fd` entry name (NUL-terminated digits).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn parse_fd_name(name: &[u8]) -> Option<RawFd> {
    let digits = name.split(|&b| b == 0).next()?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0 as RawFd, |acc, &b| {
        acc.checked_mul(10)?.checked_add(RawFd::from(b - b'0'))
    })
}

/// Last resort: close every fd number up to the soft `RLIMIT_NOFILE` (capped at 2^20).
fn close_up_to_limit(keep: &[Option<RawFd>]) {
    const CAP: u64 = 1 << 20;
    // SAFETY: rlimit is plain data; getrlimit fills it.
    let limit = unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur != libc::RLIM_INFINITY
        {
            (rl.rlim_cur as u64).min(CAP)
        } else {
            CAP
        }
    };
    let limit = RawFd::try_from(limit).unwrap_or(RawFd::MAX);
    for fd in 3..limit {
        if !kept(keep, fd) {
            close_fd(fd);
        }
    }
}

/// `prctl(PR_SET_NAME)`: what `ps`/`top` show for the child (first 15 bytes).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_process_title(kind: ChildKind) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string; it only renames this thread.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, kind.process_title_c().as_ptr());
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_process_title(_kind: ChildKind) {}

/// Replaces the inherited panic hook (it would write to stderr through std's lock) with one
/// that sends the panic message over the info pipe. The job's `catch_unwind` then turns the
/// panic into an error result.
fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let fd = PANIC_INFO_FD.load(Ordering::Relaxed);
        if fd < 0 {
            return;
        }
        let mut line = StackBuf::<MAX_MESSAGE_LEN>::new();
        let _ = write!(line, "fork child {info}");
        let rec = encode_log(LogLevel::Warning, line.as_str());
        let _ = write_record(fd, &rec);
    }));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fd_is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only queries the descriptor table.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    /// The fallbacks for kernels without `close_range`, exercised in real children (the only
    /// forking test in this binary, so it needs no serialisation).
    #[test]
    fn fallback_fd_closers_work_in_a_child() {
        let checks: [fn(RawFd); 2] = [
            #[cfg(any(target_os = "linux", target_os = "android"))]
            |keep| {
                assert!(close_listed_in_proc(&[Some(keep)]));
            },
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            |keep| close_up_to_limit(&[Some(keep)]),
            |keep| close_up_to_limit(&[Some(keep)]),
        ];
        for closer in checks {
            let mut h = crate::spawn_child(ChildKind::Rdb, move |ctx| {
                let keep = ctx.fd;
                // Fresh descriptors above the info pipe.
                let a = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
                let b = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
                let (a, b) = (
                    std::os::fd::IntoRawFd::into_raw_fd(a),
                    std::os::fd::IntoRawFd::into_raw_fd(b),
                );
                closer(keep);
                match (fd_is_open(keep), fd_is_open(a), fd_is_open(b)) {
                    (true, false, false) => Ok(()),
                    other => Err(format!("keep/a/b open: {other:?}")),
                }
            })
            .unwrap();
            let exit = h.wait_timeout(std::time::Duration::from_secs(5)).unwrap();
            assert_eq!(exit.outcome, crate::ChildOutcome::Ok);
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn parses_proc_fd_names() {
        assert_eq!(parse_fd_name(b"17\0\0\0"), Some(17));
        assert_eq!(parse_fd_name(b".\0"), None);
        assert_eq!(parse_fd_name(b"..\0"), None);
        assert_eq!(parse_fd_name(b"\0"), None);
    }
}
