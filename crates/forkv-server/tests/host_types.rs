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
            RecordValue::Absent => "undefined".into(),
            RecordValue::List(l) => format!("[{} records]", l.len()),
            RecordValue::Record(_) => "{record}".into(),
            RecordValue::Bytes(b) => format!("{b:?}"),
            RecordValue::Strings(l) => format!("{l:?}"),
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

/// Nested inputs and optional fields: the RDB save options with their replication AUX
/// fields as a nested object, the optional ones left out (or `null`, which the binding
/// leaves out too); a nested object of the wrong shape is an error.
#[test]
fn an_input_nests_inputs_and_leaves_optional_fields_out() {
    use forkv_server::snapshot::{RdbSaveOptions, ReplSaveInfo};
    let n = SettingValue::Number;
    let base = || {
        vec![
            ("dir".to_string(), SettingValue::Text("/data".into())),
            ("filename".into(), SettingValue::Text("dump.rdb".into())),
            ("compression".into(), SettingValue::Bool(true)),
            ("checksum".into(), SettingValue::Bool(true)),
            ("version".into(), n(11.0)),
            ("keySaveDelayUs".into(), n(0.0)),
        ]
    };
    let o = RdbSaveOptions::from_values(base()).expect("optional fields may be left out");
    assert_eq!((o.incremental_fsync, o.exit_on_sigint, o.repl), (None, None, None));

    let mut with_repl = base();
    let repl = vec![("streamDb".to_string(), n(3.0)), ("replId".into(), SettingValue::Text("a".repeat(40))), ("replOffset".into(), n(1234.0))];
    with_repl.push(("repl".into(), SettingValue::Object(repl)));
    with_repl.push(("incrementalFsync".into(), SettingValue::Bool(true)));
    let o = RdbSaveOptions::from_values(with_repl).expect("nested");
    assert_eq!(o.repl, Some(ReplSaveInfo { stream_db: 3, repl_id: "a".repeat(40), repl_offset: 1234 }));
    assert_eq!(o.incremental_fsync, Some(true));

    let mut bad = base();
    bad.push(("repl".into(), SettingValue::Object(vec![("streamDb".to_string(), n(3.0))])));
    assert_eq!(RdbSaveOptions::from_values(bad).err().as_deref(), Some("RdbSaveOptions field 'repl' must be a ReplSaveInfo"));
    let mut missing = base();
    missing.retain(|(k, _)| k != "version");
    assert_eq!(RdbSaveOptions::from_values(missing).err().as_deref(), Some("RdbSaveOptions field 'version' is missing"));

    let ts = host_types_ts();
    assert!(ts.contains("  repl?: ReplSaveInfo | null;\n"), "{ts}");
    assert!(ts.contains("export interface ReplInfo {\n") && ts.contains("  replicas: ReplicaRow[];\n"));
    assert!(ts.contains("  announcedIp?: string;\n"));
}

/// A record holding a list of records: INFO replication's fields with a row per replica.
#[test]
fn a_record_visits_its_list_of_records() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    cmd(&mut s, &["REPLCONF", "listening-port", "6390"]);
    assert_eq!(s.repl_sync(1, None), forkv_server::repl::SyncDecision::Full);
    let info = s.repl_info();
    let got = fields(&info);
    assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), forkv_server::repl::ReplInfo::FIELDS.iter().map(|f| f.name).collect::<Vec<_>>());
    assert!(got.contains(&("replicas", "[1 records]".into())), "{got:?}");
    let row = fields(&info.replicas[0]);
    assert!(row.contains(&("id", "1".into())), "{row:?}");
    assert!(row.contains(&("announcedIp", "undefined".into())), "no IP announced: left out, {row:?}");
    assert_eq!(forkv_server::repl::ReplicaInfo::TS_NAME, "ReplicaRow");
}

/// The results the host receives are records too: nested records (a poll's end), lists of
/// records (its log lines), bytes and lists of strings, each under its camelCase name; and
/// a value the host reads as a sentinel (-1, Infinity) keeps it.
#[test]
fn results_are_records_with_nested_records_bytes_and_strings() {
    use forkv_server::host_records::{command_rows, AofSyncMarks, ChildPoll, Delivery, OpenFilesAdjustment};
    use forkv_server::job_report::{JobEnd, JobReport};
    use forkv_snapshot::{ChildKind, LogLevel};
    let end = JobEnd {
        pid: 42,
        kind: ChildKind::AofRewrite,
        transfer: false,
        outcome: "err",
        message: "disk full".into(),
        signal: 0,
        duration: std::time::Duration::from_millis(5),
        cow_peak: 0,
        keys_processed: 0,
    };
    let poll = ChildPoll::from(JobReport { logs: vec![(LogLevel::Warning, "a line".into())], done: Some(end) });
    let got = fields(&poll);
    assert_eq!(got, vec![("logs", "[1 records]".to_string()), ("done", "{record}".to_string())]);
    let done = fields(poll.done.as_ref().expect("ended"));
    assert!(done.contains(&("kind", "\"aof\"".into())) && done.contains(&("outcome", "\"err\"".into())), "{done:?}");
    assert_eq!(fields(&poll.logs[0]), vec![("level", "\"warning\"".to_string()), ("message", "\"a line\"".to_string())]);

    assert_eq!(fields(&AofSyncMarks::of((10, None))), vec![("appended", "10".to_string()), ("synced", "-1".to_string())], "-1 before the first rewrite");
    let d = Delivery { id: 3, data: b"+OK\r\n".to_vec(), memory: 7 };
    assert_eq!(fields(&d)[1], ("data", format!("{:?}", b"+OK\r\n")));

    let adj = OpenFilesAdjustment::from(forkv_snapshot::syscheck::OpenFilesAdjustment { maxclients: 10, limit: u64::MAX, messages: vec![], fatal: false });
    assert!(fields(&adj).contains(&("limit", "inf".into())), "RLIM_INFINITY is Infinity");

    let get = command_rows().into_iter().find(|r| r.name == "get").expect("GET");
    let row = fields(&get);
    assert!(row.contains(&("flags", "[\"readonly\", \"fast\"]".into())), "{row:?}");

    let ts = host_types_ts();
    assert!(ts.contains("export interface ChildPoll {\n  logs: ChildLogLine[];\n  done?: ChildDone;\n}\n"), "{ts}");
    assert!(ts.contains("  preamble: Buffer;\n") && ts.contains("  flags: string[];\n"));
    assert!(ts.contains("export interface SaveRuleArg {\n  seconds: number;\n  changes: number;\n}\n"));
}

/// The engine settings are an input like the others, every field optional, whose errors
/// name an "engine setting".
#[test]
fn the_engine_settings_are_an_input_of_optional_fields() {
    use forkv_server::settings::EngineSettings;
    let s = EngineSettings::from_values(vec![("hz".into(), SettingValue::Number(20.0))]).expect("the rest left out");
    assert_eq!((s.hz, s.maxmemory), (Some(20), None));
    assert_eq!(EngineSettings::from_values(vec![("hz".into(), SettingValue::Text("20".into()))]).err().as_deref(), Some("engine setting 'hz' must be a number"));
    assert_eq!(EngineSettings::from_values(vec![("nope".into(), SettingValue::Bool(true))]).err().as_deref(), Some("unknown engine setting 'nope'"));
    assert!(EngineSettings::FIELDS.iter().all(|f| f.optional));
}
