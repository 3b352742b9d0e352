//! The propagation stream as Valkey writes it: expired keys produce a deletion (UNLINK
//! with `lazyfree-lazy-expire yes`, DEL otherwise), a command with more than one
//! operation is one MULTI/EXEC unit, SCAN/RANDOMKEY deletions go out bare, and the
//! active expire cycle propagates each key it deletes.

use std::time::Duration;

use forkv_server::Server;
use forkv_test_support::command as cmd;


fn run(s: &mut Server, args: &[&str]) -> String {
    s.feed(1, &cmd(args));
    let r = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    r
}

/// The stream since the last call, as commands (argv joined by spaces).
fn stream(s: &mut Server) -> Vec<String> {
    let bytes = s.take_aof_stream();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut out = Vec::new();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    while let Some(head) = lines.next() {
        let n: usize = head.trim_start_matches('*').parse().expect("multibulk header");
        let mut argv = Vec::new();
        for _ in 0..n {
            lines.next(); // $len
            argv.push(lines.next().expect("argument").to_string());
        }
        out.push(argv.join(" "));
    }
    out
}

fn server() -> Server {
    let mut s = Server::new(16);
    s.add_client(1);
    s.set_aof(true);
    s
}

/// Sets keys with a 1 ms TTL and lets them expire.
fn expired_keys(s: &mut Server, keys: &[&str]) {
    for k in keys {
        run(s, &["SET", k, "v", "PX", "1"]);
    }
    std::thread::sleep(Duration::from_millis(5));
    stream(s);
}

#[test]
fn a_read_that_finds_an_expired_key_propagates_only_its_deletion() {
    let mut s = server();
    expired_keys(&mut s, &["foo"]);
    assert_eq!(run(&mut s, &["GET", "foo"]), "$-1\r\n");
    run(&mut s, &["SET", "x", "1"]);
    assert_eq!(stream(&mut s), vec!["UNLINK foo", "SET x 1"]);
}

#[test]
fn with_lazyfree_lazy_expire_no_the_deletion_is_a_del() {
    let mut s = server();
    s.engine.ks.lazyfree.expire = false;
    expired_keys(&mut s, &["foo"]);
    run(&mut s, &["EXISTS", "foo"]);
    assert_eq!(stream(&mut s), vec!["DEL foo"]);
}

#[test]
fn a_write_with_a_lazy_deletion_is_wrapped_in_multi_exec() {
    let mut s = server();
    run(&mut s, &["SET", "a", "1"]);
    expired_keys(&mut s, &["k"]);
    assert_eq!(run(&mut s, &["DEL", "a", "k"]), ":1\r\n");
    assert_eq!(stream(&mut s), vec!["MULTI", "UNLINK k", "DEL a k", "EXEC"]);
}

#[test]
fn the_first_select_goes_inside_multi_and_is_not_repeated() {
    let mut s = server();
    run(&mut s, &["SELECT", "3"]);
    run(&mut s, &["SET", "a", "1"]);
    expired_keys(&mut s, &["k"]);
    // A new AOF file: the next unit must select its database.
    s.engine.prop.reset_db();
    run(&mut s, &["DEL", "a", "k"]);
    assert_eq!(stream(&mut s), vec!["MULTI", "SELECT 3", "UNLINK k", "DEL a k", "EXEC"]);
    run(&mut s, &["SET", "b", "2"]);
    assert_eq!(stream(&mut s), vec!["SET b 2"]);
}

#[test]
fn scan_and_randomkey_deletions_are_not_wrapped() {
    let mut s = server();
    expired_keys(&mut s, &["foo1", "foo2"]);
    run(&mut s, &["SCAN", "0"]);
    let mut got = stream(&mut s);
    got.sort();
    assert_eq!(got, vec!["UNLINK foo1", "UNLINK foo2"]);
    expired_keys(&mut s, &["bar1", "bar2"]);
    run(&mut s, &["RANDOMKEY"]);
    let got = stream(&mut s);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|c| c.starts_with("UNLINK bar")), "{got:?}");
}

#[test]
fn the_active_expire_cycle_propagates_each_key() {
    let mut s = server();
    expired_keys(&mut s, &["a", "b", "c"]);
    s.cron(Duration::from_millis(50), false);
    let mut got = stream(&mut s);
    got.sort();
    assert_eq!(got, vec!["UNLINK a", "UNLINK b", "UNLINK c"]);
    assert_eq!(run(&mut s, &["DBSIZE"]), ":0\r\n");
}

#[test]
fn multi_exec_wraps_the_transaction_and_its_deletions_once() {
    let mut s = server();
    expired_keys(&mut s, &["k"]);
    run(&mut s, &["MULTI"]);
    run(&mut s, &["GET", "k"]);
    run(&mut s, &["SET", "a", "1"]);
    run(&mut s, &["INCR", "n"]);
    assert_eq!(run(&mut s, &["EXEC"]), "*3\r\n$-1\r\n+OK\r\n:1\r\n");
    assert_eq!(stream(&mut s), vec!["MULTI", "UNLINK k", "SET a 1", "INCR n", "EXEC"]);
    // A single write stays bare; a read-only transaction leaves nothing.
    run(&mut s, &["MULTI"]);
    run(&mut s, &["SET", "b", "1"]);
    run(&mut s, &["EXEC"]);
    run(&mut s, &["MULTI"]);
    run(&mut s, &["GET", "b"]);
    run(&mut s, &["EXEC"]);
    assert_eq!(stream(&mut s), vec!["SET b 1"]);
}

#[test]
fn nothing_is_recorded_while_propagation_is_off() {
    let mut s = server();
    s.set_aof(false);
    expired_keys(&mut s, &["k"]);
    run(&mut s, &["GET", "k"]);
    s.cron(Duration::from_millis(10), false);
    assert!(!s.engine.ks.has_expired());
    assert!(stream(&mut s).is_empty());
}

#[test]
fn a_promoted_replica_starts_its_stream_with_a_select() {
    let mut s = server();
    run(&mut s, &["SELECT", "9"]);
    run(&mut s, &["SET", "a", "1"]);
    assert_eq!(stream(&mut s), vec!["SELECT 9", "SET a 1"]);
    // Replicas continuing with the new primary may be in any database (a former primary's
    // new link starts in db 0): the first write after the promotion selects again.
    let replid = s.repl().replid.clone();
    let offset = s.repl().offset;
    s.repl_promote(&replid, offset);
    run(&mut s, &["SET", "b", "2"]);
    assert_eq!(stream(&mut s), vec!["SELECT 9", "SET b 2"]);
}
