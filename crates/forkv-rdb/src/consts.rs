//! Numbers of the RDB format, mirroring Valkey's `rdb.h`.
//!
//! These values are on disk: they never change meaning once a server has written them.
//! Names follow `rdb.h` so that a reader of both can match them line by line.

/// Highest version a `REDIS`-magic file may carry (Redis 7.2, Valkey 7.2 to 8.1).
pub const RDB_VERSION_MAX_REDIS: u32 = 11;
/// Versions 12 to 79 belong to Redis releases whose format Valkey does not share
/// ("foreign"): type numbers from 22 up mean different things there.
pub const RDB_FOREIGN_VERSION_MIN: u32 = 12;
/// Last foreign version.
pub const RDB_FOREIGN_VERSION_MAX: u32 = 79;
/// Versions Valkey 9.0 (80) and 9.2 (81) write, under the `VALKEY` magic.
pub const RDB_VERSION_VALKEY_MIN: u32 = 80;
/// Highest `VALKEY`-magic version this crate reads.
pub const RDB_VERSION_VALKEY_MAX: u32 = 81;
/// The lowest version this crate writes: every feature of the plain value types is there
/// (binary zset scores need 8; 9 fixes the byte order of millisecond expire times), so
/// Redis >= 5.0, every Redis 7.x and every Valkey load it.
pub const RDB_VERSION_DEFAULT: u32 = 9;
/// Version this crate writes unless told otherwise: Redis 7.0's, the newest that Redis 7.0
/// loads, with the compact forms Valkey writes (quicklist-2 lists, listpack hashes and
/// sorted sets, intsets) but not the two Redis 7.0 lacks (listpack sets, type-21 streams).
pub const RDB_VERSION_WRITE: u32 = 10;

/// Length prefix: the top two bits of the first byte say how the length is stored.
pub const RDB_6BITLEN: u8 = 0;
/// 14-bit length, big-endian across two bytes.
pub const RDB_14BITLEN: u8 = 1;
/// 32-bit big-endian length follows.
pub const RDB_32BITLEN: u8 = 0x80;
/// 64-bit big-endian length follows.
pub const RDB_64BITLEN: u8 = 0x81;
/// The top-bits value meaning "a special string encoding follows".
pub const RDB_ENCVAL: u8 = 3;

/// Special string encoding: 8-bit signed integer.
pub const RDB_ENC_INT8: u8 = 0;
/// Special string encoding: 16-bit little-endian signed integer.
pub const RDB_ENC_INT16: u8 = 1;
/// Special string encoding: 32-bit little-endian signed integer.
pub const RDB_ENC_INT32: u8 = 2;
/// Special string encoding: LZF-compressed string (compressed length, plain length, data).
pub const RDB_ENC_LZF: u8 = 3;

/// Value type: string.
pub const RDB_TYPE_STRING: u8 = 0;
/// Value type: list of strings.
pub const RDB_TYPE_LIST: u8 = 1;
/// Value type: set of strings.
pub const RDB_TYPE_SET: u8 = 2;
/// Value type: sorted set with scores as text (before RDB 8).
pub const RDB_TYPE_ZSET: u8 = 3;
/// Value type: hash of field/value strings.
pub const RDB_TYPE_HASH: u8 = 4;
/// Value type: sorted set with binary (IEEE 754, little-endian) scores.
pub const RDB_TYPE_ZSET_2: u8 = 5;
/// Value type: module value from Redis 4.0 release candidates.
pub const RDB_TYPE_MODULE_PRE_GA: u8 = 6;
/// Value type: module value.
pub const RDB_TYPE_MODULE_2: u8 = 7;
/// Value type: hash stored as a zipmap blob (Redis < 2.6).
pub const RDB_TYPE_HASH_ZIPMAP: u8 = 9;
/// Value type: list stored as one ziplist blob (Redis < 3.2).
pub const RDB_TYPE_LIST_ZIPLIST: u8 = 10;
/// Value type: set of integers stored as an intset blob.
pub const RDB_TYPE_SET_INTSET: u8 = 11;
/// Value type: sorted set stored as a ziplist blob (Redis < 7.0).
pub const RDB_TYPE_ZSET_ZIPLIST: u8 = 12;
/// Value type: hash stored as a ziplist blob (Redis < 7.0).
pub const RDB_TYPE_HASH_ZIPLIST: u8 = 13;
/// Value type: list as a quicklist whose nodes are ziplists (Redis 3.2 to 6.2).
pub const RDB_TYPE_LIST_QUICKLIST: u8 = 14;
/// Value type: stream (RDB 9).
pub const RDB_TYPE_STREAM_LISTPACKS: u8 = 15;
/// Value type: hash stored as a listpack blob (RDB 10, Redis 7.0).
pub const RDB_TYPE_HASH_LISTPACK: u8 = 16;
/// Value type: sorted set stored as a listpack blob (RDB 10).
pub const RDB_TYPE_ZSET_LISTPACK: u8 = 17;
/// Value type: list as a quicklist of plain or listpack nodes (RDB 10).
pub const RDB_TYPE_LIST_QUICKLIST_2: u8 = 18;
/// Value type: stream, second layout (RDB 10).
pub const RDB_TYPE_STREAM_LISTPACKS_2: u8 = 19;
/// Value type: set stored as a listpack blob (RDB 11, Redis 7.2).
pub const RDB_TYPE_SET_LISTPACK: u8 = 20;
/// Value type: stream, third layout (RDB 11).
pub const RDB_TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// Value type: hash with per-field expiry (Valkey 9.0, RDB 80; only under `VALKEY` magic).
pub const RDB_TYPE_HASH_2: u8 = 22;
/// Value type: path hash (Valkey 9.2, RDB 81; only under `VALKEY` magic).
pub const RDB_TYPE_PATH_HASH: u8 = 23;

/// Under the `REDIS` magic, bytes in this range are types or opcodes whose meaning
/// differs between Valkey and later Redis releases: a loader must refuse them.
pub const RDB_FOREIGN_TYPE_MIN: u8 = 22;
/// End of the foreign range.
pub const RDB_FOREIGN_TYPE_MAX: u8 = 243;

/// Quicklist 2 node container: the node is one plain (large) element.
pub const QUICKLIST_NODE_CONTAINER_PLAIN: u64 = 1;
/// Quicklist 2 node container: the node is a listpack of elements.
pub const QUICKLIST_NODE_CONTAINER_PACKED: u64 = 2;

/// Opcode: inline replication command during a forkless save (Valkey 9).
pub const RDB_OPCODE_UPDATE: u8 = 242;
/// Opcode: cluster slot import state (Valkey 9.0).
pub const RDB_OPCODE_SLOT_IMPORT: u8 = 243;
/// Opcode: per-slot size hints (three lengths), safe to ignore.
pub const RDB_OPCODE_SLOT_INFO: u8 = 244;
/// Opcode: one function library (its source code as a string).
pub const RDB_OPCODE_FUNCTION2: u8 = 245;
/// Opcode: function libraries in the Redis 7.0 release-candidate format.
pub const RDB_OPCODE_FUNCTION_PRE_GA: u8 = 246;
/// Opcode: module auxiliary data.
pub const RDB_OPCODE_MODULE_AUX: u8 = 247;
/// Opcode: LRU idle time (a length, seconds) of the next key.
pub const RDB_OPCODE_IDLE: u8 = 248;
/// Opcode: LFU frequency (one byte) of the next key.
pub const RDB_OPCODE_FREQ: u8 = 249;
/// Opcode: auxiliary field, two strings (name, value).
pub const RDB_OPCODE_AUX: u8 = 250;
/// Opcode: size hints of the selected database (keys, volatile keys).
pub const RDB_OPCODE_RESIZEDB: u8 = 251;
/// Opcode: absolute expire time of the next key, milliseconds, 8 bytes little-endian.
pub const RDB_OPCODE_EXPIRETIME_MS: u8 = 252;
/// Opcode: absolute expire time of the next key, seconds, 4 bytes (old files).
pub const RDB_OPCODE_EXPIRETIME: u8 = 253;
/// Opcode: select a database (a length follows).
pub const RDB_OPCODE_SELECTDB: u8 = 254;
/// Opcode: end of the data; the 8-byte checksum follows (version >= 5).
pub const RDB_OPCODE_EOF: u8 = 255;

/// Strings shorter than this are never LZF-compressed (Valkey: "under 20 bytes it's
/// unable to compress even aaaaaaaaaaaaaaaaaa").
pub const LZF_MIN_INPUT: usize = 21;

/// Human name of a value type byte, for error messages.
pub fn type_name(t: u8) -> &'static str {
    match t {
        RDB_TYPE_STRING => "string",
        RDB_TYPE_LIST => "list",
        RDB_TYPE_SET => "set",
        RDB_TYPE_ZSET => "zset",
        RDB_TYPE_HASH => "hash",
        RDB_TYPE_ZSET_2 => "zset-2",
        RDB_TYPE_MODULE_PRE_GA => "module (pre-GA)",
        RDB_TYPE_MODULE_2 => "module",
        RDB_TYPE_HASH_ZIPMAP => "hash-zipmap",
        RDB_TYPE_LIST_ZIPLIST => "list-ziplist",
        RDB_TYPE_SET_INTSET => "set-intset",
        RDB_TYPE_ZSET_ZIPLIST => "zset-ziplist",
        RDB_TYPE_HASH_ZIPLIST => "hash-ziplist",
        RDB_TYPE_LIST_QUICKLIST => "list-quicklist",
        RDB_TYPE_STREAM_LISTPACKS => "stream",
        RDB_TYPE_HASH_LISTPACK => "hash-listpack",
        RDB_TYPE_ZSET_LISTPACK => "zset-listpack",
        RDB_TYPE_LIST_QUICKLIST_2 => "list-quicklist-2",
        RDB_TYPE_STREAM_LISTPACKS_2 => "stream-2",
        RDB_TYPE_SET_LISTPACK => "set-listpack",
        RDB_TYPE_STREAM_LISTPACKS_3 => "stream-3",
        RDB_TYPE_HASH_2 => "hash with field expiration (Valkey 9)",
        RDB_TYPE_PATH_HASH => "path hash (Valkey 9.2)",
        _ => "unknown",
    }
}
