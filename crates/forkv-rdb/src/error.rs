//! The one error type of the reader, with the byte offset where loading stopped.
//!
//! Wording follows Valkey's log lines where Valkey has one (operators search for those
//! strings), and every message names the offset so a corrupt file can be inspected with
//! a hex dump at the right place.

use std::fmt;
use std::io;

/// Why loading an RDB file (or a DUMP payload) failed, and where.
#[derive(Debug)]
pub struct RdbError {
    /// Byte offset in the input where the problem was found (for a problem inside a
    /// compact blob: where that blob's string starts).
    pub offset: u64,
    /// What went wrong.
    pub kind: RdbErrorKind,
}

/// The kinds of failure, each with the facts a message needs.
#[derive(Debug)]
pub enum RdbErrorKind {
    /// The input ended in the middle of the file.
    UnexpectedEof,
    /// Reading the input failed.
    Io(io::Error),
    /// The first bytes are neither `REDIS` nor `VALKEY` followed by digits.
    BadMagic,
    /// A version this reader does not accept (foreign Redis 12-79, or too new).
    UnsupportedVersion(u32),
    /// A type or opcode byte that means something else in foreign (Redis >= 7.4) files.
    ForeignType {
        /// The byte read.
        type_byte: u8,
        /// The file's version.
        version: u32,
    },
    /// A value type this reader knows but does not load (streams, modules, ...).
    UnsupportedType(u8),
    /// A byte that is neither a known value type nor a known opcode.
    UnknownType(u8),
    /// Something the file contains that forkv refuses (module aux data, functions).
    Unsupported(String),
    /// The stored checksum does not match the computed one.
    BadChecksum {
        /// CRC-64 computed over the bytes read.
        expected: u64,
        /// CRC-64 stored in the file.
        found: u64,
    },
    /// Structural corruption: bad length, bad encoding, broken compact blob, duplicates.
    Corrupt(String),
    /// SELECTDB names a database the keyspace does not have.
    DbOutOfRange {
        /// Database index in the file.
        db: u64,
        /// Databases the keyspace has.
        databases: usize,
    },
    /// The same key appears twice in one database.
    DuplicateKey {
        /// Database index.
        db: usize,
        /// The key (lossily decoded, at most 128 bytes of it).
        key: String,
    },
    /// A DUMP payload whose footer (version or CRC) is wrong.
    DumpVersionOrChecksum,
}

impl RdbError {
    /// An error of `kind` at `offset`.
    pub fn new(offset: u64, kind: RdbErrorKind) -> Self {
        RdbError { offset, kind }
    }

    /// A corruption error with a message.
    pub fn corrupt(offset: u64, msg: impl Into<String>) -> Self {
        RdbError::new(offset, RdbErrorKind::Corrupt(msg.into()))
    }

    /// The message without the offset.
    pub fn message(&self) -> String {
        match &self.kind {
            RdbErrorKind::UnexpectedEof => {
                "Short read or OOM loading DB. Unrecoverable error, aborting now. \
                 (Unexpected EOF reading RDB file)"
                    .to_string()
            }
            RdbErrorKind::Io(e) => format!("Error reading the RDB file: {e}"),
            RdbErrorKind::BadMagic => "Wrong signature trying to load DB from file".to_string(),
            RdbErrorKind::UnsupportedVersion(v) => format!("Can't handle RDB format version {v}"),
            RdbErrorKind::ForeignType { type_byte, version } => format!(
                "Can't handle foreign type or opcode {type_byte} in RDB with version {version}"
            ),
            RdbErrorKind::UnsupportedType(t) => format!(
                "unsupported type {t} ({}): forkv cannot load this value type",
                crate::consts::type_name(*t)
            ),
            RdbErrorKind::UnknownType(t) => format!("Unknown RDB encoding type {t}"),
            RdbErrorKind::Unsupported(msg) => msg.clone(),
            // Valkey logs the numbers, then reports the file corrupt as "RDB CRC error".
            RdbErrorKind::BadChecksum { expected, found } => format!(
                "Wrong RDB checksum expected: ({expected:x}) but got ({found:x}). Aborting now. RDB CRC error"
            ),
            RdbErrorKind::Corrupt(msg) => msg.clone(),
            RdbErrorKind::DbOutOfRange { db, databases } => format!(
                "FATAL: Data file was created with a server configured to handle more than \
                 {databases} databases (it selects database {db})"
            ),
            RdbErrorKind::DuplicateKey { db, key } => {
                format!("RDB has duplicated key '{key}' in DB {db}")
            }
            RdbErrorKind::DumpVersionOrChecksum => {
                "DUMP payload version or checksum are wrong".to_string()
            }
        }
    }
}

impl RdbError {
    /// True for the failures Valkey reports through `rdbReportError` (a corrupt or short
    /// file, a bad checksum, an unknown type): a start-up load then ends with "Terminating
    /// server after rdb file reading failure.".
    pub fn is_read_failure(&self) -> bool {
        matches!(
            self.kind,
            RdbErrorKind::UnexpectedEof
                | RdbErrorKind::Corrupt(_)
                | RdbErrorKind::BadChecksum { .. }
                | RdbErrorKind::UnknownType(_)
                | RdbErrorKind::ForeignType { .. }
        )
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte offset {})", self.message(), self.offset)
    }
}

impl std::error::Error for RdbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            RdbErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}
