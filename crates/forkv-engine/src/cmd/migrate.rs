//! MIGRATE (Valkey `cluster.c`): moves keys to another server with RESTORE over a
//! connection of the engine's own (see [`crate::migrate`]), then deletes them here unless
//! COPY was given. The server waits for the target, as Valkey does; the command's
//! timeout bounds every connect, write and read.
//!
//! One transfer is: `AUTH` when asked, `SELECT db` unless the cached connection already
//! has it selected, then one `RESTORE key ttl payload [REPLACE]` per key still present,
//! all written at once; then one reply line per command is read. A key is deleted here
//! only once the target acknowledged its RESTORE, and the deletions are propagated as
//! one `DEL` of those keys (MIGRATE itself is never propagated). A cached connection
//! that fails before anything was acknowledged is reopened and the transfer retried
//! once, except after a timeout.

use std::time::Duration;

use super::{is, now_ms, parse_i64, CmdResult, Ctx};
use crate::errors;
use crate::migrate::{ConnectError, IoFailure};
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[spec(
    "migrate",
    -6,
    WRITE | MOVABLE_KEYS,
    (3, 3, 1),
    "generic",
    "2.6.0",
    "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
    "Atomically transfers a key from one instance to another.",
    Core(migrate),
)];

/// MIGRATE's options after the five fixed arguments.
#[derive(Debug)]
struct Options<'a> {
    copy: bool,
    replace: bool,
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    /// Index of the first key in argv and how many keys there are.
    first_key: usize,
    num_keys: usize,
}

fn parse_options<'a>(argv: &[&'a [u8]]) -> Result<Options<'a>, super::CmdError> {
    let mut o = Options { copy: false, replace: false, user: None, password: None, first_key: 3, num_keys: 1 };
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let a = argv[j];
        if is(a, "COPY") {
            o.copy = true;
        } else if is(a, "REPLACE") {
            o.replace = true;
        } else if is(a, "AUTH") {
            if more < 1 {
                return Err(errors::SYNTAX.into());
            }
            o.password = Some(argv[j + 1]);
            j += 1;
        } else if is(a, "AUTH2") {
            if more < 2 {
                return Err(errors::SYNTAX.into());
            }
            o.user = Some(argv[j + 1]);
            o.password = Some(argv[j + 2]);
            j += 2;
        } else if is(a, "KEYS") {
            if !argv[3].is_empty() {
                return Err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string".into());
            }
            o.first_key = j + 1;
            o.num_keys = argv.len() - j - 1;
            break;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// How one attempt ended.
enum Attempt {
    /// The reply is written: done.
    Replied,
    /// An I/O error before the reply: retry or report it.
    Failed { write: bool, timeout: bool },
}

fn migrate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let opts = parse_options(argv)?;
    let timeout_ms = parse_i64(argv[5])?;
    let dbid = parse_i64(argv[4])?;
    let timeout = Duration::from_millis(if timeout_ms <= 0 { 1000 } else { timeout_ms as u64 });
    // MIGRATE never goes to the AOF or replicas as itself; its deletions go as DEL.
    ctx.suppress_propagation();

    let db = ctx.db();
    let keys: Vec<&[u8]> = argv[opts.first_key..opts.first_key + opts.num_keys]
        .iter()
        .copied()
        .filter(|k| ctx.ks.lookup_read(db, k).is_some())
        .collect();
    if keys.is_empty() {
        ctx.reply.simple("NOKEY");
        return Ok(());
    }

    let host = String::from_utf8_lossy(argv[1]).into_owned();
    let name = format!("{host}:{}", String::from_utf8_lossy(argv[2]));
    let mut may_retry = true;
    loop {
        match attempt(ctx, argv, &opts, &keys, &host, &name, dbid, timeout)? {
            Attempt::Replied => return Ok(()),
            Attempt::Failed { write, timeout: timed_out } => {
                ctx.migrate.close(&name);
                if !timed_out && may_retry {
                    may_retry = false;
                    continue;
                }
                let what = if write { "writing" } else { "reading" };
                return Err(format!("IOERR error or timeout {what} to target instance").into());
            }
        }
    }
}

/// One transfer over the (cached or new) connection.
#[allow(clippy::too_many_arguments)]
fn attempt(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    opts: &Options<'_>,
    keys: &[&[u8]],
    host: &str,
    name: &str,
    dbid: i64,
    timeout: Duration,
) -> Result<Attempt, super::CmdError> {
    let db = ctx.db();
    let now_s = now_ms() / 1000;
    let cs = match ctx.migrate.get(name, host, argv[2], timeout, now_s) {
        Ok(cs) => cs,
        Err(ConnectError::Refused) => return Ok(Attempt::Failed { write: true, timeout: false }),
        Err(ConnectError::Unreachable) => return Err("IOERR error or timeout connecting to the client".into()),
    };
    let select = cs.last_dbid != dbid;

    let mut out = Vec::new();
    if let Some(pass) = opts.password {
        match opts.user {
            Some(user) => forkv_aof::resp::encode_command(&mut out, &[b"AUTH", user, pass]),
            None => forkv_aof::resp::encode_command(&mut out, &[b"AUTH", pass]),
        }
    }
    if select {
        forkv_aof::resp::encode_command(&mut out, &[b"SELECT", dbid.to_string().as_bytes()]);
    }
    // Keys found above may have expired since (serializing takes time): skip those.
    let now = ctx.ks.now();
    let mut sent: Vec<&[u8]> = Vec::with_capacity(keys.len());
    for &key in keys {
        let ttl = match ctx.ks.expire_time(db, key) {
            None => continue,
            Some(None) => 0,
            Some(Some(at)) if at - now < 0 => continue,
            Some(Some(at)) => (at - now).max(1),
        };
        let threshold = ctx.ks.encoding_limits().list_packed_threshold;
        let Some(value) = ctx.ks.lookup_read(db, key) else { continue };
        let value = &*value;
        let payload = forkv_rdb::dump_payload_compressed(value, threshold, ctx.cfg.rdb_compression);
        let ttl = ttl.to_string();
        let mut cmd: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), &payload];
        if opts.replace {
            cmd.push(b"REPLACE");
        }
        forkv_aof::resp::encode_command(&mut out, &cmd);
        sent.push(key);
    }

    let Ok(cs) = ctx.migrate.get(name, host, argv[2], timeout, now_s) else {
        return Ok(Attempt::Failed { write: true, timeout: false });
    };
    if let Err(e) = cs.write_all(&out, timeout) {
        return Ok(Attempt::Failed { write: true, timeout: e == IoFailure::Timeout });
    }
    let auth_reply = match opts.password.map(|_| cs.read_line(timeout)).transpose() {
        Ok(r) => r,
        Err(e) => return Ok(Attempt::Failed { write: false, timeout: e == IoFailure::Timeout }),
    };
    let select_reply = match select.then(|| cs.read_line(timeout)).transpose() {
        Ok(r) => r,
        Err(e) => return Ok(Attempt::Failed { write: false, timeout: e == IoFailure::Timeout }),
    };
    let setup_error = [&auth_reply, &select_reply].into_iter().flatten().find(|l| l.first() == Some(&b'-')).cloned();

    let mut target_error: Option<Vec<u8>> = None;
    let mut socket_error: Option<IoFailure> = None;
    let mut acked: Vec<&[u8]> = Vec::new();
    let mut read = 0;
    for &key in &sent {
        let line = match cs.read_line(timeout) {
            Ok(l) => l,
            Err(e) => {
                socket_error = Some(e);
                break;
            }
        };
        read += 1;
        let err = setup_error.clone().or_else(|| (line.first() == Some(&b'-')).then(|| line.clone()));
        match err {
            Some(e) => {
                if target_error.is_none() {
                    cs.last_dbid = -1;
                    target_error = Some(e);
                }
            }
            None => acked.push(key),
        }
    }
    // Nothing was acknowledged and the connection failed: a stale cached connection,
    // worth one retry on a new one (not after a timeout).
    if let Some(e) = &socket_error {
        if target_error.is_none() && read == 0 {
            return Ok(Attempt::Failed { write: false, timeout: *e == IoFailure::Timeout });
        }
        ctx.migrate.close(name);
    }
    if !opts.copy && !acked.is_empty() {
        let mut del: Vec<&[u8]> = Vec::with_capacity(acked.len() + 1);
        del.push(b"DEL");
        for &key in &acked {
            if ctx.ks.delete(db, key) {
                ctx.notify(forkv_keyspace::notify::GENERIC, "del", key);
            }
            del.push(key);
        }
        ctx.also_propagate(&del);
    }
    if let Some(e) = target_error {
        let text = String::from_utf8_lossy(e.get(1..).unwrap_or_default()).into_owned();
        return Err(format!("ERR Target instance replied with error: {text}").into());
    }
    if socket_error.is_some() {
        // Some keys went over before the connection failed: no retry, report it.
        return Err("IOERR error or timeout reading to target instance".into());
    }
    if let Ok(cs) = ctx.migrate.get(name, host, argv[2], timeout, now_s) {
        cs.last_dbid = dbid;
    }
    ctx.reply.ok();
    Ok(Attempt::Replied)
}

#[cfg(test)]
mod tests {
    use super::parse_options;

    #[test]
    fn options_parse_as_valkey() {
        let argv: Vec<&[u8]> = vec![b"migrate", b"h", b"1", b"", b"0", b"100", b"COPY", b"AUTH2", b"u", b"p", b"KEYS", b"a", b"b"];
        let o = parse_options(&argv).expect("test setup");
        assert!(o.copy && !o.replace);
        assert_eq!((o.user, o.password), (Some(&b"u"[..]), Some(&b"p"[..])));
        assert_eq!((o.first_key, o.num_keys), (11, 2));
        let bad: Vec<&[u8]> = vec![b"migrate", b"h", b"1", b"k", b"0", b"100", b"KEYS", b"a"];
        assert!(parse_options(&bad).err().is_some_and(|e| e.contains("must be set to the empty string")));
        let bad: Vec<&[u8]> = vec![b"migrate", b"h", b"1", b"k", b"0", b"100", b"AUTH"];
        assert!(parse_options(&bad).is_err());
        let bad: Vec<&[u8]> = vec![b"migrate", b"h", b"1", b"k", b"0", b"100", b"nope"];
        assert!(parse_options(&bad).is_err());
    }
}
