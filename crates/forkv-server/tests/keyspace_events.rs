//! Keyspace notifications as a subscriber sees them: the events a command raises are
//! published after it, in order, on the keyspace and keyevent channels; from EXEC, from
//! `Server::call` (scripts) and from the active expire cycle too.

use forkv_keyspace::notify;
use forkv_server::Server;
use forkv_test_support::command as cmd;


fn run(s: &mut Server, id: u64, args: &[&str]) -> String {
    s.feed(id, &cmd(args));
    let reply = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    reply
}

/// Client 1 subscribed to every channel (pattern `*`), client 2 the writer.
fn server(flags: u32) -> Server {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    s.engine.ks.notify.set_flags(flags);
    run(&mut s, 1, &["PSUBSCRIBE", "*"]);
    s
}

/// The (channel, message) pairs delivered to the subscriber.
fn events(s: &mut Server) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, bytes) in s.take_deliveries() {
        assert_eq!(id, 1);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // *4 pmessage * <channel> <message>: bulk payloads are every other line from 6 on.
        let lines: Vec<&str> = text.split("\r\n").collect();
        for msg in lines.chunks(9).filter(|m| m.len() == 9) {
            out.push((msg[6].to_string(), msg[8].to_string()));
        }
    }
    out
}

fn pair(c: &str, m: &str) -> (String, String) {
    (c.to_string(), m.to_string())
}

#[test]
fn keyspace_then_keyevent_in_command_order() {
    let mut s = server(notify::KEYSPACE | notify::KEYEVENT | notify::ALL);
    run(&mut s, 2, &["LPUSH", "l", "a"]);
    run(&mut s, 2, &["LPOP", "l"]);
    assert_eq!(
        events(&mut s),
        vec![
            pair("__keyspace@0__:l", "lpush"),
            pair("__keyevent@0__:lpush", "l"),
            pair("__keyspace@0__:l", "lpop"),
            pair("__keyevent@0__:lpop", "l"),
            pair("__keyspace@0__:l", "del"),
            pair("__keyevent@0__:del", "l"),
        ]
    );
}

#[test]
fn classes_mask_events_and_new_is_opt_in() {
    let mut s = server(notify::KEYEVENT | notify::LIST | notify::NEW);
    run(&mut s, 2, &["SET", "k", "v"]);
    run(&mut s, 2, &["RPUSH", "l", "a"]);
    run(&mut s, 2, &["RPUSH", "l", "b"]);
    assert_eq!(
        events(&mut s),
        vec![pair("__keyevent@0__:new", "k"), pair("__keyevent@0__:new", "l"), pair("__keyevent@0__:rpush", "l"), pair("__keyevent@0__:rpush", "l")]
    );
}

#[test]
fn events_from_exec_and_from_call() {
    let mut s = server(notify::KEYEVENT | notify::ALL);
    run(&mut s, 2, &["SELECT", "3"]);
    run(&mut s, 2, &["MULTI"]);
    run(&mut s, 2, &["SET", "a", "1"]);
    run(&mut s, 2, &["INCR", "a"]);
    run(&mut s, 2, &["EXEC"]);
    assert_eq!(events(&mut s), vec![pair("__keyevent@3__:set", "a"), pair("__keyevent@3__:incrby", "a")]);
    let reply = s.call(2, &[b"HSET", b"h", b"f", b"v"]).expect("client 2 exists");
    assert_eq!(reply, b":1\r\n");
    assert_eq!(events(&mut s), vec![pair("__keyevent@3__:hset", "h")]);
}

#[test]
fn active_expiry_raises_expired() {
    let mut s = server(notify::KEYEVENT | notify::EXPIRED);
    run(&mut s, 2, &["SET", "gone", "v", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.cron(std::time::Duration::from_millis(50), false);
    assert_eq!(events(&mut s), vec![pair("__keyevent@0__:expired", "gone")]);
}
