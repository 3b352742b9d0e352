//! The child-info pipe: fixed-size records from child to parent, and the parent's view of them.
//!
//! This is Valkey's `childinfo.c`, extended with log lines and a final result. Every record is
//! exactly [`RECORD_SIZE`] bytes. That is no more than `PIPE_BUF` (4096 on Linux, 512 on macOS),
//! so each `write(2)` is atomic: a record is never interleaved with another, and on a full
//! non-blocking pipe it fails whole with `EAGAIN`. A read, however, may return any number of
//! bytes, so the parent keeps a partial record across reads (`RecordReader`).
//!
//! Layout (native endianness; both ends are the same binary on the same machine):
//!
//! ```text
//! 0..4    magic "FKCI"            4      record kind (1 progress, 2 log, 3 done)
//! 5       log level / ok flag     6..8   message length (u16)
//! 8..16   keys processed          16..24 keys total (0 = unknown)
//! 24..32  cow bytes (current)     32..40 cow sampled at (CLOCK_MONOTONIC, µs)
//! 40..48  cow peak                48..56 cow average
//! 56..64  reserved                64..   message (UTF-8, truncated at a char boundary)
//! ```

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::fork::ChildHandle;
use crate::sys::{floor_char_boundary, monotonic_us};

/// Size in bytes of every record on the child-info pipe (≤ `PIPE_BUF` everywhere, so writes are
/// atomic).
pub const RECORD_SIZE: usize = 512;
/// Where the message starts inside a record.
const MSG_OFFSET: usize = 64;
/// The longest message a record carries; longer log lines and error strings are truncated.
pub const MAX_MESSAGE_LEN: usize = RECORD_SIZE - MSG_OFFSET;
const MAGIC: [u8; 4] = *b"FKCI";

const KIND_PROGRESS: u8 = 1;
const KIND_LOG: u8 = 2;
const KIND_DONE: u8 = 3;

/// Severity of a log line sent by the child (Valkey's log levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`.
    Debug,
    /// `verbose`.
    Verbose,
    /// `notice`.
    Notice,
    /// `warning`.
    Warning,
}

impl LogLevel {
    /// The level's name as the `loglevel` directive spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            LogLevel::Debug => 0,
            LogLevel::Verbose => 1,
            LogLevel::Notice => 2,
            LogLevel::Warning => 3,
        }
    }

    fn from_byte(b: u8) -> LogLevel {
        match b {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            _ => LogLevel::Warning,
        }
    }
}

/// A periodic progress report (Valkey's `CHILD_INFO_TYPE_CURRENT_INFO`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressInfo {
    /// Keys written so far.
    pub keys_processed: u64,
    /// Keys the child expects to write, or 0 if the job did not say.
    pub keys_total: u64,
    /// The child's latest copy-on-write figure (`Private_Dirty`), in bytes.
    pub cow_bytes: u64,
    /// When that figure was sampled (`CLOCK_MONOTONIC`, µs); 0 if never.
    pub cow_updated_us: u64,
}

/// The child's final record, sent after the job returned (or panicked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoneInfo {
    /// Whether the job returned `Ok`.
    pub ok: bool,
    /// Keys processed at the end.
    pub keys_processed: u64,
    /// Copy-on-write bytes at the end (a fresh sample).
    pub cow_bytes: u64,
    /// Highest copy-on-write figure the child sampled.
    pub cow_peak: u64,
    /// Average of the child's samples.
    pub cow_average: u64,
    /// The job's error (or panic) message; empty on success.
    pub message: String,
}

/// One record received from the child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildInfo {
    /// Progress and copy-on-write, at most about once a second.
    Progress(ProgressInfo),
    /// A log line for the parent to print with its own logger.
    Log {
        /// Severity.
        level: LogLevel,
        /// The text (at most [`MAX_MESSAGE_LEN`] bytes).
        message: String,
    },
    /// The job finished; the child is about to `_exit`.
    Done(DoneInfo),
}

/// The fields of one record as the child encodes it (borrowing its message).
#[derive(Default)]
pub(crate) struct RecordFields<'a> {
    pub(crate) keys_processed: u64,
    pub(crate) keys_total: u64,
    pub(crate) cow_bytes: u64,
    pub(crate) cow_updated_us: u64,
    pub(crate) cow_peak: u64,
    pub(crate) cow_average: u64,
    pub(crate) message: &'a str,
}

/// Encodes a progress record.
pub(crate) fn encode_progress(f: &RecordFields<'_>) -> [u8; RECORD_SIZE] {
    encode(KIND_PROGRESS, 0, f)
}

/// Encodes a log record.
pub(crate) fn encode_log(level: LogLevel, message: &str) -> [u8; RECORD_SIZE] {
    encode(
        KIND_LOG,
        level.to_byte(),
        &RecordFields {
            message,
            ..RecordFields::default()
        },
    )
}

/// Encodes the final record.
pub(crate) fn encode_done(ok: bool, f: &RecordFields<'_>) -> [u8; RECORD_SIZE] {
    encode(KIND_DONE, u8::from(ok), f)
}

fn encode(kind: u8, flag: u8, f: &RecordFields<'_>) -> [u8; RECORD_SIZE] {
    let mut rec = [0u8; RECORD_SIZE];
    rec[0..4].copy_from_slice(&MAGIC);
    rec[4] = kind;
    rec[5] = flag;
    let msg_len = floor_char_boundary(f.message, MAX_MESSAGE_LEN);
    // MAX_MESSAGE_LEN < u16::MAX, so this never saturates.
    let len16 = u16::try_from(msg_len).unwrap_or(u16::MAX);
    rec[6..8].copy_from_slice(&len16.to_ne_bytes());
    put_u64(&mut rec, 8, f.keys_processed);
    put_u64(&mut rec, 16, f.keys_total);
    put_u64(&mut rec, 24, f.cow_bytes);
    put_u64(&mut rec, 32, f.cow_updated_us);
    put_u64(&mut rec, 40, f.cow_peak);
    put_u64(&mut rec, 48, f.cow_average);
    rec[MSG_OFFSET..MSG_OFFSET + msg_len].copy_from_slice(&f.message.as_bytes()[..msg_len]);
    rec
}

fn put_u64(rec: &mut [u8; RECORD_SIZE], at: usize, v: u64) {
    rec[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

fn get_u64(rec: &[u8; RECORD_SIZE], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&rec[at..at + 8]);
    u64::from_ne_bytes(b)
}

/// Decodes one record; `None` if it is not one of ours (bad magic or kind).
pub(crate) fn decode(rec: &[u8; RECORD_SIZE]) -> Option<ChildInfo> {
    if rec[0..4] != MAGIC {
        return None;
    }
    let msg_len = usize::from(u16::from_ne_bytes([rec[6], rec[7]])).min(MAX_MESSAGE_LEN);
    let message = || String::from_utf8_lossy(&rec[MSG_OFFSET..MSG_OFFSET + msg_len]).into_owned();
    match rec[4] {
        KIND_PROGRESS => Some(ChildInfo::Progress(ProgressInfo {
            keys_processed: get_u64(rec, 8),
            keys_total: get_u64(rec, 16),
            cow_bytes: get_u64(rec, 24),
            cow_updated_us: get_u64(rec, 32),
        })),
        KIND_LOG => Some(ChildInfo::Log {
            level: LogLevel::from_byte(rec[5]),
            message: message(),
        }),
        KIND_DONE => Some(ChildInfo::Done(DoneInfo {
            ok: rec[5] != 0,
            keys_processed: get_u64(rec, 8),
            cow_bytes: get_u64(rec, 24),
            cow_peak: get_u64(rec, 40),
            cow_average: get_u64(rec, 48),
            message: message(),
        })),
        _ => None,
    }
}

/// Reassembles records from arbitrary byte chunks; a partial record waits for the next chunk.
pub(crate) struct RecordReader {
    partial: [u8; RECORD_SIZE],
    len: usize,
    /// Records that failed to decode (should stay 0: writes are atomic).
    pub(crate) corrupt: u64,
    /// The child closed its end (it exited, or closed the fd).
    pub(crate) eof: bool,
}

impl RecordReader {
    pub(crate) fn new() -> Self {
        Self {
            partial: [0; RECORD_SIZE],
            len: 0,
            corrupt: 0,
            eof: false,
        }
    }

    /// Feeds bytes and appends each completed record to `out`.
    pub(crate) fn push(&mut self, mut bytes: &[u8], out: &mut Vec<ChildInfo>) {
        while !bytes.is_empty() {
            let take = (RECORD_SIZE - self.len).min(bytes.len());
            self.partial[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len == RECORD_SIZE {
                self.len = 0;
                match decode(&self.partial) {
                    Some(info) => out.push(info),
                    None => self.corrupt += 1,
                }
            }
        }
    }

    /// Reads everything the pipe holds now (non-blocking fd) and decodes it into `out`.
    pub(crate) fn read_available(&mut self, fd: RawFd, out: &mut Vec<ChildInfo>) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        loop {
            // SAFETY: `chunk` is a valid writable buffer of the length passed.
            let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                let n = usize::try_from(n).unwrap_or(0);
                self.push(&chunk[..n], out);
                continue;
            }
            if n == 0 {
                self.eof = true;
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(()),
                _ => return Err(err),
            }
        }
    }
}

/// The parent's live view of a running child, for INFO persistence (`current_cow_size`,
/// `current_cow_peak`, `current_cow_size_age`, `current_save_keys_processed`,
/// `current_save_keys_total`, `current_fork_perc`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChildStats {
    /// Latest copy-on-write figure reported (`current_cow_size`).
    pub cow_bytes: u64,
    /// Highest copy-on-write figure reported (`current_cow_peak`; also what Valkey stores as
    /// `rdb_last_cow_size` / `aof_last_cow_size` when the child ends).
    pub cow_peak: u64,
    /// When `cow_bytes` was sampled (`CLOCK_MONOTONIC` µs; 0 if never).
    pub cow_updated_us: u64,
    /// Keys processed (`current_save_keys_processed`).
    pub keys_processed: u64,
    /// Keys expected (`current_save_keys_total`): set by the parent or reported by the child.
    pub keys_total: u64,
}

impl ChildStats {
    /// `current_cow_size_age`: seconds since `cow_bytes` was sampled (0 if never).
    pub fn cow_age_secs(&self) -> u64 {
        if self.cow_updated_us == 0 {
            return 0;
        }
        crate::sys::monotonic_us().saturating_sub(self.cow_updated_us) / 1_000_000
    }

    /// `current_fork_perc`: keys processed as a percentage of the total (0 if unknown).
    pub fn fork_perc(&self) -> f64 {
        if self.keys_total == 0 {
            return 0.0;
        }
        self.keys_processed as f64 / self.keys_total as f64 * 100.0
    }

    /// `current_cow_size_age`: how old `cow_bytes` is (zero if never sampled).
    pub fn cow_size_age(&self) -> Duration {
        if self.cow_updated_us == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(monotonic_us().saturating_sub(self.cow_updated_us))
    }

    pub(crate) fn apply(&mut self, info: &ChildInfo) {
        match info {
            ChildInfo::Progress(p) => {
                self.cow_bytes = p.cow_bytes;
                self.cow_updated_us = p.cow_updated_us;
                self.cow_peak = self.cow_peak.max(p.cow_bytes);
                self.keys_processed = p.keys_processed;
                if p.keys_total != 0 {
                    self.keys_total = p.keys_total;
                }
            }
            ChildInfo::Done(d) => {
                self.cow_bytes = d.cow_bytes;
                self.cow_peak = self.cow_peak.max(d.cow_peak).max(d.cow_bytes);
                self.keys_processed = d.keys_processed;
            }
            ChildInfo::Log { .. } => {}
        }
    }
}

impl ChildHandle {
    /// Returns every record the child has sent since the last call, without blocking. Partial
    /// records stay buffered for the next call. Updates [`ChildHandle::stats`]. Call it from the
    /// server cron (Valkey drains the pipe there too) and log the [`ChildInfo::Log`] lines.
    pub fn drain_info(&mut self) -> Vec<ChildInfo> {
        self.pump();
        std::mem::take(&mut self.queued)
    }

    /// Reads what the pipe holds into the queue, updating stats.
    pub(crate) fn pump(&mut self) {
        let Some(fd) = self.read_fd.as_ref().map(std::os::fd::AsRawFd::as_raw_fd) else {
            return;
        };
        let mut fresh = Vec::new();
        // A read error other than EAGAIN leaves the pipe unusable; the exit status still tells
        // how the child ended.
        let _ = self.reader.read_available(fd, &mut fresh);
        for info in &fresh {
            self.stats.apply(info);
            if let ChildInfo::Done(d) = info {
                self.done = Some(d.clone());
            }
        }
        self.queued.extend(fresh);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample_stream() -> (Vec<u8>, Vec<ChildInfo>) {
        let recs = [
            encode_progress(&RecordFields {
                keys_processed: 10,
                keys_total: 100,
                cow_bytes: 4096,
                cow_updated_us: 7,
                ..RecordFields::default()
            }),
            encode_log(LogLevel::Notice, "hello"),
            encode_done(
                false,
                &RecordFields {
                    keys_processed: 100,
                    cow_bytes: 8192,
                    cow_peak: 9000,
                    cow_average: 5000,
                    message: "boom",
                    ..RecordFields::default()
                },
            ),
        ];
        let bytes: Vec<u8> = recs.iter().flat_map(|r| r.iter().copied()).collect();
        let expect = vec![
            ChildInfo::Progress(ProgressInfo {
                keys_processed: 10,
                keys_total: 100,
                cow_bytes: 4096,
                cow_updated_us: 7,
            }),
            ChildInfo::Log {
                level: LogLevel::Notice,
                message: "hello".into(),
            },
            ChildInfo::Done(DoneInfo {
                ok: false,
                keys_processed: 100,
                cow_bytes: 8192,
                cow_peak: 9000,
                cow_average: 5000,
                message: "boom".into(),
            }),
        ];
        (bytes, expect)
    }

    #[test]
    fn roundtrip_whole_stream() {
        let (bytes, expect) = sample_stream();
        let mut r = RecordReader::new();
        let mut out = Vec::new();
        r.push(&bytes, &mut out);
        assert_eq!(out, expect);
    }

    #[test]
    fn partial_records_across_chunks() {
        let (bytes, expect) = sample_stream();
        for chunk in [1usize, 7, 100, 511, 513, 1000] {
            let mut r = RecordReader::new();
            let mut out = Vec::new();
            for piece in bytes.chunks(chunk) {
                r.push(piece, &mut out);
            }
            assert_eq!(out, expect, "chunk size {chunk}");
        }
    }

    #[test]
    fn long_message_truncated_on_char_boundary() {
        let long = "é".repeat(400); // 800 bytes
        let rec = encode_log(LogLevel::Warning, &long);
        let Some(ChildInfo::Log { level, message }) = decode(&rec) else {
            panic!("not a log record")
        };
        assert_eq!(level, LogLevel::Warning);
        assert!(message.len() <= MAX_MESSAGE_LEN && message.len() >= MAX_MESSAGE_LEN - 1);
        assert!(message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn garbage_is_counted_not_decoded() {
        let mut r = RecordReader::new();
        let mut out = Vec::new();
        r.push(&[0xAB; RECORD_SIZE], &mut out);
        assert!(out.is_empty());
        assert_eq!(r.corrupt, 1);
    }

    #[test]
    fn stats_follow_records() {
        let (_, infos) = sample_stream();
        let mut s = ChildStats::default();
        s.apply(&infos[0]);
        assert_eq!(s.cow_bytes, 4096);
        assert_eq!(s.keys_total, 100);
        assert!((s.fork_perc() - 10.0).abs() < 1e-9);
        s.apply(&infos[2]);
        assert_eq!(s.cow_peak, 9000);
        assert_eq!(s.keys_processed, 100);
    }
}
