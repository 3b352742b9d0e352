//! The types the host sees by name are defined once: the records it receives list their
//! fields in camelCase in the order they are visited, and the host's TypeScript types are
//! generated from the same tables.

use forkv_server::client_view::ClientView;
use forkv_server::counters::Counters;
use forkv_server::host_types::{host_types_ts, HostRecord, RecordValue};
use forkv_server::Server;

mod common;
use common::cmd;

/// The record as the binding hands it over: (name, value) in order.
fn fields<R: HostRecord>(r: &R) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    r.visit(&mut |name, v| {
        let v = match v {
            RecordValue::Bool(b) => b.to_string(),
            RecordValue::Number(n) => n.to_string(),
            RecordValue::Text(t) => format!("{t:?}"),
        };
        out.push((name, v));
    });
    out
}

#[test]
fn a_record_visits_every_field_of_its_table() {
    let mut s = Server::new(16);
    s.add_client(1);
    cmd(&mut s, &["SET", "k", "v"]);
    cmd(&mut s, &["GET", "k"]);
    let view = s.client_view(1).expect("a client");
    let got = fields(&view);
    let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
    let table: Vec<&str> = ClientView::FIELDS.iter().map(|f| f.name).collect();
    assert_eq!(names, table);
    let get = |n: &str| got.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()).expect(n);
    assert_eq!(get("lastCmd"), "\"get\"");
    assert_eq!(get("totCmds"), "2");
    assert_eq!(get("redir"), "-1", "tracking off");
    assert_eq!(get("authenticated"), "true");
    assert_eq!(ClientView::TS_NAME, "ClientState");

    let c = s.counters();
    let got = fields(&c);
    assert_eq!(got.len(), Counters::FIELDS.len());
    assert!(got.contains(&("totalCommandsProcessed", "2".into())), "{got:?}");
    assert!(got.contains(&("keyspaceHits", "1".into())), "{got:?}");
    assert_eq!(Counters::TS_NAME, "CoreStats");
}

/// Regenerate with `FORKV_REGENERATE=1 cargo test -p forkv-server --test host_types`.
#[test]
fn host_types_ts_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ts/native/host-types.ts");
    let want = host_types_ts();
    assert!(want.contains("export interface EngineSettings {\n") && want.contains("  protoMaxBulkLen?: number;\n"));
    assert!(want.contains("export interface ClientState {\n") && want.contains("  lastCmd: string;\n"));
    assert!(want.contains("export interface CoreStats {\n") && want.contains("  expiredStalePerc: number;\n"));
    if std::env::var_os("FORKV_REGENERATE").is_some() {
        std::fs::write(&path, &want).expect("write ts/native/host-types.ts");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "ts/native/host-types.ts is out of date: FORKV_REGENERATE=1 cargo test -p forkv-server --test host_types");
}
