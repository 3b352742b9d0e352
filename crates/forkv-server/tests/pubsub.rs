//! Pub/sub through the server as a client sees it: bytes in, replies and deliveries out.

use forkv_engine::Outcome;
use forkv_server::Server;
use forkv_test_support::command as cmd;

/// Feeds one command and returns the replies it produced.
fn run(s: &mut Server, id: u64, args: &[&str]) -> (Outcome, String) {
    let outcome = s.feed(id, &cmd(args));
    let reply = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    (outcome, reply)
}

fn server(clients: &[u64]) -> Server {
    let mut s = Server::new(16);
    for &c in clients {
        s.add_client(c);
    }
    s
}

fn deliveries(s: &mut Server) -> Vec<(u64, String)> {
    s.take_deliveries().into_iter().map(|(id, b)| (id, String::from_utf8_lossy(&b).into_owned())).collect()
}

#[test]
fn publish_delivers_to_channel_then_pattern_subscribers() {
    let mut s = server(&[1, 2, 3]);
    let (o, r) = run(&mut s, 1, &["SUBSCRIBE", "news", "sport"]);
    assert_eq!(o, Outcome::Done);
    assert_eq!(r, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n");
    assert_eq!(run(&mut s, 3, &["PSUBSCRIBE", "n*s"]).1, "*3\r\n$10\r\npsubscribe\r\n$3\r\nn*s\r\n:1\r\n");
    assert!(!s.has_deliveries());
    assert_eq!(run(&mut s, 2, &["PUBLISH", "news", "hi"]), (Outcome::Done, ":2\r\n".to_string()));
    assert!(s.has_deliveries());
    assert_eq!(
        deliveries(&mut s),
        vec![
            (1, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n".to_string()),
            (3, "*4\r\n$8\r\npmessage\r\n$3\r\nn*s\r\n$4\r\nnews\r\n$2\r\nhi\r\n".to_string()),
        ]
    );
    assert!(!s.has_deliveries());
    assert_eq!(run(&mut s, 2, &["PUBLISH", "nobody", "x"]).1, ":0\r\n");
    assert!(!s.has_deliveries());
}

#[test]
fn resp2_subscribed_mode_gate_follows_the_registry() {
    let mut s = server(&[1]);
    run(&mut s, 1, &["SUBSCRIBE", "c"]);
    let (_, r) = run(&mut s, 1, &["GET", "k"]);
    assert!(r.starts_with("-ERR Can't execute 'get'"), "{r}");
    assert_eq!(run(&mut s, 1, &["UNSUBSCRIBE"]).1, "*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n");
    // Out of subscribed mode, Valkey 8 refuses the unsubscribe commands.
    assert_eq!(run(&mut s, 1, &["UNSUBSCRIBE"]).1, "-NOSUB 'unsubscribe' command executed not in subscribed mode\r\n");
    assert_eq!(run(&mut s, 1, &["GET", "k"]).1, "$-1\r\n");
}

#[test]
fn resp3_message_to_oneself_follows_the_publish_reply() {
    let mut s = server(&[1]);
    s.engine.client_mut(1).expect("client").proto = 3;
    run(&mut s, 1, &["SUBSCRIBE", "r3"]);
    let (_, r) = run(&mut s, 1, &["PUBLISH", "r3", "self"]);
    // As valkey-server 8.0.1: the reply, then the message (pending push messages).
    assert_eq!(r, ":1\r\n>3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$4\r\nself\r\n");
    assert!(!s.has_deliveries());
}

#[test]
fn shard_channels_are_a_separate_namespace() {
    let mut s = server(&[1, 2]);
    assert_eq!(run(&mut s, 1, &["SSUBSCRIBE", "x"]).1, "*3\r\n$10\r\nssubscribe\r\n$1\r\nx\r\n:1\r\n");
    assert_eq!(run(&mut s, 2, &["PUBLISH", "x", "m"]).1, ":0\r\n");
    assert_eq!(run(&mut s, 2, &["SPUBLISH", "x", "m"]).1, ":1\r\n");
    assert_eq!(deliveries(&mut s), vec![(1, "*3\r\n$8\r\nsmessage\r\n$1\r\nx\r\n$1\r\nm\r\n".to_string())]);
    assert_eq!(run(&mut s, 2, &["PUBSUB", "SHARDCHANNELS"]).1, "*1\r\n$1\r\nx\r\n");
    assert_eq!(run(&mut s, 2, &["PUBSUB", "SHARDNUMSUB", "x", "y"]).1, "*4\r\n$1\r\nx\r\n:1\r\n$1\r\ny\r\n:0\r\n");
}

#[test]
fn closing_a_client_drops_its_subscriptions_and_pending_messages() {
    let mut s = server(&[1, 2]);
    run(&mut s, 1, &["SUBSCRIBE", "a"]);
    run(&mut s, 1, &["PSUBSCRIBE", "*"]);
    run(&mut s, 2, &["PUBLISH", "a", "m"]);
    assert!(s.has_deliveries());
    s.remove_client(1);
    assert!(!s.has_deliveries());
    assert_eq!(s.pubsub().stats(), Default::default());
    assert_eq!(run(&mut s, 2, &["PUBLISH", "a", "m"]).1, ":0\r\n");
    assert_eq!(run(&mut s, 2, &["PUBSUB", "NUMPAT"]).1, ":0\r\n");
}

#[test]
fn publish_inside_multi_exec_delivers_and_replies_in_order() {
    let mut s = server(&[1, 2]);
    run(&mut s, 1, &["SUBSCRIBE", "t"]);
    run(&mut s, 2, &["MULTI"]);
    assert_eq!(run(&mut s, 2, &["PUBLISH", "t", "one"]).1, "+QUEUED\r\n");
    run(&mut s, 2, &["SET", "k", "v"]);
    assert_eq!(run(&mut s, 2, &["EXEC"]), (Outcome::Done, "*2\r\n:1\r\n+OK\r\n".to_string()));
    assert_eq!(deliveries(&mut s), vec![(1, "*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$3\r\none\r\n".to_string())]);
}

#[test]
fn pipelined_publishes_and_host_commands_keep_their_order() {
    let mut s = server(&[1, 2]);
    run(&mut s, 1, &["SUBSCRIBE", "p"]);
    let mut input = cmd(&["PUBLISH", "p", "1"]);
    input.extend(cmd(&["CONFIG", "GET", "x"]));
    input.extend(cmd(&["PUBLISH", "p", "2"]));
    // The server's own command runs in place; CONFIG is the host's.
    let Outcome::Host(argv) = s.feed(2, &input) else {
        panic!("CONFIG goes to the host");
    };
    assert_eq!(argv[0], b"CONFIG");
    assert_eq!(s.engine.reply(), b":1\r\n");
    s.engine.clear_reply();
    assert_eq!(s.resume(2, b"*0\r\n"), Outcome::Done);
    assert_eq!(s.engine.reply(), b"*0\r\n:1\r\n");
    s.engine.clear_reply();
    let d = deliveries(&mut s);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, "*3\r\n$7\r\nmessage\r\n$1\r\np\r\n$1\r\n1\r\n*3\r\n$7\r\nmessage\r\n$1\r\np\r\n$1\r\n2\r\n");
}
