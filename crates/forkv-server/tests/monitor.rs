//! MONITOR through the server as clients see it: every executed command becomes a line
//! in each monitoring client's deliveries, in Valkey's format and order.

use forkv_engine::Outcome;
use forkv_server::Server;
use forkv_test_support::command as cmd;


fn run(s: &mut Server, id: u64, args: &[&str]) -> (Outcome, String) {
    let outcome = s.feed(id, &cmd(args));
    let reply = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    (outcome, reply)
}

/// The lines delivered to `monitor`, without their timestamps.
fn lines(s: &mut Server, monitor: u64) -> Vec<String> {
    let mut out = Vec::new();
    for (id, bytes) in s.take_deliveries() {
        if id != monitor {
            continue;
        }
        for line in String::from_utf8_lossy(&bytes).split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.starts_with('+'), "{line}");
            let (stamp, rest) = line.split_once(' ').unwrap_or_default();
            let (sec, usec) = stamp[1..].split_once('.').unwrap_or_default();
            assert!(sec.parse::<u64>().is_ok() && usec.len() == 6, "{stamp}");
            out.push(rest.to_string());
        }
    }
    out
}

fn server() -> Server {
    let mut s = Server::new(16);
    for (id, peer) in [(1, "127.0.0.1:5001"), (2, "127.0.0.1:5002")] {
        s.add_client(id);
        if let Some(c) = s.engine.client_mut(id) {
            c.peer = peer.into();
        }
    }
    s
}

#[test]
fn monitor_sees_reads_writes_scripts_and_transactions_in_order() {
    let mut s = server();
    assert_eq!(run(&mut s, 2, &["MONITOR"]).1, "+OK\r\n");
    run(&mut s, 1, &["SET", "foo", "bar"]);
    run(&mut s, 1, &["GET", "foo"]);
    run(&mut s, 1, &["SELECT", "3"]);
    run(&mut s, 1, &["SET", "sp ace", "q\"\n"]);
    run(&mut s, 1, &["EVAL", "redis.call('set',KEYS[1],ARGV[1])", "1", "k", "v"]);
    run(&mut s, 1, &["MULTI"]);
    run(&mut s, 1, &["INCR", "n"]);
    run(&mut s, 1, &["EXEC"]);
    run(&mut s, 1, &["NOSUCHCOMMAND"]);
    assert_eq!(
        lines(&mut s, 2),
        [
            r#"[0 127.0.0.1:5001] "SET" "foo" "bar""#,
            r#"[0 127.0.0.1:5001] "GET" "foo""#,
            r#"[3 127.0.0.1:5001] "SELECT" "3""#,
            r#"[3 127.0.0.1:5001] "SET" "sp ace" "q\"\n""#,
            r#"[3 127.0.0.1:5001] "EVAL" "redis.call('set',KEYS[1],ARGV[1])" "1" "k" "v""#,
            r#"[3 lua] "set" "k" "v""#,
            r#"[3 127.0.0.1:5001] "MULTI""#,
            r#"[3 127.0.0.1:5001] "INCR" "n""#,
            r#"[3 127.0.0.1:5001] "EXEC""#,
        ]
    );
}

#[test]
fn admin_commands_are_hidden_and_secrets_redacted() {
    let mut s = server();
    run(&mut s, 2, &["MONITOR"]);
    // CONFIG and MONITOR are admin commands; AUTH and HELLO are handed to the host.
    let (o, _) = run(&mut s, 1, &["CONFIG", "SET", "requirepass", "secret"]);
    assert!(matches!(o, Outcome::Host(_)));
    s.resume(1, b"+OK\r\n");
    s.engine.clear_reply();
    run(&mut s, 1, &["MONITOR"]);
    let (o, _) = run(&mut s, 1, &["AUTH", "user", "pass"]);
    assert!(matches!(o, Outcome::Host(_)));
    s.resume(1, b"+OK\r\n");
    s.engine.clear_reply();
    assert_eq!(lines(&mut s, 2), [r#"[0 127.0.0.1:5001] "AUTH" "(redacted)" "(redacted)""#]);
}

#[test]
fn a_second_monitor_is_ignored_and_leaving_stops_the_feed() {
    let mut s = server();
    assert_eq!(run(&mut s, 2, &["MONITOR"]).1, "+OK\r\n");
    assert_eq!(run(&mut s, 2, &["MONITOR"]).1, "", "Valkey does not answer a second MONITOR");
    assert!(s.is_monitor(2));
    run(&mut s, 2, &["PING"]);
    assert_eq!(lines(&mut s, 2), [r#"[0 127.0.0.1:5002] "PING""#]);
    s.reset_monitor(2);
    assert!(!s.is_monitor(2));
    run(&mut s, 1, &["PING"]);
    assert!(lines(&mut s, 2).is_empty());
    assert!(!s.engine.monitor.is_on());
}
