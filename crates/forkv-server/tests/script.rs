//! The server's own commands called from Lua (`redis.call`): they run through the runner
//! the server installs in the engine, with the same registry as clients' commands.

use forkv_server::Server;
use forkv_test_support::command as cmd;

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
fn a_message_to_the_scripts_own_caller_follows_the_script_reply() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.engine.client_mut(1).expect("client").proto = 3;
    run(&mut s, 1, &["SUBSCRIBE", "me"]);
    let reply = run(&mut s, 1, &["EVAL", "return redis.call('PUBLISH', 'me', 'hey')", "0"]);
    // As valkey-server 8.0.1: the script's reply, then the message (pending push messages).
    assert_eq!(reply, ":1\r\n>3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$3\r\nhey\r\n");
    assert!(!s.has_deliveries());
}

#[test]
fn subscribing_from_a_script_is_refused() {
    let mut s = Server::new(16);
    s.add_client(1);
    let reply = run(&mut s, 1, &["EVAL", "return redis.call('SUBSCRIBE', 'c')", "0"]);
    assert!(reply.contains("This Redis command is not allowed from script"), "{reply}");
}

#[test]
fn wait_and_waitaof_from_a_script_answer_without_blocking() {
    let mut s = Server::new(16);
    s.add_client(1);
    assert_eq!(run(&mut s, 1, &["EVAL", "return redis.call('WAIT', '1', '0')", "0"]), ":0\r\n");
    assert_eq!(run(&mut s, 1, &["EVAL", "return redis.call('WAITAOF', '0', '1', '0')", "0"]), "*2\r\n:0\r\n:0\r\n");
    let off = run(&mut s, 1, &["EVAL", "return redis.pcall('WAITAOF', '1', '0', '0')", "0"]);
    assert_eq!(off, "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.\r\n");
    // With the AOF on, the local count follows the marks of the host's last flush.
    s.set_aof(true);
    s.set_aof_marks(100, Some(50));
    assert_eq!(run(&mut s, 1, &["EVAL", "return redis.call('WAITAOF', '1', '0', '0')", "0"]), "*2\r\n:0\r\n:0\r\n");
    s.set_aof_marks(100, Some(100));
    assert_eq!(run(&mut s, 1, &["EVAL", "return redis.call('WAITAOF', '1', '0', '0')", "0"]), "*2\r\n:1\r\n:0\r\n");
    // Waiting for the first rewrite: nothing counts as fsynced, not even an empty AOF.
    s.set_aof_marks(0, None);
    assert_eq!(run(&mut s, 1, &["EVAL", "return redis.call('WAITAOF', '1', '0', '0')", "0"]), "*2\r\n:0\r\n:0\r\n");
    s.engine.cfg.is_replica = true;
    assert!(run(&mut s, 1, &["EVAL", "return redis.pcall('WAIT', '0', '0')", "0"]).starts_with("-ERR WAIT cannot be used with replica instances."));
}

#[test]
fn wait_from_a_client_is_left_to_the_host() {
    let mut s = Server::new(16);
    s.add_client(1);
    // The host waits for acknowledgements; the engine hands WAIT up instead of answering.
    let outcome = s.feed(1, &cmd(&["WAIT", "1", "0"]));
    assert!(matches!(outcome, forkv_engine::Outcome::Host(ref argv) if argv[0] == b"WAIT"), "{outcome:?}");
    assert!(s.engine.reply().is_empty());
}

#[test]
fn config_and_client_help_run_from_a_script() {
    let mut s = Server::new(16);
    s.add_client(1);
    let direct = run(&mut s, 1, &["CONFIG", "HELP"]);
    assert!(direct.contains("+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"), "{direct}");
    let via = run(&mut s, 1, &["EVAL", "return redis.call('CONFIG', 'HELP')", "0"]);
    assert_eq!(via, direct);
    let direct = run(&mut s, 1, &["CLIENT", "HELP"]);
    assert_eq!(run(&mut s, 1, &["EVAL", "return redis.call('CLIENT', 'HELP')", "0"]), direct);
}

#[test]
fn every_command_valkey_allows_from_scripts_runs_outside_the_host() {
    use forkv_engine::table::{self, flags, Exec};
    // Top-level commands and subcommands not flagged noscript that the engine does not
    // run itself: a script reaches them through the server's runner, never the host.
    let mut checked = 0;
    for top in table::all() {
        let specs: Vec<_> = if top.subcommands.is_empty() { vec![top] } else { top.subcommands.iter().collect() };
        for spec in specs {
            if spec.flags & flags::NOSCRIPT != 0 || !matches!(spec.exec, Exec::Host | Exec::Server) {
                continue;
            }
            let argv: Vec<&str> = spec.name.split('|').collect();
            // Fill the arity with plausible arguments; only the host refusal matters here.
            let want = spec.arity.unsigned_abs() as usize;
            let mut args: Vec<String> = argv.iter().map(|s| format!("'{s}'")).collect();
            while args.len() < want {
                args.push("'0'".into());
            }
            let mut s = Server::new(16);
            s.add_client(1);
            let body = format!("return redis.pcall({})", args.join(", "));
            let reply = run(&mut s, 1, &["EVAL", &body, "0"]);
            assert!(!reply.contains(forkv_engine::cmd::script::HOST_COMMAND_ERROR), "{}: {reply}", spec.name);
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
}
