//! WAIT and WAITAOF for a client that may not block (a script's `server.call`): Valkey
//! checks the arguments, then answers at once with the counts as they are (its
//! `CLIENT_DENY_BLOCKING` path). A client that may block is served by the host, which
//! waits for the acknowledgements.

use forkv_engine::reply::Reply;
use forkv_engine::Engine;

use crate::repl::{ReplicaState, Replication};

const NOT_INT: &str = "ERR value is not an integer or out of range";
const TIMEOUT_NOT_INT: &str = "ERR timeout is not an integer or out of range";

/// The AOF's progress as of the host's last flush (Valkey's `fsynced_reploff`, which its
/// event loop also refreshes once per iteration): bytes appended, bytes fsynced (None
/// while the AOF waits for its first rewrite: nothing counts as fsynced yet).
#[derive(Clone, Copy, Debug, Default)]
pub struct AofMarks {
    pub appended: u64,
    pub synced: Option<u64>,
}

/// Checks a WAIT/WAITAOF timeout (milliseconds) as Valkey's getTimeoutFromObjectOrReply.
fn check_timeout(arg: &[u8]) -> Result<(), &'static str> {
    let t = forkv_engine::cmd::parse_i64_with(arg, TIMEOUT_NOT_INT).map_err(|_| TIMEOUT_NOT_INT)?;
    if t < 0 {
        return Err("ERR timeout is negative");
    }
    if t > 0 && t > i64::MAX - forkv_engine::cmd::now_ms() {
        return Err("ERR timeout is out of range");
    }
    Ok(())
}

fn online_at(repl: &Replication, at: impl Fn(u64, u64) -> bool) -> i64 {
    repl.states().filter(|(state, ack, aof)| *state == Some(ReplicaState::Online) && at(*ack, *aof)).count() as i64
}

/// WAIT numreplicas timeout, answered without blocking: the online replicas that
/// acknowledged the stream up to its current offset.
pub fn wait(engine: &Engine, repl: &Replication, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) {
    let proto = engine.client(id).map_or(2, |c| c.proto);
    let mut reply = Reply::new(out, proto);
    if engine.cfg.is_replica {
        reply.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
        return;
    }
    let checked = forkv_engine::cmd::parse_i64_with(argv[1], NOT_INT).map_err(|_| NOT_INT).and_then(|_| check_timeout(argv[2]));
    if let Err(msg) = checked {
        reply.error(msg);
        return;
    }
    let target = repl.offset;
    reply.int(online_at(repl, |ack, _| ack >= target));
}

/// WAITAOF numlocal numreplicas timeout, answered without blocking: [1 if the local AOF
/// is fsynced up to what was appended, replicas whose AOF is fsynced up to the stream's
/// offset].
pub fn waitaof(engine: &Engine, repl: &Replication, aof: Option<AofMarks>, id: u64, argv: &[&[u8]], out: &mut Vec<u8>) {
    let proto = engine.client(id).map_or(2, |c| c.proto);
    let mut reply = Reply::new(out, proto);
    let numlocal = match forkv_engine::cmd::parse_i64_with(argv[1], NOT_INT) {
        Ok(n) if (0..=1).contains(&n) => n,
        Ok(_) => return reply.error("ERR value is out of range, value must between 0 and 1"),
        Err(_) => return reply.error(NOT_INT),
    };
    match forkv_engine::cmd::parse_i64_with(argv[2], NOT_INT) {
        Ok(n) if n >= 0 => {}
        Ok(_) => return reply.error("ERR value is out of range, must be positive"),
        Err(_) => return reply.error(NOT_INT),
    }
    if let Err(msg) = check_timeout(argv[3]) {
        return reply.error(msg);
    }
    if engine.cfg.is_replica {
        return reply.error("ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.");
    }
    if numlocal == 1 && aof.is_none() {
        return reply.error("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.");
    }
    let local = aof.is_some_and(|m| m.synced.is_some_and(|s| s >= m.appended));
    let target = repl.offset;
    let replicas = online_at(repl, |_, aof_offset| aof_offset >= target);
    reply.array(2);
    reply.int(i64::from(local));
    reply.int(replicas);
}
