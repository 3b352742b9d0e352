//! CONFIG SET appendonly's steps (Valkey's `startAppendOnly` / `stopAppendOnly`): the
//! first rewrite forked now, scheduled behind a snapshot, or replacing a rewrite that
//! started with the AOF off; a switch-on that cannot fork leaves the AOF off; switching off
//! kills a running rewrite and removes its files. With their log lines.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use forkv_aof::FsyncPolicy;
use forkv_server::persist::aof_job::AofSettings;
use forkv_server::persist::aof_state::{AofState, SwitchOn};
use forkv_server::snapshot::RdbTarget;
use forkv_server::Server;
use forkv_snapshot::{ChildKind, ChildOutcome};
use forkv_test_support::TempDir;

mod common;
use common::{cmd, logs, reap};

fn settings(dir: &Path, delay: Duration) -> AofSettings {
    common::aof_settings(dir, FsyncPolicy::No, true, delay)
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("temp-")).collect()
}

// One test: the fork slot is process-wide, so the steps take turns.
#[test]
fn appendonly_switches_on_and_off_in_valkeys_steps() {
    let tmp = TempDir::new("aofswitch");
    let dir = tmp.path().to_path_buf();
    let mut s = Server::new(16);
    s.add_client(1);
    for i in 0..50 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    let _ = logs(&mut s);

    // No child: the first rewrite forks now; its success switches the AOF on.
    let SwitchOn::Forked(first) = s.aof_switch_on(settings(&dir, Duration::ZERO)) else { panic!("not forked") };
    assert_eq!(logs(&mut s), [format!("Background append only file rewriting started by pid {}", first.pid)]);
    assert_eq!(s.aof_status().state(), AofState::WaitRewrite);
    // Until the first rewrite is installed nothing counts as fsynced (WAITAOF's local 0).
    cmd(&mut s, &["SET", "during", "v"]);
    s.aof_write_and_fsync().expect("fsync");
    assert!(matches!(s.aof_sync_marks(), Some((a, None)) if a > 0), "{:?}", s.aof_sync_marks());
    assert_eq!(reap(&mut s).1.outcome, ChildOutcome::Ok);
    assert!(s.aof_rewrite_done(&settings(&dir, Duration::ZERO), first.pid, true).ok);
    assert_eq!(s.aof_status().state(), AofState::On);
    assert!(matches!(s.aof_sync_marks(), Some((a, Some(f))) if f >= a), "fsynced once on: {:?}", s.aof_sync_marks());

    // Off while a rewrite runs: the AOF is closed, the child killed, its files removed.
    let slow = s.aof_fork_rewrite_logged(settings(&dir, Duration::from_millis(20))).expect("fork");
    std::thread::sleep(Duration::from_millis(100));
    let _ = logs(&mut s);
    s.aof_switch_off(&settings(&dir, Duration::ZERO)).expect("off");
    let l = logs(&mut s);
    // Between them, the lines the child sent (its copy-on-write report).
    assert_eq!((l.first(), l.last().map(String::as_str)), (Some(&format!("Killing running AOF rewrite child: {}", slow.pid)), Some("AOF disabled")));
    assert_eq!(s.aof_status().state(), AofState::Off);
    assert!(!s.jobs.is_running() && !s.aof.is_open());
    assert_eq!(temp_files(&dir), Vec::<String>::new());

    // On while a snapshot runs: the first rewrite is scheduled for the cron.
    let rdb = RdbTarget { dir: dir.clone(), filename: "dump.rdb".into(), write: Default::default(), key_save_delay: Duration::ZERO, incremental_fsync: false };
    s.bgsave(rdb).expect("fork");
    assert_eq!(s.aof_switch_on(settings(&dir, Duration::ZERO)), SwitchOn::Scheduled);
    assert_eq!(logs(&mut s), ["AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible."]);
    assert!(s.rewrite_policy.scheduled);
    assert_eq!(s.aof_status().state(), AofState::WaitRewrite);
    reap(&mut s);
    assert!(s.aof_rewrite_cron(0, 0).start, "the cron starts it once the snapshot is done");
    let next = s.aof_fork_rewrite_logged(settings(&dir, Duration::ZERO)).expect("fork");
    assert_eq!(reap(&mut s).1.outcome, ChildOutcome::Ok);
    assert!(s.aof_rewrite_done(&settings(&dir, Duration::ZERO), next.pid, true).ok);
    assert_eq!(s.aof_status().state(), AofState::On);
    s.aof_switch_off(&settings(&dir, Duration::ZERO)).expect("off");

    // On while a rewrite started with the AOF off runs: it is replaced by a new one.
    let old = s.aof_fork_rewrite_logged(settings(&dir, Duration::from_millis(20))).expect("fork");
    std::thread::sleep(Duration::from_millis(100));
    let _ = logs(&mut s);
    let SwitchOn::Forked(new) = s.aof_switch_on(settings(&dir, Duration::ZERO)) else { panic!("not forked") };
    assert_ne!(new.pid, old.pid);
    let l = logs(&mut s);
    assert_eq!(l[0], "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
    assert_eq!(l[1], format!("Killing running AOF rewrite child: {}", old.pid));
    assert_eq!(l.last(), Some(&format!("Background append only file rewriting started by pid {}", new.pid)));
    assert_eq!(s.jobs.child().map(|c| (c.pid(), c.kind())), Some((new.pid, ChildKind::AofRewrite)));
    assert_eq!(reap(&mut s).1.outcome, ChildOutcome::Ok);
    assert!(s.aof_rewrite_done(&settings(&dir, Duration::ZERO), new.pid, true).ok);
    assert_eq!(s.aof_status().state(), AofState::On);
    s.aof_switch_off(&settings(&dir, Duration::ZERO)).expect("off");

    // A first rewrite that cannot start leaves the AOF off.
    let not_a_dir = dir.join("file");
    std::fs::write(&not_a_dir, "x").expect("file");
    let _ = logs(&mut s);
    assert_eq!(s.aof_switch_on(settings(&not_a_dir, Duration::ZERO)), SwitchOn::Failed);
    let l = logs(&mut s);
    assert!(l[0].starts_with("Can't rewrite append only file in background: "), "{l:?}");
    assert_eq!(l[1], "The server needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
    assert_eq!(s.aof_status().state(), AofState::Off);
    assert!(!s.jobs.is_running());
}
