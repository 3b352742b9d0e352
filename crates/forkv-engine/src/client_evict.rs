//! Client eviction between the commands of one read.
//!
//! Valkey evicts clients over `maxmemory-clients` before every command (processCommand
//! calls evictClients before performEvictions), and counts each command's replies in its
//! client's memory right after it (updateClientMemUsageAndBucket). A client that
//! pipelines commands with big replies is thus stopped, or others are evicted, as soon as
//! the clients' memory reaches the limit, before the next command can grow it, and before
//! key eviction measures the memory.
//!
//! forkv's client eviction lives in the host (it owns the sockets whose pending output is
//! most of a client's memory), which evicts after each read's batch. A batch is many
//! commands when a client pipelines them, or when its small writes queue up in the kernel
//! (a client with Nagle's algorithm on, whose replies it does not read, sends a burst per
//! delayed ACK): the replies of a whole batch would sit in the engine's reply buffer,
//! counted by key eviction but by no client. So the host tells the engine the limit and
//! the clients' memory it measured last, and a batch whose replies bring that memory to
//! the limit stops after the command that did it ([`Outcome::Paused`](crate::Outcome)):
//! the host then measures its client and evicts, and the rest of the input runs on a later
//! turn of its event loop.

/// A batch stops only once its replies outgrow the reply buffer every client has (Valkey's
/// PROTO_REPLY_CHUNK_BYTES): a batch of small replies over a limit that nothing can bring
/// down (the no-evict clients alone hold it) still runs many commands per turn.
pub const MIN_YIELD_OUTPUT: usize = 16 * 1024;

/// What the engine knows of client eviction: the host's limit and last figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientEvictionGauge {
    /// The eviction limit in bytes (`maxmemory-clients` resolved against `maxmemory`);
    /// 0: client eviction is off.
    pub limit: usize,
    /// The memory of the normal and pubsub clients as the host measured it last
    /// (Valkey's `stat_clients_type_memory` of those two classes).
    pub clients_memory: usize,
}

impl ClientEvictionGauge {
    /// A batch whose replies not yet handed to the host come to `batch_output` bytes
    /// must stop so that the host evicts clients before the next command.
    pub fn batch_must_yield(&self, batch_output: usize) -> bool {
        self.limit != 0 && batch_output >= MIN_YIELD_OUTPUT && self.clients_memory.saturating_add(batch_output) >= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::run;
    use crate::{Engine, Outcome};

    #[test]
    fn a_batch_yields_only_with_the_limit_on_and_reached() {
        let off = ClientEvictionGauge { limit: 0, clients_memory: usize::MAX / 2 };
        assert!(!off.batch_must_yield(usize::MAX / 2));
        let g = ClientEvictionGauge { limit: 3 << 20, clients_memory: 2 << 20 };
        assert!(!g.batch_must_yield((1 << 20) - 1));
        assert!(g.batch_must_yield(1 << 20));
        // Under the reply buffer's size a batch never stops, even over the limit.
        let over = ClientEvictionGauge { limit: 1 << 20, clients_memory: 4 << 20 };
        assert!(!over.batch_must_yield(MIN_YIELD_OUTPUT - 1));
        assert!(over.batch_must_yield(MIN_YIELD_OUTPUT));
    }

    /// Pipelined GETs of a 100 KB value: with the host's figure near the limit the batch
    /// stops after the command whose reply reaches it, and the rest runs on `wake`.
    #[test]
    fn pipelined_replies_stop_at_the_client_eviction_limit() {
        let mut e = Engine::new(1);
        e.add_client(1);
        let value = "x".repeat(100_000);
        assert_eq!(run(&mut e, &["SET", "k", &value]), "+OK\r\n");
        e.clear_reply();
        let get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".repeat(10);
        let reply_len = format!("${}\r\n{value}\r\n", value.len()).len();

        // Off: the ten replies come in one batch.
        assert_eq!(e.feed(1, get.as_bytes()), Outcome::Done);
        assert_eq!(e.reply().len(), 10 * reply_len);
        e.clear_reply();

        // 1 MB limit, 750 KB measured: the third reply reaches it.
        e.client_eviction = ClientEvictionGauge { limit: 1 << 20, clients_memory: 750 << 10 };
        assert_eq!(e.feed(1, get.as_bytes()), Outcome::Paused);
        assert_eq!(e.reply().len(), 3 * reply_len);
        e.clear_reply();
        // The host evicted other clients: the rest runs whole.
        e.client_eviction.clients_memory = 0;
        assert_eq!(e.wake(1), Outcome::Done);
        assert_eq!(e.reply().len(), 7 * reply_len);
        e.clear_reply();
    }
}
