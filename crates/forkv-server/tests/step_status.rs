//! The status byte of the data path: the step, and the bits for what else waits for the
//! host (woken clients, a FLUSHALL, log lines, deliveries).

use forkv_server::step_status::{BLOCKED, DELIVER, DONE, FLUSHED_ALL, HOST, WOKEN};
use forkv_server::Server;
use forkv_test_support::command;

fn feed(s: &mut Server, id: u64, args: &[&str]) -> (u8, Option<Vec<Vec<u8>>>) {
    let outcome = s.feed(id, &command(args));
    s.engine.clear_reply();
    s.step_status(outcome)
}

#[test]
fn each_step_and_bit_reads_as_the_host_expects() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    assert_eq!(feed(&mut s, 1, &["SET", "k", "v"]), (DONE, None));
    // A host command hands its argv over, named as the table names it.
    assert_eq!(feed(&mut s, 1, &["SAVE"]), (HOST, Some(vec![b"save".to_vec()])));
    s.resume(1, b"+OK\r\n");
    s.engine.clear_reply();
    // A FLUSHALL is reported once.
    assert_eq!(feed(&mut s, 1, &["FLUSHALL"]).0, DONE | FLUSHED_ALL);
    assert_eq!(feed(&mut s, 1, &["PING"]).0, DONE);
    // A blocked client, then the write that serves it wakes it.
    assert_eq!(feed(&mut s, 2, &["BLPOP", "l", "0"]).0, BLOCKED);
    assert_eq!(feed(&mut s, 1, &["RPUSH", "l", "a"]).0 & WOKEN, WOKEN);
    assert_eq!(s.engine.take_woken(), vec![2]);
    // A message for another client waits for delivery.
    s.add_client(3);
    assert_eq!(feed(&mut s, 3, &["SUBSCRIBE", "ch"]).0 & DELIVER, 0);
    assert_eq!(feed(&mut s, 1, &["PUBLISH", "ch", "m"]).0, DONE | DELIVER);
}
