//! The busy state over an engine whose "sockets" are scripted byte streams.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::testkit::cmd;

type Log = Rc<RefCell<Vec<(u64, Vec<u8>)>>>;

/// Plays one prepared read per hook call and records what each client got.
struct Scripted {
    reads: Vec<(u64, Vec<u8>)>,
    got: Log,
}

impl BusyEvents for Scripted {
    fn process(&mut self, e: &mut Engine) {
        if self.reads.is_empty() {
            return;
        }
        let (id, bytes) = self.reads.remove(0);
        if !e.busy_may_read(id) {
            self.got.borrow_mut().push((id, b"<not read>".to_vec()));
            return;
        }
        let fed = e.feed_busy(id, &bytes);
        self.got.borrow_mut().push((id, fed.reply));
    }
}


fn engine(reads: Vec<(u64, Vec<u8>)>) -> (Engine, Log) {
    let mut e = Engine::new(16);
    e.cfg.busy_reply_threshold_ms = 1;
    e.add_client(1);
    e.add_client(2);
    let got: Log = Rc::default();
    e.set_busy_events(Box::new(Scripted { reads, got: got.clone() }));
    (e, got)
}

fn reply_of(e: &mut Engine, id: u64, input: &[u8]) -> (Outcome, String) {
    e.clear_reply();
    let outcome = e.feed(id, input);
    (outcome, String::from_utf8_lossy(e.reply()).into_owned())
}

fn text(got: &Log) -> Vec<(u64, String)> {
    got.borrow().iter().map(|(id, r)| (*id, String::from_utf8_lossy(r).into_owned())).collect()
}

#[test]
fn a_busy_script_refuses_others_and_script_kill_stops_it() {
    let (mut e, got) = engine(vec![(1, cmd(&["PING"])), (2, cmd(&["PING"])), (2, cmd(&["SCRIPT", "KILL"]))]);
    let (outcome, reply) = reply_of(&mut e, 1, &cmd(&["EVAL", "while true do end", "0"]));
    assert_eq!(outcome, Outcome::Done);
    assert!(reply.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "), "{reply}");
    assert_eq!(
        text(&got),
        vec![
            (1, "<not read>".to_string()),
            (2, format!("-{BUSY_EVAL}\r\n")),
            (2, "+OK\r\n".to_string()),
        ]
    );
    assert!(!e.is_busy());
    let (_, idle) = reply_of(&mut e, 2, &cmd(&["SCRIPT", "KILL"]));
    assert_eq!(idle, "-NOTBUSY No scripts in execution right now.\r\n");
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_ends_it() {
    let mut pipeline = cmd(&["SHUTDOWN", "NOSAVE"]);
    pipeline.extend_from_slice(&cmd(&["PING"]));
    let (mut e, got) = engine(vec![(2, cmd(&["SCRIPT", "KILL"])), (2, cmd(&["SHUTDOWN"])), (2, pipeline)]);
    e.set_propagation(true);
    let (outcome, reply) = reply_of(&mut e, 1, &cmd(&["EVAL", "server.call('set','x','1') while true do end", "0"]));
    let got = text(&got);
    assert!(got[0].1.starts_with("-UNKILLABLE Sorry the script already executed write commands"), "{got:?}");
    assert_eq!(got[1].1, format!("-{BUSY_EVAL}\r\n"));
    assert_eq!(got[2].1, "");
    // The caller gets nothing and is closed; the SHUTDOWN waits, in order, for the host.
    assert_eq!((outcome, reply.as_str()), (Outcome::Close, ""));
    assert_eq!(e.take_woken(), vec![2]);
    assert_eq!(e.client(2).map(|c| c.query_buffer_len()), Some(cmd(&["SHUTDOWN", "NOSAVE"]).len() + cmd(&["PING"]).len()));
    assert!(e.prop.pending().is_empty(), "the killed script's write is not propagated");
}

#[test]
fn partial_input_read_while_busy_stays_for_the_normal_path() {
    let kill = cmd(&["SCRIPT", "KILL"]);
    let (head, tail) = kill.split_at(9);
    let mut rest = tail.to_vec();
    rest.extend_from_slice(b"*1\r\n$4\r\nPI");
    let (mut e, got) = engine(vec![(2, head.to_vec()), (2, rest)]);
    let (_, reply) = reply_of(&mut e, 1, &cmd(&["EVAL", "while true do end", "0"]));
    assert!(reply.starts_with("-ERR Script killed"), "{reply}");
    assert_eq!(text(&got), vec![(2, String::new()), (2, "+OK\r\n".to_string())]);
    // The `*1` and `$4` headers are parsed (as Valkey's qbuf counts): "PI" is left.
    assert_eq!(e.client(2).map(|c| c.query_buffer_len()), Some(2));
    let (_, pong) = reply_of(&mut e, 2, b"NG\r\n");
    assert_eq!(pong, "+PONG\r\n");
}

#[test]
fn function_kill_and_stats_while_a_function_is_busy() {
    let (mut e, got) = engine(vec![
        (2, cmd(&["SCRIPT", "KILL"])),
        (2, cmd(&["FUNCTION", "STATS"])),
        (2, cmd(&["PING"])),
        (2, cmd(&["FUNCTION", "KILL"])),
    ]);
    let (_, loaded) = reply_of(&mut e, 1, &cmd(&["FUNCTION", "LOAD", "#!lua name=lib\nserver.register_function('spin', function() while true do end end)"]));
    assert_eq!(loaded, "$3\r\nlib\r\n");
    let (_, reply) = reply_of(&mut e, 1, &cmd(&["FCALL", "spin", "0"]));
    assert!(reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{reply}");
    let got = text(&got);
    assert_eq!(got[0].1, format!("-{BUSY_FUNCTION}\r\n"));
    assert!(got[1].1.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"), "{}", got[1].1);
    assert_eq!(got[2].1, format!("-{BUSY_FUNCTION}\r\n"));
    assert_eq!(got[3].1, "+OK\r\n");
}

#[test]
fn below_the_threshold_nothing_is_served() {
    let (mut e, got) = engine(vec![(2, cmd(&["PING"]))]);
    e.cfg.busy_reply_threshold_ms = 60_000;
    let (_, reply) = reply_of(&mut e, 1, &cmd(&["EVAL", "for i = 1, 300000 do end return 1", "0"]));
    assert_eq!(reply, ":1\r\n");
    assert!(got.borrow().is_empty());
}

#[test]
fn auth_runs_while_busy_and_unlocks_the_client() {
    let (mut e, got) = engine(vec![
        (3, cmd(&["PING"])),
        (3, cmd(&["AUTH", "wrong"])),
        (3, cmd(&["AUTH", "default", "secret"])),
        (3, cmd(&["AUTH", "a", "b", "c"])),
        (3, cmd(&["PING"])),
        (3, cmd(&["SCRIPT", "KILL"])),
    ]);
    e.acl.set_requirepass(b"secret");
    e.add_client(3);
    e.acl_auth(1, None, b"secret").expect("the caller authenticates");
    let (_, reply) = reply_of(&mut e, 1, &cmd(&["EVAL", "while true do end", "0"]));
    assert!(reply.starts_with("-ERR Script killed"), "{reply}");
    let got: Vec<String> = text(&got).into_iter().map(|(_, r)| r).collect();
    assert_eq!(got[0], format!("-{}\r\n", crate::errors::NOAUTH));
    assert!(got[1].starts_with("-WRONGPASS"), "{}", got[1]);
    assert_eq!(got[2], "+OK\r\n");
    assert_eq!(got[3], "-ERR syntax error\r\n");
    assert_eq!(got[4], format!("-{BUSY_EVAL}\r\n"));
    assert_eq!(got[5], "+OK\r\n");
    assert_eq!(e.client(3).map(|c| c.authenticated), Some(true));
}

#[test]
fn hello_and_reset_run_while_busy_and_are_reported_to_the_host() {
    let (mut e, got) = engine(vec![
        (2, cmd(&["HELLO", "3", "SETNAME", "n1"])),
        (2, cmd(&["HELLO", "x"])),
        (2, cmd(&["HELLO", "2", "SETNAME", "a b"])),
        (2, cmd(&["HELLO", "3", "FOO"])),
        (2, cmd(&["SELECT", "1"])),
        (2, cmd(&["RESET"])),
        (2, cmd(&["SCRIPT", "KILL"])),
    ]);
    let (_, reply) = reply_of(&mut e, 1, &cmd(&["EVAL", "while true do end", "0"]));
    assert!(reply.starts_with("-ERR Script killed"), "{reply}");
    let got: Vec<String> = text(&got).into_iter().map(|(_, r)| r).collect();
    assert!(got[0].starts_with("%7\r\n$6\r\nserver\r\n$6\r\nvalkey\r\n$7\r\nversion\r\n$5\r\n8.0.1\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:2\r\n"), "{}", got[0]);
    assert_eq!(got[1], "-ERR Protocol version is not an integer or out of range\r\n");
    assert_eq!(got[2], "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    assert_eq!(got[3], "-ERR Syntax error in HELLO option 'FOO'\r\n");
    assert_eq!(got[4], format!("-{BUSY_EVAL}\r\n"));
    assert_eq!(got[5], "+RESET\r\n");
    assert_eq!(e.take_busy_client_changes(), vec![2]);
    let c = e.client(2).expect("client 2");
    assert_eq!((c.proto, c.name.as_str(), c.db), (2, "", 0));
}
