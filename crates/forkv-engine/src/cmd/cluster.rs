//! The cluster commands as a standalone Valkey answers them (`cluster-enabled no`, the
//! only mode forkv has): every CLUSTER subcommand and ASKING refuse with Valkey's
//! "cluster support disabled" error after the usual arity checks; READONLY and READWRITE
//! succeed and set or clear the connection's read-only flag (CLIENT LIST flag `r`),
//! which only a cluster replica would act on.

use super::{CmdResult, Ctx};
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Core};

/// Valkey's reply to cluster commands on a server without cluster support.
const DISABLED: &str = "ERR This instance has cluster support disabled";

pub const COMMANDS: &[CommandSpec] = &[
    container("cluster", -2, 0, "cluster", "3.0.0", "A container for Cluster commands.", CLUSTER_SUBCOMMANDS),
    spec("readonly", 1, LOADING | STALE | FAST, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Enables read-only queries for a connection to a Valkey replica node.", Core(readonly)),
    spec("readwrite", 1, LOADING | STALE | FAST, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Enables read-write queries for a connection to a Valkey replica node.", Core(readwrite)),
    spec("asking", 1, FAST, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Signals that a cluster client is following an -ASK redirect.", Core(cluster_disabled)),
];

/// CLUSTER's subcommands with Valkey 8.0's arity, flags and documentation.
const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    spec("cluster|addslots", -3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the total number of hash slot arguments", "Assigns new hash slots to a node.", Core(cluster_disabled)),
    spec("cluster|addslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "7.0.0", "O(N) where N is the total number of the slots between the start slot and end slot arguments.", "Assigns new hash slot ranges to a node.", Core(cluster_disabled)),
    spec("cluster|bumpepoch", 2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Advances the cluster config epoch.", Core(cluster_disabled)),
    spec("cluster|count-failure-reports", 3, ADMIN | STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the number of failure reports", "Returns the number of active failure reports active for a node.", Core(cluster_disabled)),
    spec("cluster|countkeysinslot", 3, STALE, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Returns the number of keys in a hash slot.", Core(cluster_disabled)),
    spec("cluster|delslots", -3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the total number of hash slot arguments", "Sets hash slots as unbound for a node.", Core(cluster_disabled)),
    spec("cluster|delslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "7.0.0", "O(N) where N is the total number of the slots between the start slot and end slot arguments.", "Sets hash slot ranges as unbound for a node.", Core(cluster_disabled)),
    spec("cluster|failover", -2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Forces a replica to perform a manual failover of its primary.", Core(cluster_disabled)),
    spec("cluster|flushslots", 2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Deletes all slots information from a node.", Core(cluster_disabled)),
    spec("cluster|forget", 3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Removes a node from the nodes table.", Core(cluster_disabled)),
    spec("cluster|getkeysinslot", 4, STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the number of requested keys", "Returns the key names in a hash slot.", Core(cluster_disabled)),
    spec("cluster|help", 2, LOADING | STALE, (0, 0, 0), "cluster", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Core(cluster_disabled)),
    spec("cluster|info", 2, LOADING | STALE, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Returns information about the state of a node.", Core(cluster_disabled)),
    spec("cluster|keyslot", 3, STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the number of bytes in the key", "Returns the hash slot for a key.", Core(cluster_disabled)),
    spec("cluster|links", 2, STALE, (0, 0, 0), "cluster", "7.0.0", "O(N) where N is the total number of Cluster nodes", "Returns a list of all TCP links to and from peer nodes.", Core(cluster_disabled)),
    spec("cluster|meet", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Forces a node to handshake with another node.", Core(cluster_disabled)),
    spec("cluster|myid", 2, LOADING | STALE, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Returns the ID of a node.", Core(cluster_disabled)),
    spec("cluster|myshardid", 2, LOADING | STALE, (0, 0, 0), "cluster", "7.2.0", "O(1)", "Returns the shard ID of a node.", Core(cluster_disabled)),
    spec("cluster|nodes", 2, LOADING | STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the total number of Cluster nodes", "Returns the cluster configuration for a node.", Core(cluster_disabled)),
    spec("cluster|replicas", 3, ADMIN | STALE, (0, 0, 0), "cluster", "5.0.0", "O(N) where N is the number of replicas.", "Lists the replica nodes of a primary node.", Core(cluster_disabled)),
    spec("cluster|replicate", 3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Configure a node as replica of a primary node.", Core(cluster_disabled)),
    spec("cluster|reset", -2, ADMIN | NOSCRIPT | STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.", "Resets a node.", Core(cluster_disabled)),
    spec("cluster|saveconfig", 2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Forces a node to save the cluster configuration to disk.", Core(cluster_disabled)),
    spec("cluster|set-config-epoch", 3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Sets the configuration epoch for a new node.", Core(cluster_disabled)),
    spec("cluster|setslot", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "cluster", "3.0.0", "O(1)", "Binds a hash slot to a node.", Core(cluster_disabled)),
    spec("cluster|shards", 2, LOADING | STALE, (0, 0, 0), "cluster", "7.0.0", "O(N) where N is the total number of cluster nodes", "Returns the mapping of cluster slots to shards.", Core(cluster_disabled)),
    spec("cluster|slaves", 3, ADMIN | STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the number of replicas.", "Lists the replica nodes of a primary node.", Core(cluster_disabled)),
    spec("cluster|slot-stats", -4, LOADING | STALE, (0, 0, 0), "cluster", "8.0.0", "O(N) where N is the total number of slots based on arguments. O(N*log(N)) with ORDERBY subcommand.", "Return an array of slot usage statistics for slots assigned to the current node.", Core(cluster_disabled)),
    spec("cluster|slots", 2, LOADING | STALE, (0, 0, 0), "cluster", "3.0.0", "O(N) where N is the total number of Cluster nodes", "Returns the mapping of cluster slots to nodes.", Core(cluster_disabled)),
];

/// Whether `argv` asks a CLUSTER subcommand that only reports the cluster's state (SLOTS,
/// SHARDS, NODES, INFO, KEYSLOT, ...: no ADMIN flag, nothing a cluster node would change).
/// With `cluster-enabled yes` Valkey answers them, so an AOF replay (which discards the
/// reply) does not stop on forkv's refusal of them.
pub fn is_state_report(argv: &[&[u8]]) -> bool {
    let (Some(name), Some(sub)) = (argv.first(), argv.get(1)) else { return false };
    crate::table::lookup(name)
        .filter(|c| c.name == "cluster")
        .and_then(|c| c.subcommand(sub))
        .is_some_and(|s| s.flags & ADMIN == 0)
}

/// Whether `reply` is the refusal of a server without cluster support.
pub fn is_disabled_reply(reply: &[u8]) -> bool {
    reply.strip_prefix(b"-").is_some_and(|r| r.starts_with(DISABLED.as_bytes()))
}

/// CLUSTER ... and ASKING without cluster support.
fn cluster_disabled(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(DISABLED.into())
}

/// READONLY: the connection would read from a cluster replica's slots.
fn readonly(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.client.readonly = true;
    ctx.reply.ok();
    Ok(())
}

/// READWRITE: back to the default (redirected to the primary in a cluster).
fn readwrite(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.client.readonly = false;
    ctx.reply.ok();
    Ok(())
}
