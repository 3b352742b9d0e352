//! What the host is told about the background-job slot ([`crate::jobs`]): the running
//! child's progress and run time (INFO persistence's `current_*`, `rdb_bgsave_in_progress`,
//! `aof_rewrite_in_progress`, `rdb_current_bgsave_time_sec`, `aof_current_rewrite_time_sec`),
//! a child's end as the host dispatches it (an RDB child's end line is logged here, on the
//! engine's queue), and a failed fork's text. The host
//! only converts these; the wording and the numbers are decided here.

use std::time::Duration;

use forkv_snapshot::{ChildExit, ChildKind, ChildOutcome, ForkError};

use crate::jobs::{JobPoll, JobTarget};
use crate::Server;

/// A child kind's name for the host ("rdb", "aof").
pub fn kind_name(k: ChildKind) -> &'static str {
    match k {
        ChildKind::Rdb => "rdb",
        ChildKind::AofRewrite => "aof",
        // Debugging sessions never take the job slot.
        ChildKind::Ldb => "ldb",
    }
}

/// The running child's progress, for INFO.
#[derive(Clone, Debug, PartialEq)]
pub struct JobProgress {
    pub pid: i32,
    pub kind: ChildKind,
    /// A diskless full sync's child (writes to the replicas, not to a file).
    pub transfer: bool,
    pub elapsed: Duration,
    pub keys_processed: u64,
    pub keys_total: u64,
    pub cow_bytes: u64,
    pub cow_peak: u64,
    /// Seconds since `cow_bytes` was sampled (INFO `current_cow_size_age`).
    pub cow_age_secs: u64,
    /// INFO `current_fork_perc`.
    pub fork_perc: f64,
}

/// How a child ended, as the host logs it and hands it to the RDB or AOF side.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEnd {
    pub pid: i32,
    pub kind: ChildKind,
    /// An RDB child of a diskless full sync.
    pub transfer: bool,
    /// "ok", "err", "signal" or "cancelled".
    pub outcome: &'static str,
    /// The failure's message ("err"), else empty.
    pub message: String,
    /// The signal that ended it ("signal"; SIGUSR1 for "cancelled"), else 0.
    pub signal: i32,
    pub duration: Duration,
    pub cow_peak: u64,
    pub keys_processed: u64,
}

impl JobEnd {
    /// The end of `exit`, a child that wrote to `target`.
    pub fn of(exit: &ChildExit, target: JobTarget) -> JobEnd {
        let transfer = target == JobTarget::ReplicaSockets;
        let (outcome, message, signal) = match &exit.outcome {
            ChildOutcome::Ok => ("ok", String::new(), 0),
            ChildOutcome::Failed { message, .. } => ("err", message.clone(), 0),
            ChildOutcome::KilledBySignal(s) => ("signal", String::new(), *s),
            ChildOutcome::Cancelled => ("cancelled", String::new(), libc::SIGUSR1),
            ChildOutcome::Lost => ("err", "child status lost (reaped elsewhere)".into(), 0),
        };
        JobEnd {
            pid: exit.pid,
            kind: exit.kind,
            transfer,
            outcome,
            message,
            signal,
            duration: exit.duration,
            cow_peak: exit.cow_peak,
            keys_processed: exit.keys_processed,
        }
    }
}

/// A poll of the slot as the host takes it: the child's log lines, and its end.
#[derive(Clone, Debug, PartialEq)]
pub struct JobReport {
    pub logs: Vec<(forkv_snapshot::LogLevel, String)>,
    pub done: Option<JobEnd>,
}

impl From<JobPoll> for JobReport {
    fn from(p: JobPoll) -> Self {
        let target = p.target;
        JobReport { logs: p.logs, done: p.done.as_ref().map(|d| JobEnd::of(d, target)) }
    }
}

/// A failed fork as INFO and the logs show it (after "Can't save in background: "):
/// a failed `fork()` reads "fork: <strerror>", once, as Valkey's line has it.
pub fn fork_error_text(e: &ForkError) -> String {
    match e {
        ForkError::ChildExists { pid } => format!("EEXIST child {pid} already running"),
        other => other.to_string(),
    }
}

impl Server {
    /// The running child's progress, if a child runs.
    pub fn job_progress(&self) -> Option<JobProgress> {
        let c = self.jobs.child()?;
        let s = c.stats();
        Some(JobProgress {
            pid: c.pid(),
            kind: c.kind(),
            transfer: self.jobs.is_transfer(),
            elapsed: c.started_at().elapsed(),
            keys_processed: s.keys_processed,
            keys_total: s.keys_total,
            cow_bytes: s.cow_bytes,
            cow_peak: s.cow_peak,
            cow_age_secs: s.cow_age_secs(),
            fork_perc: s.fork_perc(),
        })
    }

    /// Whole seconds (rounded) the running child of `kind` has run, or -1 when none runs
    /// (INFO `rdb_current_bgsave_time_sec`, `aof_current_rewrite_time_sec`).
    pub fn job_run_secs(&self, kind: ChildKind) -> i64 {
        self.jobs.child().filter(|c| c.kind() == kind).map_or(-1, |c| c.started_at().elapsed().as_secs_f64().round() as i64)
    }

    /// Drains the child's messages and reaps it if it ended (never waits). An RDB child's
    /// end line is queued on the engine's log, after the child's own lines the host prints.
    pub fn poll_job_report(&mut self) -> Option<JobReport> {
        let p = self.poll_job()?;
        self.log_rdb_child_end(&p);
        Some(self.keep_rewrite_end(p.into()))
    }

    /// Waits up to `timeout` for the running child to end (SHUTDOWN after a cancel);
    /// logged as [`Server::poll_job_report`].
    pub fn wait_job_report(&mut self, timeout: Duration) -> Option<JobReport> {
        let p = self.wait_job(timeout)?;
        self.log_rdb_child_end(&p);
        Some(self.keep_rewrite_end(p.into()))
    }

    /// Keeps a rewrite child's end for [`Server::aof_rewrite_reaped_logged`], which the
    /// host calls when the report reaches its AOF side.
    fn keep_rewrite_end(&mut self, r: JobReport) -> JobReport {
        if let Some(end) = r.done.as_ref().filter(|e| e.kind == ChildKind::AofRewrite) {
            self.rewrite_end = Some(end.clone());
        }
        r
    }

    /// Queues the line Valkey logs when an RDB child ends
    /// ([`crate::snapshot::rdb_child_end_line`]); a rewrite's end is the AOF side's.
    pub(crate) fn log_rdb_child_end(&mut self, p: &JobPoll) {
        if let Some(exit) = p.done.as_ref().filter(|e| e.kind == ChildKind::Rdb) {
            let (level, line) = crate::snapshot::rdb_child_end_line(exit, p.target == JobTarget::ReplicaSockets);
            self.log(level, &line);
        }
    }
}
