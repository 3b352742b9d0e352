//! The server's replication path without sockets: a replica that asked for a full sync
//! gets `+FULLRESYNC` at the fork, the writes made during the sync once it is online, then
//! each write as a delivery, while the AOF gets the same stream.

use forkv_server::repl::SyncDecision;
use forkv_server::Server;
use forkv_test_support::command as cmd;

fn run(s: &mut Server, id: u64, args: &[&str]) -> String {
    s.feed(id, &cmd(args));
    let r = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    r
}

fn delivered(s: &mut Server, id: u64) -> String {
    s.take_deliveries().into_iter().filter(|(c, _)| *c == id).map(|(_, b)| String::from_utf8_lossy(&b).into_owned()).collect()
}

#[test]
fn full_sync_then_live_stream_and_aof_share_it() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    s.set_aof(true);
    run(&mut s, 1, &["SET", "a", "1"]);
    assert_eq!(run(&mut s, 2, &["REPLCONF", "listening-port", "6380", "capa", "psync2"]), "+OK\r\n");
    assert_eq!(s.repl_sync(2, Some((b"?", b"-1"))), SyncDecision::Full);
    assert_eq!(s.repl_bgsave_started(&[2], false), vec![2]);
    let line = delivered(&mut s, 2);
    // The SET before any replica moved the offset by one (the AOF is on; Valkey's
    // replicationFeedReplicas without a backlog).
    assert_eq!(line, format!("+FULLRESYNC {} 1\r\n", s.repl().replid));
    run(&mut s, 1, &["SET", "b", "2"]);
    assert!(delivered(&mut s, 2).is_empty(), "nothing before the snapshot is sent");
    assert_eq!(s.repl_mut().bgsave_done(), vec![2]);
    s.repl_online(2);
    let during = String::from_utf8(cmd(&["SELECT", "0"])).unwrap_or_default() + &String::from_utf8(cmd(&["SET", "b", "2"])).unwrap_or_default();
    assert_eq!(delivered(&mut s, 2), during);
    run(&mut s, 1, &["MULTI"]);
    run(&mut s, 1, &["INCR", "n"]);
    run(&mut s, 1, &["DEL", "a"]);
    run(&mut s, 1, &["EXEC"]);
    let tx = delivered(&mut s, 2);
    assert!(tx.starts_with("*1\r\n$5\r\nMULTI\r\n") && tx.ends_with("*1\r\n$4\r\nEXEC\r\n"), "{tx}");
    assert_eq!(s.repl().offset as usize, 1 + during.len() + tx.len());
    // No reply to an acknowledgement; the offset is kept.
    assert_eq!(run(&mut s, 2, &["REPLCONF", "ACK", "5"]), "");
    assert_eq!(s.repl().info(0)[0].ack_offset, 5);
    let aof = String::from_utf8_lossy(&s.take_aof_stream()).into_owned();
    assert!(aof.contains("$1\r\na\r\n$1\r\n1\r\n") && aof.ends_with(&tx), "{aof}");
}
