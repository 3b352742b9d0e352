//! forkv's fork machinery: BGSAVE and BGREWRITEAOF children of a live Node.js process.
//!
//! The crate knows nothing about RDB or AOF. It forks, runs a caller-supplied closure in the
//! child, carries progress, copy-on-write figures and log lines back over a pipe, reaps the child
//! and reports how it ended. It also writes files atomically and runs Valkey's start-up system
//! checks (overcommit, transparent huge pages, open-files limit).
//!
//! # Why forking a Node process needs rules
//!
//! `fork()` copies the whole address space but only the calling thread. Node is never
//! single-threaded: V8 runs GC and compiler threads, libuv has a thread pool, and any of them may
//! hold a lock at the instant of the fork. In the child those locks stay held forever, because
//! the threads that would release them do not exist there. So the child may only run code that
//! needs none of that state. Every step of [`spawn_child`] comes from this:
//!
//! 1. **One child at a time, from the JS main thread.** The caller forks inside a synchronous
//!    napi call. A process-wide record of the active child refuses a second fork with
//!    [`ForkError::ChildExists`] (Valkey: `hasActiveChildProcess`, `errno = EEXIST`), because
//!    BGSAVE and BGREWRITEAOF are mutually exclusive.
//! 2. **The pipe is created before the fork.** Both ends are `O_CLOEXEC`, so Node's
//!    `child_process` never inherits them, and `O_NONBLOCK`, so the parent's reads never block
//!    the event loop and a parent that stops reading never stalls the child.
//! 3. **All signals are blocked around `fork()`.** Node's libuv handler writes each signal into
//!    the loop's signal pipe, and the child shares that pipe with the parent. A signal that
//!    reached the child before its handlers were reset would show up in the parent's
//!    `process.on('SIG…')`. With everything blocked, a signal that arrives in that window stays
//!    pending until the child has reset its handlers.
//! 4. **The child resets every handler to `SIG_DFL`** (except `SIGPIPE`, which stays ignored: a
//!    dead parent then shows up as `EPIPE` on the info pipe, and the child leaves as Valkey's
//!    does). `SIGUSR1` keeps its default action, which ends the process. The parent reads "ended
//!    by `SIGUSR1`" (or Valkey's exit code 255) as [`ChildOutcome::Cancelled`]: BGSAVE CANCEL,
//!    SHUTDOWN and `killRDBChild` send it. Only then are signals unblocked.
//! 5. **The child closes every inherited fd except 0, 1, 2 and its pipe** (`close_range`, else
//!    `/proc/self/fd`, else a loop up to the fd limit). An inherited listening socket keeps
//!    accepting into its backlog and blocks a restarted server from binding. Inherited client
//!    sockets keep TCP connections half-open after the parent closes them, so clients hang until
//!    the child exits (redis/redis#2841). And `epoll_ctl` on the shared epoll fd would corrupt the
//!    parent's loop.
//! 6. **The child runs only the job:** Rust over read-only data. No napi, V8, libuv, tokio or
//!    threads, no std stdout/stderr (their locks may be held by a thread that no longer exists).
//!    Log lines go over the pipe ([`ChildCtx::log`]) and the parent prints them with its own
//!    logger. A panic hook set in the child routes panic messages the same way. Allocation works
//!    with glibc and musl malloc, which reset their locks across `fork()`. Large buffers should
//!    still be allocated before the fork and moved into the closure.
//! 7. **The child never returns and never unwinds.** The job runs inside `catch_unwind`. The
//!    child leaves with `libc::_exit(0 | 1)`, never `exit()`: `exit` would run Node's `atexit`
//!    handlers and C++ static destructors while their threads are missing.
//! 8. **The parent reaps only its own pid**, with `waitpid(pid, WNOHANG)` from its cron
//!    ([`ChildHandle::try_reap`]). It never calls `waitpid(-1)` and never installs a `SIGCHLD`
//!    handler: libuv owns `SIGCHLD` and reaps its own children by pid, and taking either of those
//!    would make Node's `child_process` lose exit statuses.
//!
//! # Modules
//!
//! - [`fork`]: [`spawn_child`], [`ChildHandle`], [`ChildKind`], [`ForkError`].
//! - [`child`]: what the child does before the job, and [`ChildCtx`], the job's side of the pipe.
//! - [`childinfo`]: the fixed-size records on the pipe and the parent's view of them.
//! - [`cow`]: `Private_Dirty` sampling with Valkey's duty cycle.
//! - [`reap`]: reaping, cancelling, how a child ended ([`ChildExit`]).
//! - [`atomic`]: temp file, fsync, rename, directory fsync.
//! - [`autosync`]: the incremental fsync of a file being written (`*-incremental-fsync`).
//! - [`syscheck`]: overcommit, THP and open-files checks with Valkey's texts.
//! - [`crash_report`]: the report a fatal signal (and SIGALRM) writes to the log.
#![cfg(unix)]
#![deny(missing_docs)]

pub mod atomic;
pub mod autosync;
pub mod child;
pub mod childinfo;
pub mod cow;
pub mod crash_report;
pub mod fork;
pub mod oom;
pub mod reap;
pub mod sigint_exit;
mod sys;
pub mod syscheck;
pub mod syslog;

pub use atomic::{write_file_atomically, write_file_atomically_synced, write_file_atomically_with_buffer};
pub use child::ChildCtx;
pub use childinfo::{ChildInfo, ChildStats, DoneInfo, LogLevel, ProgressInfo};
pub use cow::{private_dirty_bytes, CowStats};
pub use fork::{
    active_child_pid, latest_fork_usec, spawn_child, spawn_child_with_output, spawn_session_child,
    total_forks,
    ChildHandle, ChildKind, ForkError,
};
pub use reap::{ChildExit, ChildOutcome};
pub use sigint_exit::SigintExitGuard;
