//! Valkey's shared error replies, word for word (`server.c createSharedObjects`).
//! Each string is the reply without the leading `-` and trailing CRLF.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_RANGE: &str = "ERR DB index is out of range";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// An argument longer than a key, field or member may be (4 GB, forkv's limit; Valkey's
/// wording for an over-long string).
pub const ARG_TOO_BIG: &str = "ERR string exceeds maximum allowed size (4 GB per argument)";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// A write on a read-only replica (`replica-read-only yes`).
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
/// A command of a replica of ours (after SYNC/PSYNC) that reads, writes or may replicate.
pub const REPLICA_KEYSPACE: &str = "ERR Replica can't interact with the keyspace";
/// A replica with its link down and `replica-serve-stale-data no`.
pub const MASTERDOWN: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
pub const LOADING: &str = "LOADING Valkey is loading the dataset in memory";
pub const MISCONF: &str = "MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Valkey logs for details about the RDB error.";
/// The start of MISCONF after a failed AOF write; the OS error's text follows.
pub const MISCONF_AOF: &str = "MISCONF Errors writing to the AOF file: ";
/// A primary with fewer good replicas than `min-replicas-to-write`.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
pub const NOT_POSITIVE_COUNT: &str = "ERR value is out of range, must be positive";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
