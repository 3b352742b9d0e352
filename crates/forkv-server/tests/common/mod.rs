//! What the persistence tests of this crate share: a client's command run like the
//! host's turn, the AOF settings, polling a background job like the cron, and counting
//! the keys an RDB file or an AOF directory loads to.
// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use forkv_aof::FsyncPolicy;
use forkv_server::aof_load::{load_aof, AofLoadParams};
use forkv_server::persist::aof_job::AofSettings;
use forkv_server::Server;

/// Runs a command for client 1 and, as the host's turn does, hands the propagated
/// writes on (to the AOF when it is on).
pub fn cmd(s: &mut Server, args: &[&str]) {
    s.feed(1, &forkv_test_support::command(args));
    s.engine.clear_reply();
    s.pump_stream();
}

/// An AOF in `dir/appendonlydir` named `appendonly.aof`.
pub fn aof_settings(dir: &Path, fsync: FsyncPolicy, preamble: bool, delay: Duration) -> AofSettings {
    AofSettings {
        work_dir: dir.to_path_buf(),
        dirname: "appendonlydir".into(),
        filename: "appendonly.aof".into(),
        fsync,
        use_rdb_preamble: preamble,
        no_fsync_on_rewrite: false,
        rdb: Default::default(),
        key_save_delay: delay,
        disable_auto_gc: false,
        timestamps: false,
        incremental_fsync: false,
    }
}

/// The messages logged since the last call.
pub fn logs(s: &mut Server) -> Vec<String> {
    s.engine.logs.take().into_iter().map(|l| l.message).collect()
}

/// Polls like the cron until the running job ends: the child's log lines and its exit.
pub fn reap(s: &mut Server) -> (Vec<String>, forkv_snapshot::ChildExit) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut logs = Vec::new();
    loop {
        let poll = s.poll_job().expect("a job runs");
        logs.extend(poll.logs.into_iter().map(|(_, m)| m));
        if let Some(done) = poll.done {
            return (logs, done);
        }
        assert!(Instant::now() < deadline, "child did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The keys an RDB file loads to, in a fresh keyspace.
pub fn rdb_keys(path: &Path) -> u64 {
    let mut ks = forkv_keyspace::Keyspace::new(16);
    let file = std::fs::File::open(path).expect("dump exists");
    forkv_rdb::load_rdb(std::io::BufReader::new(file), &mut ks, &Default::default()).expect("dump loads");
    (0..16).map(|db| ks.len(db) as u64).sum()
}

/// The keys the AOF directory `dir/appendonlydir` loads to.
pub fn aof_keys(dir: &Path) -> u64 {
    let p = AofLoadParams {
        work_dir: dir.to_path_buf(),
        dirname: "appendonlydir".into(),
        filename: "appendonly.aof".into(),
        load_truncated: false,
        databases: 16,
        limits: Default::default(),
        key_load_delay_us: 0,
        progress: Default::default(),
        propagation_error_behavior: Default::default(),
        cluster_enabled: false,
        busy_reply_threshold_ms: 5000,
        log: None,
    };
    let loaded = load_aof(&p).expect("the AOF loads");
    (0..16).map(|db| loaded.ks.len(db) as u64).sum()
}
