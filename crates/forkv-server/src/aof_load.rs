//! Loading an append-only directory into a fresh keyspace, as Valkey's
//! `loadAppendOnlyFiles`: the start-up load (on a thread, while clients get `-LOADING`)
//! and `DEBUG LOADAOF` (in place) share it.
//!
//! Commands are replayed through a private [`Engine`] so that their semantics are the real
//! ones (a `MULTI` block, an `EVAL`, a `SET ... KEEPTTL` do what they did when they were
//! written); an RDB preamble goes through the RDB reader. The caller installs the resulting
//! keyspace; the manifest the loader read (after a legacy upgrade) comes back with it.
//!
//! A script replayed from the AOF that runs past `busy-reply-threshold` is "slow" as in
//! Valkey's `scriptInterrupt`: "Slow script detected" is logged (through [`AofLoadParams::log`],
//! while it still runs) and it goes on; it cannot be killed (Valkey's `mustObeyClient`
//! holds for the AOF client, and SCRIPT KILL is refused with `-LOADING` meanwhile).

use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc::Sender;

use forkv_aof::{AofLoadCallbacks, LoadError, LoadReport};
use forkv_engine::busy::BusyEvents;
use forkv_engine::log::{LogLevel, LogLine};
use forkv_engine::propagation_error::{self, PropagationErrorBehavior};
use forkv_engine::{Engine, Outcome};
use forkv_keyspace::{EncodingLimits, Keyspace};

/// How to load: where the directory is and what the configuration says.
#[derive(Clone, Debug)]
pub struct AofLoadParams {
    /// `dir`: the working directory holding `appenddirname`.
    pub work_dir: std::path::PathBuf,
    /// `appenddirname`.
    pub dirname: String,
    /// `appendfilename`: prefix of every file name and the manifest.
    pub filename: String,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// Databases of the server.
    pub databases: usize,
    /// Encodings values are built with (the configured listpack limits).
    pub limits: EncodingLimits,
    /// `key-load-delay` in microseconds: a pause per key read from an RDB preamble (tests
    /// use it to keep the server loading for a while; see `forkv_rdb::LoadOptions`).
    pub key_load_delay_us: i64,
    /// Event points of the load (an RDB preamble's bytes, every 1024 commands).
    pub progress: std::sync::Arc<forkv_rdb::LoadProgress>,
    /// `propagation-error-behavior`: what a replayed command's error does.
    pub propagation_error_behavior: PropagationErrorBehavior,
    /// `cluster-enabled`: the configuration asked for cluster mode (forkv still runs
    /// standalone). A CLUSTER state report in the AOF, which a Valkey cluster node answers,
    /// is then replayed without stopping the load on forkv's refusal.
    pub cluster_enabled: bool,
    /// `busy-reply-threshold` (`lua-time-limit`) in milliseconds: when a replayed script
    /// counts as slow (0: never).
    pub busy_reply_threshold_ms: u64,
    /// Where the replay's log lines go as they happen (the host's logger, through the
    /// thread that installs the result); `None` drops them.
    pub log: Option<Sender<LogLine>>,
}

/// Forwards the replay engine's log lines to `log` (the engine queues them for a host
/// that this private engine does not have).
fn forward_logs(engine: &mut Engine, log: Option<&Sender<LogLine>>) {
    if engine.logs.is_empty() {
        return;
    }
    for line in engine.logs.take() {
        if let Some(tx) = log {
            // The receiver is gone only when nobody waits for the load any more.
            let _ = tx.send(line);
        }
    }
}

/// The replay engine's events while a replayed script is slow: no client is served from
/// here (the host's own clients get `-LOADING` from the live engine), but the log line
/// of the slow script reaches the log while the script still runs, and each call is an
/// event point of the load (Valkey's scriptInterrupt serves events while loading too).
struct ReplayBusyEvents {
    log: Option<Sender<LogLine>>,
    progress: std::sync::Arc<forkv_rdb::LoadProgress>,
}

impl BusyEvents for ReplayBusyEvents {
    fn process(&mut self, engine: &mut Engine) {
        forward_logs(engine, self.log.as_ref());
        self.progress.event();
    }
}

/// Not the script pseudo-client's id (`u64::MAX`): an EVAL replayed from the AOF would
/// replace and then remove the replaying client.
const REPLAY_CLIENT: u64 = forkv_engine::cmd::script::SCRIPT_CLIENT - 1;

/// Replays AOF content into a private engine.
struct Replay {
    engine: Engine,
    propagation_error_behavior: PropagationErrorBehavior,
    cluster_enabled: bool,
    key_load_delay_us: i64,
    progress: std::sync::Arc<forkv_rdb::LoadProgress>,
    log: Option<Sender<LogLine>>,
}

impl AofLoadCallbacks for Replay {
    fn load_rdb_base(&mut self, file: &mut dyn BufRead, path: &Path) -> Result<u64, String> {
        let opts = forkv_rdb::LoadOptions {
            skip_expired: false,
            key_load_delay_us: self.key_load_delay_us,
            progress: Some(self.progress.clone()),
            ..Default::default()
        };
        let stats = forkv_rdb::load_rdb(file, &mut self.engine.ks, &opts).map_err(|e| format!("{}: {e}", path.display()))?;
        self.engine
            .load_function_codes(&stats.functions, forkv_engine::RestorePolicy::Append)
            .map_err(|e| format!("{}: failed loading a function library: {e}", path.display()))?;
        Ok(stats.bytes_read)
    }

    fn knows_command(&self, name: &[u8]) -> bool {
        forkv_engine::table::lookup(name).is_some()
    }

    fn progress(&mut self, _file_offset: u64) {
        self.progress.event();
    }

    fn apply_command(&mut self, argv: Vec<Vec<u8>>) -> Result<(), String> {
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        self.engine.ks.set_now(forkv_engine::cmd::now_ms());
        let outcome = self.engine.dispatch(REPLAY_CLIENT, &args);
        forward_logs(&mut self.engine, self.log.as_ref());
        let reply = self.engine.reply();
        // Valkey stops loading on an unknown command; other errors (WRONGTYPE after a
        // partial history) are replayed as they were.
        // An argument past forkv's 4 GB limit (an AOF written by Valkey with a larger
        // proto-max-bulk-len) stops the load too, as in the RDB loader: its data cannot be held.
        let too_long = reply.get(1..).is_some_and(|r| r.starts_with(forkv_engine::errors::ARG_TOO_BIG.as_bytes()));
        if reply.starts_with(b"-ERR unknown command") || too_long {
            let msg = String::from_utf8_lossy(&reply[1..reply.len().saturating_sub(2)]).into_owned();
            return Err(msg);
        }
        // CLUSTER SLOTS/SHARDS/... under `cluster-enabled yes`: a Valkey cluster node answers
        // them and discards the reply; forkv, which has no cluster mode, refuses them. Their
        // refusal changes no data, so it is only noted (with `cluster-enabled no` Valkey
        // refuses them too, and that error goes through afterErrorReply below).
        if self.cluster_enabled && forkv_engine::cmd::cluster::is_state_report(&args) && forkv_engine::cmd::cluster::is_disabled_reply(reply) {
            if let Some(tx) = &self.log {
                let line = format!("CLUSTER {} read from the AOF not answered: forkv has no cluster mode", String::from_utf8_lossy(args[1]).to_uppercase());
                let _ = tx.send(LogLine { level: LogLevel::Notice, message: line });
            }
            self.engine.clear_reply();
            return Ok(());
        }
        // Any other error: Valkey's afterErrorReply for its AOF client (logged; a panic
        // under `propagation-error-behavior panic`, which stops the load).
        if let Some(error) = propagation_error::error_text(reply) {
            // Valkey names the command by its full name (`cluster|slots`, c->lastcmd->fullname).
            let spec = forkv_engine::table::lookup(args[0]);
            let spec = spec.filter(|c| !c.unlisted_subcommands).and_then(|c| args.get(1).and_then(|sub| c.subcommand(sub))).or(spec);
            let command = spec.map_or_else(|| String::from_utf8_lossy(args[0]).to_lowercase(), |s| s.name.to_string());
            let line = propagation_error::critical_line("server", "AOF-loading-client", &error, &command);
            if let Some(tx) = &self.log {
                let _ = tx.send(LogLine { level: LogLevel::Warning, message: line });
            }
            if self.propagation_error_behavior.panics_for_aof() {
                return Err(propagation_error::panic_message("server", "AOF-loading-client", &command));
            }
        }
        self.engine.clear_reply();
        if let Outcome::Host(_) = outcome {
            return Err(format!("command '{}' cannot be replayed from the AOF", String::from_utf8_lossy(args[0])));
        }
        Ok(())
    }
}

/// What an AOF directory held.
pub struct AofLoaded {
    /// The data.
    pub ks: Keyspace,
    /// The manifest as loaded (open its last incr file next) and the sizes INFO shows.
    pub report: LoadReport,
    /// The function libraries' code (from an RDB preamble or replayed `FUNCTION LOAD`s).
    pub functions: Vec<Vec<u8>>,
}

/// Loads the AOF directory described by `p` into a new keyspace.
pub fn load_aof(p: &AofLoadParams) -> Result<AofLoaded, LoadError> {
    let mut engine = Engine::new(p.databases);
    engine.ks.set_encoding_limits(p.limits);
    engine.ks.loading = true;
    engine.cfg.busy_reply_threshold_ms = p.busy_reply_threshold_ms;
    engine.set_busy_events(Box::new(ReplayBusyEvents { log: p.log.clone(), progress: p.progress.clone() }));
    engine.add_client(REPLAY_CLIENT);
    if let Some(c) = engine.client_mut(REPLAY_CLIENT) {
        c.authenticated = true;
        // The replay client is internal: ACL permissions do not apply to it.
        c.user = None;
    }
    let mut replay = Replay { engine, propagation_error_behavior: p.propagation_error_behavior, cluster_enabled: p.cluster_enabled, key_load_delay_us: p.key_load_delay_us, progress: p.progress.clone(), log: p.log.clone() };
    let lo = forkv_aof::LoadOptions { aof_load_truncated: p.load_truncated, upgrade_legacy: true };
    let report = forkv_aof::load_aof_dir(&p.work_dir, &p.dirname, &p.filename, lo, &mut replay);
    forward_logs(&mut replay.engine, p.log.as_ref());
    let report = report?;
    let functions = replay.engine.function_codes();
    let mut ks = replay.engine.ks;
    ks.loading = false;
    Ok(AofLoaded { ks, report, functions })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use forkv_keyspace::{StrValue, Value};

    fn params(dir: &Path) -> AofLoadParams {
        AofLoadParams {
            work_dir: dir.to_path_buf(),
            dirname: "appendonlydir".into(),
            filename: "appendonly.aof".into(),
            load_truncated: true,
            databases: 16,
            limits: EncodingLimits::default(),
            key_load_delay_us: 0,
            progress: Default::default(),
            propagation_error_behavior: PropagationErrorBehavior::Ignore,
            cluster_enabled: false,
            busy_reply_threshold_ms: 5000,
            log: None,
        }
    }

    /// An old-style single-file AOF: an RDB preamble, then commands. The RDB reader reads
    /// ahead in big chunks; the commands after it must still be replayed.
    #[test]
    fn legacy_preamble_then_commands() {
        let dir = std::env::temp_dir().join(format!("forkv-aof-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ks = Keyspace::new(16);
        for k in ["k1", "k2"] {
            ks.set(0, k.as_bytes(), Value::Str(StrValue::from_vec(b"v".to_vec())), false);
        }
        let mut file = Vec::new();
        let wo = forkv_rdb::WriteOptions { aof_base: true, ..Default::default() };
        forkv_rdb::write_rdb(&mut file, &ks, &wo, &mut |_| Ok(())).unwrap();
        forkv_aof::encode_command(&mut file, &[b"SELECT", b"0"]);
        forkv_aof::encode_command(&mut file, &[b"SET", b"k3", b"v3"]);
        std::fs::write(dir.join("appendonly.aof"), &file).unwrap();

        let loaded = load_aof(&params(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(loaded.report.commands, 2);
        assert_eq!(loaded.ks.len(0), 3);
        assert!(loaded.ks.peek(0, b"k3").is_some());
    }

    /// A replayed EVAL that runs past `busy-reply-threshold` is logged as slow (while it
    /// runs, through the log channel) and still completes, as Valkey's AOF loading does.
    #[test]
    fn slow_replayed_script_is_logged_and_completes() {
        let dir = std::env::temp_dir().join(format!("forkv-aof-slow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = Vec::new();
        forkv_aof::encode_command(&mut file, &[b"SELECT", b"9"]);
        let script: &[u8] = b"redis.call('set',KEYS[1],'y'); for i=1,200000 do redis.call('ping') end return 'ok'";
        forkv_aof::encode_command(&mut file, &[b"EVAL", script, b"1", b"x"]);
        std::fs::write(dir.join("appendonly.aof"), &file).unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        let p = AofLoadParams { busy_reply_threshold_ms: 1, log: Some(tx), ..params(&dir) };
        let loaded = load_aof(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(loaded.ks.peek(9, b"x").is_some());
        let lines: Vec<LogLine> = rx.try_iter().collect();
        assert!(lines.iter().any(|l| l.message.starts_with("Slow script detected: still in execution after")), "{lines:?}");
    }

    /// CLUSTER SLOTS / SHARDS in the AOF under `propagation-error-behavior panic`: with
    /// `cluster-enabled yes` (Valkey answers them) the load goes on past forkv's refusal;
    /// with `cluster-enabled no` the refusal panics the load, as Valkey's does.
    #[test]
    fn cluster_state_reports_in_aof() {
        let dir = std::env::temp_dir().join(format!("forkv-aof-cluster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = Vec::new();
        forkv_aof::encode_command(&mut file, &[b"cluster", b"slots"]);
        forkv_aof::encode_command(&mut file, &[b"cluster", b"shards"]);
        forkv_aof::encode_command(&mut file, &[b"SET", b"k", b"v"]);
        std::fs::write(dir.join("appendonly.aof"), &file).unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        let panic = PropagationErrorBehavior::parse("panic").unwrap();
        let on = AofLoadParams { propagation_error_behavior: panic, cluster_enabled: true, log: Some(tx), ..params(&dir) };
        let loaded = load_aof(&on).unwrap();
        assert!(loaded.ks.peek(0, b"k").is_some());
        let lines: Vec<LogLine> = rx.try_iter().collect();
        assert!(lines.iter().any(|l| l.message.starts_with("CLUSTER SLOTS read from the AOF not answered")), "{lines:?}");

        let off = AofLoadParams { propagation_error_behavior: panic, ..params(&dir) };
        let err = load_aof(&off).err().map(|e| e.to_string()).unwrap_or_default();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("panicked sending an error to its AOF-loading-client"), "{err}");
    }

    /// An administrative CLUSTER subcommand (it would change a cluster node's state) still
    /// stops a `panic` load under `cluster-enabled yes`: forkv cannot do what it asked.
    #[test]
    fn cluster_admin_in_aof_still_panics() {
        let dir = std::env::temp_dir().join(format!("forkv-aof-cluster-admin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = Vec::new();
        forkv_aof::encode_command(&mut file, &[b"cluster", b"addslots", b"1"]);
        std::fs::write(dir.join("appendonly.aof"), &file).unwrap();
        let panic = PropagationErrorBehavior::parse("panic").unwrap();
        let on = AofLoadParams { propagation_error_behavior: panic, cluster_enabled: true, ..params(&dir) };
        let failed = load_aof(&on).is_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(failed);
    }
}
