//! `LATENCY HISTOGRAM [command ...]` (Valkey `latency.c` `latencyHistogramCommand`): the
//! per-command latency histograms that INFO latencystats reads ([`crate::cmdstats`]), as
//! a map of command name to `calls` and `histogram_usec` (cumulative counts at doubling
//! microsecond levels). Kept apart from the other LATENCY subcommands (the latency
//! monitor's events), which register this handler as their `histogram` subcommand.

use crate::reply::Reply;
use crate::table::CommandSpec;
use crate::{Engine, Outcome};

/// One command's entry: name, calls, (highest equivalent ns, cumulative count) steps.
type Row = (&'static str, u64, Vec<(u64, u64)>);

/// LATENCY HISTOGRAM: every command with samples, or the named ones (a container name
/// covers its subcommands; unknown names are skipped).
pub fn latency_histogram(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let proto = e.client(id).map_or(2, |c| c.proto);
    let mut chosen: Vec<&'static str> = Vec::new();
    if argv.len() <= 2 {
        for spec in crate::table::all() {
            push_with_subcommands(spec, &mut chosen);
        }
    } else {
        for name in &argv[2..] {
            if let Some(spec) = lookup_full_name(name) {
                push_with_subcommands(spec, &mut chosen);
            }
        }
    }
    let rows: Vec<Row> = chosen
        .into_iter()
        .filter_map(|name| e.cmdstats.commands.get(name).and_then(|s| s.latency.as_ref()).map(|h| (name, h.total(), h.log_cdf())))
        .collect();
    let mut r = Reply::new(e.reply_mut(), proto);
    r.map(rows.len());
    for (name, calls, cdf) in rows {
        r.bulk(name.as_bytes());
        r.map(2);
        r.bulk(b"calls");
        r.int(i64::try_from(calls).unwrap_or(i64::MAX));
        r.bulk(b"histogram_usec");
        r.map(cdf.len());
        for (nanos, cumulative) in cdf {
            r.int(i64::try_from(nanos / 1000).unwrap_or(i64::MAX));
            r.int(i64::try_from(cumulative).unwrap_or(i64::MAX));
        }
    }
    Outcome::Done
}

/// A command by its full name (`get`, `config|get`, any case).
fn lookup_full_name(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.splitn(2, |&b| b == b'|');
    let top = crate::table::lookup(parts.next()?)?;
    match parts.next() {
        Some(sub) => top.subcommand(sub),
        None => Some(top),
    }
}

/// A command and, for a container, its subcommands (each counted under its own name).
fn push_with_subcommands(spec: &'static CommandSpec, out: &mut Vec<&'static str>) {
    // DEBUG's subcommands are counted as one command, as in Valkey (see cmdstats).
    if spec.name == "debug" || spec.subcommands.is_empty() {
        out.push(spec.name);
        return;
    }
    out.push(spec.name);
    for sub in spec.subcommands {
        out.push(sub.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_of_all_and_of_named_commands() {
        let mut e = Engine::new(1);
        e.add_client(1);
        assert_eq!(e.feed(1, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), Outcome::Done);
        e.clear_reply();
        latency_histogram(&mut e, 1, &[b"latency", b"histogram", b"set", b"nosuch", b"OBJECT|encoding"]);
        let reply = String::from_utf8_lossy(e.reply()).into_owned();
        assert!(reply.starts_with("*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n*2\r\n:"), "{reply}");
        assert!(reply.ends_with(":1\r\n"), "{reply}");
        e.clear_reply();
        latency_histogram(&mut e, 1, &[b"latency", b"histogram"]);
        let reply = String::from_utf8_lossy(e.reply()).into_owned();
        assert!(reply.starts_with("*4\r\n"), "set and get: {reply}");
        assert!(reply.contains("$3\r\nget\r\n") && reply.contains("$3\r\nset\r\n"), "{reply}");
    }
}
