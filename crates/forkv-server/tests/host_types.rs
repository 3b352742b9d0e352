//! The types the host sees by name are defined once: the records it receives list their
//! fields in camelCase in the order they are visited, and the host's TypeScript types are
//! generated from the same tables.

use forkv_server::client_view::ClientView;
use forkv_server::counters::Counters;
use forkv_server::host_types::{host_types_ts, HostInput, HostRecord, RecordValue, SettingValue};
use forkv_server::persist::aof_config::AofConfig;
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
    assert!(want.contains("export interface AofOptions {\n") && want.contains("  keyLoadDelayUs: number;\n"));
    if std::env::var_os("FORKV_REGENERATE").is_some() {
        std::fs::write(&path, &want).expect("write ts/native/host-types.ts");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "ts/native/host-types.ts is out of date: FORKV_REGENERATE=1 cargo test -p forkv-server --test host_types");
}

/// The AOF configuration as the host's object gives it.
fn aof_values(skip: &str) -> Vec<(String, SettingValue)> {
    let text = |s: &str| SettingValue::Text(s.into());
    let all = [
        ("dir", text("/data")),
        ("dirname", text("appendonlydir")),
        ("filename", text("appendonly.aof")),
        ("fsync", text("always")),
        ("useRdbPreamble", SettingValue::Bool(true)),
        ("loadTruncated", SettingValue::Bool(true)),
        ("clusterEnabled", SettingValue::Bool(false)),
        ("noFsyncOnRewrite", SettingValue::Bool(false)),
        ("rdbCompression", SettingValue::Bool(true)),
        ("rdbChecksum", SettingValue::Bool(true)),
        ("rdbVersion", SettingValue::Number(11.0)),
        ("keySaveDelayUs", SettingValue::Number(-5.0)),
        ("keyLoadDelayUs", SettingValue::Number(-5.0)),
        ("loadingEventsIntervalBytes", SettingValue::Number(2097152.0)),
        ("disableAutoGc", SettingValue::Bool(false)),
        ("timestamps", SettingValue::Bool(true)),
        ("incrementalFsync", SettingValue::Bool(true)),
    ];
    all.into_iter().filter(|(n, _)| *n != skip).map(|(n, v)| (n.to_string(), v)).collect()
}

#[test]
fn the_aof_configuration_is_an_input_every_field_given() {
    let c = AofConfig::from_values(aof_values("")).expect("every field");
    assert_eq!(AofConfig::FIELDS.len(), 17);
    assert_eq!((c.key_save_delay_us, c.key_load_delay_us), (0, -5), "a negative save delay is none; a load delay keeps its sign");
    let s = Server::new(16);
    let settings = s.aof_settings(&c);
    assert_eq!(settings.fsync, forkv_aof::FsyncPolicy::Always);
    assert_eq!(settings.work_dir, std::path::PathBuf::from("/data"));
    assert_eq!((settings.rdb.version, settings.use_rdb_preamble, settings.timestamps), (11, true, true));
    let src = c.source();
    assert_eq!((src.load_truncated, src.events_interval_bytes, src.key_load_delay_us), (true, 2097152, -5));

    assert_eq!(AofConfig::from_values(aof_values("fsync")), Err("AofOptions field 'fsync' is missing".into()));
    let mut wrong = aof_values("timestamps");
    wrong.push(("timestamps".into(), SettingValue::Text("yes".into())));
    assert_eq!(AofConfig::from_values(wrong), Err("AofOptions field 'timestamps' must be a boolean".into()));
    let mut extra = aof_values("");
    extra.push(("appendonly".into(), SettingValue::Bool(true)));
    assert_eq!(AofConfig::from_values(extra), Err("unknown AofOptions field 'appendonly'".into()));
}
