//! The replication stream kept by a primary (its backlog, which also holds what replicas
//! still syncing will be sent), in fixed 16 KB blocks (Valkey's replication buffer is a
//! list of `replBufBlock`s of PROTO_REPLY_CHUNK_BYTES). Bytes go in at the back and are
//! trimmed at the front, a block freed once all of it is trimmed.
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
    blocks: VecDeque<Vec<u8>>,
    /// Bytes of the first block already trimmed.
    head: usize,
    len: usize,
}

use std::collections::VecDeque;

impl StreamBuf {
    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        while !bytes.is_empty() {
            let room = self.blocks.back().map_or(0, |b| BLOCK_BYTES - b.len());
            if room == 0 {
                self.blocks.push_back(Vec::with_capacity(BLOCK_BYTES));
                continue;
            }
            let n = room.min(bytes.len());
            if let Some(last) = self.blocks.back_mut() {
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
        let out = self.copy_from(0);
        self.clear();
        out
    }

    /// A copy of the bytes from position `skip` (0: the first byte held) to the end.
    pub fn copy_from(&self, skip: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len.saturating_sub(skip));
        let mut skip = skip + self.head;
        for b in &self.blocks {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            out.extend_from_slice(&b[skip..]);
            skip = 0;
        }
        out
    }

    /// Forgets the first `n` bytes (all of them when `n` is more), freeing every block
    /// left with nothing held.
    pub fn trim_front(&mut self, n: usize) {
        let n = n.min(self.len);
        if n == self.len {
            self.clear();
            return;
        }
        self.len -= n;
        self.head += n;
        // Only the last block is ever partly filled, and it still holds bytes here.
        while self.blocks.front().is_some_and(|b| self.head >= b.len()) {
            self.head -= self.blocks.pop_front().map_or(0, |b| b.len());
        }
        // The list of blocks shrinks with them (a backlog that outgrew its size returns).
        if self.blocks.capacity() > 4 * self.blocks.len() + 16 {
            self.blocks.shrink_to_fit();
        }
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
        copy.extend_from_slice(&self.copy_from(0));
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

    #[test]
    fn trimming_the_front_frees_whole_blocks_and_keeps_the_rest_in_order() {
        let mut s = StreamBuf::default();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        s.extend_from_slice(&data);
        s.trim_front(100);
        assert_eq!((s.len(), s.copy_from(0)), (data.len() - 100, data[100..].to_vec()));
        assert_eq!(s.copy_from(20_000), data[20_100..].to_vec());
        s.trim_front(BLOCK_BYTES);
        assert_eq!(s.copy_from(0), data[BLOCK_BYTES + 100..].to_vec());
        // The first block went; 40,000 - 16,484 bytes are in two blocks.
        assert!(s.allocated() < 2 * BLOCK_BYTES + 512, "{}", s.allocated());
        s.extend_from_slice(b"tail");
        let mut want = data[BLOCK_BYTES + 100..].to_vec();
        want.extend_from_slice(b"tail");
        assert_eq!(s.copy_from(0), want);
        s.trim_front(usize::MAX);
        assert_eq!((s.len(), s.allocated(), s.copy_from(0)), (0, 0, Vec::new()));
    }
}
