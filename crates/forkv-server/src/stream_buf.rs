//! The replication stream buffered for a replica while it syncs, in fixed 16 KB blocks
//! (Valkey's replication buffer is a list of `replBufBlock`s of PROTO_REPLY_CHUNK_BYTES).
//!
//! Why blocks and not one growing `Vec`: this memory is left out of what `maxmemory`
//! counts, so the figure must be what the allocator really charges for it. A `Vec`
//! doubling to tens of megabytes holds up to half of that unused, and the allocator's
//! size classes add more (a 21 MB request is charged 24 MB), none of it visible from
//! here; the difference then counted as data and evicted keys (unit/maxmemory's
//! replica-buffer cases). Blocks of exactly one size class are charged what they hold,
//! give or take one partly filled block.

/// Bytes per block: 16 KB, Valkey's PROTO_REPLY_CHUNK_BYTES (and a size class of every
/// allocator forkv builds with, so a block is charged exactly this).
pub const BLOCK_BYTES: usize = 16 * 1024;

/// Bytes in order, in blocks of [`BLOCK_BYTES`].
#[derive(Default)]
pub struct StreamBuf {
    blocks: Vec<Vec<u8>>,
    len: usize,
}

impl StreamBuf {
    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        while !bytes.is_empty() {
            let room = self.blocks.last().map_or(0, |b| BLOCK_BYTES - b.len());
            if room == 0 {
                self.blocks.push(Vec::with_capacity(BLOCK_BYTES));
                continue;
            }
            let n = room.min(bytes.len());
            if let Some(last) = self.blocks.last_mut() {
                last.extend_from_slice(&bytes[..n]);
            }
            bytes = &bytes[n..];
        }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memory held: the blocks and the list of them.
    pub fn allocated(&self) -> usize {
        self.blocks.len() * BLOCK_BYTES + self.blocks.capacity() * std::mem::size_of::<Vec<u8>>()
    }

    /// Forgets everything (the memory is freed).
    pub fn clear(&mut self) {
        *self = StreamBuf::default();
    }

    /// Takes everything out as one buffer (to hand to the host at once).
    pub fn take(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for b in std::mem::take(&mut self.blocks) {
            out.extend_from_slice(&b);
        }
        self.len = 0;
        out
    }
}

impl std::fmt::Debug for StreamBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamBuf({} bytes in {} blocks)", self.len, self.blocks.len())
    }
}

impl Clone for StreamBuf {
    /// A copy made of full-size blocks too, so that it is charged as the original is.
    fn clone(&self) -> Self {
        let mut copy = StreamBuf::default();
        for b in &self.blocks {
            copy.extend_from_slice(b);
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_back_in_order_across_blocks() {
        let mut s = StreamBuf::default();
        assert!(s.is_empty());
        assert_eq!(s.allocated(), 0);
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(777) {
            s.extend_from_slice(piece);
        }
        assert_eq!(s.len(), data.len());
        // Three 16 KB blocks for 40,000 bytes, plus the list of them.
        assert!(s.allocated() >= 3 * BLOCK_BYTES && s.allocated() < 3 * BLOCK_BYTES + 256, "{}", s.allocated());
        let copy = s.clone();
        assert_eq!(copy.allocated(), s.allocated());
        assert_eq!(s.take(), data);
        assert!(s.is_empty());
        let mut copy = copy;
        assert_eq!(copy.take(), data);
        copy.extend_from_slice(b"x");
        copy.clear();
        assert_eq!((copy.len(), copy.allocated()), (0, 0));
    }
}
