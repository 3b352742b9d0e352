//! The read path's hand-over in bytes: what a step (feed, wake, resume) and the waiting
//! deliveries leave in the host's bound buffers (the reply buffer and the 16-byte result
//! slot the binding's raw Node-API functions were given once; see forkv-napi's
//! fastpath.rs). The binding only checks its arguments and calls these, so the layout
//! lives here, with cargo tests.

use std::collections::VecDeque;
use std::os::fd::RawFd;

use crate::Server;

/// Bytes before a delivery's data in [`DeliveryRecords::pack_into`]'s records: the client
/// id (u32), the data's length (u32) and the client's memory (f64), little endian.
pub const DELIVERY_HEADER: usize = 16;

impl Server {
    /// Hands a step's replies over: sent to `fd` when it is not -1 and they fit
    /// [`crate::direct_send::DIRECT_MAX`] ([`Server::send_reply_now`]), the rest copied to
    /// the start of `out` (or left for the host's `takeReply()` when longer than `out`);
    /// `slot` (16 bytes) gets the client's memory and the bytes sent, two f64 in native
    /// endianness. Returns `rest_length * 256 + status`, or -1 when `slot` is too short.
    pub fn hand_over_into(&mut self, id: u64, status: u8, fd: RawFd, out: &mut [u8], slot: &mut [u8]) -> f64 {
        let Some(slot) = slot.get_mut(..16) else {
            return -1.0;
        };
        let memory = self.client_memory(id) as f64;
        let sent = if fd >= 0 { self.send_reply_now(fd) } else { 0 };
        slot[..8].copy_from_slice(&memory.to_ne_bytes());
        slot[8..].copy_from_slice(&(sent as f64).to_ne_bytes());
        let rest_len = self.reply().len();
        if let Some(dst) = out.get_mut(..rest_len) {
            dst.copy_from_slice(self.reply());
            self.clear_reply();
        }
        rest_len as f64 * 256.0 + f64::from(status)
    }
}

/// The deliveries the host takes as records in its reply buffer, and those that did not
/// fit yet (taken first next time).
#[derive(Default)]
pub struct DeliveryRecords {
    pending: VecDeque<(u64, Vec<u8>)>,
}

impl DeliveryRecords {
    /// The waiting deliveries as records in `out`, each [`DELIVERY_HEADER`] bytes (client
    /// id, data length, the client's memory) then the data, as many as fit. Returns
    /// `bytes * 2 + more`, where `more` is 1 when deliveries remain: the host calls again,
    /// or, when no record was written (the next one is longer than `out`), takes them with
    /// [`Self::take_all`].
    pub fn pack_into(&mut self, server: &mut Server, out: &mut [u8]) -> f64 {
        if self.pending.is_empty() {
            self.pending = VecDeque::from(server.take_deliveries());
        }
        let mut at = 0usize;
        while let Some((id, data)) = self.pending.front() {
            let end = at + DELIVERY_HEADER + data.len();
            let Some(record) = out.get_mut(at..end) else {
                break;
            };
            let memory = server.client_memory(*id) as f64;
            // Client ids are allocated by the host as u32 (allocateClientId).
            record[..4].copy_from_slice(&(*id as u32).to_le_bytes());
            record[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
            record[8..16].copy_from_slice(&memory.to_le_bytes());
            record[DELIVERY_HEADER..].copy_from_slice(data);
            at = end;
            self.pending.pop_front();
        }
        let more = !self.pending.is_empty();
        at as f64 * 2.0 + f64::from(u8::from(more))
    }

    /// The deliveries [`Self::pack_into`] left (first), then any new ones.
    pub fn take_all(&mut self, server: &mut Server) -> Vec<(u64, Vec<u8>)> {
        let mut all: Vec<(u64, Vec<u8>)> = self.pending.drain(..).collect();
        all.extend(server.take_deliveries());
        all
    }
}
