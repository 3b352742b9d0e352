//! Replication as a replica, for the host: the primary link's reads, its ACKs and the
//! replica's offset. The state and the stream's handling live in
//! `forkv_server::primary_link`; the host only reads and writes the socket.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core::Core;

#[napi]
impl Core {
    /// One read of the primary link (`bytes`: what the host holds of the stream): runs
    /// the complete commands, answers GETACK. Returns the ACK bytes to write, then the
    /// bytes consumed (f64 LE) and a status byte (see `forkv_server::primary_link`).
    /// Throws on a protocol error (nothing was run).
    #[napi]
    pub fn feed_primary(&mut self, bytes: BufferSlice) -> Result<Buffer> {
        let feed = self.server.feed_primary(&bytes).map_err(Error::from_reason)?;
        Ok(feed.encode().into())
    }

    /// `REPLCONF ACK <offset>` (with FACK when the AOF is on) for the primary.
    #[napi]
    pub fn primary_ack(&mut self) -> Buffer {
        self.server.primary_ack().into()
    }

    /// The link is up: the primary client selects `db` (the snapshot's stream database,
    /// not counted); `after_sync`: a full sync's snapshot was loaded (the AOF restarts
    /// with a rewrite). Returns the first ACK.
    #[napi]
    pub fn primary_link_up(&mut self, db: Option<u32>, after_sync: bool) -> Buffer {
        self.server.primary_link_up(db.map(|d| d as usize), after_sync).into()
    }

    /// The replica's offset in its primary's stream (-1: none).
    #[napi]
    pub fn replica_offset(&self) -> f64 {
        self.server.replica_offset() as f64
    }

    /// A new history's offset (-1: none); FACK's bookkeeping starts over.
    #[napi]
    pub fn set_replica_offset(&mut self, offset: f64) {
        self.server.set_replica_offset(offset.max(-1.0) as i64);
    }
}
