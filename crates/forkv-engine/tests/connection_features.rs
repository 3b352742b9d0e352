//! Transactions, blocked clients and the subscribed-mode gate, driven through the
//! engine's public entry points (feed/resume/wake) with several clients, as the host
//! drives them.

use forkv_engine::{Engine, Outcome};

/// A command in RESP.
fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Feeds commands to a client; returns what it got and the outcome.
fn send(e: &mut Engine, id: u64, cmds: &[&[&str]]) -> (String, Outcome) {
    let input: Vec<u8> = cmds.iter().flat_map(|c| cmd(c)).collect();
    let outcome = e.feed(id, &input);
    let reply = String::from_utf8_lossy(e.reply()).into_owned();
    e.clear_reply();
    (reply, outcome)
}

fn wake(e: &mut Engine, id: u64) -> (String, Outcome) {
    let outcome = e.wake(id);
    let reply = String::from_utf8_lossy(e.reply()).into_owned();
    e.clear_reply();
    (reply, outcome)
}

fn engine(clients: &[u64]) -> Engine {
    let mut e = Engine::new(16);
    for &id in clients {
        e.add_client(id);
    }
    e
}

#[test]
fn queued_commands_run_at_exec_and_errors_inside_do_not_abort() {
    let mut e = engine(&[1]);
    let (r, _) = send(&mut e, 1, &[&["MULTI"], &["SET", "a", "x"], &["INCR", "a"], &["GET", "a"], &["EXEC"]]);
    assert_eq!(
        r,
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n$1\r\nx\r\n"
    );
}

#[test]
fn a_queuing_error_aborts_and_transaction_errors_match_valkey() {
    let mut e = engine(&[1]);
    let (r, _) = send(&mut e, 1, &[&["MULTI"], &["SET", "a"], &["NOPE"], &["EXEC"], &["GET", "a"]]);
    assert_eq!(
        r,
        "+OK\r\n-ERR wrong number of arguments for 'set' command\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n"
    );
    let (r, _) = send(&mut e, 1, &[&["EXEC"], &["DISCARD"], &["MULTI"], &["MULTI"], &["WATCH", "k"], &["EXEC"]]);
    assert_eq!(
        r,
        "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n-ERR Command not allowed inside a transaction\r\n\
         -ERR Command not allowed inside a transaction\r\n-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}

#[test]
fn watch_fails_on_a_touch_by_another_client() {
    let mut e = engine(&[1, 2]);
    send(&mut e, 1, &[&["WATCH", "k"], &["MULTI"], &["SET", "k", "mine"]]);
    send(&mut e, 2, &[&["SET", "k", "theirs"]]);
    let (r, _) = send(&mut e, 1, &[&["EXEC"], &["GET", "k"]]);
    assert_eq!(r, "*-1\r\n$6\r\ntheirs\r\n");
    // Watches end with EXEC: the next transaction runs.
    let (r, _) = send(&mut e, 1, &[&["MULTI"], &["SET", "k", "mine"], &["EXEC"]]);
    assert_eq!(r, "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
}

#[test]
fn a_host_command_inside_exec_runs_in_order() {
    let mut e = engine(&[1]);
    let (r, out) = send(&mut e, 1, &[&["MULTI"], &["SET", "a", "1"], &["CONFIG", "GET", "x"], &["GET", "a"], &["EXEC"], &["PING"]]);
    assert_eq!(r, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n");
    assert_eq!(out, Outcome::Host(vec![b"CONFIG".to_vec(), b"GET".to_vec(), b"x".to_vec()]));
    let out = e.resume(1, b"*0\r\n");
    assert_eq!(out, Outcome::Done);
    assert_eq!(e.reply(), b"*0\r\n$1\r\n1\r\n+PONG\r\n");
}

#[test]
fn transactions_are_propagated_wrapped_when_they_write_more_than_once() {
    let mut e = engine(&[1]);
    e.prop.enabled = true;
    send(&mut e, 1, &[&["MULTI"], &["SET", "a", "1"], &["GET", "a"], &["SET", "b", "2"], &["EXEC"]]);
    let log = String::from_utf8(e.prop.take()).unwrap_or_default();
    assert_eq!(
        log,
        "*1\r\n$5\r\nMULTI\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
         *3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*1\r\n$4\r\nEXEC\r\n"
    );
    // One write: atomic by itself, no wrapping. Reads only: nothing at all.
    send(&mut e, 1, &[&["MULTI"], &["SET", "c", "3"], &["EXEC"], &["MULTI"], &["GET", "c"], &["EXEC"]]);
    assert_eq!(e.prop.take(), cmd(&["SET", "c", "3"]));
}

#[test]
fn subscribed_resp2_clients_are_restricted_and_ping_answers_in_push_shape() {
    let mut e = engine(&[1]);
    if let Some(c) = e.client_mut(1) {
        c.pubsub = true;
    }
    let (r, _) = send(&mut e, 1, &[&["GET", "a"], &["PING"], &["PING", "hi"]]);
    assert_eq!(
        r,
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n\
         *2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    );
    let (_, out) = send(&mut e, 1, &[&["SUBSCRIBE", "ch"]]);
    assert!(matches!(out, Outcome::Host(_)));
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let mut e = engine(&[1, 2, 3, 4]);
    for id in 1..=3 {
        let (r, out) = send(&mut e, id, &[&["BLPOP", "q", "0"]]);
        assert_eq!((r.as_str(), &out), ("", &Outcome::Blocked));
    }
    // Pipelined input of a blocked client waits.
    assert_eq!(send(&mut e, 2, &[&["PING"]]), (String::new(), Outcome::Done));
    let (r, _) = send(&mut e, 4, &[&["RPUSH", "q", "a", "b"], &["LLEN", "q"]]);
    assert_eq!(r, ":2\r\n:0\r\n");
    assert_eq!(e.take_woken(), vec![1, 2]);
    assert_eq!(wake(&mut e, 1).0, "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(wake(&mut e, 2).0, "*2\r\n$1\r\nq\r\n$1\r\nb\r\n+PONG\r\n");
    // The third still waits; a timeout answers a null array.
    assert_eq!(e.conn_stats().blocked_clients, 1);
    assert!(e.unblock(3, false));
    assert_eq!(e.take_woken(), vec![3]);
    assert_eq!(wake(&mut e, 3).0, "*-1\r\n");
}

#[test]
fn a_transaction_wakes_blocked_clients_after_it_completes() {
    let mut e = engine(&[1, 2]);
    e.prop.enabled = true;
    send(&mut e, 1, &[&["BRPOPLPUSH", "src", "dst", "0"]]);
    let (r, _) = send(&mut e, 2, &[&["MULTI"], &["LPUSH", "src", "x"], &["LLEN", "src"], &["EXEC"]]);
    // Inside EXEC the element is still there: the blocked client is served after it.
    assert_eq!(r, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n");
    assert_eq!(e.take_woken(), vec![1]);
    assert_eq!(wake(&mut e, 1).0, "$1\r\nx\r\n");
    // One write in the EXEC (not wrapped), then the served command as its
    // non-blocking form.
    let mut want = cmd(&["SELECT", "0"]);
    want.extend(cmd(&["LPUSH", "src", "x"]));
    want.extend(cmd(&["RPOPLPUSH", "src", "dst"]));
    assert_eq!(String::from_utf8_lossy(&e.prop.take()), String::from_utf8_lossy(&want));
}

#[test]
fn blocking_commands_inside_exec_answer_as_on_timeout() {
    let mut e = engine(&[1]);
    let (r, _) = send(
        &mut e,
        1,
        &[&["MULTI"], &["BLPOP", "l", "0"], &["BLMOVE", "l", "d", "LEFT", "LEFT", "0"], &["BZPOPMIN", "z", "0"], &["EXEC"]],
    );
    assert_eq!(r, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n*-1\r\n$-1\r\n*-1\r\n");
}

#[test]
fn sorted_set_pops_reply_with_the_key_and_client_unblock_error() {
    let mut e = engine(&[1, 2]);
    send(&mut e, 1, &[&["BZPOPMAX", "z1", "z2", "0"]]);
    send(&mut e, 2, &[&["ZADD", "z2", "1", "a", "2", "b"]]);
    assert_eq!(e.take_woken(), vec![1]);
    assert_eq!(wake(&mut e, 1).0, "*3\r\n$2\r\nz2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    send(&mut e, 1, &[&["BLMPOP", "0", "1", "l", "LEFT"]]);
    assert!(e.unblock(1, true));
    assert!(!e.unblock(1, true));
    e.take_woken();
    assert_eq!(wake(&mut e, 1).0, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
}

#[test]
fn a_key_of_the_wrong_type_does_not_wake_a_list_waiter() {
    let mut e = engine(&[1, 2]);
    send(&mut e, 1, &[&["BLPOP", "k", "0"]]);
    send(&mut e, 2, &[&["SET", "k", "string"]]);
    assert!(e.take_woken().is_empty());
    send(&mut e, 2, &[&["DEL", "k"], &["RPUSH", "k", "v"]]);
    assert_eq!(e.take_woken(), vec![1]);
    // A closed client is forgotten everywhere.
    send(&mut e, 1, &[&["BLPOP", "k2", "0"]]);
    e.remove_client(1);
    assert_eq!(e.conn_stats().blocked_clients, 0);
    assert_eq!(e.conn_stats().total_blocking_keys, 0);
}

#[test]
fn the_disk_error_refuses_ping_too_and_comes_before_noreplicas() {
    use forkv_engine::write_gate::DiskError;
    let mut e = engine(&[1]);
    e.cfg.write_gate.too_few_replicas = true;
    let (r, _) = send(&mut e, 1, &[&["PING"], &["SET", "a", "1"], &["GET", "a"]]);
    assert_eq!(r, "+PONG\r\n-NOREPLICAS Not enough good replicas to write.\r\n$-1\r\n");
    // Valkey's processCommand refuses PING too while writes cannot be persisted.
    e.cfg.write_gate.disk = Some(DiskError::Aof("No space left on device".into()));
    let misconf = "-MISCONF Errors writing to the AOF file: No space left on device\r\n";
    let (r, _) = send(&mut e, 1, &[&["PING"], &["SET", "a", "1"], &["GET", "a"]]);
    assert_eq!(r, format!("{misconf}{misconf}$-1\r\n"));
    // Queued, PING flags the transaction as a write does.
    let (r, _) = send(&mut e, 1, &[&["MULTI"], &["PING"], &["EXEC"]]);
    assert_eq!(r, format!("+OK\r\n{misconf}-EXECABORT Transaction discarded because of previous errors.\r\n"));
    e.cfg.write_gate = Default::default();
    let (r, _) = send(&mut e, 1, &[&["PING"], &["SET", "a", "1"]]);
    assert_eq!(r, "+PONG\r\n+OK\r\n");
}

#[test]
fn misconf_refuses_queued_writes_and_aborts_exec_with_the_reason() {
    let mut e = engine(&[1]);
    let misconf = forkv_engine::errors::MISCONF;
    send(&mut e, 1, &[&["MULTI"], &["SET", "a", "1"], &["GET", "a"]]);
    // The disk broke after queuing: EXEC itself counts as a write.
    e.cfg.write_gate.disk = Some(forkv_engine::write_gate::DiskError::Rdb);
    let (r, _) = send(&mut e, 1, &[&["EXEC"], &["MULTI"], &["SET", "a", "1"], &["EXEC"]]);
    assert_eq!(
        r,
        format!("-EXECABORT Transaction discarded because of: {misconf}\r\n+OK\r\n-{misconf}\r\n-EXECABORT Transaction discarded because of previous errors.\r\n")
    );
    // Reads still run.
    let (r, _) = send(&mut e, 1, &[&["MULTI"], &["GET", "a"], &["EXEC"]]);
    assert_eq!(r, "+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n");
}
