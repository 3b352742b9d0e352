//! The per-key access clock (Valkey's 24-bit `robj.lru`), kept in the key's dict entry.
//!
//! With an LRU (or no eviction) `maxmemory-policy` it holds the time of the last access
//! in seconds; OBJECT IDLETIME reports how long ago that was. With an LFU policy it holds
//! the time of the last decrement in minutes (upper 16 bits) and a logarithmic access
//! counter (lower 8 bits, Valkey's `LFULogIncr`/`LFUDecrAndReturn` with the default
//! `lfu-log-factor` 10 and `lfu-decay-time` 1); OBJECT FREQ reports the counter.
//!
//! Reads update the clock only while no fork child exists (see `Keyspace::record_access`):
//! that write would otherwise copy the page of every key read during a snapshot.

/// Mask of the 24 bits Valkey keeps.
const CLOCK_MASK: u32 = (1 << 24) - 1;
/// Counter of a new key under LFU, so it is not evicted before it can be accessed again.
pub const LFU_INIT_VAL: u8 = 5;
/// Valkey's default `lfu-log-factor`.
const LFU_LOG_FACTOR: f64 = 10.0;
/// Valkey's default `lfu-decay-time` (minutes per counter decrement).
const LFU_DECAY_TIME: u32 = 1;

/// The LRU clock at `now_ms`: seconds, 24 bits.
fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 1000) as u64 & u64::from(CLOCK_MASK)) as u32
}

/// Minutes, 16 bits (the LFU time).
fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 60_000) as u64 & 0xFFFF) as u32
}

/// The clock of a key created at `now_ms`.
pub fn fresh(lfu: bool, now_ms: i64) -> u32 {
    if lfu {
        with_counter(now_ms, LFU_INIT_VAL)
    } else {
        lru_clock(now_ms)
    }
}

/// The clock after an access at `now_ms`; `random` is a uniformly random u64 (LFU only).
pub fn accessed(clock: u32, lfu: bool, now_ms: i64, random: u64) -> u32 {
    if !lfu {
        return lru_clock(now_ms);
    }
    let counter = decayed_counter(clock, now_ms);
    with_counter(now_ms, log_incr(counter, random))
}

/// Seconds since the last access (Valkey's `estimateObjectIdleTime`, wrapping clock).
pub fn idle_seconds(clock: u32, now_ms: i64) -> u64 {
    let now = lru_clock(now_ms);
    let last = clock & CLOCK_MASK;
    u64::from(if now >= last { now - last } else { CLOCK_MASK - last + now })
}

/// A clock that reads `secs` seconds idle at `now_ms`.
pub fn with_idle(now_ms: i64, secs: u64) -> u32 {
    let now = u64::from(lru_clock(now_ms));
    let clock_max = u64::from(CLOCK_MASK);
    // Valkey wraps by adding LRU_CLOCK_MAX (2^24 - 1), matching `idle_seconds`.
    let secs = secs % clock_max;
    (if secs <= now { now - secs } else { clock_max + now - secs }) as u32
}

/// An LFU clock with `counter`, stamped `now_ms`.
pub fn with_counter(now_ms: i64, counter: u8) -> u32 {
    (lfu_minutes(now_ms) << 8) | u32::from(counter)
}

/// The counter after the decay due since its stamp (`LFUDecrAndReturn`).
pub fn decayed_counter(clock: u32, now_ms: i64) -> u8 {
    let stamp = (clock >> 8) & 0xFFFF;
    let counter = (clock & 0xFF) as u8;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= stamp { now - stamp } else { 0xFFFF - stamp + now };
    let periods = elapsed / LFU_DECAY_TIME;
    counter.saturating_sub(periods.min(255) as u8)
}

/// Logarithmic increment: the higher the counter, the less likely (`LFULogIncr`).
fn log_incr(counter: u8, random: u64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let r = (random >> 11) as f64 / (1u64 << 53) as f64;
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_time_counts_seconds() {
        let c = fresh(false, 10_000_000);
        assert_eq!(idle_seconds(c, 10_000_000), 0);
        assert_eq!(idle_seconds(c, 10_005_999), 5);
        assert_eq!(idle_seconds(with_idle(10_000_000, 1000), 10_000_000), 1000);
        // Past the 24-bit wrap.
        let c = with_idle(3_000, 10);
        assert_eq!(idle_seconds(c, 3_000), 10);
    }

    #[test]
    fn lfu_counter_grows_slowly_and_decays() {
        let now = 120 * 60_000;
        let mut c = fresh(true, now);
        assert_eq!(decayed_counter(c, now), LFU_INIT_VAL);
        // The first increments above the initial value are certain (p = 1).
        c = accessed(c, true, now, u64::MAX);
        assert_eq!(decayed_counter(c, now), LFU_INIT_VAL + 1);
        c = accessed(c, true, now, 0);
        assert_eq!(decayed_counter(c, now), LFU_INIT_VAL + 2);
        // One minute later one decay period has passed.
        assert_eq!(decayed_counter(c, now + 60_000), LFU_INIT_VAL + 1);
        assert_eq!(decayed_counter(with_counter(now, 100), now), 100);
    }
}
