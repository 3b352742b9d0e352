//! Bytes for clients other than the one whose command is running (pub/sub messages),
//! kept per client until the host writes them.
//!
//! The host owns the sockets, so delivery is two-step: Rust appends each message to the
//! receiver's outbox while the publishing command runs, the feed result tells the host
//! that deliveries are waiting, and the host takes them all with
//! [`Outbox::take`](Outbox::take) and writes each to its socket. Messages to one client
//! keep the order in which they were published.

use std::collections::HashMap;

/// Pending bytes per receiving client, plus the order in which clients first got some.
#[derive(Default)]
pub struct Outbox {
    pending: HashMap<u64, Vec<u8>, foldhash::fast::FixedState>,
    order: Vec<u64>,
}

impl Outbox {
    /// The buffer of `id`, created (and queued for delivery) on first use.
    pub fn buffer(&mut self, id: u64) -> &mut Vec<u8> {
        let order = &mut self.order;
        self.pending.entry(id).or_insert_with(|| {
            order.push(id);
            Vec::new()
        })
    }

    /// True when client `id` has bytes waiting.
    pub fn has(&self, id: u64) -> bool {
        self.pending.contains_key(&id)
    }

    /// True when some client has bytes waiting.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Removes and returns what is waiting for one client (its own command's messages
    /// go out with its reply instead).
    pub fn take_for(&mut self, id: u64) -> Option<Vec<u8>> {
        let bytes = self.pending.remove(&id)?;
        self.order.retain(|&c| c != id);
        Some(bytes)
    }

    /// Removes and returns everything waiting, client by client.
    pub fn take(&mut self) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::with_capacity(self.order.len());
        for id in self.order.drain(..) {
            if let Some(bytes) = self.pending.remove(&id) {
                out.push((id, bytes));
            }
        }
        out
    }

    /// Forgets a client that is gone.
    pub fn drop_client(&mut self, id: u64) {
        if self.pending.remove(&id).is_some() {
            self.order.retain(|&c| c != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_per_client_order_and_first_use_order() {
        let mut o = Outbox::default();
        o.buffer(2).extend_from_slice(b"a");
        o.buffer(1).extend_from_slice(b"b");
        o.buffer(2).extend_from_slice(b"c");
        assert!(!o.is_empty());
        assert_eq!(o.take(), vec![(2, b"ac".to_vec()), (1, b"b".to_vec())]);
        assert!(o.is_empty());
    }

    #[test]
    fn take_for_and_drop_client_remove_one_client() {
        let mut o = Outbox::default();
        o.buffer(1).push(1);
        o.buffer(2).push(2);
        o.buffer(3).push(3);
        assert_eq!(o.take_for(2), Some(vec![2]));
        assert_eq!(o.take_for(2), None);
        o.drop_client(1);
        assert_eq!(o.take(), vec![(3, vec![3])]);
    }
}
