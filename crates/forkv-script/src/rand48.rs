//! The PRNG behind `math.random` (Valkey's `redisLrand48`: the classic 48-bit linear
//! congruential generator), so a script sees the same sequence on every platform. As in
//! Valkey 7+, it is not reseeded before each script: runs continue its sequence.

/// `lrand48` results are below this.
pub const RAND48_MAX: u32 = i32::MAX as u32;

/// The generator state.
#[derive(Clone, Copy, Debug)]
pub struct Rand48(u64);

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

impl Rand48 {
    /// `srand48(seed)`.
    pub fn seeded(seed: i32) -> Self {
        Rand48((((seed as u32) as u64) << 16 | 0x330E) & MASK)
    }

    /// `lrand48()`: the next 31-bit value.
    pub fn next(&mut self) -> u32 {
        self.0 = (A.wrapping_mul(self.0).wrapping_add(C)) & MASK;
        (self.0 >> 17) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_glibc_lrand48_after_srand48_0() {
        // glibc: srand48(0); lrand48() x3
        let mut r = Rand48::seeded(0);
        assert_eq!([r.next(), r.next(), r.next()], [366850414, 1610402240, 206956554]);
    }
}
