//! forkv's keyspace: the databases, the value types and their encodings, expiry.
//!
//! Pure data structures: no I/O, no napi, no threads. The fork child reads this through
//! `&Keyspace` only, so nothing here may need a lock or write on a read.

pub mod access;
pub mod db;
pub mod dict;
pub mod evict;
pub mod glob;
pub mod heap_bytes;
pub mod lazyfree;
pub mod lzf;
pub mod notify;
pub mod num;
pub mod sds;
pub mod types;
pub mod value;
pub mod zset;

pub use db::{Db, Keyspace, KeyspaceStats, Touched, UnixMs};
pub use access::LfuParams;
pub use dict::{Dict, KeyTooLong, ResizePolicy, VRef, MAX_KEY_LEN};
pub use evict::Policy as EvictionPolicy;
pub use types::EncodingLimits;
pub use types::stream::{StreamId, StreamLimits};
pub use value::{Bytes, HashValue, ListValue, SetValue, StrValue, StreamValue, Value, ValueRef};
pub use zset::ZSetValue;
