//! Loading the dataset: the start-up load of an RDB file and of an AOF directory on the
//! loader thread (`-LOADING` meanwhile, installed by a poll, the AOF opened after it on
//! the manifest it read), DEBUG LOADAOF's reload and DEBUG RELOAD's synchronous load with
//! NOFLUSH and MERGE; a file that cannot be loaded leaves the dataset as it was.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use forkv_aof::FsyncPolicy;
use forkv_server::persist::aof_job::AofSettings;
use forkv_server::persist::load::{AofSource, LoadDone};
use forkv_server::snapshot::RdbTarget;
use forkv_server::Server;
use forkv_test_support::{command, TempDir};

/// Runs one command as client 1 and returns its reply.
fn cmd(s: &mut Server, args: &[&str]) -> String {
    s.feed(1, &command(args));
    let reply = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    // The host's turn: the propagated writes are handed to the AOF.
    s.pump_stream();
    reply
}

fn server() -> Server {
    let mut s = Server::new(16);
    s.add_client(1);
    s
}

fn target(dir: &Path) -> RdbTarget {
    RdbTarget { dir: dir.to_path_buf(), filename: "dump.rdb".into(), write: Default::default(), key_save_delay: Duration::ZERO, incremental_fsync: false }
}

fn source(dir: &Path) -> AofSource {
    AofSource { work_dir: dir.to_path_buf(), dirname: "appendonlydir".into(), filename: "appendonly.aof".into(), load_truncated: true, cluster_enabled: false, key_load_delay_us: 0, events_interval_bytes: 2 << 20 }
}

fn aof_settings(dir: &Path) -> AofSettings {
    AofSettings {
        work_dir: dir.to_path_buf(),
        dirname: "appendonlydir".into(),
        filename: "appendonly.aof".into(),
        fsync: FsyncPolicy::Always,
        use_rdb_preamble: true,
        no_fsync_on_rewrite: false,
        rdb: Default::default(),
        key_save_delay: Duration::ZERO,
        disable_auto_gc: false,
        timestamps: false,
        incremental_fsync: false,
    }
}

/// Polls like the host's timer until the load ends.
fn wait_load(s: &mut Server) -> Result<LoadDone, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(done) = s.poll_load()? {
            return Ok(done);
        }
        assert!(Instant::now() < deadline, "the load did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_rdb_loads_on_the_thread_while_clients_get_loading() {
    let tmp = TempDir::new("load-rdb");
    let dir = tmp.path();
    let mut a = server();
    for i in 0..300 {
        cmd(&mut a, &["SET", &format!("k{i}"), "v"]);
    }
    cmd(&mut a, &["SET", "gone", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    a.save_now(&target(dir)).expect("save");

    let mut b = server();
    cmd(&mut b, &["SET", "old", "x"]);
    assert!(!b.is_loading());
    // A pause per key keeps the thread busy long enough to be seen loading.
    // An event point every 1024 bytes read: the host serves clients at each.
    b.start_rdb_load(dir.join("dump.rdb"), 100, 1024);
    assert!(b.is_loading());
    assert!(cmd(&mut b, &["GET", "old"]).starts_with("-LOADING"), "clients are told the server loads");
    let mut events = 0;
    while let Some(e) = b.load_events() {
        events = e;
        if b.poll_load().expect("loads").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let size = std::fs::metadata(dir.join("dump.rdb")).expect("dump").len();
    assert!(events >= 1 && events <= size / 1024, "{events} event points for {size} bytes");
    assert_eq!(b.load_events(), None, "nothing loads any more");
    b.start_rdb_load(dir.join("dump.rdb"), 0, 2 << 20);
    let done = wait_load(&mut b).expect("loads");
    assert!(!b.is_loading());
    assert_eq!((done.summary.keys, done.summary.expired_skipped), (300, 1));
    assert!(done.summary.version >= 9 && done.summary.bytes > 0);
    assert_eq!(cmd(&mut b, &["GET", "k7"]), "$1\r\nv\r\n");
    assert_eq!(cmd(&mut b, &["EXISTS", "old"]), ":0\r\n", "the file replaced the data");
    assert!(b.poll_load().expect("nothing loads").is_none());

    // A corrupt file: the loader's error, with Valkey's lines; the data stays.
    let bytes = std::fs::read(dir.join("dump.rdb")).expect("dump");
    std::fs::write(dir.join("bad.rdb"), &bytes[..bytes.len() / 2]).expect("write");
    b.start_rdb_load(dir.join("bad.rdb"), 0, 2 << 20);
    let err = wait_load(&mut b).expect_err("a short file fails");
    assert!(err.contains("bad.rdb") && err.contains("Terminating server after rdb file reading failure."), "{err}");
    assert!(!b.is_loading());
    assert_eq!(cmd(&mut b, &["DBSIZE"]), ":300\r\n");
    b.start_rdb_load(dir.join("missing.rdb"), 0, 2 << 20);
    assert!(wait_load(&mut b).expect_err("no file").starts_with("Fatal error loading the DB, check server logs. Can't open"));
}

#[test]
fn debug_reload_loads_in_place_beside_or_merged() {
    let tmp = TempDir::new("load-now");
    let dir = tmp.path();
    let mut s = server();
    cmd(&mut s, &["SET", "a", "file"]);
    cmd(&mut s, &["SET", "b", "file"]);
    s.save_now(&target(dir)).expect("save");
    let file = dir.join("dump.rdb");

    cmd(&mut s, &["SET", "a", "live"]);
    cmd(&mut s, &["SET", "c", "live"]);
    // In place: the file's data only.
    let done = s.load_rdb_now(&file, false, false).expect("reload");
    assert_eq!(done.summary.keys, 2);
    assert_eq!(cmd(&mut s, &["MGET", "a", "c"]), "*2\r\n$4\r\nfile\r\n$-1\r\n");

    // NOFLUSH: beside the live keys; a key that exists already is an error.
    cmd(&mut s, &["FLUSHALL"]);
    cmd(&mut s, &["SET", "c", "live"]);
    s.load_rdb_now(&file, true, false).expect("no duplicates");
    assert_eq!(cmd(&mut s, &["DBSIZE"]), ":3\r\n");
    cmd(&mut s, &["SET", "a", "live"]);
    assert!(s.load_rdb_now(&file, true, false).is_err(), "a duplicate key without MERGE");
    // MERGE: the file's value wins.
    s.load_rdb_now(&file, true, true).expect("merge");
    assert_eq!(cmd(&mut s, &["MGET", "a", "c"]), "*2\r\n$4\r\nfile\r\n$4\r\nlive\r\n");

    // A file that cannot be read leaves the data as it was.
    assert!(s.load_rdb_now(&dir.join("missing.rdb"), false, false).is_err());
    assert_eq!(cmd(&mut s, &["DBSIZE"]), ":3\r\n");
}

#[test]
fn an_aof_loads_then_appends_on_the_manifest_it_read_and_reloads() {
    let tmp = TempDir::new("load-aof");
    let dir = tmp.path();
    let mut a = server();
    cmd(&mut a, &["SET", "base", "1"]);
    a.aof_open_loaded(aof_settings(dir)).expect("open with nothing loaded");
    for i in 0..50 {
        cmd(&mut a, &["RPUSH", "list", &i.to_string()]);
    }
    a.aof_flush(false).expect("flush");
    a.aof_close().expect("close");

    // Start-up with appendonly yes: the directory loads, then the AOF opens on it.
    let mut b = server();
    b.start_aof_load(&source(dir));
    let done = wait_load(&mut b).expect("loads");
    assert_eq!((done.summary.keys, done.summary.commands), (2, 51), "the SELECT and 50 RPUSH of the incr file");
    assert!(done.summary.truncated_at.is_none());
    assert_eq!(cmd(&mut b, &["LLEN", "list"]), ":50\r\n");
    b.aof_open_loaded(aof_settings(dir)).expect("open after the load");
    let names = || {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir")).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(names(), ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"], "the same files go on");
    cmd(&mut b, &["SET", "after", "x"]);

    // DEBUG LOADAOF: what is pending is written first, then the directory reloads.
    b.start_aof_reload(&source(dir));
    assert!(b.is_loading());
    let done = wait_load(&mut b).expect("reloads");
    b.aof_adopt_reload();
    assert_eq!(done.summary.keys, 3, "the last write was flushed before the load");
    cmd(&mut b, &["SET", "after-reload", "y"]);
    b.aof_flush(false).expect("flush");
    b.aof_close().expect("close");
    let mut c = server();
    c.start_aof_load(&source(dir));
    assert_eq!(wait_load(&mut c).expect("loads").summary.keys, 4, "appending went on in the loaded incr file");
}
