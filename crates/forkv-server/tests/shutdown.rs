//! The shutdown's persistence steps (Valkey's `finishShutdown`): their order and log
//! lines, the final save per SAVE/NOSAVE and the save rules, the killed children, the
//! refusals (a failed save, the first rewrite of an AOF switched on) and FORCE, the pid
//! file.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use forkv_aof::FsyncPolicy;
use forkv_server::jobs::JobTarget;
use forkv_server::persist::aof_job::AofSettings;
use forkv_server::persist::aof_state::AofState;
use forkv_server::persist::policy::SaveRule;
use forkv_server::persist::shutdown::ShutdownPlan;
use forkv_server::snapshot::RdbTarget;
use forkv_server::Server;
use forkv_snapshot::{ChildKind, ChildOutcome};
use forkv_test_support::TempDir;

mod common;
use common::{aof_keys, cmd, logs, rdb_keys};

fn aof_settings(dir: &Path, delay: Duration) -> AofSettings {
    common::aof_settings(dir, FsyncPolicy::No, true, delay)
}

fn plan(dir: &Path, save: Option<bool>, force: bool) -> ShutdownPlan {
    ShutdownPlan {
        save,
        force,
        exit_on_sigint: false,
        rdb: RdbTarget { dir: dir.to_path_buf(), filename: "dump.rdb".into(), write: Default::default(), key_save_delay: Duration::ZERO, incremental_fsync: false },
        aof: aof_settings(dir, Duration::ZERO),
        pidfile: Some(dir.join("forkv.pid")),
    }
}

fn pidfile(dir: &Path) -> PathBuf {
    let p = dir.join("forkv.pid");
    std::fs::write(&p, "1\n").expect("pid file");
    p
}

fn server_with_keys(n: usize) -> Server {
    let mut s = Server::new(16);
    s.add_client(1);
    for i in 0..n {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    let _ = s.engine.logs.take();
    s
}

// One test: the fork slot is process-wide, so the steps take turns.
#[test]
fn shutdown_steps_follow_valkeys_order_and_refusals() {
    let tmp = TempDir::new("shutdown");
    let dir = tmp.path().to_path_buf();

    // No save rules, no AOF: nothing is saved; the pid file goes, then the last line.
    let mut s = server_with_keys(10);
    pidfile(&dir);
    let r = s.shutdown_persistence(&plan(&dir, None, false));
    assert!(r.ok && r.killed.is_none());
    assert_eq!(logs(&mut s), ["Removing the pid file.", "forkv is now ready to exit, bye bye..."]);
    assert!(!dir.join("forkv.pid").exists() && !dir.join("dump.rdb").exists());

    // Save rules: the final snapshot; NOSAVE skips it, SAVE forces it without rules.
    let mut s = server_with_keys(10);
    s.rdb_policy.set_rules(vec![SaveRule { seconds: 3600, changes: 1 }], true);
    assert!(s.shutdown_persistence(&plan(&dir, Some(false), false)).ok);
    assert!(!dir.join("dump.rdb").exists(), "NOSAVE");
    let _ = logs(&mut s);
    assert!(s.shutdown_persistence(&plan(&dir, None, false)).ok);
    assert_eq!(logs(&mut s), ["Saving the final RDB snapshot before exiting.", "DB saved on disk", "Removing the pid file.", "forkv is now ready to exit, bye bye..."]);
    assert_eq!(rdb_keys(&dir.join("dump.rdb")), 10);
    std::fs::remove_file(dir.join("dump.rdb")).expect("rm dump");
    let mut s = server_with_keys(3);
    assert!(s.shutdown_persistence(&plan(&dir, Some(true), false)).ok);
    assert_eq!(rdb_keys(&dir.join("dump.rdb")), 3, "SAVE without rules");
    // While loading, nothing is saved, even with SAVE: the file being loaded stays.
    let mut s = server_with_keys(5);
    s.start_rdb_stream_load(0, 0, 0, false);
    assert!(s.is_loading());
    assert!(s.shutdown_persistence(&plan(&dir, Some(true), false)).ok);
    assert_eq!(rdb_keys(&dir.join("dump.rdb")), 3);

    // A failed save refuses the shutdown (the pid file stays); FORCE exits anyway.
    let mut s = server_with_keys(5);
    let pid = pidfile(&dir);
    let mut p = plan(&dir, Some(true), false);
    p.rdb.dir = dir.join("missing");
    let r = s.shutdown_persistence(&p);
    assert!(!r.ok);
    let l = logs(&mut s);
    assert_eq!(l[0], "Saving the final RDB snapshot before exiting.");
    assert!(l[1].starts_with("Error saving DB on disk: "), "{l:?}");
    assert_eq!(l[2..], ["Error trying to save the DB, can't exit.", "Errors trying to shut down the server. Check the logs for more information."]);
    assert!(pid.exists());
    assert!(s.rdb_policy.last_bgsave_ok && !s.rdb_policy.denies_writes(), "a failed save in process leaves the background save's status (Valkey's rdbSave)");
    p.force = true;
    assert!(s.shutdown_persistence(&p).ok);
    assert!(logs(&mut s).iter().any(|l| l == "Error trying to save the DB. Exit anyway."));
    assert!(!pid.exists());

    // A BGSAVE child is killed and reaped, its temp file removed, before the final save.
    let mut s = server_with_keys(50);
    let mut slow = plan(&dir, None, false).rdb;
    slow.key_save_delay = Duration::from_millis(20);
    let forked = s.bgsave(slow).expect("fork");
    std::thread::sleep(Duration::from_millis(100));
    let r = s.shutdown_persistence(&plan(&dir, Some(true), false));
    assert!(r.ok);
    let killed = r.killed.expect("the child was reaped").exit;
    assert_eq!((killed.pid, killed.kind, killed.outcome), (forked.pid, ChildKind::Rdb, ChildOutcome::Cancelled));
    assert!(!s.jobs.is_running());
    assert!(!dir.join(format!("temp-{}.rdb", forked.pid)).exists());
    let l = logs(&mut s);
    assert_eq!(l[0], "There is a child saving an .rdb. Killing it!");
    let end = l.iter().position(|m| m == "Background saving terminated by signal 10").expect("the end is logged");
    assert_eq!(l[end + 1], "Saving the final RDB snapshot before exiting.");
    assert_eq!(rdb_keys(&dir.join("dump.rdb")), 50, "the final save is the parent's");

    // A diskless transfer's child: the slot knows where it writes; killed at shutdown, it
    // ends as a transfer, and the save status stays as it was.
    let mut s = server_with_keys(50);
    let mut slow = plan(&dir, None, false).rdb;
    slow.key_save_delay = Duration::from_millis(20);
    let (forked, read_end) = s.bgsave_to_replicas(slow, &"m".repeat(40)).expect("fork");
    assert!(s.jobs.is_transfer());
    assert_eq!(s.jobs.target(), JobTarget::ReplicaSockets);
    let saves = s.rdb_policy.saves;
    std::thread::sleep(Duration::from_millis(50));
    let r = s.shutdown_persistence(&plan(&dir, Some(false), false));
    drop(read_end);
    assert!(r.ok);
    let k = r.killed.expect("the transfer was reaped");
    assert_eq!((k.exit.pid, k.target), (forked.pid, JobTarget::ReplicaSockets));
    let l = logs(&mut s);
    assert_eq!(l[0], "There is a child saving an .rdb. Killing it!");
    assert!(l.iter().any(|m| m == "Background transfer terminated by signal 10"), "{l:?}");
    assert!(!s.jobs.is_transfer());
    assert!(s.rdb_policy.last_bgsave_ok && s.rdb_policy.saves == saves, "a transfer sets no save status");

    // AOF on: written and fsynced before the RDB save, and closed when exiting.
    let mut s = server_with_keys(0);
    s.aof_open(aof_settings(&dir, Duration::ZERO), None).expect("open");
    for i in 0..20 {
        cmd(&mut s, &["SET", &format!("a{i}"), "v"]);
    }
    let _ = logs(&mut s);
    assert!(s.shutdown_persistence(&plan(&dir, Some(true), false)).ok);
    assert_eq!(logs(&mut s), ["Calling fsync() on the AOF file.", "Saving the final RDB snapshot before exiting.", "DB saved on disk", "Removing the pid file.", "forkv is now ready to exit, bye bye..."]);
    assert_eq!(aof_keys(&dir), 20);
    assert!(!s.aof.is_open() && s.aof_status().state() == AofState::Off);
    std::fs::remove_dir_all(dir.join("appendonlydir")).expect("rm aof dir");

    // The first rewrite of an AOF switched on at runtime: refused without FORCE (the child
    // goes on, the AOF still waits for it); with FORCE it is killed and its files removed.
    let mut s = server_with_keys(50);
    s.aof_begin_switch_on();
    let first = s.aof_fork_rewrite(aof_settings(&dir, Duration::from_millis(20))).expect("fork");
    assert!(!s.aof_switch_on_result(true));
    std::thread::sleep(Duration::from_millis(100));
    let r = s.shutdown_persistence(&plan(&dir, Some(false), false));
    assert!(!r.ok && r.killed.is_none());
    assert_eq!(logs(&mut s), ["Writing initial AOF, can't exit.", "Errors trying to shut down the server. Check the logs for more information."]);
    assert_eq!(s.jobs.child().map(|c| c.pid()), Some(first.pid));
    assert_eq!(s.aof_status().state(), AofState::WaitRewrite);
    let r = s.shutdown_persistence(&plan(&dir, Some(false), true));
    assert!(r.ok);
    let killed = r.killed.expect("the rewrite was reaped").exit;
    assert_eq!((killed.pid, killed.kind, killed.outcome), (first.pid, ChildKind::AofRewrite, ChildOutcome::Cancelled));
    let l = logs(&mut s);
    assert_eq!(
        l[..3],
        [
            "Writing initial AOF. Exit anyway.".to_string(),
            "There is a child rewriting the AOF. Killing it!".to_string(),
            format!("Killing running AOF rewrite child: {}", first.pid),
        ]
    );
    // Then the lines the child sent, and the AOF's fsync.
    assert!(l[3..].iter().any(|m| m == "Calling fsync() on the AOF file."), "{l:?}");
    assert!(!dir.join(format!("temp-rewriteaof-bg-{}.aof", first.pid)).exists());
    assert!(!s.jobs.is_running());
}
