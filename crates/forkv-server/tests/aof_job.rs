//! BGREWRITEAOF's composition (new incr file + fork + base writer + install) and the
//! per-turn flush: the writes reach the incr file, the child writes the base as of the
//! fork, the parent reaps it from a poll and installs it, and the directory loads back
//! to the live data.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use forkv_aof::FsyncPolicy;
use forkv_server::persist::aof_job::AofSettings;
use forkv_server::persist::aof_state::{AofState, TurnFlush};
use forkv_server::Server;
use forkv_test_support::TempDir;
use forkv_snapshot::{ChildKind, ChildOutcome};

mod common;
use common::{aof_keys as keys_in, cmd, reap};

fn settings(dir: &Path, preamble: bool, delay: Duration) -> AofSettings {
    common::aof_settings(dir, FsyncPolicy::Always, preamble, delay)
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir")).expect("aof dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Waits until the background unlink of history files is done.
fn wait_for_files(dir: &Path, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = files(dir);
        if f.len() == want || Instant::now() > deadline {
            return f;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// One test: the fork slot is process-wide, so the steps take turns.
#[test]
fn aof_open_flush_rewrite_and_switch_on_compose() {
    let tmp = TempDir::new("aofjob");
    let dir = tmp.path().to_path_buf();
    let mut s = Server::new(16);
    s.add_client(1);
    for i in 0..200 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }

    // Open with no files: a base from the current data, an empty incr, the manifest.
    assert_eq!(s.aof_status().state(), AofState::Off);
    assert_eq!(s.aof_flush_turn(false), TurnFlush::Off);
    s.aof_open(settings(&dir, true, Duration::ZERO), None).expect("open");
    assert!(s.aof.is_open());
    assert_eq!(s.aof_status().state(), AofState::On);
    assert_eq!(files(&dir), ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]);
    cmd(&mut s, &["SET", "after-open", "x"]);
    let flushed = s.aof_flush(false).expect("flush");
    assert!(flushed.written > 0);
    assert_eq!(s.aof_sync_marks().map(|(a, f)| Some(a) == f), Some(true), "appendfsync always: all fsynced");
    assert_eq!(keys_in(&dir), 201);

    // BGREWRITEAOF: a new incr before the fork; the child writes the base as of the fork.
    let forked = s.aof_fork_rewrite(settings(&dir, false, Duration::ZERO)).expect("fork");
    assert_eq!(s.jobs.child().map(|c| c.kind()), Some(ChildKind::AofRewrite));
    assert!(s.aof_rewrite_start(settings(&dir, false, Duration::ZERO)).is_err(), "one child at a time");
    cmd(&mut s, &["SET", "during-rewrite", "x"]);
    s.aof_flush(false).expect("flush");
    let (logs, exit) = reap(&mut s);
    assert_eq!(exit.outcome, ChildOutcome::Ok);
    assert!(logs.iter().any(|l| l == "Successfully created the temporary AOF base file"), "{logs:?}");
    let done = s.aof_rewrite_done(&settings(&dir, false, Duration::ZERO), forked.pid, true);
    assert!(done.ok, "{done:?}");
    assert_eq!((s.rewrite_policy.last_ok, s.rewrite_policy.rewrites, s.rewrite_policy.consecutive_failures), (true, 1, 0));
    assert_eq!(done.new_base, "appendonly.aof.2.base.aof");
    assert_eq!(done.history_deleted, 2, "the old base and incr");
    assert!(done.base_size > 0);
    // Valkey's aof_rewrite_base_size: the size when the rewrite ended (base + new incr).
    assert!(s.aof_sizes().is_some_and(|z| z.base_size >= done.base_size));
    let now = wait_for_files(&dir, 3);
    assert_eq!(now, ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]);
    assert!(!dir.join(format!("temp-rewriteaof-bg-{}.aof", forked.pid)).exists());
    assert_eq!(keys_in(&dir), 202, "base as of the fork + the write made meanwhile");

    // A failed rewrite (cancelled child) leaves the files in force.
    let slow = s.aof_rewrite_start(settings(&dir, true, Duration::from_millis(20))).expect("fork");
    std::thread::sleep(Duration::from_millis(50));
    assert!(s.jobs.cancel());
    let (_, exit) = reap(&mut s);
    assert_eq!(exit.outcome, ChildOutcome::Cancelled);
    let done = s.aof_rewrite_done(&settings(&dir, true, Duration::ZERO), slow.pid, false);
    assert!(!done.ok && done.error.is_none());
    assert!(s.rewrite_policy.last_ok && s.rewrite_policy.consecutive_failures == 0, "a cancel is no failure");
    assert!(!dir.join(format!("temp-rewriteaof-bg-{}.aof", slow.pid)).exists());
    cmd(&mut s, &["SET", "after-failed-rewrite", "x"]);
    s.aof_flush(false).expect("flush");
    assert_eq!(keys_in(&dir), 203);

    // Switched off, then on at runtime: the temp incr collects writes until the first
    // rewrite installs it with the new base.
    s.aof_close().expect("close");
    assert!(!s.aof.is_open());
    assert_eq!(s.aof_status().state(), AofState::Off);
    let _ = std::fs::remove_dir_all(dir.join("appendonlydir"));
    s.aof_begin_switch_on();
    assert_eq!(s.aof_status().state(), AofState::WaitRewrite);
    let first = s.aof_fork_rewrite(settings(&dir, true, Duration::ZERO)).expect("fork");
    assert!(!s.aof_switch_on_result(true), "no write error to forget");
    assert!(s.aof_initial_rewrite_running(), "SHUTDOWN is refused meanwhile");
    cmd(&mut s, &["SET", "while-switching-on", "x"]);
    assert!(matches!(s.aof_flush_turn(false), TurnFlush::Written { recovered: false, .. }));
    let (_, exit) = reap(&mut s);
    assert_eq!(exit.outcome, ChildOutcome::Ok);
    let done = s.aof_rewrite_done(&settings(&dir, true, Duration::ZERO), first.pid, true);
    assert!(done.ok, "{done:?}");
    assert!(done.new_incr.is_some());
    assert_eq!(s.aof_status().state(), AofState::On, "the first rewrite completes the switch-on");
    assert!(!s.aof_initial_rewrite_running());
    assert_eq!(keys_in(&dir), 204);
    // auto-aof-rewrite: growth over the base since the rewrite, above a minimum size.
    assert!(!s.aof_should_auto_rewrite(100, 1));
    for i in 0..300 {
        cmd(&mut s, &["SET", &format!("grow{i}"), "vvvvvvvvvvvvvvvvvvvvvvvv"]);
    }
    s.aof_flush(false).expect("flush");
    assert!(s.aof_should_auto_rewrite(100, 1));
    assert!(!s.aof_should_auto_rewrite(100, u64::MAX));
    s.aof_close().expect("close");
}
