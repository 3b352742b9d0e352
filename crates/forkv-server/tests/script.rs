//! The server's own commands called from Lua (`redis.call`): they run through the runner
//! the server installs in the engine, with the same registry as clients' commands.

use forkv_server::Server;

/// RESP for one command.
fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Feeds one command and returns the replies it produced.
fn run(s: &mut Server, id: u64, args: &[&str]) -> String {
    s.feed(id, &cmd(args));
    let reply = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    reply
}

fn deliveries(s: &mut Server) -> Vec<(u64, String)> {
    s.take_deliveries().into_iter().map(|(id, b)| (id, String::from_utf8_lossy(&b).into_owned())).collect()
}

#[test]
fn publish_from_a_script_reaches_subscribers() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    run(&mut s, 1, &["SUBSCRIBE", "news"]);
    let reply = run(&mut s, 2, &["EVAL", "return redis.call('PUBLISH', KEYS[1], ARGV[1])", "1", "news", "hi"]);
    assert_eq!(reply, ":1\r\n");
    assert_eq!(deliveries(&mut s), vec![(1, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n".to_string())]);
    assert_eq!(run(&mut s, 2, &["EVAL", "return redis.call('PUBSUB', 'NUMSUB', 'news')", "0"]), "*2\r\n$4\r\nnews\r\n:1\r\n");
    assert_eq!(run(&mut s, 2, &["EVAL", "return redis.call('SPUBLISH', 'news', 'x')", "0"]), ":0\r\n");
}

#[test]
fn a_message_to_the_scripts_own_caller_precedes_the_script_reply() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.engine.client_mut(1).expect("client").proto = 3;
    run(&mut s, 1, &["SUBSCRIBE", "me"]);
    let reply = run(&mut s, 1, &["EVAL", "return redis.call('PUBLISH', 'me', 'hey')", "0"]);
    assert_eq!(reply, ">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$3\r\nhey\r\n:1\r\n");
    assert!(!s.has_deliveries());
}

#[test]
fn subscribing_from_a_script_is_refused() {
    let mut s = Server::new(16);
    s.add_client(1);
    let reply = run(&mut s, 1, &["EVAL", "return redis.call('SUBSCRIBE', 'c')", "0"]);
    assert!(reply.contains("This Redis command is not allowed from script"), "{reply}");
}
