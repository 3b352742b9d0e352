//! The background-job slot (Valkey's `child_pid` / `child_type` / `rdb_child_type` with
//! `childinfo.c`): at most one forked child at a time (an RDB snapshot to a file, an RDB
//! snapshot streamed to replicas for a diskless full sync, or an AOF rewrite; room for a
//! forkless snapshot later), with what INFO and the policy need about it: kind and target,
//! pid, start time, progress and copy-on-write reports (through the child's pipe,
//! `forkv-snapshot`), the dirty counter when it started, and the temp file to remove if it
//! fails.
//!
//! The slot never blocks: [`JobSlot::poll`] drains the child's reports and reaps it with
//! `waitpid(pid, WNOHANG)` (the cron calls it at `hz`), [`JobSlot::wait`] polls until an
//! ended child is reaped or a deadline passes (SHUTDOWN after a cancel).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use forkv_snapshot::{ChildExit, ChildHandle, ChildInfo, LogLevel};

/// Where an RDB child writes (Valkey's `rdb_child_type`); an AOF rewrite writes to a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobTarget {
    /// A file in `dir` (BGSAVE, an AOF rewrite's base).
    #[default]
    File,
    /// The replicas of a diskless full sync, through a pipe the host copies to their
    /// sockets: no file is written and no save status follows.
    ReplicaSockets,
}

/// What one poll found: the child's log lines, and its exit once it ended.
pub struct JobPoll {
    /// Where the polled child writes.
    pub target: JobTarget,
    /// Lines the child logged (it has no logger of its own), in order.
    pub logs: Vec<(LogLevel, String)>,
    /// Set when the child was reaped by this poll.
    pub done: Option<ChildExit>,
    /// How long unlinking a failed child's temp file took (ms; the latency monitor's
    /// `rdb-unlink-temp-file`).
    pub unlink_ms: Option<u64>,
}

/// The one background job.
#[derive(Default)]
pub struct JobSlot {
    child: Option<ChildHandle>,
    /// Where the running (or last) child writes.
    target: JobTarget,
    /// The temp file the child writes; removed when it fails (it cannot clean up itself).
    temp: Option<PathBuf>,
    /// The keyspace's dirty counter at fork: what a successful snapshot covers.
    dirty_at_start: u64,
}

impl JobSlot {
    /// True while a child runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The running child (pid, kind, start, progress and COW stats).
    pub fn child(&self) -> Option<&ChildHandle> {
        self.child.as_ref()
    }

    /// Where the running (or last) child writes.
    pub fn target(&self) -> JobTarget {
        self.target
    }

    /// True while a diskless transfer's child runs.
    pub fn is_transfer(&self) -> bool {
        self.child.is_some() && self.target == JobTarget::ReplicaSockets
    }

    /// The dirty counter when the running (or last) child was forked.
    pub fn dirty_at_start(&self) -> u64 {
        self.dirty_at_start
    }

    /// Takes a freshly forked child into the slot.
    pub fn adopt(&mut self, child: ChildHandle, target: JobTarget, temp: Option<PathBuf>, dirty_at_start: u64) {
        self.child = Some(child);
        self.target = target;
        self.temp = temp;
        self.dirty_at_start = dirty_at_start;
    }

    /// Drains the child's reports and reaps it if it ended; `None` when no child runs.
    pub fn poll(&mut self) -> Option<JobPoll> {
        let child = self.child.as_mut()?;
        let mut logs = Vec::new();
        collect_logs(child.drain_info(), &mut logs);
        let done = child.try_reap();
        let mut unlink_ms = None;
        if let Some(exit) = &done {
            collect_logs(exit.info.clone(), &mut logs);
            if !exit.is_ok() {
                if let Some(temp) = self.temp.take() {
                    let started = std::time::Instant::now();
                    let _ = std::fs::remove_file(temp);
                    unlink_ms = Some(started.elapsed().as_millis() as u64);
                }
            }
            self.child = None;
            self.temp = None;
        }
        Some(JobPoll { target: self.target, logs, done, unlink_ms })
    }

    /// Asks the child to stop (SIGUSR1: BGSAVE CANCEL, SHUTDOWN, FLUSHALL); false when no
    /// child runs or the signal failed.
    pub fn cancel(&self) -> bool {
        self.child.as_ref().is_some_and(|c| c.kill_cancel().is_ok())
    }

    /// Polls until the child is reaped or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) -> Option<JobPoll> {
        let deadline = Instant::now() + timeout;
        let mut logs = Vec::new();
        loop {
            let mut poll = self.poll()?;
            logs.append(&mut poll.logs);
            if poll.done.is_some() || Instant::now() >= deadline {
                return Some(JobPoll { target: poll.target, logs, done: poll.done, unlink_ms: poll.unlink_ms });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn collect_logs(info: Vec<ChildInfo>, logs: &mut Vec<(LogLevel, String)>) {
    for i in info {
        if let ChildInfo::Log { level, message } = i {
            logs.push((level, message));
        }
    }
}
