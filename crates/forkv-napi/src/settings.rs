//! Keyspace settings the host keeps in sync with CONFIG (the compact-encoding thresholds).

use napi_derive::napi;

use forkv_keyspace::EncodingLimits;

use crate::core::Core;

/// The `*-max-listpack-*`, `set-max-intset-entries`, `list-max-listpack-size`, `list-compress-depth` and
/// `stream-node-max-*` values.
#[napi(object)]
pub struct EncodingSettings {
    pub list_max_listpack_size: i64,
    pub list_compress_depth: f64,
    pub hash_max_listpack_entries: f64,
    pub hash_max_listpack_value: f64,
    pub set_max_intset_entries: f64,
    pub set_max_listpack_entries: f64,
    pub set_max_listpack_value: f64,
    pub zset_max_listpack_entries: f64,
    pub zset_max_listpack_value: f64,
    pub stream_node_max_bytes: f64,
    pub stream_node_max_entries: f64,
}

#[napi]
impl Core {
    /// Applies new encoding thresholds; existing values convert lazily on their next write,
    /// as in Valkey.
    #[napi]
    pub fn set_encoding_limits(&mut self, s: EncodingSettings) {
        self.server.set_encoding_limits(EncodingLimits {
            list_max_listpack_size: s.list_max_listpack_size,
            list_compress_depth: s.list_compress_depth as usize,
            hash_max_listpack_entries: s.hash_max_listpack_entries as usize,
            hash_max_listpack_value: s.hash_max_listpack_value as usize,
            set_max_intset_entries: s.set_max_intset_entries as usize,
            set_max_listpack_entries: s.set_max_listpack_entries as usize,
            set_max_listpack_value: s.set_max_listpack_value as usize,
            zset_max_listpack_entries: s.zset_max_listpack_entries as usize,
            zset_max_listpack_value: s.zset_max_listpack_value as usize,
            stream: forkv_keyspace::StreamLimits {
                node_max_bytes: s.stream_node_max_bytes as usize,
                node_max_entries: s.stream_node_max_entries as usize,
            },
            // Not a config directive: the server keeps DEBUG QUICKLIST-PACKED-THRESHOLD's value.
            list_packed_threshold: 0,
        });
    }
}
