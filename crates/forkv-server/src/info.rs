//! INFO, assembled in one place section by section with Valkey's field names (Valkey's
//! `genValkeyInfoString`), so that a client and a script (`server.call('INFO')`) get the
//! same text.
//!
//! The server renders what it sees itself: the keyspace, the engine's counters, clients
//! blocked or watching, pub/sub, scripting memory, forks, command and error statistics.
//! Facts only the host knows (its port and listeners, config file, executable, process
//! memory, connection counters, replication status) are pushed by the host into
//! [`HostInfo`]: before it answers a client's INFO, and on every cron tick, so a script
//! sees them at most one tick old. The persistence section is the server's own
//! ([`crate::persist::info`]), refreshed at the same two points.
//!
//! Section selection follows Valkey 8: no argument or `default` gives the default
//! sections, `all` every section but `debug` (printed only when named, as in Valkey 8.0),
//! `everything` the same (forkv has no module sections);
//! several names may be given, unknown names are ignored, each section is printed once,
//! in Valkey's order.

use forkv_engine::memory_stats::{MemoryOverhead, ServerMemory};
use forkv_engine::Engine;

use crate::pubsub::PubSubStats;
use crate::repl::{Replication, SyncStats};

/// Every section forkv prints, in Valkey's order.
const SECTIONS: &[&str] = &["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace", "debug"];

/// Sections printed only when named: not part of `all` or `everything` (Valkey 8.0's
/// `debug`, per-turn timings of the event loop).
const NAMED_ONLY: &[&str] = &["debug"];

/// The sections of `INFO` and `INFO default`.
const DEFAULT_SECTIONS: &[&str] = &["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"];

/// The facts the host pushes: named values, and the ordered field lists of the sections
/// (or parts) the host owns.
#[derive(Default)]
pub struct HostInfo {
    /// Single facts by INFO field name (`tcp_port`, `used_memory_rss`, ...).
    facts: Vec<(String, String)>,
    /// `listener<N>` lines of the server section.
    listeners: Vec<(String, String)>,
    /// The persistence section: the server's own fields ([`Server::persistence_info`]),
    /// refreshed by [`Server::refresh_persistence_info`], never pushed by the host.
    ///
    /// [`Server::persistence_info`]: crate::Server::persistence_info
    /// [`Server::refresh_persistence_info`]: crate::Server::refresh_persistence_info
    pub(crate) persistence: Vec<(String, String)>,
    /// The replication section.
    replication: Vec<(String, String)>,
    /// The debug section (the host times its event loop).
    debug: Vec<(String, String)>,
}

impl HostInfo {
    /// Replaces one group of facts: `facts`, `listeners`, `replication` or `debug`. False
    /// for another group name (the persistence section is the server's own).
    pub fn set(&mut self, group: &str, fields: Vec<(String, String)>) -> bool {
        let slot = match group {
            "facts" => &mut self.facts,
            "listeners" => &mut self.listeners,
            "replication" => &mut self.replication,
            "debug" => &mut self.debug,
            _ => return false,
        };
        *slot = fields;
        true
    }

    /// Sets the single facts in `fields` (by name), keeping the others: the host pushes
    /// only the facts that changed since its last push.
    pub fn merge_facts(&mut self, fields: Vec<(String, String)>) {
        for (k, v) in fields {
            match self.facts.iter_mut().find(|(name, _)| *name == k) {
                Some(slot) => slot.1 = v,
                None => self.facts.push((k, v)),
            }
        }
    }

    /// A single fact ("" when the host never pushed it).
    pub fn fact(&self, name: &str) -> &str {
        self.facts.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn num(&self, name: &str) -> f64 {
        self.fact(name).parse().unwrap_or(0.0)
    }
}

/// The sections `requested` selects, in print order.
pub fn select(requested: &[&[u8]]) -> Vec<&'static str> {
    let names: Vec<String> = requested.iter().map(|r| String::from_utf8_lossy(r).to_ascii_lowercase()).collect();
    let all = names.iter().any(|n| n == "all" || n == "everything");
    let default = names.is_empty() || names.iter().any(|n| n == "default");
    SECTIONS
        .iter()
        .copied()
        .filter(|s| (all && !NAMED_ONLY.contains(s)) || (default && DEFAULT_SECTIONS.contains(s)) || names.iter().any(|n| n == s))
        .collect()
}

/// What the primary side of replication reports: the buffers it holds (INFO
/// `mem_replication_backlog`, `mem_total_replication_buffers`) and the syncs it served.
#[derive(Clone, Copy, Default)]
pub struct ReplFacts {
    /// Memory of the backlog, which also holds the stream of replicas still syncing.
    pub backlog: usize,
    /// Full and partial resynchronizations served.
    pub sync: SyncStats,
}

impl ReplFacts {
    /// The facts of the server's replication state.
    pub fn of(repl: &Replication) -> Self {
        ReplFacts { backlog: repl.backlog_allocated(), sync: repl.sync_stats }
    }
}

/// Renders INFO for the requested section names (empty: the default sections).
pub fn render(engine: &mut Engine, host: &HostInfo, pubsub: PubSubStats, repl: ReplFacts, beside: ServerMemory, requested: &[&[u8]]) -> String {
    engine.account_errors();
    // The memory as the command found it (after its eviction pass), before this text
    // is allocated: the text itself is no part of the dataset's figures.
    let used = engine.used_memory();
    let overhead = MemoryOverhead::collect(engine, beside);
    let mut out = String::new();
    for name in select(requested) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str("# ");
        if name == "cpu" {
            out.push_str("CPU");
        } else {
            out.push_str(&name[..1].to_ascii_uppercase());
            out.push_str(&name[1..]);
        }
        out.push_str("\r\n");
        let mut w = Fields(&mut out);
        match name {
            "server" => server(&mut w, host),
            "clients" => clients(&mut w, engine, host, &pubsub),
            "memory" => memory(&mut w, engine, host, used, &overhead, repl),
            "persistence" => w.list(&host.persistence),
            "stats" => stats(&mut w, engine, host, &pubsub, repl.sync),
            "replication" => w.list(&host.replication),
            "cpu" => cpu(&mut w),
            "commandstats" => engine.cmdstats.render_commandstats(w.0),
            "errorstats" => engine.cmdstats.render_errorstats(w.0),
            "latencystats" => engine.cmdstats.render_latencystats(w.0),
            // forkv loads no modules and runs no cluster: the sections are there, as
            // in a Valkey without them.
            "modules" => {}
            "cluster" => w.put("cluster_enabled", 0),
            "keyspace" => keyspace(&mut w, engine),
            "debug" => w.list(&host.debug),
            _ => {}
        }
    }
    out
}

/// `name:value\r\n` lines.
struct Fields<'a>(&'a mut String);

impl Fields<'_> {
    fn put(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::fmt::Write;
        let _ = write!(self.0, "{name}:{value}\r\n");
    }

    fn fact(&mut self, host: &HostInfo, name: &str) {
        self.put(name, host.fact(name));
    }

    fn list(&mut self, fields: &[(String, String)]) {
        for (k, v) in fields {
            self.put(k, v);
        }
    }
}

fn server(w: &mut Fields<'_>, host: &HostInfo) {
    let now_us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let started_ms = host.num("started_at_ms") as u128;
    let uptime = (now_us / 1000).saturating_sub(started_ms) / 1000;
    w.fact(host, "redis_version");
    w.put("server_name", "forkv");
    // The Valkey version forkv follows (Valkey's own valkey_version field).
    w.put("valkey_version", host.fact("valkey_compat_version"));
    // The build (crates/forkv-server/build.rs): its commit, uncommitted changes in crates/
    // then, and an id of the build.
    w.put("redis_git_sha1", env!("FORKV_GIT_SHA1"));
    w.put("redis_git_dirty", env!("FORKV_GIT_DIRTY"));
    w.put("redis_build_id", env!("FORKV_BUILD_ID"));
    w.fact(host, "forkv_version");
    w.fact(host, "valkey_compat_version");
    // Valkey 8 names the field server_mode, and redis_mode under extended-redis-compatibility.
    let mode = if host.fact("extended_redis_compatibility") == "yes" { "redis_mode" } else { "server_mode" };
    w.put(mode, "standalone");
    w.fact(host, "os");
    w.put("arch_bits", 64);
    // libuv's uv_hrtime, Node's monotonic clock.
    w.put("monotonic_clock", "POSIX clock_gettime");
    w.put("multiplexing_api", "libuv");
    // Valkey's value for a build not compiled by GCC (forkv's core is compiled by rustc).
    w.put("gcc_version", "0.0.0");
    w.fact(host, "node_version");
    w.put("process_id", std::process::id());
    w.put("process_supervised", "no");
    w.fact(host, "run_id");
    w.fact(host, "tcp_port");
    w.put("server_time_usec", now_us);
    w.put("uptime_in_seconds", uptime);
    w.put("uptime_in_days", uptime / 86400);
    w.fact(host, "hz");
    w.fact(host, "configured_hz");
    // The 24-bit seconds clock of the keys' LRU stamps.
    w.put("lru_clock", (now_us / 1_000_000) & 0xFF_FFFF);
    w.fact(host, "executable");
    w.fact(host, "config_file");
    w.put("io_threads_active", 0);
    w.fact(host, "availability_zone");
    w.fact(host, "shutdown_in_milliseconds");
    w.list(&host.listeners);
}

fn clients(w: &mut Fields<'_>, engine: &Engine, host: &HostInfo, pubsub: &PubSubStats) {
    let c = engine.conn_stats();
    w.fact(host, "connected_clients");
    // No cluster bus in forkv.
    w.put("cluster_connections", 0);
    w.fact(host, "maxclients");
    w.put("client_recent_max_input_buffer", engine.largest_query_buffer());
    w.fact(host, "client_recent_max_output_buffer");
    // Clients the host keeps blocked (WAIT, WAITAOF) count too.
    w.put("blocked_clients", c.blocked_clients + host.num("host_blocked_clients") as usize);
    w.put("tracking_clients", engine.csc.info().clients);
    w.put("pubsub_clients", pubsub.clients);
    w.put("watching_clients", c.watching_clients);
    w.put("clients_in_timeout_table", c.clients_in_timeout_table);
    w.put("total_watched_keys", c.total_watched_keys);
    w.put("total_blocking_keys", c.total_blocking_keys);
    w.put("total_blocking_keys_on_nokey", c.total_blocking_keys_on_nokey);
}

fn memory(w: &mut Fields<'_>, engine: &Engine, host: &HostInfo, used: usize, m: &MemoryOverhead, repl: ReplFacts) {
    let rss = host.num("used_memory_rss") as usize;
    let peak = engine.host_memory.peak.max(used);
    let total_system = host.num("total_system_memory") as usize;
    let heap = host.num("node_heap_used") as usize;
    let maxmemory = engine.cfg.maxmemory.maxmemory as usize;
    w.put("used_memory", used);
    w.put("used_memory_human", human(used));
    w.put("used_memory_rss", rss);
    w.put("used_memory_rss_human", human(rss));
    w.put("used_memory_peak", peak);
    w.put("used_memory_peak_human", human(peak));
    w.put("used_memory_peak_perc", format!("{}%", to_fixed(f64::from(m.peak_perc), 2)));
    w.put("used_memory_overhead", m.overhead_total);
    w.put("used_memory_startup", m.startup_allocated);
    w.put("used_memory_dataset", m.dataset);
    w.put("used_memory_dataset_perc", format!("{}%", to_fixed(f64::from(m.dataset_perc), 2)));
    w.put("allocator_allocated", m.allocator_allocated);
    w.put("allocator_active", m.allocator_active);
    w.put("allocator_resident", m.allocator_resident);
    w.put("allocator_muzzy", m.allocator_muzzy);
    w.put("total_system_memory", total_system);
    w.put("total_system_memory_human", human(total_system));
    scripting_memory(w, engine);
    w.put("node_heap_used", heap);
    w.put("node_heap_used_human", human(heap));
    w.put("maxmemory", maxmemory);
    w.put("maxmemory_human", human(maxmemory));
    w.fact(host, "maxmemory_policy");
    w.put("allocator_frag_ratio", to_fixed(f64::from(m.allocator_frag()), 2));
    w.put("allocator_frag_bytes", m.allocator_frag_bytes());
    w.put("allocator_rss_ratio", to_fixed(f64::from(m.allocator_rss()), 2));
    w.put("allocator_rss_bytes", m.allocator_rss_bytes());
    w.put("rss_overhead_ratio", to_fixed(f64::from(m.rss_extra()), 2));
    w.put("rss_overhead_bytes", m.rss_extra_bytes());
    w.put("mem_fragmentation_ratio", if used > 0 { to_fixed(rss as f64 / used as f64, 2) } else { "0.00".into() });
    w.put("mem_fragmentation_bytes", rss as i64 - used as i64);
    w.put("mem_not_counted_for_evict", engine.mem_not_counted_for_evict());
    w.put("mem_replication_backlog", m.repl_backlog);
    // Valkey's shared replication buffer: the backlog (holding the stream of the replicas
    // still syncing, once for all) and what waits in the replicas' sockets.
    w.put("mem_total_replication_buffers", repl.backlog + engine.replica_output_bytes);
    w.put("mem_clients_slaves", m.clients_replicas);
    w.put("mem_clients_normal", m.clients_normal);
    // No cluster bus in forkv.
    w.put("mem_cluster_links", 0);
    w.put("mem_aof_buffer", m.aof_buffer);
    w.fact(host, "mem_allocator");
    w.put("mem_overhead_db_hashtable_rehashing", m.rehashing);
    // No active defragmentation. Big values and flushed databases are freed on the
    // background thread (forkv_keyspace::lazyfree: UNLINK, FLUSH* ASYNC, lazyfree-lazy-*).
    w.put("active_defrag_running", 0);
    w.put("lazyfree_pending_objects", forkv_keyspace::lazyfree::pending_objects());
    w.put("lazyfreed_objects", forkv_keyspace::lazyfree::freed_objects());
}

/// The scripting fields of the memory section, in Valkey's order.
fn scripting_memory(w: &mut Fields<'_>, engine: &Engine) {
    let (vm_eval, scripts_eval) = engine.script_memory();
    let (libraries, functions) = engine.function_counts();
    let (vm_functions, function_bytes) = engine.function_memory();
    let vm_total = vm_eval + vm_functions;
    let scripts = scripts_eval + function_bytes;
    w.put("used_memory_lua", vm_eval);
    w.put("used_memory_vm_eval", vm_eval);
    w.put("used_memory_lua_human", human(vm_eval));
    w.put("used_memory_scripts_eval", scripts_eval);
    w.put("number_of_cached_scripts", engine.cached_scripts());
    w.put("number_of_functions", functions);
    w.put("number_of_libraries", libraries);
    w.put("used_memory_vm_functions", vm_functions);
    w.put("used_memory_vm_total", vm_total);
    w.put("used_memory_vm_total_human", human(vm_total));
    w.put("used_memory_functions", function_bytes);
    w.put("used_memory_scripts", scripts);
    w.put("used_memory_scripts_human", human(scripts));
}

fn stats(w: &mut Fields<'_>, engine: &Engine, host: &HostInfo, pubsub: &PubSubStats, sync: SyncStats) {
    let s = &engine.stats;
    let k = &engine.ks.stats;
    let (total_exceeded, current_exceeded) = engine.eviction_exceeded_ms();
    w.fact(host, "total_connections_received");
    w.put("total_commands_processed", s.total_commands_processed);
    w.fact(host, "instantaneous_ops_per_sec");
    // Valkey's totals include the replication traffic; the engine counts the clients'
    // input, the host the primary link's.
    w.put("total_net_input_bytes", s.total_net_input_bytes + host.num("total_net_repl_input_bytes") as u64);
    for name in [
        "total_net_output_bytes",
        "total_net_repl_input_bytes",
        "total_net_repl_output_bytes",
        "instantaneous_input_kbps",
        "instantaneous_output_kbps",
        "instantaneous_input_repl_kbps",
        "instantaneous_output_repl_kbps",
        "rejected_connections",
    ] {
        w.fact(host, name);
    }
    w.put("sync_full", sync.full);
    w.put("sync_partial_ok", sync.partial_ok);
    w.put("sync_partial_err", sync.partial_err);
    w.put("expired_keys", k.expired_keys);
    w.put("expired_stale_perc", to_fixed(k.expired_stale_perc * 100.0, 2));
    w.put("expired_time_cap_reached_count", k.expired_time_cap_reached_count);
    w.put("expire_cycle_cpu_milliseconds", k.expire_cycle_cpu_us / 1000);
    w.put("evicted_keys", k.evicted_keys);
    w.fact(host, "evicted_clients");
    // Valkey 8.0 evicts EVAL scripts from a full cache; forkv's script cache has no limit.
    w.put("evicted_scripts", 0);
    w.put("total_eviction_exceeded_time", total_exceeded);
    w.put("current_eviction_exceeded_time", current_exceeded);
    w.put("keyspace_hits", k.keyspace_hits);
    w.put("keyspace_misses", k.keyspace_misses);
    w.put("pubsub_channels", pubsub.channels);
    w.put("pubsub_patterns", pubsub.patterns);
    w.put("pubsubshard_channels", pubsub.shard_channels);
    w.put("latest_fork_usec", forkv_snapshot::latest_fork_usec());
    w.put("total_forks", forkv_snapshot::total_forks());
    w.put("migrate_cached_sockets", engine.migrate.len());
    // Keys a writable replica got with a TTL: forkv's replicas expire keys themselves and
    // keep no such table.
    w.put("slave_expires_tracked_keys", 0);
    // forkv has no active defragmentation.
    for name in ["active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time", "current_active_defrag_time"] {
        w.put(name, 0);
    }
    let t = engine.csc.info();
    w.put("tracking_total_keys", t.total_keys);
    w.put("tracking_total_items", t.total_items);
    w.put("tracking_total_prefixes", t.total_prefixes);
    w.put("unexpected_error_replies", s.unexpected_error_replies);
    w.put("total_error_replies", s.total_error_replies);
    w.put("dump_payload_sanitizations", k.dump_payload_sanitizations);
    w.fact(host, "total_reads_processed");
    w.fact(host, "total_writes_processed");
    // Every read and write happens on the main thread: forkv has no I/O threads.
    for name in ["io_threaded_reads_processed", "io_threaded_writes_processed", "io_threaded_freed_objects", "io_threaded_poll_processed", "io_threaded_total_prefetch_batches", "io_threaded_total_prefetch_entries"] {
        w.put(name, 0);
    }
    w.put("client_query_buffer_limit_disconnections", s.client_query_buffer_limit_disconnections);
    w.fact(host, "client_output_buffer_limit_disconnections");
    w.put("reply_buffer_shrinks", s.reply_buffer_shrinks);
    w.put("reply_buffer_expands", s.reply_buffer_expands);
    w.fact(host, "eventloop_cycles");
    w.fact(host, "eventloop_duration_sum");
    w.put("eventloop_duration_cmd_sum", s.command_time_ns / 1000);
    w.fact(host, "instantaneous_eventloop_cycles_per_sec");
    w.fact(host, "instantaneous_eventloop_duration_usec");
    let denied = engine.acl.log.denied;
    w.put("acl_access_denied_auth", denied.auth);
    w.put("acl_access_denied_cmd", denied.cmd);
    w.put("acl_access_denied_key", denied.key);
    w.put("acl_access_denied_channel", denied.channel);
}

/// The CPU section: the process, its reaped children (fork jobs) and the main thread
/// (INFO runs on it), from getrusage(2).
fn cpu(w: &mut Fields<'_>) {
    let [(sys, user), (sys_children, user_children), (sys_main, user_main)] = [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN, libc::RUSAGE_THREAD].map(cpu_seconds);
    w.put("used_cpu_sys", format!("{sys:.6}"));
    w.put("used_cpu_user", format!("{user:.6}"));
    w.put("used_cpu_sys_children", format!("{sys_children:.6}"));
    w.put("used_cpu_user_children", format!("{user_children:.6}"));
    w.put("used_cpu_sys_main_thread", format!("{sys_main:.6}"));
    w.put("used_cpu_user_main_thread", format!("{user_main:.6}"));
}

/// System and user CPU seconds of getrusage(`who`); zeros if the call fails.
fn cpu_seconds(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_stime), secs(ru.ru_utime))
}

fn keyspace(w: &mut Fields<'_>, engine: &Engine) {
    let ks = &engine.ks;
    for db in (0..ks.db_count()).filter(|&i| !ks.is_empty(i)) {
        w.put(&format!("db{db}"), format!("keys={},expires={}", ks.len(db), ks.expires_len(db)));
    }
}

/// Bytes in Valkey's human form: 1.50M, 512B.
pub fn human(bytes: usize) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes}B")
    } else {
        format!("{}{}", to_fixed(v, 2), UNITS[i])
    }
}

/// JavaScript's `toFixed`: a tie rounds away from zero (Rust's formatter rounds a
/// tie to even).
fn to_fixed(v: f64, digits: i32) -> String {
    let scale = 10f64.powi(digits);
    let scaled = v * scale;
    let floor = scaled.floor();
    let n = if scaled - floor == 0.5 { floor + 1.0 } else { scaled.round() };
    format!("{:.*}", digits as usize, n / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_selection_follows_valkey() {
        assert_eq!(select(&[]), DEFAULT_SECTIONS);
        assert_eq!(select(&[b"default"]), DEFAULT_SECTIONS);
        let all: Vec<&str> = SECTIONS.iter().copied().filter(|s| *s != "debug").collect();
        assert_eq!(select(&[b"all"]), all);
        assert_eq!(select(&[b"everything"]), all);
        // `debug` only when named, printed last as Valkey prints it.
        assert_eq!(select(&[b"debug", b"keyspace", b"server"]), ["server", "keyspace", "debug"]);
        assert_eq!(select(&[b"all", b"debug"]).last(), Some(&"debug"));
        assert_eq!(select(&[b"keyspace", b"CPU", b"nosuch"]), ["cpu", "keyspace"]);
        assert_eq!(select(&[b"cpu", b"default"]).iter().filter(|s| **s == "cpu").count(), 1);
        assert!(select(&[b"commandstats"]) == ["commandstats"]);
        assert!(select(&[b"nosuch"]).is_empty());
    }

    #[test]
    fn human_and_to_fixed_as_the_host_printed_them() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(1_179_648), "1.13M");
        assert_eq!(to_fixed(0.125, 2), "0.13");
        assert_eq!(to_fixed(1.0, 2), "1.00");
    }

    #[test]
    fn merged_facts_replace_by_name_and_keep_the_others() {
        let mut host = HostInfo::default();
        assert!(host.set("facts", vec![("tcp_port".into(), "6379".into()), ("used_memory_rss".into(), "100".into())]));
        host.merge_facts(vec![("used_memory_rss".into(), "200".into()), ("node_heap_used".into(), "7".into())]);
        assert_eq!(host.fact("tcp_port"), "6379");
        assert_eq!(host.fact("used_memory_rss"), "200");
        assert_eq!(host.fact("node_heap_used"), "7");
        assert_eq!(host.facts.len(), 3);
    }

    #[test]
    fn renders_core_sections_and_host_facts() {
        let mut e = Engine::new(2);
        e.add_client(1);
        assert_eq!(e.feed(1, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nNOPE\r\n"), forkv_engine::Outcome::Done);
        let mut host = HostInfo::default();
        assert!(host.set("facts", vec![("tcp_port".into(), "6379".into())]));
        assert!(!host.set("persistence", Vec::new()), "the persistence section is the server's own");
        host.persistence = vec![("loading".into(), "0".into())];
        assert!(!host.set("nosuch", Vec::new()));
        let text = render(&mut e, &host, PubSubStats::default(), ReplFacts::default(), ServerMemory::default(), &[b"server", b"persistence", b"keyspace", b"commandstats", b"errorstats", b"stats"]);
        assert!(text.starts_with("# Server\r\nredis_version:\r\nserver_name:forkv\r\n"), "{text}");
        assert!(text.contains("tcp_port:6379\r\n"));
        assert!(text.contains("\r\n\r\n# Persistence\r\nloading:0\r\n\r\n# Stats\r\n"), "{text}");
        assert!(text.contains("cmdstat_set:calls=1,"), "{text}");
        assert!(text.contains("# Errorstats\r\nerrorstat_ERR:count=1\r\n"), "{text}");
        assert!(text.contains("total_error_replies:1\r\n"), "{text}");
        assert!(text.ends_with("# Keyspace\r\ndb0:keys=1,expires=0\r\n"), "{text}");
    }
}
