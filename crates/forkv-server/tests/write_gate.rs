//! The write gate as the server decides it from its own state, seen by a client: a failed
//! BGSAVE (MISCONF), a failed AOF write (MISCONF with the OS error's text), too few good
//! replicas (NOREPLICAS), in Valkey's order, each lifted by its recovery. No host pushes
//! anything: the server recomputes the gate when its sources change.
#![cfg(target_os = "linux")]

use std::time::Duration;

use forkv_aof::FsyncPolicy;
use forkv_engine::errors::{MISCONF, NOREPLICAS};
use forkv_server::persist::aof_state::TurnFlush;
use forkv_server::persist::policy::SaveRule;
use forkv_server::repl::SyncDecision;
use forkv_server::settings::EngineSettings;
use forkv_server::snapshot::RdbTarget;
use forkv_server::Server;
use forkv_test_support::TempDir;

mod common;
use common::reap;

fn run(s: &mut Server, id: u64, args: &[&str]) -> String {
    s.feed(id, &forkv_test_support::command(args));
    let r = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    s.pump_stream();
    r
}

fn target(dir: &std::path::Path) -> RdbTarget {
    RdbTarget { dir: dir.to_path_buf(), filename: "dump.rdb".into(), write: Default::default(), key_save_delay: Duration::ZERO, incremental_fsync: false }
}

fn min_replicas(s: &mut Server, to_write: u64, max_lag: u64) {
    s.configure(EngineSettings { min_replicas_to_write: Some(to_write), min_replicas_max_lag: Some(max_lag), ..Default::default() });
}

/// Sets the process's file size limit (RLIMIT_FSIZE); returns the previous one.
fn set_fsize_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut cur = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on a valid, initialised struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut cur), 0);
        let new = libc::rlimit { rlim_cur: soft, rlim_max: cur.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &new), 0);
    }
    cur.rlim_cur
}

// One test for the disk: the fork slot and the file size limit are process-wide.
#[test]
fn disk_errors_close_the_gate_until_they_are_over() {
    let tmp = TempDir::new("writegate");
    let dir = tmp.path().to_path_buf();
    let mut s = Server::new(16);
    s.add_client(1);
    assert_eq!(run(&mut s, 1, &["SET", "k", "v"]), "+OK\r\n");

    // A failed BGSAVE under save rules and stop-writes-on-bgsave-error: writes and PING get
    // MISCONF, reads run.
    s.rdb_set_save_rules(vec![SaveRule { seconds: 3600, changes: 1 }], true);
    s.bgsave_now(target(&dir.join("missing"))).expect("fork");
    reap(&mut s);
    let misconf = format!("-{MISCONF}\r\n");
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), misconf);
    assert_eq!(run(&mut s, 1, &["PING"]), misconf);
    assert_eq!(run(&mut s, 1, &["GET", "k"]), "$1\r\nv\r\n");

    // The disk error comes before NOREPLICAS; once it is over, NOREPLICAS shows.
    min_replicas(&mut s, 1, 10);
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), misconf);
    s.save_now(&target(&dir)).expect("save");
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), format!("-{NOREPLICAS}\r\n"));
    assert_eq!(run(&mut s, 1, &["PING"]), "+PONG\r\n", "NOREPLICAS refuses writes only");
    min_replicas(&mut s, 0, 10);
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), "+OK\r\n");
    // A failed save in process (SAVE, SHUTDOWN's) leaves the status and the gate as they
    // were (Valkey's rdbSave: only background saves fail it).
    assert!(s.save_now(&target(&dir.join("missing"))).is_err());
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), "+OK\r\n");

    // Without stop-writes-on-bgsave-error, or without save rules, a failed save refuses nothing.
    s.rdb_set_save_rules(vec![SaveRule { seconds: 3600, changes: 1 }], false);
    s.bgsave_now(target(&dir.join("missing"))).expect("fork");
    reap(&mut s);
    assert_eq!(run(&mut s, 1, &["SET", "k", "x"]), "+OK\r\n");
    s.rdb_set_save_rules(vec![SaveRule { seconds: 3600, changes: 1 }], true);
    assert_eq!(run(&mut s, 1, &["SET", "k", "x"]), misconf, "the configuration change closes it");
    s.rdb_set_save_rules(Vec::new(), true);
    assert_eq!(run(&mut s, 1, &["SET", "k", "x"]), "+OK\r\n");

    // A failed AOF write: MISCONF with the OS error's text, whatever the fsync policy,
    // until a write succeeds.
    s.aof_open(common::aof_settings(&dir, FsyncPolicy::EverySec, true, Duration::ZERO), None).expect("open");
    assert!(matches!(s.aof_flush_turn(false), TurnFlush::Written { .. }));
    let incr = dir.join("appendonlydir").join("appendonly.aof.1.incr.aof");
    let size = std::fs::metadata(&incr).expect("incr").len();
    // SAFETY: a write past the limit then fails with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let old = set_fsize_limit(size + 10);
    assert_eq!(run(&mut s, 1, &["SET", "big", &"x".repeat(100)]), "+OK\r\n");
    let error = match s.aof_flush_turn(false) {
        TurnFlush::Failed { error, first } => {
            assert!(first);
            error
        }
        other => panic!("the write should fail: {other:?}"),
    };
    set_fsize_limit(old);
    let aof_misconf = format!("-MISCONF Errors writing to the AOF file: {error}\r\n");
    assert_eq!(run(&mut s, 1, &["SET", "k", "y"]), aof_misconf);
    assert_eq!(run(&mut s, 1, &["PING"]), aof_misconf);
    assert!(matches!(s.aof_flush_turn(false), TurnFlush::Written { recovered: true, .. }));
    assert_eq!(run(&mut s, 1, &["SET", "k", "y"]), "+OK\r\n", "the retried write succeeded");
}

#[test]
fn too_few_good_replicas_refuse_writes_on_a_primary() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    let noreplicas = format!("-{NOREPLICAS}\r\n");
    // Both settings must be on.
    min_replicas(&mut s, 1, 0);
    assert_eq!(run(&mut s, 1, &["SET", "k", "v"]), "+OK\r\n");
    min_replicas(&mut s, 1, 10);
    assert_eq!(run(&mut s, 1, &["SET", "k", "v"]), noreplicas);
    assert_eq!(run(&mut s, 1, &["GET", "k"]), "$1\r\nv\r\n");

    // A replica that goes online is a good one.
    assert_eq!(run(&mut s, 2, &["REPLCONF", "listening-port", "6380"]), "+OK\r\n");
    assert_eq!(s.repl_sync(2, Some((b"?", b"-1"))), SyncDecision::Full);
    s.repl_bgsave_started(&[2], false);
    assert_eq!(run(&mut s, 1, &["SET", "k", "v"]), noreplicas, "still syncing");
    s.repl_mut().bgsave_done();
    s.repl_online(2);
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), "+OK\r\n");
    min_replicas(&mut s, 2, 10);
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), noreplicas, "two asked, one there");
    min_replicas(&mut s, 1, 10);
    assert_eq!(run(&mut s, 1, &["SET", "k", "w"]), "+OK\r\n");

    // It goes away: the gate closes again.
    s.remove_client(2);
    assert_eq!(run(&mut s, 1, &["SET", "k", "x"]), noreplicas);
    // A replica has no such gate (Valkey's checkGoodReplicasStatus).
    s.configure(EngineSettings { is_replica: Some(true), ..Default::default() });
    assert_eq!(run(&mut s, 1, &["SET", "k", "x"]), "+OK\r\n");
    s.configure(EngineSettings { is_replica: Some(false), ..Default::default() });
    assert_eq!(run(&mut s, 1, &["SET", "k", "x"]), noreplicas);
}
