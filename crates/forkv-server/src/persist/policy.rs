//! The RDB persistence policy, decided in one place (Valkey's serverCron and
//! bgsaveCommand/backgroundSaveDoneHandler bookkeeping): the `save <seconds> <changes>`
//! rules with the retry delay after a failed save, BGSAVE SCHEDULE and CANCEL, the last
//! save's status and times, and the MISCONF write gate that a failed save closes under
//! `stop-writes-on-bgsave-error`.
//!
//! The state is [`RdbPolicy`]; its decisions take the time as an argument, so they are
//! tested without a clock. [`Server`]'s methods here apply them around the snapshot
//! composition of [`crate::snapshot`] and the job slot's reaping. The host keeps the log
//! lines, the replies and the configuration store, which feeds [`RdbPolicy::set_rules`].

use std::time::{SystemTime, UNIX_EPOCH};

use forkv_snapshot::{ChildExit, ChildKind, ChildOutcome, ForkError};

use crate::snapshot::{Forked, RdbTarget};
use crate::Server;

/// Valkey waits this long (seconds) before a save rule retries after a failed save
/// (`CONFIG_BGSAVE_RETRY_DELAY`).
pub const BGSAVE_RETRY_DELAY_S: i64 = 5;

/// One `save <seconds> <changes>` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveRule {
    pub seconds: i64,
    pub changes: u64,
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
    /// The running RDB child writes to replica sockets (no file, no save status).
    socket_child: bool,
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
            socket_child: false,
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

    /// A save in this process ended.
    pub fn saved(&mut self, ok: bool, now: i64) {
        self.last_bgsave_ok = ok;
        if ok {
            self.last_save_time = now;
            self.saves += 1;
        }
    }

    /// A BGSAVE fork was tried at `now` (`socket`: a diskless transfer).
    pub fn forked(&mut self, result: Result<(), ()>, socket: bool, now: i64) {
        if !socket {
            self.last_bgsave_try = now;
        }
        match result {
            Ok(()) => self.socket_child = socket,
            // A failed diskless fork leaves the save status alone (no file was involved).
            Err(()) if !socket => self.last_bgsave_ok = false,
            Err(()) => {}
        }
    }

    /// An RDB child was reaped (backgroundSaveDoneHandler): true when its snapshot
    /// succeeded on disk (the caller then forgets the changes it covers).
    pub fn child_done(&mut self, exit: &ChildExit, now: i64) -> bool {
        self.last_bgsave_time_sec = exit.duration.as_secs_f64().round() as i64;
        if std::mem::take(&mut self.socket_child) {
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
        r
    }

    /// BGSAVE's fork with the policy's bookkeeping (the attempt's time; a failed fork
    /// fails the status, as Valkey's rdbSaveBackground).
    pub fn bgsave_now(&mut self, target: RdbTarget) -> Result<Forked, ForkError> {
        let r = self.bgsave(target);
        self.rdb_policy.forked(r.as_ref().map(|_| ()).map_err(|_| ()), false, unix_now());
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
    pub(crate) fn job_ended(&mut self, exit: &ChildExit) {
        if exit.kind == ChildKind::Rdb && self.rdb_policy.child_done(exit, unix_now()) {
            self.saved_changes(self.jobs.dirty_at_start());
        }
    }

    /// The diskless transfer's fork was tried (its end sets no save status).
    pub fn transfer_forked(&mut self, ok: bool) {
        self.rdb_policy.forked(if ok { Ok(()) } else { Err(()) }, true, unix_now());
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
        // A save in process that succeeds opens the gate again.
        p.set_rules(vec![SaveRule { seconds: 1, changes: 1 }], true);
        p.saved(true, 2010);
        assert!(!p.denies_writes());
        assert_eq!((p.last_save_time, p.saves), (2010, 1));
    }

    #[test]
    fn child_exits_set_the_status_a_cancel_is_no_failure() {
        let mut p = RdbPolicy::new(1000);
        p.forked(Ok(()), false, 1000);
        assert!(p.child_done(&exit(ChildOutcome::Ok, 3), 1003));
        assert_eq!((p.last_save_time, p.last_bgsave_ok, p.saves, p.last_bgsave_time_sec, p.last_cow_size), (1003, true, 1, 3, 4096));
        p.forked(Ok(()), false, 1010);
        assert!(!p.child_done(&exit(ChildOutcome::Cancelled, 0), 1011));
        assert!(p.last_bgsave_ok, "cancelled is not an error");
        p.forked(Ok(()), false, 1020);
        assert!(!p.child_done(&exit(ChildOutcome::KilledBySignal(9), 1), 1021));
        assert!(!p.last_bgsave_ok);
        assert_eq!(p.saves, 1);
        // A diskless transfer's end sets the duration only.
        p.forked(Ok(()), true, 1030);
        assert!(!p.child_done(&exit(ChildOutcome::Ok, 7), 1037));
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
