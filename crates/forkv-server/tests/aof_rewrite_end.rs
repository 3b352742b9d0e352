//! A rewrite's end: the base is installed in the format the child was forked with
//! (whatever `aof-use-rdb-preamble` says when it ends), and the end is logged with
//! Valkey's lines, success and failure.
#![cfg(target_os = "linux")]

use std::time::Duration;

use forkv_aof::FsyncPolicy;
use forkv_server::job_report::JobEnd;
use forkv_server::jobs::JobTarget;
use forkv_server::Server;
use forkv_test_support::TempDir;

mod common;
use common::{aof_keys, aof_settings, cmd, logs, reap};

// One test: the fork slot is process-wide.
#[test]
fn the_base_format_is_the_forks_and_the_end_is_logged() {
    let tmp = TempDir::new("aofend");
    let dir = tmp.path().to_path_buf();
    let with_preamble = |p: bool| aof_settings(&dir, FsyncPolicy::Always, p, Duration::ZERO);
    let mut s = Server::new(16);
    s.add_client(1);
    for i in 0..20 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    s.aof_open(with_preamble(true), None).expect("open");

    // Forked with commands; the configuration says RDB preamble when it ends.
    s.aof_fork_rewrite_logged(with_preamble(false)).expect("fork");
    let (_, exit) = reap(&mut s);
    let pid = exit.pid;
    logs(&mut s);
    let done = s.aof_rewrite_done_logged(&with_preamble(true), &JobEnd::of(&exit, JobTarget::File));
    assert!(done.ok, "{done:?}");
    assert_eq!(done.new_base, "appendonly.aof.2.base.aof", "the format at fork");
    let lines = logs(&mut s);
    assert_eq!(lines[0], "Background AOF rewrite terminated with success");
    assert_eq!(lines[1], format!("Successfully renamed the temporary AOF base file temp-rewriteaof-bg-{pid}.aof into appendonly.aof.2.base.aof"));
    assert_eq!(lines.last().map(String::as_str), Some("Background AOF rewrite finished successfully"));
    assert_eq!(aof_keys(&dir), 20);

    // A cancelled rewrite: its end is logged with the signal, the files in force stay.
    s.aof_fork_rewrite_logged(aof_settings(&dir, FsyncPolicy::Always, true, Duration::from_millis(20))).expect("fork");
    std::thread::sleep(Duration::from_millis(30));
    assert!(s.jobs.cancel());
    let (_, exit) = reap(&mut s);
    logs(&mut s);
    let done = s.aof_rewrite_done_logged(&with_preamble(true), &JobEnd::of(&exit, JobTarget::File));
    assert!(!done.ok);
    assert_eq!(logs(&mut s), [format!("Background AOF rewrite terminated by signal {}", libc::SIGUSR1)]);
    cmd(&mut s, &["SET", "after", "x"]);
    s.aof_flush(false).expect("flush");
    assert_eq!(aof_keys(&dir), 21);

    // The host's path: the job report it polls hands over the end, and the server keeps
    // it for the AOF side's finish; the host passes nothing back.
    assert!(s.aof_rewrite_reaped_logged(&with_preamble(true)).is_none(), "no rewrite ended since");
    s.aof_fork_rewrite_logged(with_preamble(true)).expect("fork");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let end = loop {
        if let Some(end) = s.poll_job_report().and_then(|r| r.done) {
            break end;
        }
        assert!(std::time::Instant::now() < deadline, "child did not end");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!((end.outcome, end.kind), ("ok", forkv_snapshot::ChildKind::AofRewrite));
    logs(&mut s);
    let done = s.aof_rewrite_reaped_logged(&with_preamble(true)).expect("the reported end is kept");
    assert!(done.ok, "{done:?}");
    assert_eq!(logs(&mut s).last().map(String::as_str), Some("Background AOF rewrite finished successfully"));
    assert!(s.aof_rewrite_reaped_logged(&with_preamble(true)).is_none(), "taken once");
    assert_eq!(aof_keys(&dir), 21);
    s.aof_close().expect("close");
}
