//! Loading an RDB file into a [`Keyspace`].
//!
//! The loop mirrors Valkey's `rdbLoadRioWithLoadingCtx`: read a type byte; opcodes set
//! state (database, expire time of the next key) or carry metadata (AUX); any other byte
//! is a value type, followed by the key and the value. After the EOF opcode comes the
//! CRC-64 of everything before it (version 5 and later), zero when the writer had
//! checksums disabled.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use forkv_keyspace::Keyspace;

use crate::consts::*;
use crate::error::{RdbError, RdbErrorKind};
use crate::object::{check_member, check_type, read_object, read_string, Scratch};
use crate::source::Source;

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The time (Unix ms) against which TTLs are judged; `None` reads the clock once.
    pub now_ms: Option<i64>,
    /// Skip keys whose TTL already passed, as a primary does. Set false when loading an
    /// AOF base or as a replica, where the writer decides about expiry.
    pub skip_expired: bool,
    /// Keep the name of every key skipped as expired ([`LoadStats::expired_keys`]): a
    /// primary's start-up load propagates a deletion for each (Valkey's
    /// `RDBFLAGS_FEED_REPL`), so that its replicas drop them too.
    pub record_expired: bool,
    /// Verify the trailing checksum (when the file has a non-zero one).
    pub verify_checksum: bool,
    /// Replace keys that already exist in the keyspace instead of failing (DEBUG RELOAD).
    pub replace_existing: bool,
    /// `key-load-delay` (a test knob): microseconds slept after each key; a negative `-n`
    /// sleeps one microsecond every `n` keys (Valkey's `debugDelay`).
    pub key_load_delay_us: i64,
    /// Largest RESIZEDB size hint acted on (tables sized for that many keys up front); 0
    /// ignores the hints. A hint is only read from the input, so whoever knows the input's
    /// size bounds it (a file of `n` bytes cannot hold more than about `n / 8` keys).
    pub size_hint_max: u64,
    /// Where the offset is reported after each key (a load the host serves clients
    /// during, see [`crate::LoadProgress`]).
    pub progress: Option<Arc<crate::LoadProgress>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            now_ms: None,
            skip_expired: true,
            record_expired: false,
            verify_checksum: true,
            replace_existing: false,
            key_load_delay_us: 0,
            size_hint_max: 0,
            progress: None,
        }
    }
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadStats {
    /// Keys stored into the keyspace.
    pub keys_loaded: u64,
    /// Keys skipped because their TTL had passed (Valkey: `rdb_last_load_keys_expired`).
    pub expired_skipped: u64,
    /// With [`LoadOptions::record_expired`]: those keys (database, name), in file order.
    pub expired_keys: Vec<(usize, Box<[u8]>)>,
    /// Keys skipped because their collection was empty (old servers could save those).
    pub empty_skipped: u64,
    /// AUX fields in file order (name, value), unknown ones included.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The file's RDB version (80/81 for `VALKEY` files).
    pub version: u32,
    /// Bytes consumed, up to and including the checksum: where an AOF tail would start.
    pub bytes_read: u64,
    /// The checksum stored in the file (0 when the writer disabled checksums), if any.
    pub checksum: Option<u64>,
    /// How many values of each RDB type byte the file held (skipped ones included).
    pub types: BTreeMap<u8, u64>,
    /// The first [`EMPTY_KEYS_LOGGED`] keys skipped as empty collections, for the log.
    pub empty_keys: Vec<Vec<u8>>,
    /// The code of each function library the file holds (`RDB_OPCODE_FUNCTION2`), in
    /// file order, for the caller to load (the keyspace knows nothing of functions).
    pub functions: Vec<Vec<u8>>,
}

/// How many skipped empty keys are named in the log (Valkey names the first 10).
pub const EMPTY_KEYS_LOGGED: usize = 10;

impl LoadStats {
    /// The notice-level lines Valkey logs about this load before its summary line (which
    /// adds `, empty keys skipped: <n>` when [`LoadStats::empty_skipped`] is not 0), in
    /// its words: one `rdbLoadObject skipping empty key: <key>` per named empty key.
    pub fn log_lines(&self) -> Vec<String> {
        self.empty_keys
            .iter()
            .map(|k| format!("rdbLoadObject skipping empty key: {}", String::from_utf8_lossy(k)))
            .collect()
    }

    /// The value of the first AUX field named `name`.
    pub fn aux_value(&self, name: &str) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &v[..])
    }
}

/// Loads an RDB stream into `ks`, adding to what is there.
///
/// Accepts `REDIS0001` to `REDIS0011` and `VALKEY080`/`VALKEY081`. Every failure is an
/// [`RdbError`] naming the byte offset; nothing in the input can make this panic or
/// allocate much more than the input's own size. On error the keyspace keeps the keys
/// loaded before the error (the caller decides whether to flush it).
///
/// Loaded keys are not counted as changes: `ks.dirty` is the same afterwards, as
/// Valkey's `server.dirty` is after loading.
pub fn load_rdb<R: Read>(
    input: R,
    ks: &mut Keyspace,
    opts: &LoadOptions,
) -> Result<LoadStats, RdbError> {
    let dirty = ks.dirty;
    let result = load_into(Source::new(input), ks, opts);
    ks.dirty = dirty;
    result
}

fn load_into<R: Read>(
    mut src: Source<R>,
    ks: &mut Keyspace,
    opts: &LoadOptions,
) -> Result<LoadStats, RdbError> {
    let (version, valkey_magic) = read_header(&mut src)?;
    let now = opts.now_ms.unwrap_or_else(now_ms);
    let mut stats = LoadStats {
        version,
        ..LoadStats::default()
    };
    let mut scratch = Scratch::with_limits(*ks.encoding_limits());
    let mut lzf_scratch = Vec::new();
    let mut key_buf = Vec::new();
    // Keys read per type byte, and in all (see `stats.types`).
    let mut type_counts = [0u64; 256];
    let mut keys_read = 0u64;
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    // Eviction data of the next key (RDB_OPCODE_FREQ / RDB_OPCODE_IDLE).
    let mut freq: Option<u8> = None;
    let mut idle: Option<u64> = None;

    loop {
        let type_at = src.offset();
        let t = src.byte()?;
        if !valkey_magic && (RDB_FOREIGN_TYPE_MIN..=RDB_FOREIGN_TYPE_MAX).contains(&t) {
            return Err(RdbError::new(
                type_at,
                RdbErrorKind::ForeignType {
                    type_byte: t,
                    version,
                },
            ));
        }
        match t {
            RDB_OPCODE_EXPIRETIME => {
                let secs = i32::from_le_bytes(src.array::<4>()?);
                expire = Some(i64::from(secs) * 1000);
            }
            RDB_OPCODE_EXPIRETIME_MS => expire = Some(i64::from_le_bytes(src.array::<8>()?)),
            RDB_OPCODE_FREQ => freq = Some(src.byte()?),
            RDB_OPCODE_IDLE => idle = Some(src.plain_length()?),
            RDB_OPCODE_EOF => break,
            RDB_OPCODE_SELECTDB => {
                let id = src.plain_length()?;
                db = usize::try_from(id)
                    .ok()
                    .filter(|&d| d < ks.db_count())
                    .ok_or_else(|| RdbError::new(type_at, RdbErrorKind::DbOutOfRange { db: id, databases: ks.db_count() }))?;
            }
            RDB_OPCODE_RESIZEDB => {
                // Size hints: empty tables are sized once for them, up to the caller's
                // bound (a bigger dataset grows incrementally past it, as without one).
                let keys = src.plain_length()?;
                let expires = src.plain_length()?;
                let cap = |n: u64| usize::try_from(n.min(opts.size_hint_max)).unwrap_or(0);
                if opts.size_hint_max > 0 {
                    ks.reserve(db, cap(keys), cap(expires));
                }
            }
            RDB_OPCODE_SLOT_INFO => {
                for _ in 0..3 {
                    src.plain_length()?;
                }
            }
            RDB_OPCODE_AUX => {
                let name = read_string(&mut src, &mut lzf_scratch)?;
                let value = read_string(&mut src, &mut lzf_scratch)?;
                stats.aux.push((name, value));
            }
            RDB_OPCODE_MODULE_AUX => {
                return Err(RdbError::new(
                    type_at,
                    RdbErrorKind::Unsupported(
                        "The RDB file contains AUX module data I can't load: forkv does not support modules".into(),
                    ),
                ))
            }
            RDB_OPCODE_FUNCTION_PRE_GA => {
                return Err(RdbError::corrupt(type_at, "Pre-release function format not supported."))
            }
            RDB_OPCODE_FUNCTION2 => stats.functions.push(read_string(&mut src, &mut lzf_scratch)?),
            RDB_OPCODE_SLOT_IMPORT | RDB_OPCODE_UPDATE => {
                return Err(RdbError::new(
                    type_at,
                    RdbErrorKind::Unsupported(format!("unsupported opcode {t} (Valkey cluster / forkless save data)")),
                ))
            }
            _ => {
                check_type(t).map_err(|kind| RdbError::new(type_at, kind))?;
                // Read into a buffer reused for every key (the table copies the key into
                // its entry): no allocation per key.
                key_buf.clear();
                crate::object::read_string_into(&mut src, &mut key_buf, &mut lzf_scratch)?;
                let key = &key_buf[..];
                check_member(&src, key)?;
                // Starts loading the key's bucket while its value is decoded: the insert
                // then finds it in cache (a bucket of a big table is a miss per key).
                let _ = ks.db(db).keys.prefetch_slot(key);
                let value = read_object(t, &mut src, &mut scratch)?;
                let ttl = expire.take();
                let (key_freq, key_idle) = (freq.take(), idle.take());
                // Counted in an array (folded into `stats.types` at the end): a map
                // entry per key costs a tree walk on a million-key load.
                type_counts[usize::from(t)] += 1;
                keys_read += 1;
                if opts.key_load_delay_us != 0 {
                    key_load_delay(opts.key_load_delay_us, keys_read);
                }
                if let Some(p) = &opts.progress {
                    p.reached(src.offset());
                }
                match value {
                    None => {
                        if stats.empty_keys.len() < EMPTY_KEYS_LOGGED {
                            stats.empty_keys.push(key.to_vec());
                        }
                        stats.empty_skipped += 1;
                    }
                    Some(_) if opts.skip_expired && ttl.is_some_and(|at| at < now) => {
                        if opts.record_expired {
                            stats.expired_keys.push((db, key.into()));
                        }
                        stats.expired_skipped += 1;
                    }
                    Some(v) => {
                        // The key's access clock reads the load's time, as a new object's
                        // does in Valkey (createObject stamps LRU_CLOCK(); DEBUG OBJECT
                        // after DEBUG RELOAD shows it); then Valkey's objectSetLRUOrLFU
                        // applies the saved counter under an LFU policy, the idle time
                        // otherwise.
                        let saved = ks.now();
                        ks.set_now(now);
                        if opts.replace_existing {
                            ks.put(db, key, v, ttl);
                        } else if !ks.put_if_absent(db, key, v, ttl) {
                            // `check_member` refused over-long keys: only a repeat gets here.
                            ks.set_now(saved);
                            let key = String::from_utf8_lossy(key.get(..128).unwrap_or(key)).into_owned();
                            return Err(RdbError::new(type_at, RdbErrorKind::DuplicateKey { db, key }));
                        }
                        if ks.lfu() {
                            if let Some(f) = key_freq {
                                ks.set_frequency(db, key, f);
                            }
                        } else if let Some(secs) = key_idle {
                            ks.set_idle_seconds(db, key, secs);
                        }
                        ks.set_now(saved);
                        stats.keys_loaded += 1;
                    }
                }
            }
        }
    }

    for (t, &n) in type_counts.iter().enumerate() {
        if n > 0 {
            // Infallible: the index of a 256-entry array fits a byte.
            stats.types.insert(u8::try_from(t).unwrap_or(u8::MAX), n);
        }
    }
    if version >= 5 {
        let expected = src.crc();
        let found = u64::from_le_bytes(src.array::<8>()?);
        stats.checksum = Some(found);
        if opts.verify_checksum && found != 0 && found != expected {
            return Err(src.error(RdbErrorKind::BadChecksum { expected, found }));
        }
    }
    stats.bytes_read = src.offset();
    Ok(stats)
}

/// Valkey's `debugDelay` after a key: `us` microseconds, or for a negative `us`, one
/// microsecond every `-us` keys (`keys_read` counts the keys read so far).
fn key_load_delay(us: i64, keys_read: u64) {
    let pause = match us {
        0 => return,
        n if n > 0 => n.unsigned_abs(),
        n if keys_read.is_multiple_of(n.unsigned_abs()) => 1,
        _ => return,
    };
    std::thread::sleep(std::time::Duration::from_micros(pause));
}

/// Reads the 9-byte magic: `REDIS` + 4 digits or `VALKEY` + 3 digits.
fn read_header<R: Read>(src: &mut Source<R>) -> Result<(u32, bool), RdbError> {
    let magic = src.array::<9>()?;
    let (valkey, digits) = if magic.starts_with(b"REDIS") {
        (false, &magic[5..])
    } else if magic.starts_with(b"VALKEY") {
        (true, &magic[6..])
    } else {
        return Err(RdbError::new(0, RdbErrorKind::BadMagic));
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(RdbError::new(0, RdbErrorKind::BadMagic));
    }
    let version = digits
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    let accepted = if valkey {
        (RDB_VERSION_VALKEY_MIN..=RDB_VERSION_VALKEY_MAX).contains(&version)
    } else {
        (1..=RDB_VERSION_MAX_REDIS).contains(&version)
    };
    if !accepted {
        return Err(RdbError::new(5, RdbErrorKind::UnsupportedVersion(version)));
    }
    Ok((version, valkey))
}

/// Wall-clock Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
