//! A seeded cryptographic random source, for output that must be unguessable (ACL
//! GENPASS). The engine does no I/O: the host seeds it once with bytes from the
//! operating system's CSPRNG ([`crate::Engine::seed_secure_random`]), and every output
//! block is HMAC-SHA256(seed, counter), the construction Valkey's `getRandomBytes` uses.
//! A test seeds it with fixed bytes and gets a reproducible stream.

use crate::acl::sha256::sha256;

/// SHA-256's block size, the HMAC key pad width.
const BLOCK: usize = 64;

/// HMAC-SHA256 counter-mode generator over a secret seed.
pub struct SecureRandom {
    /// The seed XORed with HMAC's inner and outer pads, kept ready.
    ipad: [u8; BLOCK],
    opad: [u8; BLOCK],
    counter: u64,
}

impl SecureRandom {
    /// A generator over a secret 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let (mut ipad, mut opad) = ([0x36u8; BLOCK], [0x5cu8; BLOCK]);
        for (i, b) in seed.iter().enumerate() {
            ipad[i] ^= b;
            opad[i] ^= b;
        }
        SecureRandom { ipad, opad, counter: 0 }
    }

    /// HMAC-SHA256 of `msg` under the seed.
    fn hmac(&self, msg: &[u8]) -> [u8; 32] {
        let mut inner = Vec::with_capacity(BLOCK + msg.len());
        inner.extend_from_slice(&self.ipad);
        inner.extend_from_slice(msg);
        let mut outer = Vec::with_capacity(BLOCK + 32);
        outer.extend_from_slice(&self.opad);
        outer.extend_from_slice(&sha256(&inner));
        sha256(&outer)
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let block = self.hmac(&self.counter.to_le_bytes());
            self.counter = self.counter.wrapping_add(1);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_1() {
        // RFC 4231 test case 1 uses a 20-byte key of 0x0b and "Hi There".
        let mut key = [0u8; 32];
        key[..20].fill(0x0b);
        // A 20-byte key zero-padded to 32 is the same HMAC key (keys are zero-padded to
        // the block size).
        let r = SecureRandom::from_seed(&key);
        let mac = r.hmac(b"Hi There");
        assert_eq!(crate::acl::sha256::hex(&mac), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    #[test]
    fn streams_are_reproducible_per_seed_and_differ_between_seeds() {
        let (mut a, mut b, mut c) =
            (SecureRandom::from_seed(&[1; 32]), SecureRandom::from_seed(&[1; 32]), SecureRandom::from_seed(&[2; 32]));
        let (mut x, mut y, mut z) = ([0u8; 80], [0u8; 80], [0u8; 80]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        // Consecutive blocks differ: the counter moves.
        assert_ne!(x[..32], x[32..64]);
    }
}
