//! A replica's primary link without sockets: each read is handed to `feed_primary`, which
//! runs the complete commands as the primary client, answers GETACK with the offset
//! before it, counts keepalive newlines, refuses what is not the protocol, keeps the FACK
//! marks against the AOF and passes the applied bytes on to this server's own replicas.
#![cfg(target_os = "linux")]

use std::time::Duration;

use forkv_aof::FsyncPolicy;
use forkv_server::primary_link::ack_command;
use forkv_server::repl::SyncDecision;
use forkv_server::Server;
use forkv_test_support::{command as c, TempDir};

mod common;

const PRIMARY: u64 = 10;
const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

fn replica() -> Server {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_primary_client(PRIMARY);
    s.set_replica_offset(100);
    s
}

fn get(s: &mut Server, key: &str) -> String {
    s.feed(1, &c(&["GET", key]));
    let r = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    r
}

#[test]
fn a_command_split_across_reads_runs_once_complete() {
    let mut s = replica();
    let set = c(&["SET", "a", "1"]);
    let r = s.feed_primary(&set[..10]).expect("feed");
    assert_eq!((r.consumed, r.acks.len()), (0, 0));
    assert_eq!(get(&mut s, "a"), "$-1\r\n");
    assert_eq!(s.replica_offset(), 100, "a half-received command is not counted");
    let r = s.feed_primary(&set).expect("feed");
    assert_eq!(r.consumed, set.len());
    assert_eq!(get(&mut s, "a"), "$1\r\n1\r\n");
    assert_eq!(s.replica_offset(), 100 + set.len() as i64);
}

#[test]
fn getack_mid_batch_is_answered_with_the_offset_before_it() {
    let mut s = replica();
    let a = c(&["SET", "a", "1"]);
    let b = c(&["SET", "b", "2"]);
    let buf = [a.as_slice(), GETACK, b.as_slice(), GETACK].concat();
    let r = s.feed_primary(&buf).expect("feed");
    assert_eq!(r.consumed, buf.len());
    let first = 100 + a.len() as i64;
    let second = first + (GETACK.len() + b.len()) as i64;
    assert_eq!(r.acks, [ack_command(first, None), ack_command(second, None)].concat());
    assert_eq!(s.replica_offset(), second + GETACK.len() as i64);
    assert_eq!(get(&mut s, "b"), "$1\r\n2\r\n");
    assert!(s.engine.reply().is_empty(), "the primary client's replies are dropped");
}

#[test]
fn a_client_pause_holds_the_stream_until_it_ends() {
    let mut s = replica();
    s.feed(1, &c(&["CLIENT", "PAUSE", "100000", "WRITE"]));
    s.engine.clear_reply();
    let set = c(&["SET", "a", "1"]);
    let r = s.feed_primary(&set).expect("feed");
    assert_eq!(r.consumed, 0, "held");
    assert_eq!(s.replica_offset(), 100);
    s.feed(1, &c(&["CLIENT", "UNPAUSE"]));
    s.engine.clear_reply();
    assert_eq!(s.feed_primary(&set).expect("feed").consumed, set.len());
    assert_eq!(get(&mut s, "a"), "$1\r\n1\r\n");
}

#[test]
fn keepalive_newlines_are_counted() {
    let mut s = replica();
    let r = s.feed_primary(b"\n\n").expect("feed");
    assert_eq!(r.consumed, 2);
    assert_eq!(s.replica_offset(), 102);
    assert_eq!(s.primary_ack(), ack_command(102, None));
}

#[test]
fn a_protocol_error_runs_nothing() {
    let mut s = replica();
    let buf = [c(&["SET", "a", "1"]).as_slice(), b"GET a\r\n"].concat();
    let e = s.feed_primary(&buf).expect_err("not the protocol");
    assert!(e.starts_with("Protocol error: expected '*'"), "{e}");
    assert_eq!(get(&mut s, "a"), "$-1\r\n");
    assert_eq!(s.replica_offset(), 100);
}

#[test]
fn fack_counts_what_the_aof_fsynced() {
    let tmp = TempDir::new("plfack");
    let mut s = replica();
    s.aof_open(common::aof_settings(tmp.path(), FsyncPolicy::No, true, Duration::ZERO), None).expect("open");
    // The link comes up: FACK reports the offset, nothing being appended and unsynced.
    assert_eq!(s.primary_link_up(None, false), ack_command(100, Some(100)));
    let set = c(&["SET", "a", "1"]);
    let r = s.feed_primary(&[set.as_slice(), GETACK].concat()).expect("feed");
    // appendfsync no: the SET is appended, never fsynced.
    assert_eq!(r.acks, ack_command(100 + set.len() as i64, Some(100)));
    s.aof_set_fsync(FsyncPolicy::Always);
    s.aof_flush(true).expect("flush");
    let off = s.replica_offset();
    assert_eq!(s.primary_ack(), ack_command(off, Some(off)), "fsynced: the whole offset counts");
    s.set_replica_offset(7);
    assert_eq!(s.primary_ack(), ack_command(7, Some(7)), "a new history starts over");
}

#[test]
fn the_applied_stream_goes_on_to_our_replicas_unchanged() {
    let mut s = replica();
    s.repl_set_proxy(true);
    s.repl_adopt_primary("0123456789012345678901234567890123456789", 100);
    s.add_client(3);
    s.feed(3, &c(&["REPLCONF", "listening-port", "6390"]));
    s.engine.clear_reply();
    let d = s.repl_sync(3, Some((b"0123456789012345678901234567890123456789", b"101")));
    assert!(matches!(d, SyncDecision::Continue(_)), "{d:?}");
    s.take_deliveries();
    let set = c(&["SET", "a", "1"]);
    let buf = [set.as_slice(), b"\n", GETACK, &set[..5]].concat();
    let r = s.feed_primary(&buf).expect("feed");
    assert_eq!(r.consumed, buf.len() - 5);
    let out: Vec<u8> = s.take_deliveries().into_iter().filter(|(id, _)| *id == 3).flat_map(|(_, b)| b).collect();
    assert_eq!(out, buf[..r.consumed].to_vec());
    assert_eq!(s.repl().offset, 100 + r.consumed as u64);
}

// The only test of this binary that forks (the job slot is process-wide).
#[test]
fn after_a_full_sync_fack_waits_for_the_rewrite_and_is_the_offset_it_started_at() {
    let tmp = TempDir::new("plrewrite");
    let settings = common::aof_settings(tmp.path(), FsyncPolicy::No, true, Duration::ZERO);
    let mut s = replica();
    s.aof_open(settings.clone(), None).expect("open");
    // The snapshot is loaded: the AOF starts again with a rewrite, then the link comes up.
    let forked = s.aof_rewrite_start(settings.clone()).expect("fork");
    assert_eq!(s.primary_link_up(None, true), ack_command(100, None), "no FACK before the rewrite is installed");
    let set = c(&["INCR", "n"]);
    let r = s.feed_primary(&[set.as_slice(), GETACK].concat()).expect("feed");
    let after = 100 + set.len() as i64;
    assert_eq!(r.acks, ack_command(after, None));
    let (_, exit) = common::reap(&mut s);
    assert_eq!(exit.outcome, forkv_snapshot::ChildOutcome::Ok);
    assert!(s.aof_rewrite_done(&settings, forked.pid, true).ok);
    // The INCR came after the rewrite started and nothing fsynced it (appendfsync no).
    assert_eq!(s.primary_ack(), ack_command(s.replica_offset(), Some(100)));
    s.aof_set_fsync(FsyncPolicy::Always);
    s.feed_primary(b"\n").expect("feed");
    s.aof_flush(true).expect("flush");
    let off = s.replica_offset();
    assert_eq!(s.primary_ack(), ack_command(off, Some(off)), "an fsync covers it");
}
