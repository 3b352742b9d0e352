//! Reaping and cancelling: Valkey's `checkChildrenDone` and `killRDBChild`, by pid only.
//!
//! We call `waitpid(our_pid, WNOHANG)` and nothing else. libuv reaps Node's `child_process`
//! children by their pids from its own `SIGCHLD` handler. `waitpid(-1)` would steal their exit
//! statuses, and a `SIGCHLD` handler of ours would replace libuv's.
//!
//! How an exit status reads (Valkey's convention):
//! - exit 0: [`ChildOutcome::Ok`];
//! - exit 255 (`SERVER_CHILD_NOERROR_RETVAL`), or killed by `SIGUSR1`: [`ChildOutcome::Cancelled`],
//!   not an error (BGSAVE CANCEL, SHUTDOWN);
//! - any other exit code: [`ChildOutcome::Failed`], with the job's message from the final record;
//! - any other signal: [`ChildOutcome::KilledBySignal`] (OOM killer, `kill -9`, a crash).
//!
//! After a non-`Ok` outcome the caller removes the child's temp file (`temp-<pid>.rdb`), as
//! Valkey's `rdbRemoveTempFile(childpid)` does: a killed child cannot clean up after itself.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crate::childinfo::ChildInfo;
use crate::fork::{release_slot, ChildHandle, ChildKind};

/// Exit code Valkey's child uses after `SIGUSR1`: cancelled, not failed.
pub const CHILD_NOERROR_RETVAL: i32 = 255;

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildOutcome {
    /// The job returned `Ok` and the child exited 0.
    Ok,
    /// The job returned an error or panicked (or the child otherwise exited non-zero).
    Failed {
        /// The exit code (1 for a job error).
        exit_code: i32,
        /// The job's message, or a description of the exit code if the child sent none.
        message: String,
    },
    /// Killed by a signal other than `SIGUSR1` (e.g. 9 for `SIGKILL`, the OOM killer).
    KilledBySignal(i32),
    /// Cancelled with `SIGUSR1` ([`ChildHandle::kill_cancel`]) or exit code 255.
    Cancelled,
    /// `waitpid` said `ECHILD`: something else in the process reaped our child, so its status
    /// is unknown. This should never happen.
    Lost,
}

/// A reaped child: how it ended, how long it ran, what it cost.
#[derive(Clone, Debug)]
pub struct ChildExit {
    /// The child's pid (its temp file is named after it).
    pub pid: i32,
    /// What the child was for.
    pub kind: ChildKind,
    /// How it ended.
    pub outcome: ChildOutcome,
    /// From fork to reap.
    pub duration: Duration,
    /// The final copy-on-write sample, bytes.
    pub cow_bytes: u64,
    /// Peak copy-on-write, bytes: what Valkey reports as `rdb_last_cow_size` /
    /// `aof_last_cow_size`.
    pub cow_peak: u64,
    /// Keys the child reported as processed.
    pub keys_processed: u64,
    /// Records not yet returned by [`ChildHandle::drain_info`] (log lines to print).
    pub info: Vec<ChildInfo>,
}

impl ChildExit {
    /// Whether the job succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome == ChildOutcome::Ok
    }
}

impl ChildHandle {
    /// Non-blocking: if the child has exited, reaps it and returns how it ended; otherwise
    /// `None`. Call from the server cron. Also drains the info pipe (records are kept for
    /// [`ChildHandle::drain_info`] or, at the end, in [`ChildExit::info`]). Returns `Some` at
    /// most once.
    pub fn try_reap(&mut self) -> Option<ChildExit> {
        if self.reaped {
            return None;
        }
        // Drain first: a child waiting for room to write its final record would never exit.
        self.pump();
        let mut status: libc::c_int = 0;
        loop {
            // SAFETY: waitpid on our own child's pid only; `status` is a valid out pointer.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if rc == 0 {
                return None;
            }
            if rc == self.pid {
                let outcome = self.outcome_from_status(status);
                return Some(self.finish_reap(outcome));
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Some(self.finish_reap(ChildOutcome::Lost));
        }
    }

    /// Polls until the child ends or `timeout` passes, draining the pipe meanwhile. For
    /// SHUTDOWN-time waits and tests; the server's normal path is [`ChildHandle::try_reap`].
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ChildExit> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(exit) = self.try_reap() {
                return Some(exit);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let slice = (deadline - now).min(Duration::from_millis(10));
            match self.info_fd() {
                Some(fd) if !self.reader.eof => {
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    let ms = i32::try_from(slice.as_millis()).unwrap_or(10).max(1);
                    // SAFETY: one valid pollfd for an fd we own.
                    unsafe {
                        libc::poll(&mut pfd, 1, ms);
                    }
                }
                _ => thread::sleep(slice.min(Duration::from_millis(1))),
            }
        }
    }

    /// Asks the child to stop: sends `SIGUSR1` (Valkey's `killRDBChild`, BGSAVE CANCEL). The
    /// child dies at once (default action) and reaps as [`ChildOutcome::Cancelled`]. A no-op
    /// once reaped, so it can never hit a recycled pid.
    pub fn kill_cancel(&self) -> io::Result<()> {
        self.signal(libc::SIGUSR1)
    }

    /// Sends `sig` to the child (not after it was reaped).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        if self.reaped {
            return Ok(());
        }
        // SAFETY: kill on our own unreaped child: the pid cannot have been recycled, because an
        // unreaped child stays a zombie.
        let rc = unsafe { libc::kill(self.pid, sig) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether [`ChildHandle::try_reap`] has already returned the exit.
    pub fn is_reaped(&self) -> bool {
        self.reaped
    }

    fn outcome_from_status(&self, status: libc::c_int) -> ChildOutcome {
        if libc::WIFEXITED(status) {
            let code = libc::WEXITSTATUS(status);
            return match code {
                0 => ChildOutcome::Ok,
                CHILD_NOERROR_RETVAL => ChildOutcome::Cancelled,
                _ => {
                    let message = match &self.done {
                        Some(d) if !d.ok && !d.message.is_empty() => d.message.clone(),
                        _ => format!("child exited with code {code}"),
                    };
                    ChildOutcome::Failed {
                        exit_code: code,
                        message,
                    }
                }
            };
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            if sig == libc::SIGUSR1 {
                return ChildOutcome::Cancelled;
            }
            return ChildOutcome::KilledBySignal(sig);
        }
        ChildOutcome::Lost
    }

    /// Final drain, close the pipe, release the child slot, build the exit report.
    fn finish_reap(&mut self, outcome: ChildOutcome) -> ChildExit {
        // The child is gone, so everything it wrote is already in the pipe.
        self.pump();
        self.read_fd = None;
        self.reaped = true;
        release_slot(self.pid);
        ChildExit {
            pid: self.pid,
            kind: self.kind,
            outcome,
            duration: self.started_at.elapsed(),
            cow_bytes: self.stats.cow_bytes,
            cow_peak: self.stats.cow_peak,
            keys_processed: self.stats.keys_processed,
            info: std::mem::take(&mut self.queued),
        }
    }
}

/// Dropping an unreaped handle kills the child with `SIGKILL` and reaps it, blocking.
///
/// Why: once the handle is gone nobody can learn the result, and the process-wide child slot
/// would otherwise stay taken forever, refusing every later BGSAVE. Leaving a zombie, or an
/// orphan still writing files, would be worse. `SIGKILL` (not `SIGUSR1`) guarantees the blocking
/// `waitpid` returns promptly even if the child is stopped. The wait is only the kernel's
/// teardown of the child. The normal path never gets here: the server reaps in its cron with
/// [`ChildHandle::try_reap`]. The dead child's temp file is left for the caller (or the next
/// start-up) to remove.
impl Drop for ChildHandle {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: our own unreaped child (cannot be a recycled pid); waitpid on that pid only.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            let mut status: libc::c_int = 0;
            while libc::waitpid(self.pid, &mut status, 0) < 0
                && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
            {}
        }
        self.reaped = true;
        release_slot(self.pid);
    }
}
