//! The engine settings the host keeps in sync with CONFIG: what each one changes in the
//! engine, the keyspace (its compact-encoding thresholds too), the ACL, the slow log and
//! the latency monitor. The host converts its configuration store's values to
//! [`EngineSettings`] and [`Server::configure`] applies them here, so that where a
//! directive lands is decided in one place, with cargo tests.
//!
//! [`EngineSettings`] is the one definition of these settings, a host input like the
//! others ([`crate::host_types`]'s `host_type!`, every field optional): the binding converts
//! the host's object through its table, and the host's TypeScript type
//! (`ts/native/host-types.ts`) is generated from [`EngineSettings::FIELDS`]. Its errors
//! name an "engine setting".

use forkv_engine::propagation_error::PropagationErrorBehavior;
use forkv_keyspace::{EncodingLimits, EvictionPolicy};

use crate::host_types::{host_type, HostField, HostInput};
pub use crate::host_types::SettingValue;
use crate::Server;

host_type! {
#[input = "EngineSettings", what = "engine setting"]
/// Engine settings; `None` leaves a setting as it is (every field is optional, so the
/// host gives only the ones that changed).
#[derive(Clone, Debug, Default)]
pub struct EngineSettings {
    pub proto_max_bulk_len: Option<usize>,
    /// DEBUG REPLYBUFFER RESIZING: the reply buffer is given back after a big batch.
    pub reply_buffer_resizing: Option<bool>,
    pub query_buffer_limit: Option<usize>,
    /// The default user's password (`requirepass`); empty: nopass.
    pub requirepass: Option<String>,
    pub hll_sparse_max_bytes: Option<usize>,
    /// `acllog-max-len`.
    pub acllog_max_len: Option<usize>,
    /// `acl-pubsub-default allchannels` (else `resetchannels`).
    pub acl_pubsub_default_all: Option<bool>,
    /// The `maxmemory-policy` is an LFU one: key access clocks count frequency.
    pub lfu: Option<bool>,
    /// `lazyfree-lazy-expire`: expired keys are freed on the background thread when big,
    /// and propagated as UNLINK (else DEL).
    pub lazyfree_lazy_expire: Option<bool>,
    /// `lazyfree-lazy-user-del`: DEL frees big values on the background thread as UNLINK.
    pub lazyfree_lazy_user_del: Option<bool>,
    /// `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB without SYNC/ASYNC free in the background.
    pub lazyfree_lazy_user_flush: Option<bool>,
    /// `notify-keyspace-events` as Valkey's NOTIFY_* bit flags.
    pub notify_keyspace_events: Option<u32>,
    /// `lazyfree-lazy-server-del`: server-decided deletions and overwrites free big values
    /// on the background thread and propagate as UNLINK.
    pub lazyfree_lazy_server_del: Option<bool>,
    /// Integers 0..9999 count as Valkey's shared objects (OBJECT REFCOUNT).
    pub shared_integers: Option<bool>,
    /// A replica with `replica-read-only yes`: clients' writes get `-READONLY`.
    pub read_only_replica: Option<bool>,
    /// The server is a replica (WAIT and WAITAOF are refused; no min-replicas gate).
    pub is_replica: Option<bool>,
    /// `min-replicas-to-write` (0: off): the write gate's NOREPLICAS.
    pub min_replicas_to_write: Option<u64>,
    /// `min-replicas-max-lag` in seconds (0: off).
    pub min_replicas_max_lag: Option<u64>,
    /// A replica's primary as `host:port`; empty on a primary.
    pub primary_address: Option<String>,
    /// A replica's link is down and `replica-serve-stale-data no`: `-MASTERDOWN`.
    pub primary_down: Option<bool>,
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: Option<u64>,
    /// `maxmemory-policy` by its config name (an unknown name changes nothing).
    pub maxmemory_policy: Option<String>,
    pub maxmemory_samples: Option<usize>,
    pub maxmemory_eviction_tenacity: Option<u32>,
    /// `replica-ignore-maxmemory`.
    pub replica_ignore_maxmemory: Option<bool>,
    /// `active-expire-effort` (1..=10).
    pub active_expire_effort: Option<u32>,
    /// `hide-user-data-from-log`.
    pub hide_user_data_from_log: Option<bool>,
    /// `crash-log-enabled`: a caught panic is logged with its crash report.
    pub crash_log_enabled: Option<bool>,
    /// `propagation-error-behavior` by its config name (an unknown name changes nothing).
    pub propagation_error_behavior: Option<String>,
    /// `lazyfree-lazy-eviction`: evicted keys are freed on the background thread when big,
    /// and propagate as UNLINK (else DEL).
    pub lazyfree_lazy_eviction: Option<bool>,
    pub lfu_log_factor: Option<u32>,
    pub lfu_decay_time: Option<u32>,
    /// The client-eviction limit in bytes (`maxmemory-clients` resolved; 0: off).
    pub client_eviction_limit: Option<usize>,
    /// Hard output limits of the normal and pubsub classes, bytes (0: none).
    pub output_hard_limit_normal: Option<u64>,
    pub output_hard_limit_pubsub: Option<u64>,
    /// `slowlog-log-slower-than` (microseconds, negative disables).
    pub slowlog_log_slower_than: Option<i64>,
    pub slowlog_max_len: Option<usize>,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_table_max_keys: Option<usize>,
    /// `busy-reply-threshold` in ms; 0: scripts never turn busy.
    pub busy_reply_threshold: Option<u64>,
    /// `rdbcompression`: DUMP and MIGRATE payloads compress as the RDB does.
    pub rdb_compression: Option<bool>,
    /// The CONFIG parameters whose values SLOWLOG redacts, names and aliases.
    pub sensitive_configs: Option<Vec<String>>,
    /// `latency-monitor-threshold` in milliseconds (0: off).
    pub latency_monitor_threshold: Option<u64>,
    /// `hz` (LATENCY DOCTOR's advice).
    pub hz: Option<u32>,
    /// The server name and version HELLO answers with (both or neither apply).
    pub hello_server: Option<String>,
    pub hello_version: Option<String>,
    /// `list-max-listpack-size`: negative = bytes per node, positive = entries per node.
    pub list_max_listpack_size: Option<i64>,
    /// `list-compress-depth`.
    pub list_compress_depth: Option<usize>,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: Option<usize>,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: Option<usize>,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: Option<usize>,
    /// `set-max-listpack-entries`.
    pub set_max_listpack_entries: Option<usize>,
    /// `set-max-listpack-value`.
    pub set_max_listpack_value: Option<usize>,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: Option<usize>,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: Option<usize>,
    /// `stream-node-max-bytes`.
    pub stream_node_max_bytes: Option<usize>,
    /// `stream-node-max-entries`.
    pub stream_node_max_entries: Option<usize>,
}
}

impl EngineSettings {
    /// Every field, in declaration order (the host's type is generated from it:
    /// `ts/native/host-types.ts`).
    pub const FIELDS: &'static [HostField] = <Self as HostInput>::FIELDS;

    /// Sets the field the host names `name` (camelCase, see [`Self::FIELDS`]). An
    /// unknown name or a value of the wrong type is an error, never ignored.
    pub fn set(&mut self, name: &str, v: SettingValue) -> Result<(), String> {
        self.set_value(name, v)
    }
}

impl Server {
    /// Applies the settings given (see [`EngineSettings`]).
    pub fn configure(&mut self, s: EngineSettings) {
        self.configure_encodings(&s);
        let e = &mut self.engine;
        let cfg = &mut e.cfg;
        set(&mut cfg.proto_max_bulk_len, s.proto_max_bulk_len);
        set(&mut cfg.query_buffer_limit, s.query_buffer_limit);
        set(&mut cfg.reply_buffer_resizing, s.reply_buffer_resizing);
        set(&mut cfg.hll_sparse_max_bytes, s.hll_sparse_max_bytes);
        set(&mut cfg.shared_integers, s.shared_integers);
        set(&mut cfg.primary_down, s.primary_down);
        set(&mut cfg.rdb_compression, s.rdb_compression);
        set(&mut cfg.busy_reply_threshold_ms, s.busy_reply_threshold);
        set(&mut cfg.output_hard_limit[0], s.output_hard_limit_normal);
        set(&mut cfg.output_hard_limit[1], s.output_hard_limit_pubsub);
        set(&mut e.client_eviction.limit, s.client_eviction_limit);
        if let Some(v) = s.propagation_error_behavior.as_deref().and_then(PropagationErrorBehavior::parse) {
            cfg.propagation_error_behavior = v;
        }
        if let Some(v) = s.primary_address {
            cfg.primary_address = non_empty(v);
        }
        if let Some(v) = s.read_only_replica {
            cfg.read_only_replica = v;
            // Only meaningful on a replica (then it is `replica-read-only`).
            e.ks.replica_read_only = v;
        }
        if let Some(v) = s.is_replica {
            cfg.is_replica = v;
            e.ks.set_replica(v);
        }
        let lazy = &mut e.ks.lazyfree;
        set(&mut lazy.user_del, s.lazyfree_lazy_user_del);
        set(&mut lazy.user_flush, s.lazyfree_lazy_user_flush);
        set(&mut lazy.server_del, s.lazyfree_lazy_server_del);
        set(&mut lazy.expire, s.lazyfree_lazy_expire);
        set(&mut lazy.eviction, s.lazyfree_lazy_eviction);
        let cfg = &mut e.cfg;
        let mm = &mut cfg.maxmemory;
        set(&mut mm.maxmemory, s.maxmemory);
        set(&mut mm.samples, s.maxmemory_samples);
        set(&mut mm.tenacity, s.maxmemory_eviction_tenacity);
        set(&mut mm.replica_ignore, s.replica_ignore_maxmemory);
        if let Some(p) = s.maxmemory_policy.as_deref().and_then(EvictionPolicy::parse) {
            mm.policy = p;
            e.ks.set_eviction_policy(p);
        }
        if let (Some(server), Some(version)) = (s.hello_server, s.hello_version) {
            cfg.hello_identity = (server, version);
        }
        if let Some(v) = s.requirepass {
            e.acl.set_requirepass(v.as_bytes());
        }
        if let Some(v) = s.acllog_max_len {
            e.acl.log.set_max_len(v);
        }
        set(&mut e.acl.pubsub_default_all, s.acl_pubsub_default_all);
        if let Some(v) = s.notify_keyspace_events {
            e.ks.notify.set_flags(v);
        }
        if let Some(v) = s.lfu {
            e.ks.set_lfu(v);
        }
        if let Some(v) = s.active_expire_effort {
            e.ks.set_active_expire_effort(v);
        }
        if s.lfu_log_factor.is_some() || s.lfu_decay_time.is_some() {
            let mut p = e.ks.lfu_params();
            set(&mut p.log_factor, s.lfu_log_factor);
            set(&mut p.decay_time, s.lfu_decay_time);
            e.ks.set_lfu_params(p);
        }
        set(&mut e.logs.hide_user_data, s.hide_user_data_from_log);
        set(&mut e.logs.crash_log, s.crash_log_enabled);
        set(&mut e.slowlog.slower_than, s.slowlog_log_slower_than);
        if let Some(v) = s.slowlog_max_len {
            e.slowlog.set_max_len(v);
        }
        set(&mut e.slowlog.sensitive_configs, s.sensitive_configs);
        set(&mut e.csc.max_keys, s.tracking_table_max_keys);
        set(&mut e.latency.threshold_ms, s.latency_monitor_threshold);
        set(&mut e.latency.hz, s.hz);
        // The write gate's settings: the role and min-replicas (see crate::write_gate).
        if s.is_replica.is_some() || s.min_replicas_to_write.is_some() || s.min_replicas_max_lag.is_some() {
            self.set_min_replicas(s.min_replicas_to_write, s.min_replicas_max_lag);
        }
    }

    /// The compact-encoding thresholds among `s`, over the current ones.
    fn configure_encodings(&mut self, s: &EngineSettings) {
        let mut l = *self.engine.ks.encoding_limits();
        let before = l;
        set(&mut l.list_max_listpack_size, s.list_max_listpack_size);
        set(&mut l.list_compress_depth, s.list_compress_depth);
        set(&mut l.hash_max_listpack_entries, s.hash_max_listpack_entries);
        set(&mut l.hash_max_listpack_value, s.hash_max_listpack_value);
        set(&mut l.set_max_intset_entries, s.set_max_intset_entries);
        set(&mut l.set_max_listpack_entries, s.set_max_listpack_entries);
        set(&mut l.set_max_listpack_value, s.set_max_listpack_value);
        set(&mut l.zset_max_listpack_entries, s.zset_max_listpack_entries);
        set(&mut l.zset_max_listpack_value, s.zset_max_listpack_value);
        set(&mut l.stream.node_max_bytes, s.stream_node_max_bytes);
        set(&mut l.stream.node_max_entries, s.stream_node_max_entries);
        if l != before {
            self.set_encoding_limits(l);
        }
    }

    /// Applies new encoding thresholds (the config directives); existing values convert
    /// lazily on their next write, as in Valkey. DEBUG QUICKLIST-PACKED-THRESHOLD's value,
    /// not a directive, stays.
    pub fn set_encoding_limits(&mut self, mut limits: EncodingLimits) {
        limits.list_packed_threshold = self.engine.ks.encoding_limits().list_packed_threshold;
        self.engine.ks.set_encoding_limits(limits);
    }
}

fn set<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

fn non_empty(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}
