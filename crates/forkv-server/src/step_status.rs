//! The status byte that ends every reply the host gets from a feed, a resume or a wake:
//! what the host does next (the step), or-ed with bits for what else waits for it. Packing
//! the status into the reply buffer costs the data path no result object per socket read
//! (DESIGN: one crossing per read); the binding appends it, the host's `ts/native/core.ts`
//! strips it. The codes are the host's contract: change both sides together.

use forkv_engine::Outcome;

use crate::Server;

/// Write the reply, wait for input.
pub const DONE: u8 = 0;
/// Write the reply, then run the host command (its argv is handed over) and resume.
pub const HOST: u8 = 1;
/// Write the reply, then close the connection.
pub const CLOSE: u8 = 2;
/// Write the reply; the client is blocked (BLPOP ...): arm a timer for its deadline.
pub const BLOCKED: u8 = 3;
/// Write the reply; wake the client once its output has drained (a pipeline whose
/// replies outgrew the output pause threshold).
pub const PAUSED: u8 = 4;

/// Clients were served or unblocked (or a busy script accepted connections): the host
/// takes them and wakes each.
pub const WOKEN: u8 = 0x80;
/// A FLUSHALL ran: the host resets persistence (stops an RDB child, saves).
pub const FLUSHED_ALL: u8 = 0x40;
/// The engine queued log lines for the host's logger.
pub const LOGS: u8 = 0x20;
/// Pub/sub messages wait for other clients.
pub const DELIVER: u8 = 0x10;

impl Server {
    /// The status byte of a feed, resume or wake that ended with `outcome`, and a host
    /// command's argv (by the table's own name, see [`crate::host_argv`]) when that is
    /// the step. Reading the FLUSHED_ALL bit consumes it.
    pub fn step_status(&mut self, outcome: Outcome) -> (u8, Option<Vec<Vec<u8>>>) {
        let (step, argv) = match outcome {
            Outcome::Done => (DONE, None),
            Outcome::Close => (CLOSE, None),
            Outcome::Host(argv) => (HOST, Some(crate::host_argv(argv))),
            Outcome::Blocked => (BLOCKED, None),
            Outcome::Paused => (PAUSED, None),
        };
        let woken = if self.engine.has_woken() || self.has_busy_accepted() { WOKEN } else { 0 };
        let flushed = if self.engine.ks.take_flushed_all() { FLUSHED_ALL } else { 0 };
        let logs = if self.engine.logs.is_empty() { 0 } else { LOGS };
        let deliver = if self.has_deliveries() { DELIVER } else { 0 };
        (step | woken | flushed | logs | deliver, argv)
    }
}
