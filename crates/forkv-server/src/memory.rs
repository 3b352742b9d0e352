//! The memory the server measures beside the engine: what each client holds here, and
//! the figures MEMORY STATS and INFO memory report with Valkey's meaning
//! (getMemoryOverheadData): the replication backlog, and the clients' memory by class,
//! the replicas apart from the normal, pub/sub and primary-link clients.
//!
//! A client's memory is what the engine holds for it, its subscriptions, and for a
//! replica still syncing the stream buffered for it; the output waiting in the host's
//! sockets is added by class from the host's totals
//! ([`forkv_engine::Engine::client_output_bytes`]).

use forkv_engine::client::{Client, SUBSCRIPTION_OVERHEAD_BYTES};
use forkv_engine::memory_stats::ServerMemory;
use forkv_engine::Engine;

use crate::Own;

/// The memory client `id` holds in the core (see [`crate::Server::client_memory`]).
pub(crate) fn client_memory(c: &Client, own: &Own, id: u64) -> usize {
    c.memory_usage()
        + own.pubsub.total_count(id) * SUBSCRIPTION_OVERHEAD_BYTES
        // A syncing replica's stream waits here, not yet in its socket: its output all the same.
        + own.repl.pending_bytes_of(id)
}

/// The backlog and the clients' memory by class. A replica's link to its primary is a
/// client of the primary class, which Valkey reports with the normal ones.
pub(crate) fn server_memory(engine: &Engine, own: &Own) -> ServerMemory {
    let replica_output = engine.replica_output_bytes;
    let mut m = ServerMemory {
        repl_backlog: own.repl.backlog_histlen() as usize,
        clients_normal: engine.client_output_bytes.saturating_sub(replica_output),
        clients_replicas: replica_output,
        ..ServerMemory::default()
    };
    for (id, c) in engine.connected_clients() {
        let mem = client_memory(c, own, id);
        if c.replica {
            m.clients_replicas += mem;
            m.replica_count += 1;
        } else {
            m.clients_normal += mem;
            m.normal_count += 1;
        }
    }
    m
}
