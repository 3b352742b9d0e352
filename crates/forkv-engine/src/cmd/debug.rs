//! DEBUG subcommands. Those that touch only the keyspace (or the server's DEBUG toggles)
//! run here; LOG and RELOAD need the host (logger, persistence) and are handed to it.

use super::{parse_f64, CmdResult, Ctx};
use forkv_keyspace::{StrValue, Value};

use crate::digest;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec};

const F: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

/// Valkey's DEBUG is one command that parses its arguments itself: forkv's subcommands
/// dispatch, and COMMAND shows DEBUG alone (no subcommands, no key specs).
pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    unlisted_subcommands: true,
    ..container("debug", -2, F, "server", "1.0.0", "A container for debugging commands.", DEBUG_SUBCOMMANDS)
}];

const DEBUG_SUBCOMMANDS: &[CommandSpec] = &[
    spec("debug|sleep", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Stop the server for <seconds>. Decimals allowed.", Exec::Core(sleep)),
    spec("debug|segfault", 2, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Crash the server with sigsegv.", Exec::Core(segfault)),
    spec("debug|set-active-expire", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Setting it to 0 disables expiring keys in background when they are not accessed.", Exec::Core(set_active_expire)),
    spec("debug|object", -3, F, (2, 2, 1), "server", "1.0.0", "O(1)", "Show low level info about the key and associated value.", Exec::Core(object)),
    spec("debug|listpack", 3, F, (2, 2, 1), "server", "1.0.0", "O(N)", "Show low level info about the listpack encoding of a key.", Exec::Core(listpack)),
    spec("debug|quicklist", -3, F, (2, 2, 1), "server", "1.0.0", "O(N)", "Show low level info about the quicklist encoding of a key.", Exec::Core(quicklist)),
    spec("debug|htstats", -3, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Return hash table statistics of the specified database.", Exec::Core(htstats)),
    spec("debug|stringmatch-test", 2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Run a fuzz tester against the glob matcher.", Exec::Core(stringmatch_test)),
    spec("debug|digest", 2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Output a hex signature representing the current DB content.", Exec::Core(digest_all)),
    spec("debug|digest-value", -2, F, (2, -1, 1), "server", "1.0.0", "O(N)", "Output a hex signature of the values of all the specified keys.", Exec::Core(digest_value)),
    spec("debug|change-repl-id", 2, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Change the replication IDs of the instance (testing the replication subsystem).", Exec::Host),
    spec("debug|log", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Write <message> to the server log.", Exec::Core(log)),
    spec("debug|pause-cron", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Stop the server's cron job (background work: expiry, saves, shutdown on signals) until 0.", Exec::Host),
    spec("debug|replybuffer", 4, F, (0, 0, 0), "server", "1.0.0", "O(1)", "PEAK-RESET-TIME <never|reset|ms>: how often a client's reply peak (CLIENT LIST rbp) restarts; RESIZING <0|1>: whether the reply buffer is given back after a big batch.", Exec::Host),
    spec("debug|aof-flush-sleep", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Sleep <microsec> before each AOF write that has data (0 turns it off).", Exec::Host),
    spec("debug|loadaof", 2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Flush the AOF buffers on disk and reload the AOF in memory.", Exec::Host),
    spec("debug|reload", -2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Save the RDB on disk and reload it back to memory.", Exec::Host),
    spec("debug|config-rewrite-force-all", 2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "CONFIG REWRITE writing every directive, defaults included.", Exec::Host),
    spec("debug|populate", -3, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Create <count> string keys named key:<num>.", Exec::Core(populate)),
    spec("debug|set-disable-deny-scripts", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Lets scripts call the commands flagged noscript (test purposes).", Exec::Core(set_disable_deny_scripts)),
    spec("debug|set-skip-checksum-validation", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Enables or disables checksum checks for RDB files and RESTORE's payload.", Exec::Core(set_skip_checksum_validation)),
    spec("debug|quicklist-packed-threshold", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Sets the size from which list elements get a quicklist node of their own.", Exec::Core(quicklist_packed_threshold)),
    spec("debug|protocol", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Reply with a sample of the given RESP type.", Exec::Core(protocol)),
    spec("debug|help", 2, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Returns helpful text about the different subcommands.", Exec::Core(help)),
];

/// Valkey refuses DEBUG whatever its subcommand (HELP, unknown ones and the host's
/// included), right after the arity check and before authentication and ACL, unless
/// `enable-debug-command` allows it for this client. `top` is the top-level command.
pub(crate) fn refusal(client: &crate::client::Client, top: &CommandSpec, argc: usize) -> Option<&'static str> {
    (!client.debug_allowed && top.name == "debug" && argc >= 2).then_some(
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
    )
}

fn sleep(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let secs = parse_f64(argv[2]).filter(|s| *s >= 0.0).ok_or(super::CmdError::Borrowed(crate::errors::NOT_FLOAT))?;
    // Blocks the whole server on purpose, as in Valkey (used to test timeouts).
    std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
    ctx.reply.ok();
    Ok(())
}

/// DEBUG SEGFAULT: a real invalid write, as Valkey's (a write to a read-only page): the
/// crash report (forkv-snapshot's crash_report) is written to the log and the process
/// dies of SIGSEGV. Only a client that `enable-debug-command` allows gets here.
fn segfault(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    // SAFETY: none on purpose: the write to a fresh read-only mapping faults, which is
    // what the command asks for; the mapping is never used otherwise.
    unsafe {
        let p = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        if p != libc::MAP_FAILED {
            std::ptr::write_volatile(p.cast::<u8>(), b'x');
        }
        // Without a mapping, the signal itself.
        libc::raise(libc::SIGSEGV);
    }
    Ok(())
}

fn set_active_expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.ks.active_expire_enabled = argv[2] != b"0";
    ctx.reply.ok();
    Ok(())
}

/// `DEBUG LOG <message>`: one warning line in the server log (also from a script once
/// `DEBUG SET-DISABLE-DENY-SCRIPTS 1` lets scripts call DEBUG).
fn log(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.logs.push(crate::log::LogLevel::Warning, format!("DEBUG LOG: {}", String::from_utf8_lossy(argv[2])));
    ctx.reply.ok();
    Ok(())
}

/// `DEBUG SET-DISABLE-DENY-SCRIPTS <0|1>` (Valkey's `script_disable_deny_script`):
/// scripts may then call commands flagged `noscript`; read as `atoi` reads it.
fn set_disable_deny_scripts(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.debug.disable_deny_scripts = atoi(argv[2]) != 0;
    ctx.reply.ok();
    Ok(())
}

/// `DEBUG SET-SKIP-CHECKSUM-VALIDATION <0|1>`: the argument is read as C's `atoi` reads
/// it (Valkey does), so anything that does not start with a non-zero number turns the
/// check back on.
fn set_skip_checksum_validation(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.debug.skip_checksum_validation = atoi(argv[2]) != 0;
    ctx.reply.ok();
    Ok(())
}

/// C's `atoi`: optional spaces and sign, then digits up to the first non-digit; 0 when
/// there are none.
fn atoi(arg: &[u8]) -> i64 {
    let s = arg.iter().skip_while(|b| b.is_ascii_whitespace()).copied().collect::<Vec<u8>>();
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, &s[..]),
    };
    let n = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, d| n.saturating_mul(10).saturating_add(i64::from(d - b'0')));
    if neg {
        -n
    } else {
        n
    }
}

/// Valkey's `getPositiveLongFromObjectOrReply` with no custom message: one error for a
/// negative number and for a non-number alike.
fn positive(arg: &[u8]) -> Result<i64, super::CmdError> {
    super::parse_i64(arg)
        .ok()
        .filter(|n| *n >= 0)
        .ok_or(super::CmdError::Borrowed("ERR value is out of range, must be positive"))
}

/// The longest key POPULATE makes: Valkey formats it into a 128-byte buffer.
const POPULATE_KEY_MAX: usize = 127;

/// `DEBUG POPULATE <count> [<prefix>] [<size>]`: creates string keys `<prefix>:<n>`
/// (prefix `key`) holding `value:<n>`, or with `size`, that text cut or zero-padded to
/// `size` bytes. Keys that exist are left alone. Like Valkey it neither counts as a
/// change for `save` rules nor reaches the AOF, but WATCHers of the keys see them touched.
fn populate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 5 {
        return Err(super::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    }
    let count = positive(argv[2])?;
    let size = match argv.get(4) {
        Some(a) => usize::try_from(positive(a)?).unwrap_or(usize::MAX),
        None => 0,
    };
    if size > ctx.cfg.proto_max_bulk_len {
        return Err("ERR value is out of range, must be positive and at most proto-max-bulk-len".into());
    }
    // Valkey sizes the table for `count` keys first and refuses when that allocation
    // fails; probing the same bucket array keeps an absurd count from running the
    // server out of memory key by key.
    let buckets = usize::try_from(count).ok().and_then(usize::checked_next_power_of_two);
    if buckets.is_none_or(|b| Vec::<usize>::new().try_reserve_exact(b).is_err()) {
        return Err("ERR OOM in dictTryExpand".into());
    }
    let prefix: &[u8] = argv.get(3).copied().unwrap_or(b"key");
    let db = ctx.db();
    let dirty = ctx.ks.dirty;
    let mut key = Vec::with_capacity(POPULATE_KEY_MAX);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        key.truncate(POPULATE_KEY_MAX);
        if ctx.ks.exists(db, &key) {
            continue;
        }
        let text = format!("value:{j}");
        let value = if size == 0 {
            text.into_bytes()
        } else {
            let mut v = vec![0u8; size];
            let n = size.min(text.len());
            v[..n].copy_from_slice(&text.as_bytes()[..n]);
            v
        };
        ctx.ks.set(db, &key, Value::Str(StrValue::from_vec(value)), false);
    }
    ctx.ks.dirty = dirty;
    ctx.reply.ok();
    Ok(())
}

/// `DEBUG OBJECT <key> [fast]`: Valkey's fields; `fast` leaves out the two that take a
/// walk over the value (serializedlength, ql_uncompressed_size), any other word is
/// ignored as in Valkey.
fn object(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(wrong_args(argv));
    }
    let fast = argv.get(3).is_some_and(|a| a.eq_ignore_ascii_case(b"fast"));
    let db = ctx.db();
    // Valkey looks the key up without expiring it: a logically expired key still shows.
    let Some(v) = ctx.ks.find(db, argv[2]) else {
        return Err(crate::errors::NO_SUCH_KEY.into());
    };
    let v = &*v;
    let (lru, idle) = (ctx.ks.access_clock(db, argv[2]).unwrap_or(0), ctx.ks.idle_seconds(db, argv[2]).unwrap_or(0));
    let refcount = super::keys::refcount(v, ctx.cfg.shared_integers);
    let mut text = format!("Value at:{:p} refcount:{refcount} encoding:{}", v as *const _, v.encoding_name());
    if !fast {
        // serializedlength: the value's body in Valkey 8's RDB forms, without type byte
        // and key (Valkey's rdbSavedObjectLen).
        let serialized = forkv_rdb::serialized_length(v, ctx.ks.encoding_limits().list_packed_threshold, ctx.cfg.rdb_compression);
        text.push_str(&format!(" serializedlength:{serialized}"));
    }
    // Valkey prints the clock read both ways whatever the policy: the LFU counter decayed
    // to now and the LFU stamp (the upper bits).
    let freq = forkv_keyspace::access::decayed_counter(lru, ctx.ks.now(), ctx.ks.lfu_params().decay_time);
    text.push_str(&format!(" lru:{lru} lru_seconds_idle:{idle} lfu_freq:{freq} lfu_access_time_minutes:{}", lru >> 8));
    if let forkv_keyspace::Value::List(l) = v {
        if let Some((nodes, bytes, depth)) = l.quicklist_stats() {
            // ql_compressed: the list has a compress depth (Valkey's `ql->compress != 0`).
            let avg = l.len() as f64 / nodes.max(1) as f64;
            let fill = ctx.ks.encoding_limits().list_max_listpack_size;
            let compressed = u8::from(depth != 0);
            text.push_str(&format!(" ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{compressed}"));
            if !fast {
                text.push_str(&format!(" ql_uncompressed_size:{bytes}"));
            }
        }
    }
    ctx.reply.simple(&text);
    Ok(())
}

/// `DEBUG HTSTATS <dbid> [full]`: the key table and the expires table of a database,
/// their sizes and element counts (a running rehash shows both tables), and with `full`
/// their chain lengths (Valkey's `kvstoreGetStats`), as verbatim text.
fn htstats(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let dbid = super::parse_i64(argv[2])?;
    let db = usize::try_from(dbid).ok().filter(|d| *d < ctx.ks.db_count()).ok_or("ERR Out of range database")?;
    let full = argv.get(3).is_some_and(|a| a.eq_ignore_ascii_case(b"full"));
    let d = ctx.ks.db(db);
    let text = format!("[Dictionary HT]\n{}[Expires HT]\n{}", d.keys.stats(full), d.expires.stats(full));
    ctx.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// Valkey's error for a DEBUG subcommand given the wrong number of arguments.
fn wrong_args(argv: &[&[u8]]) -> super::CmdError {
    super::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(argv[1])
    ))
}

/// `DEBUG LISTPACK <key>`: writes the layout of a listpack-encoded value (forkv's own
/// listpack format, entry by entry) to the server log, as Valkey prints `lpRepr` on
/// stdout (forkv's log is stdout unless `logfile` is set).
fn listpack(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(v) = ctx.ks.peek(db, argv[2]) else {
        return Err(crate::errors::NO_SUCH_KEY.into());
    };
    let v = &*v;
    let Some(lp) = v.listpack() else {
        return Err("ERR Not a listpack encoded object.".into());
    };
    let text = lp.repr();
    ctx.logs.push(crate::log::LogLevel::Warning, text);
    ctx.reply.simple("Listpack structure printed on stdout");
    Ok(())
}

/// `DEBUG QUICKLIST <key> [<0|1|2>]`: writes a quicklist's header and nodes to the server
/// log (with 1 or more, each node's listpack too), as Valkey's `quicklistRepr`.
fn quicklist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(wrong_args(argv));
    }
    let full = argv.get(3).is_some_and(|a| atoi(a) != 0);
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let fill = lim.list_max_listpack_size;
    let Some(v) = ctx.ks.peek(db, argv[2]) else {
        return Err(crate::errors::NO_SUCH_KEY.into());
    };
    let v = &*v;
    let forkv_keyspace::Value::List(l) = v else {
        return Err("ERR Not a quicklist encoded object.".into());
    };
    let Some(nodes) = l.quicklist_nodes() else {
        return Err("ERR Not a quicklist encoded object.".into());
    };
    let depth = l.quicklist_stats().map_or(0, |s| s.2);
    let mut text = format!("{{count : {}}}\n{{len : {}}}\n{{fill : {fill}}}\n{{compress : {depth}}}\n{{bookmark_count : 0}}\n", l.len(), nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let container = if forkv_keyspace::types::list::is_plain(&node.lp, &lim) { "PLAIN" } else { "PACKED" };
        let encoding = if node.compressed { "LZF" } else { "RAW" };
        text.push_str(&format!(
            "{{quicklist node({i})\n{{container : {container}, encoding: {encoding}, size: {}, count: {}, recompress: 0, attempted_compress: {}}}\n",
            node.lp.valkey_bytes(),
            node.lp.len(),
            u8::from(node.attempted)
        ));
        if full {
            text.push_str("{ listpack:\n");
            text.push_str(&node.lp.repr());
            text.push_str("}\n");
        }
        text.push_str("}\n");
    }
    ctx.logs.push(crate::log::LogLevel::Warning, text);
    ctx.reply.simple("Quicklist structure printed on stdout");
    Ok(())
}

/// `DEBUG STRINGMATCH-TEST`: Valkey's fuzz test of its glob matcher, run on forkv's: ten
/// million random patterns against random strings (bytes below 128, up to 31 long). It
/// passes when nothing panics, which the replies of every glob command rely on.
fn stringmatch_test(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let mut rng = super::coll::Rng::from_ks(ctx.ks);
    let (mut text, mut pat) = ([0u8; 32], [0u8; 32]);
    let mut matches = 0u64;
    for _ in 0..10_000_000u32 {
        let tl = rng.below(32);
        let pl = rng.below(32);
        for b in text.iter_mut().take(tl) {
            *b = rng.below(128) as u8;
        }
        for b in pat.iter_mut().take(pl) {
            *b = rng.below(128) as u8;
        }
        matches += u64::from(forkv_keyspace::glob::glob_match(&pat[..pl], &text[..tl], false));
    }
    // The count only keeps the loop from being optimised away.
    std::hint::black_box(matches);
    ctx.reply.simple("Apparently Valkey did not crash: test passed");
    Ok(())
}

fn digest_all(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let d = digest::dataset_digest(ctx.ks);
    ctx.reply.simple(&digest::hex(&d));
    Ok(())
}

fn digest_value(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    ctx.reply.array(argv.len() - 2);
    for key in &argv[2..] {
        let d = match ctx.ks.peek(db, key).as_deref() {
            Some(v) => digest::value_digest(v, ctx.ks.db(db).expire_of(key)),
            None => [0u8; 20],
        };
        ctx.reply.simple(&digest::hex(&d));
    }
    Ok(())
}

/// Parses a memory size as Valkey's `memtoull`: digits with an optional unit (b, k, kb,
/// m, mb, g, gb; k = 1000, kb = 1024).
fn parse_memory(arg: &[u8]) -> Option<u64> {
    let digits = arg.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = arg[digits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = if digits == 0 { 0 } else { std::str::from_utf8(&arg[..digits]).ok()?.parse().ok()? };
    n.checked_mul(mul)
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD: list elements at least this big are stored in a
/// quicklist node of their own; 0 restores the 1 GB default.
fn quicklist_packed_threshold(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    const ERR: &str = "ERR argument must be a memory value bigger than 1 and smaller than 4gb";
    let size = parse_memory(argv[2]).ok_or(super::CmdError::Borrowed(ERR))?;
    if size > (1u64 << 32) - (1 << 20) {
        return Err(ERR.into());
    }
    let mut lim = *ctx.ks.encoding_limits();
    lim.list_packed_threshold = if size == 0 { forkv_keyspace::types::DEFAULT_PACKED_THRESHOLD } else { size as usize };
    ctx.ks.set_encoding_limits(lim);
    ctx.reply.ok();
    Ok(())
}

/// DEBUG PROTOCOL: one sample reply of each RESP type, for client and test-suite checks.
fn protocol(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = argv[2].to_ascii_lowercase();
    let r = &mut ctx.reply;
    match name.as_slice() {
        b"string" => r.bulk(b"Hello World"),
        b"integer" => r.int(12345),
        // Valkey's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => r.double(3.141),
        b"bignum" => {
            const BIG: &[u8] = b"1234567999999999999999999999999999999";
            if r.resp3() {
                r.raw(b"(");
                r.raw(BIG);
                r.raw(b"\r\n");
            } else {
                r.bulk(BIG);
            }
        }
        b"null" => r.null(),
        b"array" | b"set" => {
            if name == b"set" {
                r.set(3);
            } else {
                r.array(3);
            }
            for j in 0..3 {
                r.int(j);
            }
        }
        b"map" => {
            r.map(3);
            for j in 0..3 {
                r.int(j);
                r.boolean(j == 1);
            }
        }
        b"attrib" => {
            if r.resp3() {
                r.raw(b"|1\r\n");
                r.bulk(b"key-popularity");
                r.array(2);
                r.bulk(b"key:123");
                r.int(90);
            }
            // Attributes are not replies: a real one follows.
            r.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !r.resp3() {
                return Err("ERR RESP2 is not supported by this command".into());
            }
            r.push(2);
            r.bulk(b"server-cpu-usage");
            r.int(42);
            r.bulk(b"Some real reply following the push reply");
        }
        b"true" => r.boolean(true),
        b"false" => r.boolean(false),
        b"verbatim" => r.verbatim(b"This is a verbatim\nstring", "txt"),
        _ => return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into()),
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "DEBUG",
        &[
            "AOF-FLUSH-SLEEP <microsec>",
            "    Server will sleep before flushing the AOF, this is used for testing.",
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "HTSTATS <dbid> [full]",
            "    Return hash table statistics of the specified database.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key> [fast]",
            "    Show low level info about `key` and associated value.",
            "    Some fields of the default behavior may be time consuming to fetch,",
            "    and `fast` can be passed to avoid fetching them.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PAUSE-CRON <0|1>",
            "    Stop periodic cron job processing.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Sets the threshold for elements to be inserted as plain vs packed nodes",
            "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
            "REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|time>",
            "    Milliseconds between resets of a client's reply peak (CLIENT LIST rbp).",
            "    NEVER keeps the peak for good; RESET restores the default (5000).",
            "REPLYBUFFER RESIZING <0|1>",
            "    Enable or disable giving the reply buffer back after a big batch of replies.",
            "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
            "    Save the RDB on disk and reload it back to memory.",
            "SEGFAULT",
            "    Crash the server with sigsegv.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not accessed.",
            "SET-DISABLE-DENY-SCRIPTS <0|1>",
            "    Disable the noscript flag of commands, so scripts can call them (test purposes).",
            "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
            "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "STRINGMATCH-TEST",
            "    Run a fuzz tester against the stringmatchlen() function.",
            "LISTPACK <key>",
            "    Show low level info about the listpack encoding of <key>.",
            "QUICKLIST <key> [<0|1>]",
            "    Show low level info about the quicklist encoding of <key>.",
            "    The optional argument (0 by default) sets the level of detail",
        ],
    );
    Ok(())
}
