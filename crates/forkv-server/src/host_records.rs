//! The results the host receives, as records ([`crate::host_types`]): each is defined once
//! here with `host_type!` (its TypeScript interface in `ts/native/host-types.ts` is
//! generated from the same table) together with its construction from the server's own
//! types, so that the binding's methods are one call and the one generic conversion.
//! Where a server type already has the host's shape, it is the record itself
//! ([`crate::persist::policy::RewriteCron`], [`crate::BusyAccepted`]).

use std::os::fd::{IntoRawFd, OwnedFd};

use forkv_engine::log::LogLine;
use forkv_snapshot::{ChildKind, LogLevel};

use crate::host_types::host_type;
use crate::job_report::{JobEnd, JobProgress, JobReport};
use crate::persist::aof_state::{AofStatus, SwitchOn, TurnFlush};
use crate::persist::load::LoadDone;
use crate::persist::policy::FlushAllReset;
use crate::persist::shutdown::ShutdownReport;
use crate::snapshot::Forked;

// --- the background job: a child's lines, end and progress.

host_type! {
#[record = "ChildLogLine"]
/// A log line the child sent, to be printed by the host's logger.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildLogLine {
    pub level: &'static str,
    pub message: String,
}
}

host_type! {
#[record = "ChildDone"]
/// How a child ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildDone {
    pub pid: i32,
    /// "rdb" or "aof".
    pub kind: ChildKind,
    /// An RDB child of a diskless full sync (it wrote to the replicas, not to a file).
    pub transfer: bool,
    /// "ok", "err", "signal", "cancelled".
    pub outcome: &'static str,
    pub message: String,
    pub signal: i32,
}
}

impl From<JobEnd> for ChildDone {
    fn from(e: JobEnd) -> Self {
        ChildDone { pid: e.pid, kind: e.kind, transfer: e.transfer, outcome: e.outcome, message: e.message, signal: e.signal }
    }
}

host_type! {
#[record = "ChildPoll"]
/// What a poll found: log lines, current progress, and the exit if the child ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildPoll {
    pub logs: Vec<ChildLogLine>,
    pub done: Option<ChildDone>,
}
}

/// Log lines as the host's logger takes them.
fn log_lines(logs: Vec<(LogLevel, String)>) -> Vec<ChildLogLine> {
    logs.into_iter().map(|(level, message)| ChildLogLine { level: level.name(), message }).collect()
}

impl From<JobReport> for ChildPoll {
    fn from(p: JobReport) -> Self {
        ChildPoll { logs: log_lines(p.logs), done: p.done.map(ChildDone::from) }
    }
}

host_type! {
#[record = "ChildProgress"]
/// The running child (its progress is INFO's, assembled in the core).
#[derive(Clone, Debug, PartialEq)]
pub struct ChildProgress {
    pub pid: i32,
    pub kind: ChildKind,
    /// A diskless full sync's child (writes to the replicas, not to a file).
    pub transfer: bool,
}
}

impl From<JobProgress> for ChildProgress {
    fn from(p: JobProgress) -> Self {
        ChildProgress { pid: p.pid, kind: p.kind, transfer: p.transfer }
    }
}

// --- RDB: loads, status, FLUSHALL, the diskless transfer, shutdown.

host_type! {
#[record = "LoadReport"]
/// What the host needs of a finished load (its log lines are the core's): the
/// replication AUX fields of an RDB file a replica saved.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadReport {
    /// The `repl-stream-db` AUX field, when present.
    pub repl_stream_db: Option<u32>,
    /// The `repl-id` and `repl-offset` AUX fields, when both are present and valid.
    pub repl_id: Option<String>,
    pub repl_offset: Option<u64>,
}
}

impl From<&LoadDone> for LoadReport {
    fn from(d: &LoadDone) -> Self {
        let s = &d.summary;
        LoadReport {
            repl_stream_db: s.repl_stream_db,
            repl_id: s.repl_position.as_ref().map(|(id, _)| id.clone()),
            repl_offset: s.repl_position.as_ref().map(|(_, off)| *off),
        }
    }
}

host_type! {
#[record = "RdbStatus"]
/// What LASTSAVE needs of the RDB policy (the INFO fields and the write gate are the
/// core's: `refreshPersistenceInfo`, write_gate.rs).
#[derive(Clone, Debug, PartialEq)]
pub struct RdbStatus {
    pub last_save_time: i64,
}
}

host_type! {
#[record = "FlushAllReport"]
/// What FLUSHALL's persistence reset did.
#[derive(Clone, Debug, PartialEq)]
pub struct FlushAllReport {
    /// The cancelled snapshot child's messages and exit.
    pub cancelled: Option<ChildPoll>,
    /// The save of the empty dataset (true: saved), when there are save rules.
    pub saved: Option<bool>,
}
}

impl From<FlushAllReset> for FlushAllReport {
    fn from(r: FlushAllReset) -> Self {
        FlushAllReport { cancelled: r.cancelled.map(|p| JobReport::from(p).into()), saved: r.saved.map(|s| s.is_ok()) }
    }
}

host_type! {
#[record = "TransferFork"]
/// A diskless transfer child: its pid and the read end of its pipe.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferFork {
    pub pid: i32,
    pub fork_usec: u64,
    pub fd: i32,
}
}

impl TransferFork {
    /// The child and its pipe's read end, whose descriptor the host owns from now on.
    pub fn handed_over(forked: Forked, read_end: OwnedFd) -> Self {
        TransferFork { pid: forked.pid, fork_usec: forked.fork_usec, fd: read_end.into_raw_fd() }
    }
}

host_type! {
#[record = "ShutdownStepsDone"]
/// What the shutdown's persistence steps did.
#[derive(Clone, Debug, PartialEq)]
pub struct ShutdownStepsDone {
    /// The server may exit; false: refused (logged).
    pub ok: bool,
    /// The killed child's exit (its lines are logged on the engine's queue).
    pub killed: Option<ChildDone>,
}
}

impl From<ShutdownReport> for ShutdownStepsDone {
    fn from(r: ShutdownReport) -> Self {
        ShutdownStepsDone { ok: r.ok, killed: r.killed.map(|k| JobEnd::of(&k.exit, k.target).into()) }
    }
}

// --- AOF.

host_type! {
#[record = "AofFlushResult"]
/// What the turn's flush did (see [`TurnFlush`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AofFlushResult {
    /// "off" (nothing to write), "written" or "failed" (the core logs the error).
    pub outcome: &'static str,
    /// Written after a failed write: the error is solved.
    pub recovered: bool,
    /// Failed after a write that had not: the error is new (logged once).
    pub first: bool,
}
}

impl From<TurnFlush> for AofFlushResult {
    fn from(t: TurnFlush) -> Self {
        let (outcome, recovered, first) = match t {
            TurnFlush::Off => ("off", false, false),
            TurnFlush::Written { recovered, .. } => ("written", recovered, false),
            TurnFlush::Failed { first, .. } => ("failed", false, first),
        };
        AofFlushResult { outcome, recovered, first }
    }
}

host_type! {
#[record = "AofStatusReport"]
/// Whether the AOF is on (its write status reaches clients through the write gate).
#[derive(Clone, Debug, PartialEq)]
pub struct AofStatusReport {
    /// "off", "wait" (switched on, waiting for the first rewrite) or "on".
    pub state: &'static str,
}
}

impl From<&AofStatus> for AofStatusReport {
    fn from(st: &AofStatus) -> Self {
        AofStatusReport { state: st.state().name() }
    }
}

host_type! {
#[record = "AofSwitchOn"]
/// What CONFIG SET appendonly yes did.
#[derive(Clone, Debug, PartialEq)]
pub struct AofSwitchOn {
    /// "forked" (the first rewrite started), "scheduled" (after the running child) or
    /// "failed" (the AOF stays off).
    pub outcome: &'static str,
    /// The first rewrite's pid when forked.
    pub pid: Option<i32>,
}
}

impl From<SwitchOn> for AofSwitchOn {
    fn from(s: SwitchOn) -> Self {
        match s {
            SwitchOn::Forked(f) => AofSwitchOn { outcome: "forked", pid: Some(f.pid) },
            SwitchOn::Scheduled => AofSwitchOn { outcome: "scheduled", pid: None },
            SwitchOn::Failed => AofSwitchOn { outcome: "failed", pid: None },
        }
    }
}

host_type! {
#[record = "AofSyncMarks"]
/// WAITAOF's view of the local AOF: bytes appended so far and how many of them are fsynced
/// (Valkey's `fsynced_reploff`, counted in this process's AOF bytes; -1 while the AOF
/// waits for its first rewrite).
#[derive(Clone, Debug, PartialEq)]
pub struct AofSyncMarks {
    pub appended: u64,
    pub synced: i64,
}
}

impl AofSyncMarks {
    /// From [`crate::Server::aof_sync_marks`]'s (appended, fsynced) pair.
    pub fn of((appended, synced): (u64, Option<u64>)) -> Self {
        AofSyncMarks { appended, synced: synced.map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX)) }
    }
}

// --- the engine's calls: log lines, clients, deliveries, the command table.

host_type! {
#[record = "EngineLogLine"]
/// A line for the host's logger, with Valkey's level name.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineLogLine {
    pub level: &'static str,
    pub message: String,
}
}

impl From<LogLine> for EngineLogLine {
    fn from(l: LogLine) -> Self {
        EngineLogLine { level: l.level.name(), message: l.message }
    }
}

host_type! {
#[record = "ClientProtoName"]
/// A client's protocol and name (see `clientProtoAndName`).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientProtoName {
    pub proto: u8,
    pub name: String,
}
}

host_type! {
#[record = "Delivery"]
/// Messages waiting for one client.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: u64,
    /// The bytes, copied into a Buffer of V8's: the core's copy is freed at once. A
    /// Buffer wrapping the core's allocation would keep it (counted in `used_memory`)
    /// until the garbage collector ran, long after the socket wrote it.
    pub data: Vec<u8>,
    /// The receiving client's memory in the core (see `clientMemory`), for client eviction.
    pub memory: usize,
}
}

host_type! {
#[record = "CommandRow"]
/// A command table row (for COMMAND-derived docs such as the README list).
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRow {
    pub name: &'static str,
    pub arity: i32,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub flags: Vec<String>,
    pub host: bool,
}
}

/// Every top-level command (the README's command list is generated from this).
pub fn command_rows() -> Vec<CommandRow> {
    use forkv_engine::table;
    table::all()
        .map(|c| CommandRow {
            name: c.name,
            arity: c.arity,
            group: c.group,
            since: c.since,
            summary: c.summary,
            flags: table::flags::NAMES.iter().filter(|(b, _)| c.flags & b != 0).map(|(_, n)| n.to_string()).collect(),
            host: matches!(c.exec, table::Exec::Host),
        })
        .collect()
}

host_type! {
#[record = "RenameError"]
/// A refused `rename-command` directive: its index in the list and Valkey's message.
#[derive(Clone, Debug, PartialEq)]
pub struct RenameError {
    pub index: usize,
    pub message: &'static str,
}
}

impl From<(usize, &'static str)> for RenameError {
    fn from((index, message): (usize, &'static str)) -> Self {
        RenameError { index, message }
    }
}

/// `[[old, new], ...]` from the host; a malformed pair (not two names) names no command.
pub fn rename_pairs<B: AsRef<[u8]>>(pairs: &[Vec<B>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|p| match p.as_slice() {
            [old, new] => (old.as_ref().to_vec(), new.as_ref().to_vec()),
            _ => (Vec::new(), Vec::new()),
        })
        .collect()
}

// --- replication.

host_type! {
#[record = "ReplWaiting"]
/// Replicas waiting for a BGSAVE to start (see [`crate::Server::repl_waiting_start`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplWaiting {
    pub count: usize,
    pub max_idle_ms: u64,
    pub all_eof: bool,
    /// They asked for a filtered snapshot (REPLCONF rdb-filter-only): it goes to their sockets.
    pub filtered: bool,
}
}

// --- start-up system checks (forkv_snapshot::syscheck).

host_type! {
#[record = "MemoryWarnings"]
/// What `linuxMemoryWarnings` found.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryWarnings {
    /// Lines to log at warning level, already prefixed `WARNING ` as Valkey prints them.
    pub warnings: Vec<String>,
}
}

host_type! {
#[record = "SyscheckMessage"]
/// One line to log, with its Valkey level ("debug", "verbose", "notice", "warning").
#[derive(Clone, Debug, PartialEq)]
pub struct SyscheckMessage {
    pub level: &'static str,
    pub message: String,
}
}

host_type! {
#[record = "OpenFilesAdjustment"]
/// What `adjustOpenFilesLimit` did.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenFilesAdjustment {
    /// The `maxclients` the server can serve (reduced when the limit could not be raised).
    pub maxclients: u32,
    /// The soft limit in force afterwards (`Infinity` for RLIM_INFINITY).
    pub limit: f64,
    /// Lines to log, with Valkey's levels and texts.
    pub messages: Vec<SyscheckMessage>,
    /// The limit is too low to start at all (Valkey exits with status 1).
    pub fatal: bool,
}
}

impl From<forkv_snapshot::syscheck::OpenFilesAdjustment> for OpenFilesAdjustment {
    fn from(r: forkv_snapshot::syscheck::OpenFilesAdjustment) -> Self {
        OpenFilesAdjustment {
            maxclients: r.maxclients,
            limit: if r.limit == u64::MAX { f64::INFINITY } else { r.limit as f64 },
            messages: r.messages.into_iter().map(|(level, message)| SyscheckMessage { level: level.name(), message }).collect(),
            fatal: r.fatal,
        }
    }
}

/// The records of this module, in the order `ts/native/host-types.ts` lists them.
pub(crate) fn records_ts(out: &mut String) {
    use crate::host_types::record_ts;
    record_ts::<ChildLogLine>(out);
    record_ts::<ChildDone>(out);
    record_ts::<ChildPoll>(out);
    record_ts::<ChildProgress>(out);
    record_ts::<LoadReport>(out);
    record_ts::<RdbStatus>(out);
    record_ts::<FlushAllReport>(out);
    record_ts::<TransferFork>(out);
    record_ts::<ShutdownStepsDone>(out);
    record_ts::<AofFlushResult>(out);
    record_ts::<AofStatusReport>(out);
    record_ts::<AofSwitchOn>(out);
    record_ts::<AofSyncMarks>(out);
    record_ts::<crate::persist::policy::RewriteCron>(out);
    record_ts::<EngineLogLine>(out);
    record_ts::<crate::BusyAccepted>(out);
    record_ts::<ClientProtoName>(out);
    record_ts::<Delivery>(out);
    record_ts::<CommandRow>(out);
    record_ts::<RenameError>(out);
    record_ts::<ReplWaiting>(out);
    record_ts::<MemoryWarnings>(out);
    record_ts::<SyscheckMessage>(out);
    record_ts::<OpenFilesAdjustment>(out);
}
