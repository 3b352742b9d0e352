//! Interop with real Redis 7 (Debian's redis-server / redis-check-aof): a directory written
//! by this crate is accepted by `redis-check-aof` and loaded by `redis-server`, and a
//! directory written by `redis-server` (including a BGREWRITEAOF) is loaded by this crate.
//! These tests fail (never skip) when the tools are missing.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    dump_keyspace, dump_server, now_ms, redis_tool, sample_keyspace, Applier, RedisServer, Reply,
    TempDir,
};
use forkv_aof::dir;
use forkv_aof::manifest::{AofInfo, AofKind, Manifest};
use forkv_aof::{
    load_aof_dir, rewrite_keyspace_as_commands, AofWriter, FsyncPolicy, LoadOptions, LoadStatus,
};

fn load_with_forkv(work: &Path, prefix: &str) -> (Applier, forkv_aof::LoadReport) {
    let mut a = Applier::new();
    let opts = LoadOptions {
        aof_load_truncated: false,
        upgrade_legacy: false,
    };
    let rep =
        load_aof_dir(work, "appendonlydir", prefix, opts, &mut a).unwrap_or_else(|e| panic!("{e}"));
    (a, rep)
}

/// Base (commands) + two incr files + a history entry, written with this crate.
fn write_forkv_dir(work: &Path, prefix: &str) {
    let now = now_ms();
    let ks = sample_keyspace(now);
    let dir = dir::aof_dir(work, "appendonlydir");
    dir::create_dir_if_missing(&dir).unwrap();
    let mut m = Manifest::default();
    let base = m.next_base(prefix, false);
    dir::write_file_synced(&dir.join(&base), &mut |w| {
        rewrite_keyspace_as_commands(w, &ks, now, &mut |_| Ok(())).map(|_| ())
    })
    .unwrap();

    let incr1 = m.next_incr(prefix);
    let (f, size) = dir::open_incr_for_append(&dir, &incr1).unwrap();
    let mut w = AofWriter::new(f, FsyncPolicy::Always, size, 0, 0, now);
    let later = (now + 7_200_000).to_string();
    w.append_command(Some(0), &[b"SET", b"after-base", b"1"]);
    w.append_command(Some(0), &[b"RPUSH", b"list", b"extra", b"extra2"]);
    w.append_command(Some(0), &[b"SADD", b"set", b"new member"]);
    w.append_command(
        Some(0),
        &[b"HSET", b"hash", b"f0", b"changed", b"new", b"field"],
    );
    w.append_command(
        Some(0),
        &[b"ZADD", b"zset", b"42", b"m0", b"-1.5", b"fresh"],
    );
    w.append_command(Some(0), &[b"DEL", b"str"]);
    w.append_command(Some(0), &[b"PEXPIREAT", b"int", later.as_bytes()]);
    w.append_command(Some(3), &[b"MULTI"]);
    w.append_command(Some(3), &[b"SET", b"tx", b"41"]);
    w.append_command(Some(3), &[b"INCR", b"tx"]);
    w.append_command(Some(3), &[b"EXEC"]);
    w.flush(true, now, false).unwrap();

    // As a rewrite would: a second incr file, writes switch to it.
    let incr2 = m.next_incr(prefix);
    w.switch_file(dir::create_incr(&dir, &incr2).unwrap(), now);
    w.append_command(
        Some(15),
        &[b"SET", b"pxat", b"v", b"PXAT", later.as_bytes()],
    );
    w.append_command(Some(0), &[b"RPUSH", b"newlist", b"x"]);
    w.flush(true, now, false).unwrap();
    w.close(now).unwrap();

    // A history file waiting for deletion.
    let stale = format!("{prefix}.0.incr.aof");
    fs::write(dir.join(&stale), b"garbage that must never be loaded").unwrap();
    m.history.push(AofInfo {
        name: stale,
        seq: 1,
        kind: AofKind::History,
    });
    dir::persist_manifest(&dir, prefix, &m).unwrap();
}

fn check_forkv_dir_in_redis(prefix: &str) {
    let t = TempDir::new("to-redis");
    let work = t.path();
    write_forkv_dir(work, prefix);
    let dir = work.join("appendonlydir");

    let check = redis_tool("redis-check-aof");
    let out = Command::new(check)
        .arg(dir.join(format!("{prefix}.manifest")))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("is valid"),
        "redis-check-aof refused:\n{text}"
    );

    let (ours, rep) = load_with_forkv(work, prefix);
    assert_eq!(rep.status, LoadStatus::Ok);
    assert_eq!(rep.files_loaded, 3);
    let want = dump_keyspace(&ours.ks);
    assert_eq!(
        want[&(3, b"tx".to_vec())].0,
        common::DumpVal::Str(b"42".to_vec())
    );
    assert!(!want.contains_key(&(0, b"expired".to_vec())));

    let mut srv = RedisServer::start(work, &["--appendonly", "yes", "--appendfilename", prefix]);
    let got = dump_server(&mut srv.client());
    let log = srv.log_text();
    srv.shutdown();
    if got != want {
        for (k, v) in &want {
            if got.get(k) != Some(v) {
                eprintln!("differs: {k:?}\n  forkv: {v:?}\n  redis: {:?}", got.get(k));
            }
        }
        panic!(
            "redis loaded a different dataset ({} vs {} keys); log:\n{log}",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn forkv_written_dir_is_valid_for_redis_check_aof_and_loads_in_redis() {
    check_forkv_dir_in_redis("appendonly.aof");
}

#[test]
fn quoted_manifest_names_interoperate() {
    check_forkv_dir_in_redis("my aof.aof");
}

fn info_field(c: &mut common::Client, field: &str) -> String {
    let info = String::from_utf8(c.cmd(&["INFO", "persistence"]).bytes()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn redis_written_dir_with_rewrite_loads_in_forkv() {
    let t = TempDir::new("from-redis");
    let work = t.path();
    let mut srv = RedisServer::start(
        work,
        &[
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
            "--appendfsync",
            "always",
        ],
    );
    let mut c = srv.client();
    let ok = Reply::Status("OK".into());
    assert_eq!(c.cmd(&["SET", "s1", "hello"]), ok);
    assert_eq!(c.cmd(&["SET", "n", "10"]), ok);
    c.cmd(&["INCR", "n"]);
    let items: Vec<String> = (0..150).map(|i| format!("i{i}")).collect();
    let mut rpush = vec!["RPUSH", "l"];
    rpush.extend(items.iter().map(String::as_str));
    c.cmd(&rpush);
    c.cmd(&["SADD", "st", "x", "y", "z"]);
    c.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    c.cmd(&["ZADD", "z", "1.5", "a", "-inf", "b", "0.1", "c", "3", "d"]);
    c.cmd(&["SET", "e", "v", "EX", "100000"]);
    c.cmd(&["EXPIRE", "s1", "50000"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "other", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "t1", "1"]);
    c.cmd(&["INCR", "t1"]);
    assert!(matches!(c.cmd(&["EXEC"]), Reply::Array(Some(_))));

    let started = c.cmd(&["BGREWRITEAOF"]);
    assert!(matches!(started, Reply::Status(_)), "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrite_scheduled") == "0";
        let manifest = fs::read_to_string(work.join("appendonlydir/appendonly.aof.manifest"))
            .unwrap_or_default();
        if done && manifest.contains("appendonly.aof.2.base.aof") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rewrite did not finish; log:\n{}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");

    // Writes after the rewrite land in incr 2.
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["DEL", "st"]);
    c.cmd(&["RPUSH", "l", "after"]);
    c.cmd(&["SET", "post", "1"]);
    c.cmd(&["ZADD", "z", "2", "e"]);
    c.cmd(&["HSET", "h", "f3", "v3"]);
    let want = dump_server(&mut c);
    drop(c);
    srv.shutdown();

    let (ours, rep) = load_with_forkv(work, "appendonly.aof");
    assert_eq!(rep.status, LoadStatus::Ok);
    assert_eq!(
        rep.manifest.base.as_ref().unwrap().name,
        "appendonly.aof.2.base.aof"
    );
    let incrs: Vec<&str> = rep.manifest.incrs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(incrs, ["appendonly.aof.2.incr.aof"]);
    let got = dump_keyspace(&ours.ks);
    assert_eq!(got, want, "forkv loaded a different dataset");

    // The base holds the rewritten dataset (variadic commands), the incr the later writes.
    let names: Vec<String> = ours
        .log
        .iter()
        .map(|c| String::from_utf8_lossy(&c[0]).to_ascii_uppercase())
        .collect();
    let del_at = names.iter().position(|n| n == "DEL").unwrap();
    for cmd in ["RPUSH", "SADD", "HMSET", "ZADD", "PEXPIREAT", "SELECT"] {
        let at = names.iter().position(|n| n == cmd);
        assert!(
            at.is_some_and(|i| i < del_at),
            "{cmd} missing from the base: {names:?}"
        );
    }
    let rpush_batches = ours.log[..del_at]
        .iter()
        .filter(|c| c[0].eq_ignore_ascii_case(b"RPUSH"))
        .count();
    assert_eq!(rpush_batches, 3, "150 items in batches of 64");
    assert_eq!(
        rep.base_size,
        fs::metadata(work.join("appendonlydir/appendonly.aof.2.base.aof"))
            .unwrap()
            .len()
    );
}
