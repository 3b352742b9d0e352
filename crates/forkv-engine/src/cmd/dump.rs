//! DUMP and RESTORE (Valkey `cluster.c`): values travel in the RDB encoding with a
//! 2-byte RDB version and a CRC-64 footer, so payloads move between forkv, Valkey and
//! Redis.

use std::borrow::Cow;

use super::{is, parse_i64, CmdResult, Ctx};
use crate::log::LogLevel;
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[
    spec("dump", 2, READONLY, (1, 1, 1), "generic", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "Returns a serialized representation of the value stored at a key.", Core(dump)),
    spec("restore-asking", -4, WRITE | DENYOOM | ASKING, (1, 1, 1), "server", "3.0.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "An internal command for migrating keys in a cluster.", Core(restore)),
    spec("restore", -4, WRITE | DENYOOM, (1, 1, 1), "generic", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "Creates a key from the serialized representation of a value.", Core(restore)),
];

fn dump(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let threshold = ctx.ks.encoding_limits().list_packed_threshold;
    match ctx.ks.lookup_read(db, argv[1]).as_deref() {
        Some(v) => {
            let payload = forkv_rdb::dump_payload_compressed(v, threshold, ctx.cfg.rdb_compression);
            ctx.reply.bulk(&payload);
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let ttl = parse_i64(argv[2])?;
    let (mut replace, mut absttl) = (false, false);
    let (mut idletime, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < argv.len() {
        let a = argv[i];
        let has_value = i + 1 < argv.len();
        if is(a, "REPLACE") {
            replace = true;
        } else if is(a, "ABSTTL") {
            absttl = true;
        } else if is(a, "IDLETIME") && has_value {
            let idle = parse_i64(argv[i + 1])?;
            if idle < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            idletime = Some(idle as u64);
            i += 1;
        } else if is(a, "FREQ") && has_value {
            let f = parse_i64(argv[i + 1])?;
            if !(0..=255).contains(&f) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            freq = Some(f as u8);
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let db = ctx.db();
    if !replace && ctx.ks.exists(db, key) {
        return Err("BUSYKEY Target key name already exists.".into());
    }
    let opts = forkv_rdb::DumpOptions {
        verify_checksum: !ctx.debug.skip_checksum_validation,
        limits: *ctx.ks.encoding_limits(),
    };
    ctx.ks.stats.dump_payload_sanitizations += 1;
    let value = forkv_rdb::parse_dump_payload_with(argv[3], &opts).map_err(|e| match e.kind {
        forkv_rdb::RdbErrorKind::DumpVersionOrChecksum => Cow::Borrowed("ERR DUMP payload version or checksum are wrong"),
        _ => {
            // Valkey's rdbReportError in a RESTORE: a verbose log line, then the reply.
            let line = format!("Internal error in RDB reading offset {}, function at forkv-rdb -> {}", e.offset, e.message());
            ctx.logs.push(LogLevel::Verbose, line);
            Cow::Borrowed("ERR Bad data format")
        }
    })?;
    let expire = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(ctx.ks.now().saturating_add(t)),
    };
    if let Some(at) = expire {
        if ctx.ks.already_expired(at) {
            // Already expired: like Valkey, delete any existing key and store nothing.
            ctx.suppress_propagation();
            if ctx.ks.delete(db, key) {
                ctx.notify(forkv_keyspace::notify::GENERIC, "del", key);
                ctx.propagate_server_del(key);
            }
            ctx.reply.ok();
            return Ok(());
        }
    }
    if replace {
        ctx.ks.delete(db, key);
    }
    ctx.ks.put(db, key, value, expire);
    // Valkey's objectSetLRUOrLFU: FREQ counts under an LFU policy, IDLETIME otherwise.
    match (ctx.ks.lfu(), freq, idletime) {
        (true, Some(f), _) => ctx.ks.set_frequency(db, key, f),
        (false, _, Some(idle)) => ctx.ks.set_idle_seconds(db, key, idle),
        _ => {}
    }
    ctx.notify(forkv_keyspace::notify::GENERIC, "restore", key);
    if let Some(at) = expire.filter(|_| !absttl) {
        // Replay must restore the same absolute expiry: Valkey logs the command as given
        // with the TTL made absolute and ABSTTL appended (an ABSTTL one goes out as is).
        ctx.suppress_propagation();
        let at_s = at.to_string();
        let mut out: Vec<&[u8]> = argv.to_vec();
        out[2] = at_s.as_bytes();
        out.push(b"ABSTTL");
        ctx.also_propagate(&out);
    }
    ctx.reply.ok();
    Ok(())
}
