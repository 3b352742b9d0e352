//! Per-command and per-error statistics: INFO `commandstats`, `errorstats`,
//! `latencystats` and `total_error_replies` (Valkey `server.c` `call()`,
//! `incrCommandStatsOnError`, `networking.c` `afterErrorReply`).
//!
//! Error replies are counted where they are written: [`crate::reply::Reply::error`]
//! records each one in a per-thread log ([`record_error`]), and the engine moves that log
//! into its counters ([`CommandStats::take_errors`]) when a command ends. Every command of
//! one server runs synchronously on the host's thread, so the log never holds another
//! server's errors when it is taken.
//!
//! A command is *failed* when error replies were produced since the previous command
//! ended (Valkey keeps that previous count in a static): errors of the commands an EXEC
//! or a script ran are theirs, not EXEC's or EVAL's. A *rejected* command (unknown
//! subcommand, arity, ACL, OOM, MISCONF...) is not called and counts as rejected.
//!
//! Latency is kept per command in a histogram with HdrHistogram's layout (values in
//! nanoseconds from 1 to 10^9, two significant digits), so the percentiles INFO
//! `latencystats` prints are the ones Valkey prints for the same samples.

use std::cell::RefCell;
use std::collections::HashMap;

/// Distinct error prefixes kept before custom (script) errors go to
/// `ERRORSTATS_OVERFLOW` (Valkey's ERRORSTATS_LIMIT).
pub const ERRORSTATS_LIMIT: usize = 128;

/// How an error reply counts (Valkey's ERR_REPLY_FLAG_*).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// A server error: always counted under its prefix.
    Plain,
    /// A script's own error (`error_reply`, `{err=...}`): past the limit of distinct
    /// prefixes, counted as `ERRORSTATS_OVERFLOW`.
    Custom,
    /// Already counted where it happened (a script returning the error of a command it
    /// called): not counted again, but the command still failed.
    NoStats,
}

thread_local! {
    /// Error replies written since the engine last took them: (prefix, kind).
    static ERROR_LOG: RefCell<Vec<(String, ErrorKind)>> = const { RefCell::new(Vec::new()) };
}

/// Records an error reply whose text (without the leading `-`) is `msg`.
pub fn record_error(msg: &str, kind: ErrorKind) {
    let prefix = error_prefix(msg);
    ERROR_LOG.with(|log| log.borrow_mut().push((prefix, kind)));
}

/// The code of an error message as Valkey files it: the first word when a space comes
/// within the first 31 characters after the `-`, else `ERR`.
pub fn error_prefix(msg: &str) -> String {
    let head = &msg.as_bytes()[..msg.len().min(31)];
    match head.iter().position(|&b| b == b' ') {
        Some(at) if at > 0 => String::from_utf8_lossy(&head[..at]).into_owned(),
        _ => "ERR".into(),
    }
}

/// Counters of one command (or subcommand).
#[derive(Default, Clone)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Latency samples (only while `latency-tracking` is on).
    pub latency: Option<Box<LatencyHistogram>>,
}

/// The counters INFO commandstats/errorstats/latencystats print.
pub struct CommandStats {
    /// Keyed by the command's full name (`config|get`).
    pub commands: HashMap<&'static str, CommandStat>,
    /// Error replies per prefix.
    pub errors: HashMap<String, u64>,
    /// `total_error_replies` at the end of the previous command.
    err_mark: u64,
    /// An error reply marked [`ErrorKind::NoStats`] was written by the running command.
    no_stats_failure: bool,
    /// `latency-tracking`.
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`.
    pub percentiles: Vec<f64>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            commands: HashMap::new(),
            errors: HashMap::new(),
            err_mark: 0,
            no_stats_failure: false,
            latency_tracking: true,
            percentiles: vec![50.0, 99.0, 99.9],
        }
    }
}

impl CommandStats {
    /// Moves the errors written since the last call into the counters; returns how many
    /// counted (for `total_error_replies`).
    pub fn take_errors(&mut self) -> u64 {
        let log = ERROR_LOG.with(|log| std::mem::take(&mut *log.borrow_mut()));
        let mut counted = 0;
        for (prefix, kind) in log {
            if kind == ErrorKind::NoStats {
                self.no_stats_failure = true;
                continue;
            }
            counted += 1;
            let key = if kind == ErrorKind::Custom && self.errors.len() >= ERRORSTATS_LIMIT && !self.errors.contains_key(&prefix) {
                "ERRORSTATS_OVERFLOW".to_string()
            } else {
                prefix
            };
            *self.errors.entry(key).or_default() += 1;
        }
        counted
    }

    /// A command ran (`rejected` false) or was refused (`rejected` true); `total_errors`
    /// is `total_error_replies` now. Calls, time and latency count for a run command;
    /// errors since the previous command make it failed (or rejected).
    pub fn command_done(&mut self, name: &'static str, usec: u64, rejected: bool, total_errors: u64) {
        let name = stats_name(name);
        let errored = total_errors > self.err_mark;
        let no_stats = std::mem::take(&mut self.no_stats_failure);
        self.err_mark = total_errors;
        let tracking = self.latency_tracking;
        let st = self.commands.entry(name).or_default();
        if rejected {
            if errored {
                st.rejected_calls += 1;
            }
            return;
        }
        st.calls += 1;
        st.usec += usec;
        if errored || no_stats {
            st.failed_calls += 1;
        }
        if tracking {
            st.latency.get_or_insert_with(Default::default).record(usec.saturating_mul(1000));
        }
    }

    /// A refusal before any command was known (unknown command): only the error counts.
    pub fn sync_errors(&mut self, total_errors: u64) {
        self.err_mark = total_errors;
        self.no_stats_failure = false;
    }

    /// CONFIG RESETSTAT: commands, errors and latency histograms (Valkey's
    /// resetCommandTableStats + resetErrorTableStats).
    pub fn reset(&mut self, total_errors: u64) {
        self.commands.clear();
        self.errors.clear();
        self.err_mark = total_errors;
        self.no_stats_failure = false;
    }

    /// INFO commandstats lines (without the header), by command name.
    pub fn render_commandstats(&self, out: &mut String) {
        let mut names: Vec<_> = self.commands.iter().filter(|(_, s)| s.calls > 0 || s.rejected_calls > 0 || s.failed_calls > 0).collect();
        names.sort_by_key(|(n, _)| **n);
        for (name, s) in names {
            let per_call = if s.calls == 0 { 0.0 } else { s.usec as f64 / s.calls as f64 };
            out.push_str(&format!(
                "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                s.calls, s.usec, s.rejected_calls, s.failed_calls
            ));
        }
    }

    /// INFO errorstats lines, by prefix.
    pub fn render_errorstats(&self, out: &mut String) {
        let mut errs: Vec<_> = self.errors.iter().collect();
        errs.sort();
        for (prefix, count) in errs {
            out.push_str(&format!("errorstat_{prefix}:count={count}\r\n"));
        }
    }

    /// INFO latencystats lines: `latency_percentiles_usec_<name>:p50=...,p99=...`.
    pub fn render_latencystats(&self, out: &mut String) {
        let mut names: Vec<_> = self.commands.iter().filter_map(|(n, s)| s.latency.as_ref().map(|h| (*n, h))).collect();
        names.sort_by_key(|(n, _)| *n);
        for (name, h) in names {
            out.push_str(&format!("latency_percentiles_usec_{name}:"));
            for (i, p) in self.percentiles.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&format!("p{}={:.3}", trim_double(*p), h.value_at_percentile(*p) as f64 / 1000.0));
            }
            out.push_str("\r\n");
        }
    }
}

/// The name a command is counted under: its table name (`config|get`), except DEBUG,
/// whose subcommands forkv's table lists but Valkey counts as one command.
fn stats_name(name: &'static str) -> &'static str {
    if name.starts_with("debug|") {
        "debug"
    } else {
        name
    }
}

/// `%f` with trailing zeros (and a trailing dot) removed, as Valkey's trimDoubleString.
fn trim_double(d: f64) -> String {
    let s = format!("{d:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// Sub-buckets per bucket for two significant digits (HdrHistogram: 2 * 10^2 rounded up
/// to a power of two).
const SUB_BUCKET_COUNT: usize = 256;
const SUB_BUCKET_HALF_COUNT: usize = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 7;
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT as u64 - 1;
/// Buckets needed to reach 10^9 (the highest trackable value) from 1.
const BUCKET_COUNT: usize = 23;
const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT;
/// Valkey's LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE (nanoseconds).
const MIN_VALUE: u64 = 1;
const MAX_VALUE: u64 = 1_000_000_000;

/// HdrHistogram (lowest 1, highest 10^9, 2 significant digits) of one command's
/// latencies in nanoseconds. The counts are kept sparse (the slots used, by index): a
/// command's latencies fill a few dozen of the 3072 slots, and every command has one.
#[derive(Clone, Default)]
pub struct LatencyHistogram {
    /// (counts index, count), sorted by index.
    counts: Vec<(u16, u64)>,
    total: u64,
}

fn bucket_index(v: u64) -> usize {
    let pow2ceiling = 64 - (v | SUB_BUCKET_MASK).leading_zeros();
    (pow2ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)) as usize
}

fn sub_bucket_index(v: u64, bucket: usize) -> usize {
    (v >> bucket) as usize
}

fn value_from_index(bucket: usize, sub: usize) -> u64 {
    (sub as u64) << bucket
}

fn counts_index(bucket: usize, sub: usize) -> usize {
    ((bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub - SUB_BUCKET_HALF_COUNT
}

fn value_at_index(idx: usize) -> u64 {
    let mut bucket = (idx >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub = (idx & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    value_from_index(bucket as usize, sub)
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    value_from_index(b, sub_bucket_index(v, b))
}

fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    let s = sub_bucket_index(v, b);
    let adjusted = if s >= SUB_BUCKET_COUNT { b + 1 } else { b };
    lowest_equivalent(v) + (1u64 << adjusted) - 1
}

impl LatencyHistogram {
    /// Records one sample, clamped to the trackable range (as Valkey does).
    pub fn record(&mut self, nanos: u64) {
        let v = nanos.clamp(MIN_VALUE, MAX_VALUE);
        let b = bucket_index(v);
        let idx = counts_index(b, sub_bucket_index(v, b));
        let Ok(idx) = u16::try_from(idx) else {
            return;
        };
        if usize::from(idx) >= COUNTS_LEN {
            return;
        }
        match self.counts.binary_search_by_key(&idx, |&(i, _)| i) {
            Ok(at) => self.counts[at].1 += 1,
            Err(at) => self.counts.insert(at, (idx, 1)),
        }
        self.total += 1;
    }

    /// Samples recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The cumulative distribution LATENCY HISTOGRAM prints: HdrHistogram's logarithmic
    /// iteration from 1024 ns doubling each step, as (highest equivalent value in
    /// nanoseconds, cumulative count) at each step whose count grew.
    pub fn log_cdf(&self) -> Vec<(u64, u64)> {
        let count_at = |idx: usize| -> u64 {
            u16::try_from(idx).ok().and_then(|i| self.counts.binary_search_by_key(&i, |&(j, _)| j).ok()).map_or(0, |at| self.counts[at].1)
        };
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut idx: Option<usize> = None;
        let (mut cumulative, mut value, mut highest) = (0u64, 0u64, 0u64);
        let mut level: u64 = 1024;
        let mut level_lowest = lowest_equivalent(level);
        let mut previous = 0;
        loop {
            let next = idx.map_or(0, |i| i + 1);
            let peek_beyond = next <= COUNTS_LEN && value_at_index(next) > level_lowest;
            if cumulative >= self.total && !peek_beyond {
                break;
            }
            loop {
                if value >= level_lowest {
                    level = level.saturating_mul(2);
                    level_lowest = lowest_equivalent(level);
                    break;
                }
                let i = idx.map_or(0, |i| i + 1);
                idx = Some(i);
                if i >= COUNTS_LEN {
                    break;
                }
                cumulative += count_at(i);
                value = value_at_index(i);
                highest = highest_equivalent(value);
            }
            if cumulative > previous {
                out.push((highest, cumulative));
            }
            previous = cumulative;
            if idx.is_some_and(|i| i >= COUNTS_LEN) {
                break;
            }
        }
        out
    }

    /// HdrHistogram's `hdr_value_at_percentile`.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let wanted = (((requested / 100.0) * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        let mut value = 0;
        for &(idx, c) in &self.counts {
            seen += c;
            if seen >= wanted {
                value = value_at_index(usize::from(idx));
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_as_valkey_files_them() {
        assert_eq!(error_prefix("ERR syntax error"), "ERR");
        assert_eq!(error_prefix("NOSCRIPT No matching script"), "NOSCRIPT");
        assert_eq!(error_prefix("My error message"), "My");
        assert_eq!(error_prefix("nospace"), "ERR");
        assert_eq!(error_prefix("AVERYLONGPREFIXTHATGOESPASTTHIRTYONECHARS x"), "ERR");
    }

    #[test]
    fn failed_rejected_and_nested_errors() {
        let mut s = CommandStats::default();
        let mut total = 0;
        // A command that errors is failed.
        record_error("ERR x", ErrorKind::Plain);
        total += s.take_errors();
        s.command_done("auth", 10, false, total);
        // A rejected one is not called.
        record_error("ERR wrong number of arguments for 'set' command", ErrorKind::Plain);
        total += s.take_errors();
        s.command_done("set", 0, true, total);
        // EXEC after a failing inner command is not failed itself.
        record_error("ERR y", ErrorKind::Plain);
        total += s.take_errors();
        s.command_done("get", 1, false, total);
        s.command_done("exec", 1, false, total);
        // A script returning an already counted error fails without counting it again.
        record_error("ERR z", ErrorKind::NoStats);
        total += s.take_errors();
        s.command_done("eval", 1, false, total);
        let mut out = String::new();
        s.render_commandstats(&mut out);
        assert!(out.contains("cmdstat_auth:calls=1,usec=10,usec_per_call=10.00,rejected_calls=0,failed_calls=1\r\n"), "{out}");
        assert!(out.contains("cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"), "{out}");
        assert!(out.contains("cmdstat_exec:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"), "{out}");
        assert!(out.contains("cmdstat_eval:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=1\r\n"), "{out}");
        assert_eq!(total, 3);
        let mut errs = String::new();
        s.render_errorstats(&mut errs);
        assert_eq!(errs, "errorstat_ERR:count=3\r\n");
    }

    #[test]
    fn custom_errors_overflow_past_the_limit_but_server_errors_do_not() {
        let mut s = CommandStats::default();
        for i in 0..200 {
            record_error(&format!("{i} my error"), ErrorKind::Custom);
        }
        record_error("ERR syntax error", ErrorKind::Plain);
        record_error("1 my error", ErrorKind::Custom);
        assert_eq!(s.take_errors(), 202);
        assert_eq!(s.errors.get("ERRORSTATS_OVERFLOW"), Some(&72));
        assert_eq!(s.errors.get("ERR"), Some(&1));
        assert_eq!(s.errors.get("1"), Some(&2));
    }

    #[test]
    fn histogram_percentiles_match_hdr_histogram() {
        let mut h = LatencyHistogram::default();
        for v in [1_000u64, 2_000, 3_000, 50_000_000] {
            h.record(v);
        }
        // Values within the 2-digit precision report their bucket's highest equivalent.
        assert_eq!(h.value_at_percentile(50.0), 2_007);
        assert_eq!(h.value_at_percentile(100.0), 50_069_503);
        assert_eq!(h.value_at_percentile(0.0), 1_000);
        // LATENCY HISTOGRAM's steps report the highest equivalent value of the first slot
        // at or past each level (1024, 2048, 4096 ns ... 2^26 ns), where the count grew.
        assert_eq!(h.log_cdf(), vec![(1_031, 1), (2_063, 2), (4_127, 3), (67_633_151, 4)]);
        let mut small = LatencyHistogram::default();
        small.record(0);
        assert_eq!(small.value_at_percentile(50.0), 1);
        assert_eq!(trim_double(99.9), "99.9");
        assert_eq!(trim_double(50.0), "50");
    }
}
