//! A command the host runs is handed over ([`forkv_server::host_argv`]) by the command table's own name, also when
//! the client used a `rename-command` NEW name (the host dispatches on table names).
//! Its own test binary: the renames are process-wide.

use forkv_engine::Outcome;
use forkv_server::Server;

#[test]
fn a_renamed_host_command_reaches_the_host_by_its_own_name() {
    forkv_engine::table::apply_renames(&[(b"CONFIG".to_vec(), b"MYCONFIG".to_vec())]).expect("rename");
    let mut s = Server::new(16);
    s.add_client(1);
    let own_name = forkv_engine::table::lookup_original(b"config").expect("in the table").name;
    match s.feed(1, &forkv_test_support::command(&["myconfig", "GET", "maxmemory"])) {
        Outcome::Host(argv) => {
            let argv = forkv_server::host_argv(argv);
            assert_eq!(argv[0], own_name.as_bytes());
            assert_eq!(&argv[1..], [b"GET".to_vec(), b"maxmemory".to_vec()]);
        }
        _ => panic!("CONFIG is the host's"),
    }
}
