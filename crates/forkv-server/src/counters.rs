//! The counters the host reads for INFO stats and its own samples (ops per second, traffic
//! rates, peak memory), gathered in one read.

use crate::host_types::host_type;
use crate::Server;

host_type! {
#[record = "CoreStats"]
/// Counters for INFO stats and the host's cron samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    /// The reply buffer every client's replies are assembled in (CLIENT LIST `rbs`).
    pub reply_buffer_size: usize,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub expired_keys: u64,
    /// Percent.
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Changes since the last save.
    pub dirty: u64,
    pub used_memory: usize,
    pub evicted_keys: u64,
    /// The AOF buffer and replica output (`mem_not_counted_for_evict`).
    pub mem_not_counted_for_evict: usize,
    pub total_eviction_exceeded_time: u64,
    pub current_eviction_exceeded_time: u64,
}
}

impl Server {
    /// The counters as of now.
    pub fn counters(&self) -> Counters {
        let e = &self.engine;
        let k = &e.ks.stats;
        let (total_exceeded, current_exceeded) = e.eviction_exceeded_ms();
        Counters {
            total_commands_processed: e.stats.total_commands_processed,
            total_net_input_bytes: e.stats.total_net_input_bytes,
            reply_buffer_size: e.reply_buffer_size(),
            total_error_replies: e.stats.total_error_replies,
            unexpected_error_replies: e.stats.unexpected_error_replies,
            expired_keys: k.expired_keys,
            expired_stale_perc: k.expired_stale_perc * 100.0,
            expired_time_cap_reached_count: k.expired_time_cap_reached_count,
            expire_cycle_cpu_milliseconds: k.expire_cycle_cpu_us / 1000,
            keyspace_hits: k.keyspace_hits,
            keyspace_misses: k.keyspace_misses,
            dirty: e.ks.dirty,
            used_memory: e.used_memory(),
            evicted_keys: k.evicted_keys,
            mem_not_counted_for_evict: e.mem_not_counted_for_evict(),
            total_eviction_exceeded_time: total_exceeded,
            current_eviction_exceeded_time: current_exceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_commands() {
        let mut s = Server::new(1);
        s.add_client(1);
        s.feed(1, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n");
        s.engine.clear_reply();
        s.engine.account_errors();
        let c = s.counters();
        assert_eq!((c.total_commands_processed, c.keyspace_hits, c.keyspace_misses, c.dirty, c.total_error_replies), (3, 1, 1, 1, 0));
        assert!(c.total_net_input_bytes > 0);
    }
}
