//! The per-key access clock (Valkey's 24-bit `robj.lru`), kept in the key's dict entry.
//!
//! With an LRU (or no eviction) `maxmemory-policy` it holds the time of the last access
//! in seconds; OBJECT IDLETIME reports how long ago that was. With an LFU policy it holds
//! the time of the last decrement in minutes (upper 16 bits) and a logarithmic access
//! counter (lower 8 bits, Valkey's `LFULogIncr`/`LFUDecrAndReturn` with `lfu-log-factor`
//! and `lfu-decay-time`, see [`LfuParams`]); OBJECT FREQ reports the counter.
//!
//! Reads update the clock only while no fork child exists (see `Keyspace::record_access`):
//! that write would otherwise copy the page of every key read during a snapshot.

/// Mask of the 24 bits Valkey keeps.
const CLOCK_MASK: u32 = (1 << 24) - 1;
/// Counter of a new key under LFU, so it is not evicted before it can be accessed again.
pub const LFU_INIT_VAL: u8 = 5;

/// How the LFU counter grows and decays (`lfu-log-factor`, `lfu-decay-time`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LfuParams {
    /// The higher, the more accesses one counter increment takes (Valkey default 10).
    pub log_factor: u32,
    /// Minutes per counter decrement; 0: the counter never decays (Valkey default 1).
    pub decay_time: u32,
}

impl Default for LfuParams {
    fn default() -> Self {
        LfuParams { log_factor: 10, decay_time: 1 }
    }
}

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
pub fn accessed(clock: u32, lfu: Option<LfuParams>, now_ms: i64, random: u64) -> u32 {
    let Some(p) = lfu else {
        return lru_clock(now_ms);
    };
    let counter = decayed_counter(clock, now_ms, p.decay_time);
    with_counter(now_ms, log_incr(counter, random, p.log_factor))
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

/// The counter after the decay due since its stamp (`LFUDecrAndReturn`): one decrement
/// per `decay_time` minutes, none when `decay_time` is 0.
pub fn decayed_counter(clock: u32, now_ms: i64, decay_time: u32) -> u8 {
    let stamp = (clock >> 8) & 0xFFFF;
    let counter = (clock & 0xFF) as u8;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= stamp { now - stamp } else { 0xFFFF - stamp + now };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods.min(255) as u8)
}

/// Logarithmic increment: the higher the counter, the less likely (`LFULogIncr`).
fn log_incr(counter: u8, random: u64, log_factor: u32) -> u8 {
    if counter == 255 {
        return 255;
    }
    let r = (random >> 11) as f64 / (1u64 << 53) as f64;
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
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
        let p = Some(LfuParams::default());
        let mut c = fresh(true, now);
        assert_eq!(decayed_counter(c, now, 1), LFU_INIT_VAL);
        // The first increment above the initial value is certain (p = 1).
        c = accessed(c, p, now, u64::MAX);
        assert_eq!(decayed_counter(c, now, 1), LFU_INIT_VAL + 1);
        c = accessed(c, p, now, 0);
        assert_eq!(decayed_counter(c, now, 1), LFU_INIT_VAL + 2);
        // One minute later one decay period has passed; with decay time 2 none has, and
        // with 0 the counter never decays.
        assert_eq!(decayed_counter(c, now + 60_000, 1), LFU_INIT_VAL + 1);
        assert_eq!(decayed_counter(c, now + 60_000, 2), LFU_INIT_VAL + 2);
        assert_eq!(decayed_counter(c, now + 600 * 60_000, 0), LFU_INIT_VAL + 2);
        assert_eq!(decayed_counter(with_counter(now, 100), now, 1), 100);
    }

    #[test]
    fn lfu_log_factor_slows_the_counter_as_valkey_documents() {
        // Valkey's table (redis.conf): factor 10 reaches ~10 after 100 hits and ~18
        // after 1000; factor 0 counts every hit.
        let now = 60_000;
        let run = |factor: u32, hits: u32| {
            let p = Some(LfuParams { log_factor: factor, decay_time: 1 });
            let mut c = with_counter(now, 0);
            let mut rng = 0x1234_5678_9abc_def0u64;
            for _ in 0..hits {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                c = accessed(c, p, now, rng);
            }
            decayed_counter(c, now, 1)
        };
        assert_eq!(run(0, 100), 100);
        let f10 = run(10, 1000);
        assert!((12..=25).contains(&f10), "factor 10, 1000 hits: {f10}");
        assert!(run(100, 1000) < f10);
    }
}
