//! What the host is told about the job slot: a running BGSAVE's progress and run time,
//! its end as the host logs it, the AUX fields of the RDB options, and how every way a
//! child can end reads.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use forkv_server::job_report::{fork_error_text, kind_name, JobEnd};
use forkv_server::jobs::JobTarget;
use forkv_server::snapshot::{rdb_child_end_line, RdbFormat, RdbTarget, ReplSaveInfo};
use forkv_server::Server;
use forkv_snapshot::{ChildExit, ChildKind, ChildOutcome, ForkError};
use forkv_test_support::TempDir;

mod common;
use common::cmd;

const FORMAT: RdbFormat = RdbFormat { version: 11, compression: true, checksum: true };

fn exit(kind: ChildKind, outcome: ChildOutcome) -> ChildExit {
    ChildExit { pid: 42, kind, outcome, duration: Duration::from_millis(1500), cow_bytes: 0, cow_peak: 4096, keys_processed: 10, info: Vec::new() }
}

#[test]
fn every_end_reads_as_the_host_logs_it() {
    let ok = JobEnd::of(&exit(ChildKind::Rdb, ChildOutcome::Ok), JobTarget::File);
    assert_eq!((ok.outcome, ok.signal, ok.transfer), ("ok", 0, false));
    assert_eq!(rdb_child_end_line(&exit(ChildKind::Rdb, ChildOutcome::Ok), false).1, "Background saving terminated with success");
    assert_eq!((ok.cow_peak, ok.keys_processed, ok.duration), (4096, 10, Duration::from_millis(1500)));

    let failed = JobEnd::of(&exit(ChildKind::Rdb, ChildOutcome::Failed { exit_code: 1, message: "disk full".into() }), JobTarget::File);
    assert_eq!((failed.outcome, failed.message.as_str()), ("err", "disk full"));
    assert_eq!(rdb_child_end_line(&exit(ChildKind::Rdb, ChildOutcome::Failed { exit_code: 1, message: "disk full".into() }), false).1, "Background saving error: disk full");

    let killed = JobEnd::of(&exit(ChildKind::Rdb, ChildOutcome::KilledBySignal(9)), JobTarget::ReplicaSockets);
    assert_eq!((killed.outcome, killed.signal, killed.transfer), ("signal", 9, true));
    assert_eq!(rdb_child_end_line(&exit(ChildKind::Rdb, ChildOutcome::KilledBySignal(9)), true).1, "Background transfer terminated by signal 9");

    let cancelled = JobEnd::of(&exit(ChildKind::AofRewrite, ChildOutcome::Cancelled), JobTarget::File);
    assert_eq!((cancelled.outcome, cancelled.signal), ("cancelled", libc::SIGUSR1));

    let lost = JobEnd::of(&exit(ChildKind::Rdb, ChildOutcome::Lost), JobTarget::File);
    assert_eq!((lost.outcome, lost.message.as_str()), ("err", "child status lost (reaped elsewhere)"));

    assert_eq!((kind_name(ChildKind::Rdb), kind_name(ChildKind::AofRewrite)), ("rdb", "aof"));
    assert_eq!(fork_error_text(&ForkError::ChildExists { pid: 7 }), "EEXIST child 7 already running");
    // One "fork: ", as Valkey's "Can't save in background: fork: %s".
    let eagain = ForkError::Fork(std::io::Error::from_raw_os_error(libc::EAGAIN));
    assert_eq!(fork_error_text(&eagain), "fork: Resource temporarily unavailable");
}

fn used_mem_probe() -> usize {
    123_456
}

#[test]
fn rdb_options_carry_the_aux_fields() {
    let mut s = Server::new(16);
    s.engine.set_memory_probe(used_mem_probe);
    let repl = ReplSaveInfo { stream_db: 3, repl_id: "a".repeat(40), repl_offset: 1234 };
    let o = s.rdb_write_options(FORMAT, Some(&repl));
    assert_eq!((o.version, o.compression, o.checksum, o.aof_base), (11, true, true, false));
    assert_eq!(o.used_mem, 123_456);
    // Valkey's order (rdbSaveInfoAuxFields), after the fields every save carries.
    let tail: Vec<(&[u8], &[u8])> = o.extra_aux.iter().rev().take(3).rev().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
    assert_eq!(tail, vec![(&b"repl-stream-db"[..], &b"3"[..]), (&b"repl-id"[..], "a".repeat(40).as_bytes()), (&b"repl-offset"[..], &b"1234"[..])]);
    assert!(!s.rdb_write_options(FORMAT, None).extra_aux.iter().any(|(k, _)| k == b"repl-stream-db"));
}

fn target(s: &Server, dir: &Path, delay: Duration) -> RdbTarget {
    s.rdb_target(dir.to_path_buf(), "dump.rdb".into(), FORMAT, None, delay)
}

// One test: the fork slot is process-wide.
#[test]
fn a_running_bgsave_reports_progress_then_its_end() {
    let tmp = TempDir::new("jobreport");
    let mut s = Server::new(16);
    s.add_client(1);
    for i in 0..50 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(s.job_progress(), None);
    assert_eq!(s.job_run_secs(ChildKind::Rdb), -1);
    let t = target(&s, tmp.path(), Duration::from_millis(20));
    let forked = s.bgsave_now(t).expect("fork");
    let p = s.job_progress().expect("a child runs");
    assert_eq!((p.pid, p.kind, p.transfer, p.keys_total), (forked.pid, ChildKind::Rdb, false, 50));
    assert_eq!(s.job_run_secs(ChildKind::Rdb), 0);
    assert_eq!(s.job_run_secs(ChildKind::AofRewrite), -1, "not that kind");
    let _ = s.engine.logs.take();
    let end = loop {
        let r = s.poll_job_report().expect("the child is in the slot until reaped");
        if let Some(end) = r.done {
            break end;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!((end.pid, end.kind, end.outcome, end.keys_processed), (forked.pid, ChildKind::Rdb, "ok", 50));
    // The end line is the core's, on the engine's log queue (the host prints the child's
    // own lines first, then drains it).
    let lines: Vec<String> = s.engine.logs.take().into_iter().map(|l| l.message).collect();
    assert_eq!(lines, ["Background saving terminated with success"]);
    assert_eq!(s.job_progress(), None);
    assert_eq!(common::rdb_keys(&tmp.path().join("dump.rdb")), 50);
}
