//! forkv's RDB files: the snapshot format of Redis and Valkey, read and written.
//!
//! # The format
//!
//! An RDB file is a 9-byte magic (`REDIS` and a 4-digit version, or since Valkey 9
//! `VALKEY` and a 3-digit one), then a stream of records, each introduced by one byte.
//! Bytes 0 to 23 are value types, followed by a key string and the value; bytes from 242
//! up are opcodes: `AUX` name/value metadata, `SELECTDB`, `RESIZEDB` size hints, the
//! expire time (`EXPIRETIME_MS`) or eviction data (`IDLE`, `FREQ`) of the next key,
//! module and function data, and finally `EOF`, after which (version 5 and later) come
//! eight bytes of CRC-64/Jones over everything before, or zeros when the writer had
//! checksums off. Lengths use a 1/2/5/9-byte prefix; strings may instead be small
//! integers or LZF-compressed ([`len`], [`lzf`]). Small collections are saved as the
//! bytes of a compact encoding — ziplist, listpack, intset or zipmap ([`encodings`]) —
//! which the reader must walk as carefully as Valkey's deep integrity checks do, because
//! those bytes come from disk or from a client's RESTORE.
//!
//! # Which version we write, and why
//!
//! Loaders refuse any version newer than their own (`Can't handle RDB format version`),
//! and that lock-in is one of the most common complaints about Redis upgrades and
//! downgrades. So the writer emits only the plain value types (string, list, set, hash,
//! zset with binary scores) that every loader since Redis 4 reads and re-encodes as it
//! likes, and stamps the file with the lowest version that covers what it uses: **9**
//! (binary zset scores need 8; 9 is where millisecond expire times got a fixed byte
//! order). Redis 5.0 and later, every Redis 7.x and every Valkey load such a file. A
//! caller can raise the number to 10 or 11 ([`WriteOptions::version`]); the bytes after
//! the header do not change.
//!
//! The reader accepts versions 1 to 11 under `REDIS` and 80/81 under `VALKEY`, and every
//! encoding those servers write; streams and module values are refused with a clear
//! error, and so are the type numbers that Redis 7.4+ and Valkey 9 assign differently
//! (Valkey calls those versions and types "foreign").
//!
//! # Where it runs
//!
//! [`write_rdb`] runs inside a fork()ed child of a multi-threaded Node process. It reads
//! the keyspace through `&Keyspace` only, takes no locks, never touches std's
//! stdout/stderr, and allocates its buffers once per save. [`load_rdb`] runs at startup
//! (and for DEBUG RELOAD / AOF bases) in the main process.

#![warn(missing_docs)]

pub mod consts;
pub mod crc64;
pub mod dump;
pub mod encodings;
pub mod error;
pub mod len;
/// LZF lives in forkv-keyspace (quicklist nodes are compressed with it too).
pub use forkv_keyspace::lzf;
mod lpbuild;
mod object;
pub mod progress;
pub mod reader;
mod sink;
mod source;
mod stream;
pub mod writer;

pub use dump::{
    dump_payload, dump_payload_compressed, dump_payload_for, dump_payload_with, DUMP_VERSION, function_dump_payload, parse_dump_payload, parse_dump_payload_with,
    parse_function_dump_payload, DumpOptions,
};
pub use error::{RdbError, RdbErrorKind};
pub use progress::LoadProgress;
pub use reader::{load_rdb, LoadOptions, LoadStats};
pub use stream::stream_type_for;
pub use writer::{serialized_length, value_type, value_type_for, write_rdb, write_value, SaveProgress, WriteOptions, WriteStats};
