//! The log lines of a load's end, in Valkey's words (`loadDataFromDisk`,
//! `readSyncBulkPayload`, `debugCommand`): what the host printed itself before; now the
//! loader's end is logged on the engine's queue with the loader's own lines.

use forkv_engine::log::LogLevel;

use super::load::{LoadDone, LoadPurpose};
use crate::Server;

impl Server {
    /// Logs the end of a load of `purpose`: its summary, or why it failed.
    pub(crate) fn log_load_end(&mut self, purpose: LoadPurpose, result: &Result<LoadDone, String>) {
        let lines = match result {
            Ok(done) => done_lines(purpose, done),
            Err(e) => failure_lines(purpose, e),
        };
        for (level, line) in lines {
            self.log(level, &line);
        }
    }
}

/// The lines of a load that installed its dataset.
fn done_lines(purpose: LoadPurpose, d: &LoadDone) -> Vec<(LogLevel, String)> {
    let s = &d.summary;
    let secs = d.elapsed.as_secs_f64();
    match purpose {
        // DEBUG LOADAOF's line follows the reload's adoption (`aof_adopt_reload`).
        LoadPurpose::DebugLoadAof => Vec::new(),
        LoadPurpose::ReplicaSync => {
            vec![(LogLevel::Notice, format!("Done loading RDB, keys loaded: {}, keys expired: {}.", s.keys, s.expired_skipped))]
        }
        LoadPurpose::Startup if d.aof => {
            let mut out = Vec::new();
            if let Some((file, _)) = &s.truncated_at {
                out.push((LogLevel::Warning, format!("!!! Warning: short read while loading the AOF file {file}!!!")));
                out.push((LogLevel::Warning, format!("AOF {file} loaded anyway because aof-load-truncated is enabled")));
            }
            out.push((LogLevel::Notice, format!("DB loaded from append only file: {secs:.3} seconds")));
            out
        }
        LoadPurpose::Startup => {
            let mut out: Vec<(LogLevel, String)> = s.notes.iter().map(|n| (LogLevel::Notice, n.clone())).collect();
            let empty = if s.empty_skipped > 0 { format!(", empty keys skipped: {}", s.empty_skipped) } else { String::new() };
            out.push((LogLevel::Notice, format!("Done loading RDB, keys loaded: {}, keys expired: {}{empty}.", s.keys, s.expired_skipped)));
            out.push((LogLevel::Notice, format!("DB loaded from disk: {secs:.3} seconds")));
            out
        }
    }
}

/// The lines of a load that failed (the dataset stayed as it was).
fn failure_lines(purpose: LoadPurpose, error: &str) -> Vec<(LogLevel, String)> {
    match purpose {
        LoadPurpose::DebugLoadAof => return vec![(LogLevel::Warning, format!("DEBUG LOADAOF failed: {error}"))],
        // A replica goes on serving (the link is dropped and the sync starts over): the
        // loader's own lines (rdbReportError's, for a socket), no exit.
        LoadPurpose::ReplicaSync => return error.split('\n').map(|l| (LogLevel::Warning, l.to_string())).collect(),
        LoadPurpose::Startup => {}
    }
    let mut lines = error.split('\n');
    let first = lines.next().unwrap_or("").trim_end_matches('.');
    let mut out = vec![(LogLevel::Warning, format!("Fatal error loading the DB: {first}. Exiting."))];
    out.extend(lines.map(|l| (LogLevel::Warning, l.to_string())));
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::persist::load::LoadSummary;

    fn done(aof: bool, summary: LoadSummary) -> LoadDone {
        LoadDone { summary, elapsed: Duration::from_millis(1234), aof }
    }

    fn texts(lines: Vec<(LogLevel, String)>) -> Vec<String> {
        lines.into_iter().map(|(_, l)| l).collect()
    }

    #[test]
    fn each_load_ends_in_its_words() {
        let rdb = LoadSummary { keys: 3, expired_skipped: 1, empty_skipped: 2, notes: vec!["skipped".into()], ..Default::default() };
        assert_eq!(
            texts(done_lines(LoadPurpose::Startup, &done(false, rdb.clone()))),
            ["skipped", "Done loading RDB, keys loaded: 3, keys expired: 1, empty keys skipped: 2.", "DB loaded from disk: 1.234 seconds"]
        );
        assert_eq!(texts(done_lines(LoadPurpose::ReplicaSync, &done(false, rdb))), ["Done loading RDB, keys loaded: 3, keys expired: 1."]);
        let aof = LoadSummary { truncated_at: Some(("a.aof".into(), 10)), ..Default::default() };
        let lines = done_lines(LoadPurpose::Startup, &done(true, aof));
        assert_eq!(lines[0], (LogLevel::Warning, "!!! Warning: short read while loading the AOF file a.aof!!!".into()));
        assert_eq!(texts(lines)[2], "DB loaded from append only file: 1.234 seconds");
        assert!(done_lines(LoadPurpose::DebugLoadAof, &done(true, LoadSummary::default())).is_empty());
    }

    #[test]
    fn a_failed_load_says_why() {
        assert_eq!(texts(failure_lines(LoadPurpose::Startup, "Bad file format...\nat offset 9")), ["Fatal error loading the DB: Bad file format. Exiting.", "at offset 9"]);
        assert_eq!(texts(failure_lines(LoadPurpose::DebugLoadAof, "no manifest")), ["DEBUG LOADAOF failed: no manifest"]);
    }
}
