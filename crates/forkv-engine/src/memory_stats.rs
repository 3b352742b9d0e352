//! What MEMORY STATS and MEMORY DOCTOR report: Valkey's `getMemoryOverheadData`, from
//! what forkv measures.
//!
//! The process-wide figures (resident set size, peak, memory at start-up) belong to the
//! host: it samples them on its cron tick, as Valkey samples `cron_malloc_stats` in
//! `serverCron`, and hands them over in [`HostMemory`].
//! The allocated bytes are read live through a probe the host installs (the counting
//! global allocator lives in the binding crate). The keyspace's table overheads, the AOF
//! buffer and the script cache the engine measures itself.
//!
//! The allocator figures are the allocator's own (jemalloc's `stats.*`, through the hook
//! the binding registers in [`crate::allocator`]), sampled with the host's figures as
//! Valkey's `cronUpdateMemoryStats` samples them. jemalloc serves Rust's allocations only
//! (Node and V8 allocate from glibc), so the RSS beyond jemalloc's resident bytes shows as
//! `rss_overhead`. An allocator without figures (a build on the system allocator) gets
//! Valkey's fallback for one without jemalloc: allocated is the allocated bytes, active
//! and resident are the RSS less the Lua VM, muzzy is 0; the ratios follow from those. Cluster links and function caches do not
//! exist in forkv and are 0, as they are in a Valkey without cluster or functions.
//!
//! The replication backlog and the clients' memory by class live beside the engine: the
//! server crate measures them ([`ServerMemory`], through [`crate::ServerCommands`]), so
//! that MEMORY STATS and INFO memory report the same figures, with Valkey's meaning:
//! `clients.normal` is the normal, pub/sub and primary-link clients (a replica's link to
//! its primary included), `clients.slaves` the replicas (their pending output and the
//! stream buffered while they sync), `replication.backlog` the backlog; all three are
//! part of `overhead.total`.

use crate::Engine;

/// Process figures the host samples on its cron tick.
#[derive(Clone, Copy, Default, Debug)]
pub struct HostMemory {
    /// Resident set size of the process.
    pub rss: usize,
    /// Highest allocated bytes seen (`used_memory_peak`).
    pub peak: usize,
    /// Allocated bytes once the server was initialised, before any data was loaded.
    pub startup: usize,
    /// Allocated bytes when the sample was taken (the ratios use the same instant's
    /// RSS and allocation, as Valkey's do).
    pub used: usize,
    /// The allocator's own figures at the sample, when it has them.
    pub allocator: Option<crate::allocator::AllocatorFigures>,
}

/// What the server beside the engine measures (Valkey's `repl_buffer_mem` split as
/// getMemoryOverheadData splits it, and `stat_clients_type_memory` by class).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ServerMemory {
    /// The replication backlog's bytes (INFO `mem_replication_backlog`).
    pub repl_backlog: usize,
    /// The clients of the normal, pub/sub and primary classes: what the server holds for
    /// each (query buffer, MULTI queue, watched keys, subscriptions) and their pending
    /// output (INFO `mem_clients_normal`).
    pub clients_normal: usize,
    /// The replicas: what the server holds for each, the stream buffered while they sync,
    /// and their pending output (INFO `mem_clients_slaves`).
    pub clients_replicas: usize,
    /// Connected clients that are not replicas, and replicas (MEMORY DOCTOR's averages).
    pub normal_count: usize,
    pub replica_count: usize,
}

/// One database's table overheads.
#[derive(Clone, Copy, Debug)]
pub struct DbOverhead {
    pub db: usize,
    pub main: usize,
    pub expires: usize,
}

/// Valkey's `serverMemOverhead`, as MEMORY STATS lists it.
#[derive(Clone, Debug, Default)]
pub struct MemoryOverhead {
    pub peak_allocated: usize,
    pub total_allocated: usize,
    pub startup_allocated: usize,
    pub repl_backlog: usize,
    pub clients_replicas: usize,
    pub clients_normal: usize,
    pub aof_buffer: usize,
    pub lua_caches: usize,
    pub dbs: Vec<DbOverhead>,
    pub lut: usize,
    pub rehashing: usize,
    pub rehashing_count: usize,
    pub overhead_total: usize,
    pub keys: usize,
    pub bytes_per_key: usize,
    pub dataset: usize,
    pub dataset_perc: f32,
    pub peak_perc: f32,
    pub allocator_allocated: usize,
    pub allocator_active: usize,
    pub allocator_resident: usize,
    pub allocator_muzzy: usize,
    pub rss: usize,
    /// Connected clients that are not replicas (DOCTOR's average client buffer).
    pub clients: usize,
    /// Connected replicas (DOCTOR's replica buffers).
    pub replicas: usize,
    /// Cached scripts (DOCTOR's "many scripts").
    pub scripts: usize,
}

/// `a / b` as Valkey's `(float)a / b`: a division by zero gives inf or NaN, as there.
fn ratio(a: usize, b: usize) -> f32 {
    a as f32 / b as f32
}

impl MemoryOverhead {
    /// Collects the figures from the engine, the server beside it (`server`, see
    /// [`Engine::server_memory`]) and the host's last sample.
    pub fn collect(e: &Engine, server: ServerMemory) -> Self {
        let host = e.host_memory;
        let used = e.used_memory();
        let (vm, bodies) = e.script_memory();
        let mut m = MemoryOverhead {
            total_allocated: used,
            startup_allocated: host.startup,
            peak_allocated: host.peak.max(used),
            repl_backlog: server.repl_backlog,
            clients_replicas: server.clients_replicas,
            clients_normal: server.clients_normal,
            aof_buffer: e.prop.buffer_bytes(),
            lua_caches: bodies,
            clients: server.normal_count,
            replicas: server.replica_count,
            scripts: e.cached_scripts(),
            rss: host.rss,
            ..Default::default()
        };
        let mut total = m.startup_allocated + m.repl_backlog + m.clients_replicas + m.clients_normal + m.aof_buffer + m.lua_caches;
        for i in 0..e.ks.db_count() {
            let db = e.ks.db(i);
            if db.keys.is_empty() {
                continue;
            }
            m.keys += db.keys.len();
            let d = DbOverhead { db: i, main: db.keys.mem_usage(), expires: db.expires.mem_usage() };
            total += d.main + d.expires;
            m.dbs.push(d);
            m.lut += db.keys.lut_bytes() + db.expires.lut_bytes();
            m.rehashing += db.keys.rehashing_bytes() + db.expires.rehashing_bytes();
            m.rehashing_count += usize::from(db.keys.is_rehashing()) + usize::from(db.expires.is_rehashing());
        }
        m.overhead_total = total;
        m.dataset = used.saturating_sub(total);
        m.peak_perc = used as f32 * 100.0 / m.peak_allocated as f32;
        let net = if used > m.startup_allocated { used - m.startup_allocated } else { 1 };
        m.dataset_perc = m.dataset as f32 * 100.0 / net as f32;
        m.bytes_per_key = m.dataset.checked_div(m.keys).unwrap_or(0);
        match host.allocator.filter(|a| a.resident > 0) {
            Some(a) => {
                m.allocator_allocated = a.allocated;
                m.allocator_active = a.active;
                m.allocator_resident = a.resident;
                m.allocator_muzzy = a.muzzy;
            }
            None => {
                // The system allocator's fallback figures (see the module comment).
                m.allocator_allocated = host.used;
                m.allocator_resident = host.rss.saturating_sub(vm);
                m.allocator_active = m.allocator_resident;
            }
        }
        m
    }

    /// `fragmentation`: RSS over allocated bytes at the sample.
    pub fn total_frag(&self) -> f32 {
        ratio(self.rss, self.allocator_allocated)
    }

    /// `fragmentation.bytes` (may be negative, as in Valkey).
    pub fn total_frag_bytes(&self) -> i64 {
        self.rss as i64 - self.allocator_allocated as i64
    }

    /// `allocator-fragmentation.ratio`.
    pub fn allocator_frag(&self) -> f32 {
        ratio(self.allocator_active, self.allocator_allocated)
    }

    /// `allocator-fragmentation.bytes`.
    pub fn allocator_frag_bytes(&self) -> i64 {
        self.allocator_active as i64 - self.allocator_allocated as i64
    }

    /// `allocator-rss.ratio`.
    pub fn allocator_rss(&self) -> f32 {
        ratio(self.allocator_resident, self.allocator_active)
    }

    /// `allocator-rss.bytes`.
    pub fn allocator_rss_bytes(&self) -> i64 {
        self.allocator_resident as i64 - self.allocator_active as i64
    }

    /// `rss-overhead.ratio`: process RSS over the allocator's resident bytes.
    pub fn rss_extra(&self) -> f32 {
        ratio(self.rss, self.allocator_resident)
    }

    /// `rss-overhead.bytes`.
    pub fn rss_extra_bytes(&self) -> i64 {
        self.rss as i64 - self.allocator_resident as i64
    }

    /// MEMORY DOCTOR's report (Valkey's `getMemoryDoctorReport`, same tests and texts).
    pub fn doctor_report(&self) -> String {
        const MB10: i64 = 10 << 20;
        if self.total_allocated < 5 * 1024 * 1024 {
            return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string();
        }
        let mut issues: Vec<&str> = Vec::new();
        if ratio(self.peak_allocated, self.total_allocated) > 1.5 {
            issues.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Valkey instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Valkey instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
        }
        if self.total_frag() > 1.4 && self.total_frag_bytes() > MB10 {
            issues.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Valkey process is much larger than the sum of the logical allocations Valkey performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
        }
        if self.allocator_frag() > 1.1 && self.allocator_frag_bytes() > MB10 {
            issues.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
        }
        if self.allocator_rss() > 1.1 && self.allocator_rss_bytes() > MB10 {
            issues.push(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n");
        }
        if self.rss_extra() > 1.1 && self.rss_extra_bytes() > MB10 {
            issues.push(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Valkey process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n");
        }
        if self.replicas > 0 && self.clients_replicas > 10 * 1024 * 1024 {
            issues.push(" * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the primary output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n");
        }
        if self.clients_normal.checked_div(self.clients).unwrap_or(0) > 200 * 1024 {
            issues.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Valkey instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
        }
        if self.scripts > 1000 {
            issues.push(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n");
        }
        if issues.is_empty() {
            return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
        }
        let mut s = String::from("Sam, I detected a few issues in this Valkey instance memory implants:\n\n");
        for i in issues {
            s.push_str(i);
        }
        s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(used: usize, peak: usize, rss: usize) -> MemoryOverhead {
        MemoryOverhead {
            total_allocated: used,
            peak_allocated: peak,
            allocator_allocated: used,
            allocator_active: rss,
            allocator_resident: rss,
            rss,
            clients: 1,
            ..Default::default()
        }
    }

    #[test]
    fn doctor_says_empty_below_five_megabytes() {
        assert!(sample(1 << 20, 1 << 20, 8 << 20).doctor_report().starts_with("Hi Sam, this instance is empty"));
    }

    #[test]
    fn doctor_reports_a_peak_and_fragmentation() {
        let r = sample(100 << 20, 200 << 20, 300 << 20).doctor_report();
        assert!(r.starts_with("Sam, I detected a few issues in this Valkey instance memory implants:\n\n"));
        assert!(r.contains(" * Peak memory:"));
        assert!(r.contains(" * High total RSS:"));
        assert!(r.contains(" * High allocator fragmentation:"));
        assert!(!r.contains("Big client buffers"));
        assert!(r.ends_with("I'm here to keep you safe, Sam. I want to help you.\n"));
    }

    #[test]
    fn doctor_finds_nothing_in_a_healthy_instance() {
        let r = sample(100 << 20, 100 << 20, 105 << 20).doctor_report();
        assert_eq!(r, "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n");
    }
}
