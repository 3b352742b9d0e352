//! `Server::call`: one command run synchronously for a client, as a script calls one.

use forkv_server::{CallError, Server};

fn reply(s: &mut Server, id: u64, argv: &[&str]) -> String {
    let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    String::from_utf8_lossy(&s.call(id, &args).expect("client exists")).into_owned()
}

#[test]
fn runs_data_commands_and_returns_their_reply_only() {
    let mut s = Server::new(16);
    s.add_client(7);
    assert_eq!(reply(&mut s, 7, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(reply(&mut s, 7, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(reply(&mut s, 7, &["INCR", "k"]), "-ERR value is not an integer or out of range\r\n");
    // Nothing leaks into the client's own reply stream.
    assert!(s.engine.reply().is_empty());
    assert_eq!(s.call(99, &[b"PING"]), Err(CallError::NoClient));
}

#[test]
fn publish_from_a_call_reaches_subscribers() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    s.feed(1, b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n");
    s.engine.clear_reply();
    assert_eq!(reply(&mut s, 2, &["PUBLISH", "c", "from-script"]), ":1\r\n");
    let d = s.take_deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, 1);
    assert_eq!(d[0].1, b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$11\r\nfrom-script\r\n");
    assert_eq!(reply(&mut s, 2, &["PUBSUB", "NUMSUB", "c"]), "*2\r\n$1\r\nc\r\n:1\r\n");
}

#[test]
fn a_message_to_the_calling_client_follows_the_reply_of_the_command_it_runs_in() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.engine.client_mut(1).expect("client").proto = 3;
    s.feed(1, b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n");
    s.engine.clear_reply();
    // Not in the call's reply, nor before the reply of the command the call is part of.
    assert_eq!(reply(&mut s, 1, &["PUBLISH", "c", "m"]), ":1\r\n");
    assert!(s.engine.reply().is_empty());
    // The next top-level command to end (here a PING standing for it) is followed by it.
    s.feed(1, b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(s.engine.reply(), b"+PONG\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n");
    assert!(!s.has_deliveries());
}

#[test]
fn blocking_commands_do_not_block_and_host_commands_are_refused() {
    let mut s = Server::new(16);
    s.add_client(1);
    assert_eq!(reply(&mut s, 1, &["BLPOP", "nolist", "0"]), "*-1\r\n");
    assert!(!s.engine.client(1).expect("client").is_blocked());
    assert!(!s.engine.client(1).expect("client").nonblocking_call);
    let r = reply(&mut s, 1, &["CONFIG", "GET", "port"]);
    assert!(r.starts_with("-ERR 'config' command is not available"), "{r}");
    // The client is not left suspended: its next input runs.
    s.feed(1, b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(s.engine.reply(), b"+PONG\r\n");
}
