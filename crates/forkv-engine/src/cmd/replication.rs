//! The replication commands a replica sends to its primary. SYNC and PSYNC start a full
//! or partial synchronisation, which needs the host (a fork, the snapshot file, the
//! replica's socket); FAILOVER hands the primary role to a replica (the host's
//! ts/replication/failover.ts); REPLCONF configures the link and carries the replica's
//! acknowledgements, which the server crate (`forkv-server/src/repl.rs`) keeps. ROLE
//! reports what the host knows of the replicas' sockets.

use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec};

const SYNC_FLAGS: u32 = ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI;

pub const COMMANDS: &[CommandSpec] = &[
    spec("sync", 1, SYNC_FLAGS, (0, 0, 0), "server", "1.0.0", "", "An internal command used in replication.", Exec::Host),
    spec("psync", -3, SYNC_FLAGS, (0, 0, 0), "server", "2.8.0", "", "An internal command used in replication.", Exec::Host),
    spec("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, (0, 0, 0), "server", "5.0.0", "O(1)", "Configures a server as replica of another, or promotes it to a primary.", Exec::Host),
    spec("slaveof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, (0, 0, 0), "server", "1.0.0", "O(1)", "Sets a server as a replica of another, or promotes it to being a primary.", Exec::Host),
    spec("failover", -1, ADMIN | NOSCRIPT | STALE, (0, 0, 0), "server", "6.2.0", "O(1)", "Starts a coordinated failover from a server to one of its replicas.", Exec::Host),
    spec("wait", 3, BLOCKING, (0, 0, 0), "generic", "3.0.0", "O(1)", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", Exec::Host),
    spec("waitaof", 4, BLOCKING, (0, 0, 0), "generic", "7.2.0", "O(1)", "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the primary and/or replicas.", Exec::Host),
    spec("role", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), "server", "2.8.12", "O(1)", "Returns the replication role.", Exec::Host),
    spec(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        (0, 0, 0),
        "server",
        "3.0.0",
        "O(1)",
        "An internal command for configuring the replication stream.",
        Exec::Server,
    ),
];
