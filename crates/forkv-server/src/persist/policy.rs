//! The RDB persistence policy, decided in one place (Valkey's serverCron and
//! bgsaveCommand/backgroundSaveDoneHandler bookkeeping): the `save <seconds> <changes>`
//! rules with the retry delay after a failed save, BGSAVE SCHEDULE and CANCEL, the last
//! save's status and times, and the MISCONF write gate that a failed save closes under
//! `stop-writes-on-bgsave-error`.
//!
//! The AOF rewrite's policy is here too ([`RewritePolicy`]): BGREWRITEAOF scheduling,
//! automatic rewrites on growth, and the back-off after repeated failures.
//!
//! The state is [`RdbPolicy`]; its decisions take the time as an argument, so they are
//! tested without a clock. [`Server`]'s methods here apply them around the snapshot
//! composition of [`crate::snapshot`] and the job slot's reaping. The host keeps the log
//! lines, the replies and the configuration store, which feeds [`RdbPolicy::set_rules`].

use std::time::{SystemTime, UNIX_EPOCH};

use forkv_snapshot::{ChildExit, ChildKind, ChildOutcome, ForkError};

use crate::snapshot::{Forked, RdbTarget};
use crate::Server;
use crate::host_types::host_type;

/// Valkey waits this long (seconds) before a save rule retries after a failed save
/// (`CONFIG_BGSAVE_RETRY_DELAY`).
pub const BGSAVE_RETRY_DELAY_S: i64 = 5;

host_type! {
#[input = "SaveRuleArg"]
/// One `save <seconds> <changes>` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveRule {
    pub seconds: i64,
    pub changes: u64,
}
}

/// What the cron should start now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CronStart {
    /// A BGSAVE SCHEDULE whose turn came.
    Scheduled,
    /// The rule that is due (the host logs "<changes> changes in <seconds> seconds. Saving...").
    Rule(SaveRule),
}

/// BGSAVE's verdict (the host turns it into the reply and the log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BgsaveVerdict {
    /// Fork now.
    Start,
    /// An RDB child runs already.
    AlreadyInProgress,
    /// Another child (AOF rewrite) runs: BGSAVE SCHEDULE registered.
    Scheduled,
    /// Another child runs and SCHEDULE was not given.
    AnotherChild,
    /// BGSAVE CANCEL: the RDB child was told to stop.
    CancelledChild,
    /// BGSAVE CANCEL: the scheduled BGSAVE was forgotten.
    CancelledSchedule,
    /// BGSAVE CANCEL with nothing to cancel.
    NothingToCancel,
}

impl BgsaveVerdict {
    /// The verdict's name for the host (`start`, `in-progress`, `scheduled`,
    /// `another-child`, `cancelled-child`, `cancelled-schedule`, `nothing-to-cancel`).
    pub fn name(self) -> &'static str {
        match self {
            BgsaveVerdict::Start => "start",
            BgsaveVerdict::AlreadyInProgress => "in-progress",
            BgsaveVerdict::Scheduled => "scheduled",
            BgsaveVerdict::AnotherChild => "another-child",
            BgsaveVerdict::CancelledChild => "cancelled-child",
            BgsaveVerdict::CancelledSchedule => "cancelled-schedule",
            BgsaveVerdict::NothingToCancel => "nothing-to-cancel",
        }
    }
}

/// The RDB policy's state (INFO persistence rdb_* fields, LASTSAVE).
#[derive(Clone, Debug)]
pub struct RdbPolicy {
    rules: Vec<SaveRule>,
    stop_writes_on_error: bool,
    /// Unix seconds of the last successful save (LASTSAVE, `rdb_last_save_time`).
    pub last_save_time: i64,
    /// `rdb_last_bgsave_status`.
    pub last_bgsave_ok: bool,
    /// Unix seconds of the last BGSAVE attempt (the retry delay counts from it).
    pub last_bgsave_try: i64,
    /// `rdb_last_bgsave_time_sec` (-1 before the first).
    pub last_bgsave_time_sec: i64,
    /// `rdb_saves`.
    pub saves: u64,
    /// `rdb_last_cow_size`.
    pub last_cow_size: u64,
    /// BGSAVE SCHEDULE waits for the running child.
    pub bgsave_scheduled: bool,
}

impl RdbPolicy {
    /// A policy whose last save is `now` (as Valkey's start-up).
    pub fn new(now: i64) -> Self {
        RdbPolicy {
            rules: Vec::new(),
            stop_writes_on_error: true,
            last_save_time: now,
            last_bgsave_ok: true,
            last_bgsave_try: 0,
            last_bgsave_time_sec: -1,
            saves: 0,
            last_cow_size: 0,
            bgsave_scheduled: false,
        }
    }

    /// `save` and `stop-writes-on-bgsave-error` as configured.
    pub fn set_rules(&mut self, rules: Vec<SaveRule>, stop_writes_on_error: bool) {
        self.rules = rules;
        self.stop_writes_on_error = stop_writes_on_error;
    }

    /// True while save rules are configured (FLUSHALL and SHUTDOWN save then).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// MISCONF: with save rules and `stop-writes-on-bgsave-error`, a failed save stops writes.
    pub fn denies_writes(&self) -> bool {
        self.stop_writes_on_error && !self.rules.is_empty() && !self.last_bgsave_ok
    }

    /// BGSAVE [SCHEDULE|CANCEL] given the running child's kind; updates the schedule.
    pub fn bgsave_verdict(&mut self, schedule: bool, cancel: bool, child: Option<ChildKind>) -> BgsaveVerdict {
        if cancel {
            return if child == Some(ChildKind::Rdb) {
                BgsaveVerdict::CancelledChild
            } else if self.bgsave_scheduled {
                self.bgsave_scheduled = false;
                BgsaveVerdict::CancelledSchedule
            } else {
                BgsaveVerdict::NothingToCancel
            };
        }
        match child {
            Some(ChildKind::Rdb) => BgsaveVerdict::AlreadyInProgress,
            Some(_) if schedule => {
                self.bgsave_scheduled = true;
                BgsaveVerdict::Scheduled
            }
            Some(_) => BgsaveVerdict::AnotherChild,
            None => BgsaveVerdict::Start,
        }
    }

    /// The cron's decision with no child running: a scheduled BGSAVE first, else the first
    /// due rule, unless the last attempt failed less than the retry delay ago.
    pub fn cron_start(&mut self, dirty: u64, now: i64) -> Option<CronStart> {
        if self.bgsave_scheduled {
            self.bgsave_scheduled = false;
            return Some(CronStart::Scheduled);
        }
        let may_retry = self.last_bgsave_ok || now - self.last_bgsave_try > BGSAVE_RETRY_DELAY_S;
        if !may_retry {
            return None;
        }
        self.rules.iter().find(|r| dirty >= r.changes && now - self.last_save_time > r.seconds).map(|r| CronStart::Rule(*r))
    }

    /// A save in this process ended. As Valkey's rdbSave, a success sets the status ok
    /// (and so lifts MISCONF); a failure leaves it as it was: only background saves fail
    /// it (checked against valkey-server 8.0.1: a failed SAVE keeps
    /// `rdb_last_bgsave_status:ok` and writes go on).
    pub fn saved(&mut self, ok: bool, now: i64) {
        if ok {
            self.last_bgsave_ok = true;
            self.last_save_time = now;
            self.saves += 1;
        }
    }

    /// A BGSAVE fork was tried at `now` (`socket`: a diskless transfer).
    pub fn forked(&mut self, result: Result<(), ()>, socket: bool, now: i64) {
        if !socket {
            self.last_bgsave_try = now;
        }
        // A failed diskless fork leaves the save status alone (no file was involved).
        if result.is_err() && !socket {
            self.last_bgsave_ok = false;
        }
    }

    /// An RDB child was reaped (backgroundSaveDoneHandler): true when its snapshot
    /// succeeded on disk (the caller then forgets the changes it covers). A diskless
    /// transfer's child (`transfer`) sets the duration only.
    pub fn child_done(&mut self, exit: &ChildExit, transfer: bool, now: i64) -> bool {
        self.last_bgsave_time_sec = exit.duration.as_secs_f64().round() as i64;
        if transfer {
            return false;
        }
        let ok = exit.outcome == ChildOutcome::Ok;
        match exit.outcome {
            ChildOutcome::Ok => {
                self.last_save_time = now;
                self.last_bgsave_ok = true;
                self.saves += 1;
            }
            // A cancel (SIGUSR1) is not a failure.
            ChildOutcome::Cancelled => {}
            _ => self.last_bgsave_ok = false,
        }
        self.last_cow_size = exit.cow_peak;
        ok
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// What [`Server::reset_rdb_after_flushall`] did.
#[derive(Default)]
pub struct FlushAllReset {
    /// The cancelled snapshot child's messages and exit.
    pub cancelled: Option<crate::jobs::JobPoll>,
    /// The save of the empty dataset (keys, bytes) or its error, when there are save rules.
    pub saved: Option<Result<(u64, u64), String>>,
}

impl Server {
    /// SAVE (and the shutdown, FLUSHALL and DEBUG RELOAD saves): writes the snapshot in
    /// this process; on success forgets the changes it covers. Returns (keys, bytes) or
    /// the error's text; the status and MISCONF follow.
    pub fn save_now(&mut self, target: &RdbTarget) -> Result<(u64, u64), String> {
        let dirty = self.engine.ks.dirty;
        let r = self.save_rdb(target).map_err(|e| e.to_string());
        if r.is_ok() {
            self.saved_changes(dirty);
        }
        self.rdb_policy.saved(r.is_ok(), unix_now());
        self.refresh_write_gate();
        r
    }

    /// The shutdown save after a signal: [`Server::save_now`], where a SIGINT meanwhile
    /// removes the temp file and exits with status 1 (Valkey's second SIGINT, which
    /// cannot wait for the save to end). Without the guard a second SIGINT would still
    /// end the process, but only once the save is over.
    pub fn save_now_exiting_on_sigint(&mut self, target: &RdbTarget) -> Result<(u64, u64), String> {
        let temp = target.dir.join(format!("temp-{}.rdb", std::process::id()));
        // If the handler cannot be installed the save goes on unguarded, as before a signal.
        let _guard = forkv_snapshot::SigintExitGuard::install(&temp).ok();
        self.save_now(target)
    }

    /// After FLUSHALL (Valkey's `flushAllDataAndResetRDB`): a running snapshot of the old
    /// data is cancelled and reaped (waiting up to 5 s), and with save rules the empty
    /// dataset is saved at once, so a restart does not bring the flushed keys back. The
    /// host logs what the poll and the save report.
    pub fn reset_rdb_after_flushall(&mut self, target: &RdbTarget) -> FlushAllReset {
        let mut reset = FlushAllReset::default();
        if self.jobs.child().is_some_and(|c| c.kind() == ChildKind::Rdb) {
            self.jobs.cancel();
            reset.cancelled = self.wait_job(std::time::Duration::from_secs(5));
        }
        if self.rdb_policy.has_rules() {
            reset.saved = Some(self.save_now(target));
        }
        reset
    }

    /// BGSAVE's fork with the policy's bookkeeping (the attempt's time; a failed fork
    /// fails the status, as Valkey's rdbSaveBackground).
    pub fn bgsave_now(&mut self, target: RdbTarget) -> Result<Forked, ForkError> {
        let r = self.bgsave(target);
        self.rdb_policy.forked(r.as_ref().map(|_| ()).map_err(|_| ()), false, unix_now());
        self.refresh_write_gate();
        r
    }

    /// BGSAVE [SCHEDULE|CANCEL]: the verdict, and the cancel signal sent when that is it.
    pub fn bgsave_request(&mut self, schedule: bool, cancel: bool) -> BgsaveVerdict {
        let child = self.jobs.child().map(|c| c.kind());
        let v = self.rdb_policy.bgsave_verdict(schedule, cancel, child);
        if v == BgsaveVerdict::CancelledChild {
            self.jobs.cancel();
        }
        v
    }

    /// The cron's RDB decision (Valkey's serverCron): None while a child runs.
    pub fn rdb_cron(&mut self) -> Option<CronStart> {
        if self.jobs.is_running() {
            return None;
        }
        self.rdb_policy.cron_start(self.engine.ks.dirty, unix_now())
    }

    /// Applies the policy to a reaped child (from [`Server::poll_job`] and
    /// [`Server::wait_job`]): an RDB snapshot's status, and the changes it covers.
    pub(crate) fn job_ended(&mut self, exit: &ChildExit, target: crate::jobs::JobTarget) {
        match exit.kind {
            ChildKind::Rdb => {
                if self.rdb_policy.child_done(exit, target == crate::jobs::JobTarget::ReplicaSockets, unix_now()) {
                    self.saved_changes(self.jobs.dirty_at_start());
                }
            }
            ChildKind::AofRewrite => self.rewrite_policy.child_ended(exit),
            // Debugging sessions are reaped by the engine, never by the job slot.
            ChildKind::Ldb => {}
        }
        self.refresh_write_gate();
    }

    /// The diskless full sync's fork ([`Server::bgsave_to_replicas`]) with the policy's
    /// bookkeeping (the attempt's time; its end sets no save status).
    pub fn transfer_now(&mut self, target: RdbTarget, mark: &str) -> Result<(Forked, std::os::fd::OwnedFd), ForkError> {
        let r = self.bgsave_to_replicas(target, mark);
        self.rdb_policy.forked(r.as_ref().map(|_| ()).map_err(|_| ()), true, unix_now());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn exit(outcome: ChildOutcome, secs: u64) -> ChildExit {
        ChildExit {
            pid: 42,
            kind: ChildKind::Rdb,
            outcome,
            duration: Duration::from_secs(secs),
            cow_bytes: 0,
            cow_peak: 4096,
            keys_processed: 0,
            info: Vec::new(),
        }
    }

    #[test]
    fn rules_fire_when_changes_and_seconds_are_both_reached() {
        let mut p = RdbPolicy::new(1000);
        assert_eq!(p.cron_start(1_000_000, 5000), None, "no rules");
        p.set_rules(vec![SaveRule { seconds: 900, changes: 1 }, SaveRule { seconds: 60, changes: 100 }], true);
        assert_eq!(p.cron_start(0, 5000), None, "no change");
        assert_eq!(p.cron_start(50, 1061), None, "not enough changes for the 60 s rule, too early for the 900 s one");
        assert_eq!(p.cron_start(100, 1060), None, "exactly 60 s is not over 60 s");
        assert_eq!(p.cron_start(100, 1061), Some(CronStart::Rule(SaveRule { seconds: 60, changes: 100 })));
        assert_eq!(p.cron_start(1, 1901), Some(CronStart::Rule(SaveRule { seconds: 900, changes: 1 })));
    }

    #[test]
    fn a_failed_save_closes_the_gate_and_delays_the_retry() {
        let mut p = RdbPolicy::new(1000);
        p.set_rules(vec![SaveRule { seconds: 1, changes: 1 }], true);
        assert!(!p.denies_writes());
        p.forked(Err(()), false, 2000);
        assert!(!p.last_bgsave_ok);
        assert!(p.denies_writes(), "MISCONF");
        assert_eq!(p.cron_start(10, 2005), None, "within the retry delay");
        assert!(p.cron_start(10, 2006).is_some(), "after the retry delay");
        // Without stop-writes-on-bgsave-error, or without rules, writes go on.
        p.set_rules(vec![SaveRule { seconds: 1, changes: 1 }], false);
        assert!(!p.denies_writes());
        p.set_rules(Vec::new(), true);
        assert!(!p.denies_writes());
        // A save in process that fails changes nothing; one that succeeds opens the gate again.
        p.set_rules(vec![SaveRule { seconds: 1, changes: 1 }], true);
        p.saved(false, 2008);
        assert!(p.denies_writes());
        p.saved(true, 2010);
        assert!(!p.denies_writes());
        assert_eq!((p.last_save_time, p.saves), (2010, 1));
    }

    #[test]
    fn child_exits_set_the_status_a_cancel_is_no_failure() {
        let mut p = RdbPolicy::new(1000);
        p.forked(Ok(()), false, 1000);
        assert!(p.child_done(&exit(ChildOutcome::Ok, 3), false, 1003));
        assert_eq!((p.last_save_time, p.last_bgsave_ok, p.saves, p.last_bgsave_time_sec, p.last_cow_size), (1003, true, 1, 3, 4096));
        p.forked(Ok(()), false, 1010);
        assert!(!p.child_done(&exit(ChildOutcome::Cancelled, 0), false, 1011));
        assert!(p.last_bgsave_ok, "cancelled is not an error");
        p.forked(Ok(()), false, 1020);
        assert!(!p.child_done(&exit(ChildOutcome::KilledBySignal(9), 1), false, 1021));
        assert!(!p.last_bgsave_ok);
        assert_eq!(p.saves, 1);
        // A diskless transfer's end sets the duration only.
        p.forked(Ok(()), true, 1030);
        assert!(!p.child_done(&exit(ChildOutcome::Ok, 7), true, 1037));
        assert_eq!((p.last_bgsave_ok, p.saves, p.last_save_time, p.last_bgsave_time_sec), (false, 1, 1003, 7));
    }

    #[test]
    fn bgsave_schedule_and_cancel() {
        let mut p = RdbPolicy::new(0);
        assert_eq!(p.bgsave_verdict(false, false, None), BgsaveVerdict::Start);
        assert_eq!(p.bgsave_verdict(true, false, Some(ChildKind::Rdb)), BgsaveVerdict::AlreadyInProgress);
        assert_eq!(p.bgsave_verdict(false, false, Some(ChildKind::AofRewrite)), BgsaveVerdict::AnotherChild);
        assert!(!p.bgsave_scheduled);
        assert_eq!(p.bgsave_verdict(true, false, Some(ChildKind::AofRewrite)), BgsaveVerdict::Scheduled);
        assert!(p.bgsave_scheduled);
        assert_eq!(p.cron_start(0, 10), Some(CronStart::Scheduled), "the scheduled save comes first");
        assert!(!p.bgsave_scheduled);
        p.bgsave_verdict(true, false, Some(ChildKind::AofRewrite));
        assert_eq!(p.bgsave_verdict(false, true, Some(ChildKind::AofRewrite)), BgsaveVerdict::CancelledSchedule);
        assert_eq!(p.bgsave_verdict(false, true, None), BgsaveVerdict::NothingToCancel);
        assert_eq!(p.bgsave_verdict(false, true, Some(ChildKind::Rdb)), BgsaveVerdict::CancelledChild);
    }
}

/// After this many consecutive failed rewrites, the cron's rewrites back off (Valkey 7.2+'s
/// `AOF_REWRITE_LIMITE_THRESHOLD`).
pub const REWRITE_FAILURES_BEFORE_BACKOFF: u64 = 3;
/// The longest back-off, in minutes (`AOF_REWRITE_LIMITE_MAX_MINUTES`).
pub const REWRITE_LIMIT_MAX_MINUTES: u64 = 60;

/// BGREWRITEAOF's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteVerdict {
    Start,
    /// A rewrite runs already.
    InProgress,
    /// Another child runs: the rewrite starts when it ends.
    Scheduled,
}

impl RewriteVerdict {
    /// The verdict's name for the host (`start`, `in-progress`, `scheduled`).
    pub fn name(self) -> &'static str {
        match self {
            RewriteVerdict::Start => "start",
            RewriteVerdict::InProgress => "in-progress",
            RewriteVerdict::Scheduled => "scheduled",
        }
    }
}

host_type! {
#[record = "AofRewriteCron"]
/// What the cron does about AOF rewrites.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RewriteCron {
    /// Start a rewrite now.
    pub start: bool,
    /// It is automatic, at this growth (percent over the base; for the log line).
    pub auto_growth: Option<i64>,
    /// The back-off just started a wait of this many minutes (logged once).
    pub limited_minutes: Option<u64>,
}
}

/// The AOF rewrite policy: BGREWRITEAOF scheduling, automatic rewrites and the back-off
/// after repeated failures (Valkey's `aofRewriteLimited`), with the INFO aof_* status.
#[derive(Clone, Debug)]
pub struct RewritePolicy {
    /// `aof_rewrite_scheduled`.
    pub scheduled: bool,
    /// `aof_last_bgrewrite_status`.
    pub last_ok: bool,
    /// `aof_last_rewrite_time_sec` (-1 before the first).
    pub last_time_sec: i64,
    /// `aof_rewrites`.
    pub rewrites: u64,
    /// `aof_rewrites_consecutive_failures`.
    pub consecutive_failures: u64,
    /// `aof_last_cow_size`.
    pub last_cow_size: u64,
    /// The last reaped rewrite child was cancelled (not a failure).
    last_cancelled: bool,
    /// The back-off's current wait ends then (ms; 0: none).
    limited_until_ms: i64,
    limit_delay_minutes: u64,
}

impl Default for RewritePolicy {
    fn default() -> Self {
        RewritePolicy {
            scheduled: false,
            last_ok: true,
            last_time_sec: -1,
            rewrites: 0,
            consecutive_failures: 0,
            last_cow_size: 0,
            last_cancelled: false,
            limited_until_ms: 0,
            limit_delay_minutes: 0,
        }
    }
}

impl RewritePolicy {
    /// BGREWRITEAOF given the running child's kind.
    pub fn verdict(&mut self, child: Option<ChildKind>) -> RewriteVerdict {
        match child {
            Some(ChildKind::AofRewrite) => RewriteVerdict::InProgress,
            Some(_) => {
                self.scheduled = true;
                // A manual request is not held back by the failure limit (Valkey resets the count).
                self.consecutive_failures = 0;
                RewriteVerdict::Scheduled
            }
            None => RewriteVerdict::Start,
        }
    }

    /// A rewrite fork was tried.
    pub fn started(&mut self, ok: bool) {
        self.scheduled = false;
        if !ok {
            self.last_ok = false;
            self.consecutive_failures += 1;
        }
    }

    /// The rewrite child was reaped.
    pub fn child_ended(&mut self, exit: &ChildExit) {
        self.last_time_sec = exit.duration.as_secs_f64().round() as i64;
        self.last_cow_size = exit.cow_peak;
        self.last_cancelled = exit.outcome == ChildOutcome::Cancelled;
    }

    /// The rewrite was finished: `installed` when its base is in force. A first rewrite
    /// (switching the AOF on) that failed is tried again from the cron.
    pub fn finished(&mut self, installed: bool, initial: bool) {
        if installed {
            self.last_ok = true;
            self.rewrites += 1;
            self.consecutive_failures = 0;
            return;
        }
        if !self.last_cancelled {
            self.last_ok = false;
            self.consecutive_failures += 1;
        }
        if initial {
            self.scheduled = true;
        }
    }

    /// Valkey's aofRewriteLimited: once rewrites failed
    /// [`REWRITE_FAILURES_BEFORE_BACKOFF`] times in a row, the cron's rewrites (automatic
    /// or scheduled) wait 1, 2, 4 ... 60 minutes. Returns (limited, a new wait's minutes).
    pub fn limited(&mut self, now_ms: i64) -> (bool, Option<u64>) {
        if self.consecutive_failures < REWRITE_FAILURES_BEFORE_BACKOFF {
            self.limit_delay_minutes = 0;
            self.limited_until_ms = 0;
            return (false, None);
        }
        if self.limited_until_ms != 0 {
            if now_ms < self.limited_until_ms {
                return (true, None);
            }
            self.limited_until_ms = 0;
            return (false, None);
        }
        self.limit_delay_minutes = if self.limit_delay_minutes == 0 { 1 } else { (self.limit_delay_minutes * 2).min(REWRITE_LIMIT_MAX_MINUTES) };
        self.limited_until_ms = now_ms + self.limit_delay_minutes as i64 * 60_000;
        (true, Some(self.limit_delay_minutes))
    }

    /// The cron's decision with no child running: a scheduled rewrite, else (AOF on) an
    /// automatic one when `growth` (current and base size) calls for it; both unless
    /// backing off.
    pub fn cron(&mut self, aof_on: bool, auto_due: bool, sizes: (u64, u64), now_ms: i64) -> RewriteCron {
        let mut out = RewriteCron::default();
        let due = self.scheduled || (aof_on && auto_due);
        if !due {
            return out;
        }
        let (limited, minutes) = self.limited(now_ms);
        out.limited_minutes = minutes;
        if limited {
            return out;
        }
        out.start = true;
        if !self.scheduled {
            let (current, base) = sizes;
            out.auto_growth = Some(((current as f64 / base.max(1) as f64 - 1.0) * 100.0).round() as i64);
        }
        out
    }
}

impl Server {
    /// BGREWRITEAOF: the policy's verdict.
    pub fn aof_rewrite_request(&mut self) -> RewriteVerdict {
        let child = self.jobs.child().map(|c| c.kind());
        self.rewrite_policy.verdict(child)
    }

    /// The cron's AOF rewrite decision (`auto-aof-rewrite-percentage`, `-min-size`; an
    /// automatic rewrite only while the AOF is on, not being switched on).
    pub fn aof_rewrite_cron(&mut self, percentage: u64, min_size: u64) -> RewriteCron {
        if self.jobs.is_running() {
            return RewriteCron::default();
        }
        let aof_on = self.aof_status().state() == super::aof_state::AofState::On;
        let auto_due = percentage > 0 && self.aof_should_auto_rewrite(percentage, min_size);
        let sizes = self.aof_sizes().map_or((0, 0), |s| (s.current_size, s.base_size));
        self.rewrite_policy.cron(aof_on, auto_due, sizes, forkv_engine::cmd::now_ms())
    }
}

#[cfg(test)]
mod rewrite_tests {
    use super::*;
    use std::time::Duration;

    fn exit(outcome: ChildOutcome) -> ChildExit {
        ChildExit { pid: 7, kind: ChildKind::AofRewrite, outcome, duration: Duration::from_millis(1600), cow_bytes: 0, cow_peak: 8192, keys_processed: 0, info: Vec::new() }
    }

    #[test]
    fn request_schedules_behind_another_child_and_resets_the_failures() {
        let mut p = RewritePolicy::default();
        assert_eq!(p.verdict(None), RewriteVerdict::Start);
        assert_eq!(p.verdict(Some(ChildKind::AofRewrite)), RewriteVerdict::InProgress);
        p.consecutive_failures = 5;
        assert_eq!(p.verdict(Some(ChildKind::Rdb)), RewriteVerdict::Scheduled);
        assert!(p.scheduled);
        assert_eq!(p.consecutive_failures, 0);
        let c = p.cron(false, false, (0, 0), 0);
        assert!(c.start && c.auto_growth.is_none(), "the scheduled rewrite starts, even with the AOF off");
        p.started(true);
        assert!(!p.scheduled);
    }

    #[test]
    fn status_after_success_failure_and_cancel() {
        let mut p = RewritePolicy::default();
        p.child_ended(&exit(ChildOutcome::Ok));
        p.finished(true, false);
        assert_eq!((p.last_ok, p.rewrites, p.last_time_sec, p.last_cow_size), (true, 1, 2, 8192));
        p.child_ended(&exit(ChildOutcome::Cancelled));
        p.finished(false, false);
        assert_eq!((p.last_ok, p.consecutive_failures), (true, 0), "a cancel is no failure");
        p.child_ended(&exit(ChildOutcome::Failed { message: "x".into(), exit_code: 1 }));
        p.finished(false, true);
        assert_eq!((p.last_ok, p.consecutive_failures, p.scheduled), (false, 1, true), "a failed first rewrite is retried");
        p.started(false);
        assert_eq!(p.consecutive_failures, 2);
    }

    #[test]
    fn automatic_rewrites_back_off_after_three_failures() {
        let mut p = RewritePolicy::default();
        assert_eq!(p.cron(true, false, (100, 100), 0), RewriteCron::default(), "nothing due");
        assert_eq!(p.cron(false, true, (300, 100), 0), RewriteCron::default(), "auto only while the AOF is on");
        let c = p.cron(true, true, (300, 100), 0);
        assert_eq!((c.start, c.auto_growth), (true, Some(200)));
        p.consecutive_failures = 3;
        let c = p.cron(true, true, (300, 100), 0);
        assert_eq!((c.start, c.limited_minutes), (false, Some(1)));
        assert_eq!(p.cron(true, true, (300, 100), 59_999).limited_minutes, None, "still waiting, logged once");
        assert!(!p.cron(true, true, (300, 100), 59_999).start);
        assert!(p.cron(true, true, (300, 100), 60_000).start, "the wait is over: one try");
        assert_eq!(p.cron(true, true, (300, 100), 60_001).limited_minutes, Some(2), "failed again: twice as long");
        for _ in 0..10 {
            p.limited_until_ms = 0;
            p.cron(true, true, (300, 100), 0);
        }
        assert_eq!(p.limit_delay_minutes, REWRITE_LIMIT_MAX_MINUTES);
        p.consecutive_failures = 0;
        assert!(p.cron(true, true, (300, 100), 0).start, "a success lifts the limit");
    }
}
