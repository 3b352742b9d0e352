//! The background-job slot and BGSAVE's composition (fork + atomic file + RDB writer):
//! the child writes, the parent reaps from a poll, the status and the bookkeeping follow.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use forkv_server::snapshot::RdbTarget;
use forkv_server::Server;
use forkv_test_support::TempDir;
use forkv_snapshot::{ChildKind, ChildOutcome, ForkError};

mod common;
use common::{cmd, rdb_keys as keys_in, reap};

fn target(dir: &Path, delay: Duration) -> RdbTarget {
    RdbTarget { dir: dir.to_path_buf(), filename: "dump.rdb".into(), write: Default::default(), key_save_delay: delay, incremental_fsync: false }
}

// One test: the fork slot is process-wide, so the steps take turns.
#[test]
fn bgsave_forks_writes_reaps_and_the_slot_keeps_its_bookkeeping() {
    let tmp = TempDir::new("bgsave");
    let dir = tmp.path().to_path_buf();
    let mut s = Server::new(16);
    s.add_client(1);
    for i in 0..500 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    cmd(&mut s, &["SELECT", "3"]);
    cmd(&mut s, &["RPUSH", "list", "a", "b"]);
    let dirty = s.engine.ks.dirty;
    assert!(dirty >= 501);

    // BGSAVE: the child writes the snapshot as of the fork.
    let forked = s.bgsave(target(&dir, Duration::ZERO)).expect("fork");
    assert!(forked.pid > 0);
    assert!(s.jobs.is_running());
    assert_eq!(s.jobs.dirty_at_start(), dirty);
    assert_eq!(s.jobs.child().map(|c| c.kind()), Some(ChildKind::Rdb));
    cmd(&mut s, &["SET", "after-fork", "x"]);
    let (logs, exit) = reap(&mut s);
    assert_eq!(exit.outcome, ChildOutcome::Ok);
    assert_eq!(exit.pid, forked.pid);
    assert!(logs.iter().any(|l| l == "DB saved on disk"), "{logs:?}");
    assert!(!s.jobs.is_running());
    assert!(s.poll_job().is_none());
    assert_eq!(keys_in(&dir.join("dump.rdb")), 501, "the write after fork is not in the snapshot");
    assert!(!dir.join(format!("temp-{}.rdb", forked.pid)).exists());
    // The reap applies the policy: the save covers what was dirty at fork; the later
    // write stays counted, and the status is ok.
    assert_eq!(s.engine.ks.dirty, 1);
    assert!(s.rdb_policy.last_bgsave_ok);
    assert_eq!(s.rdb_policy.saves, 1);

    // One job at a time; a cancelled child leaves no temp file.
    let slow = s.bgsave(target(&dir, Duration::from_millis(20))).expect("fork");
    assert!(matches!(s.bgsave(target(&dir, Duration::ZERO)), Err(ForkError::ChildExists { .. })));
    std::thread::sleep(Duration::from_millis(100));
    assert!(s.jobs.cancel());
    let (_, exit) = reap(&mut s);
    assert_eq!(exit.outcome, ChildOutcome::Cancelled);
    assert!(!dir.join(format!("temp-{}.rdb", slow.pid)).exists());
    assert_eq!(keys_in(&dir.join("dump.rdb")), 501, "the old snapshot is intact");
    assert!(s.rdb_policy.last_bgsave_ok, "a cancel is not a failure");
    assert_eq!((s.rdb_policy.saves, s.engine.ks.dirty), (1, 1), "nothing saved, nothing forgotten");

    // A child that fails (no such directory) fails the status: MISCONF with save rules.
    s.rdb_policy.set_rules(vec![forkv_server::persist::policy::SaveRule { seconds: 3600, changes: 1 }], true);
    s.bgsave_now(target(&dir.join("missing"), Duration::ZERO)).expect("fork");
    let (_, exit) = reap(&mut s);
    assert!(matches!(exit.outcome, ChildOutcome::Failed { .. }), "{:?}", exit.outcome);
    assert!(!s.rdb_policy.last_bgsave_ok);
    assert!(s.rdb_policy.denies_writes());
    assert_eq!(s.engine.ks.dirty, 1);
    // SAVE through the policy succeeds, forgets the changes and opens the gate again.
    s.save_now(&target(&dir, Duration::ZERO)).expect("save");
    assert!(!s.rdb_policy.denies_writes());
    assert_eq!((s.rdb_policy.saves, s.engine.ks.dirty), (2, 0));
    s.rdb_policy.set_rules(Vec::new(), true);

    // SAVE writes in this process.
    let (keys, bytes) = s.save_rdb(&target(&dir, Duration::ZERO)).expect("save");
    assert_eq!(keys, 502);
    assert!(bytes > 0);
    assert_eq!(keys_in(&dir.join("dump.rdb")), 502);

    // wait_job: SHUTDOWN's wait after a cancel.
    s.bgsave(target(&dir, Duration::from_millis(20))).expect("fork");
    assert!(s.jobs.cancel());
    let poll = s.wait_job(Duration::from_secs(10)).expect("a job runs");
    assert_eq!(poll.done.map(|e| e.outcome), Some(ChildOutcome::Cancelled));
    assert!(!s.jobs.is_running());

    // FLUSHALL: the snapshot of the old data is cancelled; with save rules the empty
    // dataset is saved at once.
    s.bgsave(target(&dir, Duration::from_millis(20))).expect("fork");
    let reset = s.reset_rdb_after_flushall(&target(&dir, Duration::ZERO));
    assert_eq!(reset.cancelled.and_then(|p| p.done).map(|e| e.outcome), Some(ChildOutcome::Cancelled));
    assert!(reset.saved.is_none(), "no save rules: nothing saved");
    assert_eq!(keys_in(&dir.join("dump.rdb")), 502, "the file stays");
    s.rdb_policy.set_rules(vec![forkv_server::persist::policy::SaveRule { seconds: 3600, changes: 1 }], true);
    cmd(&mut s, &["FLUSHALL"]);
    let reset = s.reset_rdb_after_flushall(&target(&dir, Duration::ZERO));
    assert!(reset.cancelled.is_none(), "no child ran");
    assert_eq!(reset.saved.map(|r| r.map(|(keys, _)| keys)), Some(Ok(0)));
    assert_eq!(keys_in(&dir.join("dump.rdb")), 0, "a restart does not bring the keys back");
    s.rdb_policy.set_rules(Vec::new(), true);
    for i in 0..502 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }

    // The diskless transfer: `$EOF:<mark>\r\n`, the snapshot as of the fork, `<mark>`,
    // read from the pipe while the child runs; no file is written.
    let mark = "0123456789abcdef0123456789abcdef01234567";
    let before = std::fs::metadata(dir.join("dump.rdb")).expect("dump").modified().expect("mtime");
    let (_, read_end) = s.bgsave_to_replicas(target(&dir, Duration::ZERO), mark).expect("fork");
    cmd(&mut s, &["SET", "after-transfer-fork", "x"]);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(read_end), &mut bytes).expect("pipe read");
    let (_, exit) = reap(&mut s);
    assert_eq!(exit.outcome, ChildOutcome::Ok);
    let header = format!("$EOF:{mark}\r\n");
    assert!(bytes.starts_with(header.as_bytes()));
    assert!(bytes.ends_with(mark.as_bytes()));
    let rdb = &bytes[header.len()..bytes.len() - mark.len()];
    let mut ks = forkv_keyspace::Keyspace::new(16);
    forkv_rdb::load_rdb(rdb, &mut ks, &Default::default()).expect("the framed snapshot loads");
    assert_eq!((0..16).map(|db| ks.len(db) as u64).sum::<u64>(), 502, "the write after the fork is not in it");
    assert_eq!(std::fs::metadata(dir.join("dump.rdb")).expect("dump").modified().expect("mtime"), before);
}
