//! The latency monitor (Valkey's latency.c): for each event class (`command`,
//! `fast-command`, `fork`, `aof-write`, `expire-cycle`, ...) the latencies at or above
//! `latency-monitor-threshold` milliseconds, one sample per second (the worst of that
//! second), the last [`TS_LEN`] of them, plus the all-time maximum.
//!
//! Every recorder goes through [`LatencyMonitor::add_if_needed`] (Valkey's
//! `latencyAddSampleIfNeeded`): the engine for commands and its cycles, the server and
//! the binding for forks and AOF I/O. A threshold of 0 turns recording off.
//!
//! The LATENCY command is a container; each subcommand has its own handler here except
//! HISTOGRAM, which reads the per-command histograms (`cmd::latency_histogram`).

use crate::reply::Reply;
use crate::table::flags::{ADMIN, LOADING, NOSCRIPT, STALE};
use crate::table::{container, spec, CommandSpec, Exec};
use crate::{Engine, Outcome};

/// Samples kept per event (Valkey's LATENCY_TS_LEN).
pub const TS_LEN: usize = 160;
/// Width of LATENCY GRAPH (Valkey's LATENCY_GRAPH_COLS).
const GRAPH_COLS: usize = 80;

const LF: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[container("latency", -2, 0, "server", "2.8.13", "A container for latency diagnostics commands.", SUBCOMMANDS)];

const SUBCOMMANDS: &[CommandSpec] = &[
    spec("latency|doctor", 2, LF, (0, 0, 0), "server", "2.8.13", "O(1)", "Returns a human-readable latency analysis report.", Exec::Engine(doctor)),
    spec("latency|graph", 3, LF, (0, 0, 0), "server", "2.8.13", "O(1)", "Returns a latency graph for an event.", Exec::Engine(graph)),
    spec("latency|help", 2, LOADING | STALE, (0, 0, 0), "server", "2.8.13", "O(1)", "Returns helpful text about the different subcommands.", Exec::Engine(help)),
    spec("latency|histogram", -2, LF, (0, 0, 0), "server", "7.0.0", "O(N) where N is the number of commands with latency information being retrieved.", "Returns the cumulative distribution of latencies of a subset or all commands.", Exec::Engine(crate::cmd::latency_histogram::latency_histogram)),
    spec("latency|history", 3, LF, (0, 0, 0), "server", "2.8.13", "O(1)", "Returns timestamp-latency samples for an event.", Exec::Engine(history)),
    spec("latency|latest", 2, LF, (0, 0, 0), "server", "2.8.13", "O(1)", "Returns the latest latency samples for all events.", Exec::Engine(latest)),
    spec("latency|reset", -2, LF, (0, 0, 0), "server", "2.8.13", "O(1)", "Resets the latency data for one or more events.", Exec::Engine(reset)),
];

/// One second's worst latency.
#[derive(Clone, Copy, Default)]
struct Sample {
    /// Unix time in seconds; 0 = an empty slot.
    time: i64,
    /// Milliseconds.
    latency: u64,
}

/// The samples of one event: a ring of [`TS_LEN`] seconds and the all-time maximum.
struct Series {
    samples: [Sample; TS_LEN],
    /// The slot the next new second goes to.
    idx: usize,
    max: u64,
}

impl Series {
    fn new() -> Self {
        Series { samples: [Sample::default(); TS_LEN], idx: 0, max: 0 }
    }

    /// The filled slots, oldest first.
    fn chronological(&self) -> impl Iterator<Item = &Sample> {
        (0..TS_LEN).map(move |j| &self.samples[(self.idx + j) % TS_LEN]).filter(|s| s.time != 0)
    }

    fn last(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// The monitor: its threshold, the events in the order they first happened, and what
/// DOCTOR's advice depends on (set by the host as the configuration changes).
pub struct LatencyMonitor {
    /// `latency-monitor-threshold` in milliseconds (0: off).
    pub threshold_ms: u64,
    events: Vec<(String, Series)>,
    /// Rate of the last fork in GB of used memory per second (Valkey's stat_fork_rate).
    pub fork_rate: f64,
    /// `hz`, for DOCTOR's advice on expire cycles.
    pub hz: u32,
    /// `appendfsync always`, for DOCTOR's advice on `aof-fsync-always`.
    pub aof_fsync_always: bool,
}

impl Default for LatencyMonitor {
    fn default() -> Self {
        LatencyMonitor { threshold_ms: 0, events: Vec::new(), fork_rate: 0.0, hz: 10, aof_fsync_always: false }
    }
}

/// Statistics of one event over the samples kept (Valkey's struct latencyStats).
#[derive(Debug, Default, PartialEq)]
struct Stats {
    all_time_high: u64,
    avg: u64,
    min: u64,
    max: u64,
    /// Mean absolute deviation from the average.
    mad: u64,
    samples: u64,
    /// Seconds from the oldest sample to now (at least 1).
    period: i64,
}

/// Unix time in seconds.
fn now_secs() -> i64 {
    crate::cmd::now_ms() / 1000
}

impl LatencyMonitor {
    /// Records `ms` for `event` when the monitor is on and `ms` reaches the threshold
    /// (Valkey's latencyAddSampleIfNeeded).
    pub fn add_if_needed(&mut self, event: &str, ms: u64) {
        if self.threshold_ms != 0 && ms >= self.threshold_ms {
            self.add_sample(event, ms, now_secs());
        }
    }

    /// Records a sample at Unix second `now`: a second already sampled keeps its worst.
    pub fn add_sample(&mut self, event: &str, ms: u64, now: i64) {
        let pos = match self.events.iter().position(|(e, _)| e == event) {
            Some(p) => p,
            None => {
                self.events.push((event.to_string(), Series::new()));
                self.events.len() - 1
            }
        };
        let ts = &mut self.events[pos].1;
        ts.max = ts.max.max(ms);
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].time == now {
            ts.samples[prev].latency = ts.samples[prev].latency.max(ms);
            return;
        }
        ts.samples[ts.idx] = Sample { time: now, latency: ms };
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// Forgets `event` (case-insensitively), or every event when None; returns how many.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(name) => self.events.retain(|(e, _)| !e.as_bytes().eq_ignore_ascii_case(name)),
        }
        before - self.events.len()
    }

    /// The series of `event`, matched exactly as Valkey's event dictionary does.
    fn series(&self, event: &[u8]) -> Option<(&str, &Series)> {
        self.events.iter().find(|(e, _)| e.as_bytes() == event).map(|(e, s)| (e.as_str(), s))
    }

    /// Average, deviation, extremes and period of `event`'s samples at second `now`.
    fn analyze(ts: &Series, now: i64) -> Stats {
        let mut st = Stats { all_time_high: ts.max, ..Stats::default() };
        let mut sum = 0u64;
        let mut oldest = 0i64;
        for s in ts.samples.iter().filter(|s| s.time != 0) {
            st.samples += 1;
            if st.samples == 1 {
                st.min = s.latency;
                st.max = s.latency;
            } else {
                st.min = st.min.min(s.latency);
                st.max = st.max.max(s.latency);
            }
            sum += s.latency;
            if oldest == 0 || s.time < oldest {
                oldest = s.time;
            }
        }
        if st.samples == 0 {
            return st;
        }
        st.avg = sum / st.samples;
        st.period = (now - oldest).max(1);
        let dev: u64 = ts.samples.iter().filter(|s| s.time != 0).map(|s| st.avg.abs_diff(s.latency)).sum();
        st.mad = dev / st.samples;
        st
    }

    /// LATENCY GRAPH's text for `event` (Valkey's latencyCommandGenSparkeline).
    fn graph(event: &str, ts: &Series, now: i64) -> String {
        let mut seq = Sparkline::default();
        let (mut min, mut max) = (0u64, 0u64);
        for s in ts.chronological() {
            if seq.samples.is_empty() {
                min = s.latency;
                max = s.latency;
            } else {
                max = max.max(s.latency);
                min = min.min(s.latency);
            }
            let elapsed = now - s.time;
            let label = if elapsed < 60 {
                format!("{elapsed}s")
            } else if elapsed < 3600 {
                format!("{}m", elapsed / 60)
            } else if elapsed < 86400 {
                format!("{}h", elapsed / 3600)
            } else {
                format!("{}d", elapsed / 86400)
            };
            seq.add(s.latency as f64, label);
        }
        let mut out = format!("{event} - high {max} ms, low {min} ms (all time high {} ms)\n", ts.max);
        out.push_str(&"-".repeat(GRAPH_COLS));
        out.push('\n');
        seq.render(&mut out, GRAPH_COLS, 4);
        out
    }

    /// LATENCY DOCTOR's report (Valkey's createLatencyReport). `slowlog` is
    /// (`slowlog-log-slower-than` µs, `slowlog-max-len`); `thp` is the process's
    /// AnonHugePages bytes.
    fn report(&self, slowlog: (i64, usize), thp: u64, now: i64) -> String {
        if self.events.is_empty() && self.threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Valkey instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n".into();
        }
        let mut a = Advice::default();
        let mut advices = 0;
        let mut out = String::new();
        for (n, (event, ts)) in self.events.iter().enumerate() {
            if n == 0 {
                out.push_str("Latency spikes are observed in this Valkey instance.\n\n");
            }
            let ls = Self::analyze(ts, now);
            out.push_str(&format!(
                "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
                n + 1,
                event,
                ls.samples,
                ls.avg,
                ls.mad,
                ls.period as f64 / ls.samples.max(1) as f64,
                ts.max
            ));
            match event.to_ascii_lowercase().as_str() {
                "fork" => {
                    let quality = if self.fork_rate < 10.0 {
                        "terrible"
                    } else if self.fork_rate < 25.0 {
                        "poor"
                    } else if self.fork_rate < 100.0 {
                        "good"
                    } else {
                        "excellent"
                    };
                    if self.fork_rate < 25.0 {
                        a.better_vm = true;
                        advices += 1;
                    }
                    out.push_str(&format!(" Fork rate is {:.2} GB/sec ({quality}).", self.fork_rate));
                }
                "command" => {
                    let (slower_than, max_len) = slowlog;
                    if slower_than < 0 || max_len == 0 {
                        a.slowlog_enabled = true;
                        advices += 1;
                    } else if (slower_than / 1000) as u64 > self.threshold_ms {
                        a.slowlog_tuning = true;
                        advices += 1;
                    }
                    a.slowlog_inspect = true;
                    a.large_objects = true;
                    advices += 2;
                }
                "fast-command" => {
                    a.scheduler = true;
                    advices += 1;
                }
                "aof-write-pending-fsync" => {
                    (a.local_disk, a.disk_contention, a.ssd, a.data_writeback) = (true, true, true, true);
                    advices += 4;
                }
                "aof-write-active-child" => {
                    (a.no_appendfsync, a.data_writeback, a.ssd) = (true, true, true);
                    advices += 3;
                }
                "aof-write-alone" => {
                    (a.local_disk, a.data_writeback, a.ssd) = (true, true, true);
                    advices += 3;
                }
                "aof-fsync-always" => {
                    a.relax_fsync_policy = true;
                    advices += 1;
                }
                "aof-fstat" | "rdb-unlink-temp-file" => {
                    (a.disk_contention, a.local_disk) = (true, true);
                    advices += 2;
                }
                "aof-rewrite-diff-write" | "aof-rename" => {
                    (a.write_load_info, a.data_writeback, a.ssd, a.local_disk) = (true, true, true, true);
                    advices += 4;
                }
                "expire-cycle" => {
                    (a.hz, a.large_objects) = (true, true);
                    advices += 2;
                }
                "eviction-del" => {
                    a.large_objects = true;
                    advices += 1;
                }
                "eviction-cycle" => {
                    a.mass_eviction = true;
                    advices += 1;
                }
                _ => {}
            }
            out.push('\n');
        }
        if thp > 0 {
            a.disable_thp = true;
            advices += 1;
        }
        if self.events.is_empty() && advices == 0 {
            out.push_str("No latency spike was observed during the lifetime of this Valkey instance, not in the slightest bit.\n");
        } else if !self.events.is_empty() && advices == 0 {
            out.push_str("\nThere are latency events logged that are not easy to fix. Please get some help from Valkey community, providing this report in your help request.\n");
        } else {
            out.push_str("\nHere is some advice for you:\n\n");
            a.write(&mut out, self.threshold_ms, self.aof_fsync_always, self.hz);
        }
        out
    }
}

/// Which pieces of advice DOCTOR gives.
#[derive(Default)]
struct Advice {
    better_vm: bool,
    slowlog_enabled: bool,
    slowlog_tuning: bool,
    slowlog_inspect: bool,
    disk_contention: bool,
    scheduler: bool,
    data_writeback: bool,
    no_appendfsync: bool,
    local_disk: bool,
    ssd: bool,
    write_load_info: bool,
    hz: bool,
    large_objects: bool,
    mass_eviction: bool,
    relax_fsync_policy: bool,
    disable_thp: bool,
}

impl Advice {
    /// Appends the advice in Valkey's order and words.
    fn write(&self, out: &mut String, threshold_ms: u64, fsync_always: bool, hz: u32) {
        if self.better_vm {
            out.push_str("- If you are using a virtual machine, consider upgrading it with a faster one using a hypervisior that provides less latency during fork() calls. Xen is known to have poor fork() performance. Even in the context of the same VM provider, certain kinds of instances can execute fork faster than others.\n");
        }
        if self.slowlog_enabled {
            out.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Valkey feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Valkey is not able to log slow commands execution for you.\n", threshold_ms * 1000));
        }
        if self.slowlog_tuning {
            out.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n", threshold_ms * 1000));
        }
        if self.slowlog_inspect {
            out.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://valkey.io/commands/slowlog for more information.\n");
        }
        if self.scheduler {
            out.push_str("- The system is slow to execute Valkey code paths not containing system calls. This usually means the system does not provide Valkey CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Valkey if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'valkey-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Valkey with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if self.local_disk {
            out.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
        }
        if self.ssd {
            out.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Valkey should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
        }
        if self.data_writeback {
            out.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Valkey restarts.\n");
        }
        if self.disk_contention {
            out.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Valkey instances).\n");
        }
        if self.no_appendfsync {
            out.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
        }
        if self.relax_fsync_policy && fsync_always {
            out.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
        }
        if self.write_load_info {
            out.push_str("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
        }
        if self.hz && hz < 100 {
            out.push_str("- In order to make the Valkey keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if self.large_objects {
            out.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
        if self.mass_eviction {
            out.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Valkey Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
        }
        if self.disable_thp {
            out.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Valkey is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Valkey process to get rid of the huge pages already created.\n");
        }
    }
}

/// A sequence of labelled samples drawn as an ASCII sparkline (Valkey's sparkline.c,
/// filled style).
#[derive(Default)]
struct Sparkline {
    samples: Vec<(f64, String)>,
    min: f64,
    max: f64,
}

impl Sparkline {
    const CHARSET_FILL: &'static [u8] = b"_o#";
    /// Blank rows between the graph and the labels.
    const LABEL_MARGIN_TOP: usize = 1;

    fn add(&mut self, value: f64, label: String) {
        if self.samples.is_empty() {
            self.min = value;
            self.max = value;
        } else if value < self.min {
            self.min = value;
        } else if value > self.max {
            self.max = value;
        }
        self.samples.push((value, label));
    }

    /// Draws the samples `columns` per block, `rows` rows high, each block followed by
    /// its labels written vertically.
    fn render(&self, out: &mut String, columns: usize, rows: usize) {
        let mut start = 0;
        while start < self.samples.len() {
            let len = (self.samples.len() - start).min(columns);
            if start != 0 {
                out.push('\n');
            }
            self.render_range(out, rows, start, len);
            start += columns;
        }
    }

    fn render_range(&self, out: &mut String, rows: usize, offset: usize, len: usize) {
        let charset_len = Self::CHARSET_FILL.len();
        let steps = (charset_len * rows) as i64;
        let mut relmax = self.max - self.min;
        if relmax == 0.0 {
            relmax = 1.0;
        }
        let has_labels = self.samples.iter().any(|(_, l)| !l.is_empty());
        let mut row = 0usize;
        loop {
            let mut chars = vec![b' '; len];
            let mut more = false;
            for (j, c) in chars.iter_mut().enumerate() {
                let (value, label) = &self.samples[j + offset];
                let relval = value - self.min;
                // As Valkey: the product is truncated before the division.
                let mut step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
                step = step.clamp(0, steps - 1);
                if row < rows {
                    let charidx = step - ((rows - row - 1) * charset_len) as i64;
                    more = true;
                    if (0..charset_len as i64).contains(&charidx) {
                        *c = Self::CHARSET_FILL[charidx as usize];
                    } else if charidx >= charset_len as i64 {
                        *c = b'|';
                    }
                } else {
                    if has_labels && row - rows < Self::LABEL_MARGIN_TOP {
                        more = true;
                        break;
                    }
                    let label_char = row - rows - Self::LABEL_MARGIN_TOP;
                    if let Some(&b) = label.as_bytes().get(label_char) {
                        more = true;
                        *c = b;
                    }
                }
            }
            if !more {
                break;
            }
            row += 1;
            out.push_str(&String::from_utf8_lossy(&chars));
            out.push('\n');
        }
    }
}

/// The process's AnonHugePages in bytes (Valkey's THPGetAnonHugePagesSize); 0 where
/// /proc is missing.
fn anon_huge_pages() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn proto(e: &Engine, id: u64) -> u8 {
    e.client(id).map_or(2, |c| c.proto)
}

fn latest(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let mut r = Reply::new(&mut e.out, proto);
    r.array(e.latency.events.len());
    for (event, ts) in &e.latency.events {
        let last = ts.last();
        r.array(4);
        r.bulk(event.as_bytes());
        r.int(last.time);
        r.int(last.latency as i64);
        r.int(ts.max as i64);
    }
    Outcome::Done
}

fn history(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let samples: Vec<Sample> = e.latency.series(argv[2]).map(|(_, ts)| ts.chronological().copied().collect()).unwrap_or_default();
    let mut r = Reply::new(&mut e.out, proto);
    r.array(samples.len());
    for s in samples {
        r.array(2);
        r.int(s.time);
        r.int(s.latency as i64);
    }
    Outcome::Done
}

fn graph(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let text = e.latency.series(argv[2]).map(|(event, ts)| LatencyMonitor::graph(event, ts, now_secs()));
    let mut r = Reply::new(&mut e.out, proto);
    match text {
        Some(t) => r.verbatim(t.as_bytes(), "txt"),
        None => {
            e.stats.total_error_replies += 1;
            r.error(&format!("ERR No samples available for event '{}'", String::from_utf8_lossy(argv[2])));
        }
    }
    Outcome::Done
}

fn doctor(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let slowlog = (e.slowlog.slower_than, e.slowlog.max_len);
    let text = e.latency.report(slowlog, anon_huge_pages(), now_secs());
    Reply::new(&mut e.out, proto).verbatim(text.as_bytes(), "txt");
    Outcome::Done
}

fn reset(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = proto(e, id);
    let n = if argv.len() == 2 { e.latency.reset(None) } else { argv[2..].iter().map(|ev| e.latency.reset(Some(ev))).sum() };
    Reply::new(&mut e.out, proto).int(n as i64);
    Outcome::Done
}

fn help(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    const LINES: &[&str] = &[
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ];
    let proto = proto(e, id);
    Reply::new(&mut e.out, proto).help("LATENCY", LINES);
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(threshold: u64) -> LatencyMonitor {
        LatencyMonitor { threshold_ms: threshold, ..LatencyMonitor::default() }
    }

    #[test]
    fn threshold_and_one_sample_per_second() {
        let mut m = on(0);
        m.add_if_needed("command", 500);
        assert!(m.events.is_empty(), "0 turns the monitor off");
        let mut m = on(100);
        m.add_if_needed("command", 99);
        assert!(m.events.is_empty());
        m.add_sample("command", 150, 1000);
        m.add_sample("command", 120, 1000);
        m.add_sample("command", 300, 1000);
        m.add_sample("command", 200, 1001);
        let (_, ts) = m.series(b"command").expect("series");
        let got: Vec<(i64, u64)> = ts.chronological().map(|s| (s.time, s.latency)).collect();
        assert_eq!(got, [(1000, 300), (1001, 200)], "the worst of a second is kept");
        assert_eq!(ts.max, 300);
        assert!(m.series(b"COMMAND").is_none(), "lookups are exact");
    }

    #[test]
    fn the_ring_keeps_the_last_160_seconds() {
        let mut m = on(1);
        for s in 1..=200 {
            m.add_sample("fork", s as u64, s);
        }
        let (_, ts) = m.series(b"fork").expect("series");
        let times: Vec<i64> = ts.chronological().map(|s| s.time).collect();
        assert_eq!(times.len(), TS_LEN);
        assert_eq!((times[0], times[TS_LEN - 1]), (41, 200));
        assert_eq!(ts.last().latency, 200);
    }

    #[test]
    fn reset_is_case_insensitive_and_counts() {
        let mut m = on(1);
        m.add_sample("command", 5, 10);
        m.add_sample("fork", 5, 10);
        assert_eq!(m.reset(Some(b"blabla")), 0);
        assert_eq!(m.reset(Some(b"FORK")), 1);
        assert_eq!(m.reset(None), 1);
        assert!(m.events.is_empty());
    }

    #[test]
    fn stats_match_valkeys_analysis() {
        let mut m = on(1);
        for (t, v) in [(100, 300), (101, 400), (102, 500)] {
            m.add_sample("command", v, t);
        }
        let (_, ts) = m.series(b"command").expect("series");
        let st = LatencyMonitor::analyze(ts, 110);
        assert_eq!(st, Stats { all_time_high: 500, avg: 400, min: 300, max: 500, mad: 66, samples: 3, period: 10 });
    }

    #[test]
    fn graph_is_valkeys_sparkline() {
        let mut m = on(1);
        m.add_sample("command", 200, 1000);
        let (event, ts) = m.series(b"command").expect("series");
        let g = LatencyMonitor::graph(event, ts, 1000);
        let dashes = "-".repeat(80);
        assert_eq!(g, format!("command - high 200 ms, low 200 ms (all time high 200 ms)\n{dashes}\n \n \n \n_\n \n0\ns\n"));
        let mut m = on(1);
        for (t, v) in [(1000, 300), (1001, 400), (1002, 500)] {
            m.add_sample("command", v, t);
        }
        let (event, ts) = m.series(b"command").expect("series");
        let g = LatencyMonitor::graph(event, ts, 1002);
        let body: Vec<&str> = g.lines().skip(2).collect();
        assert_eq!(body, ["  #", " _|", " ||", "_||", "   ", "210", "sss"]);
    }

    #[test]
    fn doctor_texts() {
        let m = on(0);
        assert!(m.report((10_000, 128), 0, 0).starts_with("I'm sorry, Dave"));
        let m = on(100);
        assert_eq!(m.report((10_000, 128), 0, 0), "No latency spike was observed during the lifetime of this Valkey instance, not in the slightest bit.\n");
        let mut m = on(100);
        m.add_sample("command", 200, 1000);
        let r = m.report((10_000, 128), 0, 1000);
        assert!(r.starts_with("Latency spikes are observed in this Valkey instance.\n\n1. command: 1 latency spikes (average 200ms, mean deviation 0ms, period 1.00 sec). Worst all time event 200ms.\n\nHere is some advice for you:\n\n- Check your Slow Log"), "{r}");
        let r = m.report((-1, 128), 0, 1000);
        assert!(r.contains("'CONFIG SET slowlog-log-slower-than 100000'"), "{r}");
    }
}
