//! A connection as CLIENT LIST sees it through the server: its database, transaction,
//! subscriptions and tracking, and what the host sets on it.

use forkv_server::Server;
use forkv_test_support::command;

fn run(s: &mut Server, id: u64, args: &[&str]) {
    s.feed(id, &command(args));
    s.engine.clear_reply();
}

#[test]
fn the_view_follows_the_connection() {
    let mut s = Server::new(16);
    assert_eq!(s.client_view(1), None);
    s.add_client(1);
    let v = s.client_view(1).expect("registered");
    assert_eq!((v.db, v.proto, v.multi, v.sub, v.redir, v.authenticated), (0, 2, -1, 0, -1, true));
    run(&mut s, 1, &["SELECT", "3"]);
    run(&mut s, 1, &["WATCH", "k"]);
    run(&mut s, 1, &["MULTI"]);
    run(&mut s, 1, &["SET", "k", "v"]);
    let v = s.client_view(1).expect("registered");
    assert_eq!((v.db, v.multi, v.watch, v.last_cmd), (3, 1, 1, "set"));
    assert!(v.multi_mem > 0);
    run(&mut s, 1, &["DISCARD"]);
    run(&mut s, 1, &["SUBSCRIBE", "a", "b"]);
    run(&mut s, 1, &["PSUBSCRIBE", "p*"]);
    let v = s.client_view(1).expect("registered");
    assert_eq!((v.sub, v.psub, v.ssub, v.multi), (2, 1, 0, -1));

    s.add_client(2);
    run(&mut s, 2, &["CLIENT", "TRACKING", "ON", "BCAST"]);
    let v = s.client_view(2).expect("registered");
    assert_eq!((v.tracking, v.tracking_bcast, v.redir), (true, true, 0));
    s.set_client_proto(2, 3);
    s.set_client_db(2, 5);
    s.set_client_info(2, true, false, "127.0.0.1:5000".into(), false);
    let v = s.client_view(2).expect("registered");
    assert_eq!((v.proto, v.db, v.tot_cmds), (3, 5, 1));
}
