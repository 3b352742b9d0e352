//! The engine settings the host keeps in sync with CONFIG land where they belong
//! ([`Server::configure`]), only the fields given change, and the small server
//! operations the binding used to compose (eviction with its events, RESETSTAT, the
//! primary's client) do what Valkey does.

use forkv_keyspace::EvictionPolicy;
use forkv_server::settings::{EngineSettings, SettingValue};
use forkv_server::Server;

mod common;
use common::cmd;

#[test]
fn configure_applies_only_the_fields_given() {
    let mut s = Server::new(16);
    let before_limit = s.engine.cfg.query_buffer_limit;
    s.configure(EngineSettings {
        proto_max_bulk_len: Some(1234),
        min_replicas_to_write: Some(1),
        min_replicas_max_lag: Some(10),
        primary_address: Some("10.0.0.1:6379".into()),
        maxmemory: Some(1 << 20),
        maxmemory_policy: Some("allkeys-lfu".into()),
        slowlog_log_slower_than: Some(-1),
        busy_reply_threshold: Some(0),
        latency_monitor_threshold: Some(7),
        hello_server: Some("valkey".into()),
        hello_version: Some("8.0.1".into()),
        output_hard_limit_pubsub: Some(99),
        ..Default::default()
    });
    let cfg = &s.engine.cfg;
    assert_eq!(cfg.proto_max_bulk_len, 1234);
    assert_eq!(cfg.query_buffer_limit, before_limit, "not given: unchanged");
    assert!(cfg.write_gate.too_few_replicas, "min-replicas-to-write 1 without replicas");
    assert_eq!(cfg.primary_address.as_deref(), Some("10.0.0.1:6379"));
    assert_eq!(cfg.maxmemory.maxmemory, 1 << 20);
    assert_eq!(cfg.maxmemory.policy, EvictionPolicy::parse("allkeys-lfu").expect("a policy"));
    assert_eq!(cfg.busy_reply_threshold_ms, 0);
    assert_eq!(cfg.output_hard_limit, [0, 99]);
    assert_eq!(cfg.hello_identity, ("valkey".to_string(), "8.0.1".to_string()));
    assert_eq!(s.engine.slowlog.slower_than, -1);
    assert_eq!(s.engine.latency.threshold_ms, 7);

    // Empty strings clear; an unknown policy name changes nothing; a lone HELLO field
    // is not applied.
    s.configure(EngineSettings {
        min_replicas_to_write: Some(0),
        primary_address: Some(String::new()),
        maxmemory_policy: Some("no-such-policy".into()),
        hello_server: Some("other".into()),
        ..Default::default()
    });
    let cfg = &s.engine.cfg;
    assert!(!cfg.write_gate.too_few_replicas, "min-replicas-to-write 0: off");
    assert_eq!(cfg.primary_address, None);
    assert_eq!(cfg.maxmemory.policy, EvictionPolicy::parse("allkeys-lfu").expect("a policy"));
    assert_eq!(cfg.hello_identity, ("valkey".to_string(), "8.0.1".to_string()));
}

#[test]
fn configure_reaches_the_keyspace_and_the_acl() {
    let mut s = Server::new(16);
    s.configure(EngineSettings { requirepass: Some("secret".into()), is_replica: Some(true), read_only_replica: Some(true), ..Default::default() });
    s.add_client(1);
    assert!(s.engine.auth_required(1), "requirepass: a new connection must AUTH");
    assert!(s.engine.cfg.is_replica && s.engine.ks.replica_read_only);
    s.configure(EngineSettings { requirepass: Some(String::new()), ..Default::default() });
    assert!(!s.engine.auth_required(1), "empty requirepass: nopass");
}

#[test]
fn encoding_limits_keep_the_debug_packed_threshold() {
    let mut s = Server::new(16);
    let mut limits = *s.engine.ks.encoding_limits();
    limits.list_packed_threshold = 12345;
    s.engine.ks.set_encoding_limits(limits);
    let mut from_config = limits;
    from_config.hash_max_listpack_entries = 7;
    from_config.list_packed_threshold = 0;
    s.set_encoding_limits(from_config);
    let now = s.engine.ks.encoding_limits();
    assert_eq!(now.hash_max_listpack_entries, 7);
    assert_eq!(now.list_packed_threshold, 12345, "DEBUG QUICKLIST-PACKED-THRESHOLD's value stays");
}

fn always_full() -> usize {
    usize::MAX / 4
}

#[test]
fn evict_deletes_propagates_and_publishes_evicted() {
    let mut s = Server::new(16);
    s.add_client(1);
    s.add_client(2);
    s.configure(EngineSettings { notify_keyspace_events: Some(forkv_keyspace::notify::KEYEVENT | forkv_keyspace::notify::EVICTED), ..Default::default() });
    s.feed(2, &forkv_test_support::command(&["SUBSCRIBE", "__keyevent@0__:evicted"]));
    s.engine.clear_reply();
    for i in 0..5 {
        cmd(&mut s, &["SET", &format!("k{i}"), "v"]);
    }
    s.set_aof(true);
    s.engine.set_memory_probe(always_full);
    s.configure(EngineSettings { maxmemory: Some(1), maxmemory_policy: Some("allkeys-random".into()), lazyfree_lazy_eviction: Some(false), ..Default::default() });
    let r = s.evict();
    assert_eq!(r, forkv_engine::evict::EvictResult::Fail, "still over the limit with no key left");
    assert_eq!(s.engine.ks.len(0), 0);
    s.pump_stream();
    let stream = String::from_utf8_lossy(&s.take_aof_stream()).into_owned();
    assert_eq!(stream.matches("\r\nDEL\r\n").count(), 5, "lazyfree-lazy-eviction no: DEL; {stream:?}");
    let delivered: Vec<u8> = s.take_deliveries().into_iter().filter(|(id, _)| *id == 2).flat_map(|(_, d)| d).collect();
    assert_eq!(String::from_utf8_lossy(&delivered).matches("evicted").count(), 5);
}

#[test]
fn reset_stats_and_the_primary_client() {
    let mut s = Server::new(16);
    s.add_client(1);
    cmd(&mut s, &["SET", "k", "v"]);
    assert!(s.engine.stats.total_commands_processed > 0);
    s.reset_stats();
    assert_eq!(s.engine.stats.total_commands_processed, 0);

    s.configure(EngineSettings { requirepass: Some("secret".into()), ..Default::default() });
    s.add_primary_client(9);
    let c = s.engine.client(9).expect("registered");
    assert!(c.primary && c.authenticated && c.user.is_none());
    assert!(!s.engine.auth_required(9), "the primary's link needs no AUTH");
}

#[test]
fn settings_are_set_by_their_host_names() {
    let mut set = EngineSettings::default();
    set.set("protoMaxBulkLen", SettingValue::Number(1024.0)).expect("a number");
    set.set("lazyfreeLazyExpire", SettingValue::Bool(true)).expect("a boolean");
    set.set("maxmemoryPolicy", SettingValue::Text("allkeys-lru".into())).expect("a string");
    set.set("sensitiveConfigs", SettingValue::List(vec!["requirepass".into()])).expect("a list");
    set.set("slowlogLogSlowerThan", SettingValue::Number(-1.0)).expect("a negative number");
    set.set("busyReplyThreshold", SettingValue::Number(5000.0)).expect("a number");
    assert_eq!(set.proto_max_bulk_len, Some(1024));
    assert_eq!(set.lazyfree_lazy_expire, Some(true));
    assert_eq!(set.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    assert_eq!(set.sensitive_configs, Some(vec!["requirepass".to_string()]));
    assert_eq!(set.slowlog_log_slower_than, Some(-1));
    assert_eq!(set.busy_reply_threshold, Some(5000));
    assert_eq!(set.query_buffer_limit, None, "not given: left as it is");

    // Nothing is accepted and then ignored.
    assert_eq!(set.set("noSuchSetting", SettingValue::Bool(true)), Err("unknown engine setting 'noSuchSetting'".into()));
    assert_eq!(set.set("hz", SettingValue::Text("10".into())), Err("engine setting 'hz' must be a number".into()));
    assert_eq!(set.set("proto_max_bulk_len", SettingValue::Number(1.0)), Err("unknown engine setting 'proto_max_bulk_len'".into()));
}

#[test]
fn every_field_has_a_distinct_host_name() {
    let names: std::collections::HashSet<&str> = EngineSettings::FIELDS.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), EngineSettings::FIELDS.len());
    assert!(names.contains("listMaxListpackSize") && names.contains("streamNodeMaxEntries") && names.contains("helloVersion"));
    assert!(EngineSettings::FIELDS.iter().all(|f| !f.name.contains('_')));
}

#[test]
fn encoding_thresholds_are_engine_settings() {
    let mut s = Server::new(16);
    let before = *s.engine.ks.encoding_limits();
    s.configure(EngineSettings { hash_max_listpack_entries: Some(7), stream_node_max_bytes: Some(0), list_max_listpack_size: Some(-3), ..Default::default() });
    let now = *s.engine.ks.encoding_limits();
    assert_eq!(now.hash_max_listpack_entries, 7);
    assert_eq!(now.stream.node_max_bytes, 0);
    assert_eq!(now.list_max_listpack_size, -3);
    assert_eq!(now.zset_max_listpack_entries, before.zset_max_listpack_entries, "not given: unchanged");
    s.configure(EngineSettings { hz: Some(10), ..Default::default() });
    assert_eq!(*s.engine.ks.encoding_limits(), now, "no encoding field: the limits stay");
}
