//! INFO's persistence section comes from the server's own state, with Valkey's field
//! names in Valkey's order: the changes since the last save, a save's bookkeeping, the
//! last RDB load's key counts, and the AOF's part once the AOF is on.
#![cfg(target_os = "linux")]

use std::time::Duration;

use forkv_server::snapshot::RdbFormat;
use forkv_server::Server;
use forkv_test_support::TempDir;

mod common;
use common::cmd;

/// Valkey 8.0's persistence fields (genValkeyInfoString) while nothing loads and the
/// AOF is off.
const VALKEY_FIELDS: &[&str] = &[
    "loading",
    "async_loading",
    "current_cow_peak",
    "current_cow_size",
    "current_cow_size_age",
    "current_fork_perc",
    "current_save_keys_processed",
    "current_save_keys_total",
    "rdb_changes_since_last_save",
    "rdb_bgsave_in_progress",
    "rdb_last_save_time",
    "rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec",
    "rdb_current_bgsave_time_sec",
    "rdb_saves",
    "rdb_last_cow_size",
    "rdb_last_load_keys_expired",
    "rdb_last_load_keys_loaded",
    "aof_enabled",
    "aof_rewrite_in_progress",
    "aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec",
    "aof_current_rewrite_time_sec",
    "aof_last_bgrewrite_status",
    "aof_rewrites",
    "aof_rewrites_consecutive_failures",
    "aof_last_write_status",
    "aof_last_cow_size",
    "module_fork_in_progress",
    "module_fork_last_cow_size",
];

fn field(s: &Server, name: &str) -> String {
    s.persistence_info().into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or_else(|| panic!("no field {name}"))
}

/// The reply of a command of client 1.
fn reply(s: &mut Server, args: &[&str]) -> String {
    s.feed(1, &forkv_test_support::command(args));
    let r = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    r
}

#[test]
fn fields_follow_valkey_and_the_server_state() {
    let tmp = TempDir::new("persistinfo");
    let mut s = Server::new(16);
    s.add_client(1);
    let names: Vec<String> = s.persistence_info().into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, VALKEY_FIELDS);
    assert_eq!((field(&s, "loading"), field(&s, "current_fork_perc"), field(&s, "rdb_last_bgsave_status")), ("0".into(), "0.00".into(), "ok".into()));
    assert_eq!((field(&s, "rdb_last_bgsave_time_sec"), field(&s, "rdb_current_bgsave_time_sec")), ("-1".into(), "-1".into()));

    cmd(&mut s, &["SET", "a", "1"]);
    cmd(&mut s, &["SET", "b", "2"]);
    assert_eq!(field(&s, "rdb_changes_since_last_save"), "2");
    let target = s.rdb_target(tmp.path().to_path_buf(), "dump.rdb".into(), RdbFormat { version: 11, compression: true, checksum: true }, None, Duration::ZERO);
    s.save_now(&target).expect("save");
    assert_eq!((field(&s, "rdb_changes_since_last_save"), field(&s, "rdb_saves")), ("0".into(), "1".into()));

    // The rendered section is this list, and a script's LASTSAVE reads the same save time.
    let text = s.info(&[b"persistence"]);
    let lines: Vec<&str> = text.lines().skip(1).map(|l| l.split(':').next().unwrap_or("")).collect();
    assert_eq!(lines, VALKEY_FIELDS);
    let lastsave = field(&s, "rdb_last_save_time");
    assert_eq!(reply(&mut s, &["EVAL", "return redis.call('LASTSAVE')", "0"]), format!(":{lastsave}\r\n"));

    // A load on the loader thread records its key counts once installed.
    let mut loaded = Server::new(16);
    loaded.start_rdb_load(tmp.path().join("dump.rdb"), 0, 0);
    assert_eq!(field(&loaded, "loading"), "1");
    while loaded.poll_load().expect("the file loads").is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!((field(&loaded, "loading"), field(&loaded, "rdb_last_load_keys_loaded"), field(&loaded, "rdb_last_load_keys_expired")), ("0".into(), "2".into(), "0".into()));
}

#[test]
fn the_aof_part_appears_once_the_aof_is_on() {
    let tmp = TempDir::new("persistinfo-aof");
    let mut s = Server::new(16);
    s.add_client(1);
    let settings = common::aof_settings(tmp.path(), forkv_aof::FsyncPolicy::No, false, Duration::ZERO);
    assert_eq!(field(&s, "aof_enabled"), "0");
    s.aof_open(settings, None).expect("open");
    cmd(&mut s, &["SET", "a", "1"]);
    assert_eq!(field(&s, "aof_enabled"), "1");
    // Valkey prints the AOF's sizes after the module fields, while the AOF is on.
    let names: Vec<String> = s.persistence_info().into_iter().map(|(k, _)| k).collect();
    let tail = ["aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length", "aof_pending_bio_fsync", "aof_delayed_fsync"];
    assert_eq!(names[..VALKEY_FIELDS.len()], *VALKEY_FIELDS);
    assert_eq!(names[VALKEY_FIELDS.len()..], tail);
    s.aof_flush(true).expect("flush");
    assert_ne!(field(&s, "aof_current_size"), "0", "the SET was written");
}
