//! Choosing keys to evict under `maxmemory`, after Valkey's `evict.c`.
//!
//! Valkey does not keep keys ordered by access time: it approximates LRU, LFU and
//! TTL-order eviction by sampling. Each round takes `maxmemory-samples` entries from every
//! non-empty database (`Dict::sample`, Valkey's `dictGetSomeKeys`), scores them (idle
//! time, 255 minus the decayed LFU counter, or the inverse of the expire time) and merges
//! them into a small pool of the best candidates seen so far ([`EvictionPool`], 16
//! entries, kept across rounds). The best pool entry that still exists is the victim.
//! Keeping the pool across calls is what makes the approximation good: Valkey documents
//! that with 5 samples its LRU is close to a true LRU, and with 10 very close.
//!
//! The random policies pick a random key of the next non-empty database, round robin.
//! Volatile policies sample only keys with a TTL.
//!
//! Nothing here deletes: [`crate::Keyspace::eviction_victim`] names a key, the caller
//! deletes it (and propagates, counts, notifies).

use crate::access::{self, LfuParams};
use crate::db::Db;
use crate::value::Bytes;

/// Entries the eviction pool keeps (Valkey's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Refuse writes over the limit (`-OOM`).
    #[default]
    NoEviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// The policy named as in valkey.conf, if any.
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// The access clocks count frequency under this policy.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }

    /// Keys without a TTL may be evicted.
    pub fn is_allkeys(self) -> bool {
        matches!(self, Policy::AllkeysLru | Policy::AllkeysLfu | Policy::AllkeysRandom)
    }

    /// The policies whose victims are chosen by idle time (RDB files keep idle times).
    pub fn is_lru(self) -> bool {
        matches!(self, Policy::AllkeysLru | Policy::VolatileLru)
    }

    /// The policy that picks victims through the sampled pool (not at random).
    fn uses_pool(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::AllkeysLfu | Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileTtl
        )
    }
}

/// A candidate: the higher `score`, the better to evict.
#[derive(Clone, Debug)]
struct Candidate {
    score: u64,
    db: usize,
    key: Bytes,
}

/// The best eviction candidates seen so far, ascending by score (Valkey's
/// `EvictionPoolLRU`); the last entry is the best.
#[derive(Default)]
pub struct EvictionPool {
    entries: Vec<Candidate>,
}

impl EvictionPool {
    /// Offers a candidate: it joins the pool when the pool has room or when it beats the
    /// worst entry, which then leaves (Valkey's `evictionPoolPopulate` insertion).
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        let pos = self.entries.partition_point(|c| c.score < score);
        if self.entries.len() >= POOL_SIZE {
            if pos == 0 {
                return;
            }
            self.entries.remove(0);
            self.entries.insert(pos - 1, Candidate { score, db, key: key.into() });
        } else {
            self.entries.insert(pos, Candidate { score, db, key: key.into() });
        }
    }

    /// Takes the best candidate out of the pool.
    fn pop_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    /// Candidates held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the pool holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every candidate (FLUSHALL, a new keyspace).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// How one eviction samples: the policy, keys sampled per database, the clock and the
/// LFU parameters to score with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sampling {
    pub policy: Policy,
    pub samples: usize,
    pub now_ms: i64,
    pub lfu: LfuParams,
}

/// Samples entries of one database into the pool.
fn populate(pool: &mut EvictionPool, db_index: usize, db: &Db, s: Sampling, rand: &mut impl FnMut() -> u64) {
    let Sampling { policy, samples, now_ms, lfu } = s;
    if policy.is_allkeys() {
        for (key, _, clock) in db.keys.sample_ref(samples, &mut *rand) {
            pool.offer(score(policy, *clock, None, now_ms, lfu), db_index, key);
        }
    } else {
        for (key, at, _) in db.expires.sample(samples, &mut *rand) {
            let clock = db.keys.meta(key.as_ref()).copied().unwrap_or(0);
            pool.offer(score(policy, clock, Some(*at), now_ms, lfu), db_index, key);
        }
    }
}

/// The eviction score of a key: idle seconds (LRU), 255 minus the decayed counter (LFU),
/// or how soon it expires, sooner scoring higher (TTL).
fn score(policy: Policy, clock: u32, expire_at: Option<i64>, now_ms: i64, lfu: LfuParams) -> u64 {
    match policy {
        Policy::AllkeysLfu | Policy::VolatileLfu => 255 - u64::from(access::decayed_counter(clock, now_ms, lfu.decay_time)),
        Policy::VolatileTtl => u64::MAX - expire_at.map_or(u64::MAX, |t| t.max(0) as u64),
        _ => access::idle_seconds(clock, now_ms),
    }
}

/// Picks the next victim for `policy` (see [`crate::Keyspace::eviction_victim`]).
pub(crate) fn pick(
    dbs: &[Db],
    pool: &mut EvictionPool,
    next_db: &mut usize,
    s: Sampling,
    rand: &mut impl FnMut() -> u64,
) -> Option<(usize, Bytes)> {
    let policy = s.policy;
    if policy == Policy::NoEviction {
        return None;
    }
    let sampled = |d: &Db| if policy.is_allkeys() { d.keys.len() } else { d.expires.len() };
    if policy.uses_pool() {
        loop {
            let mut total = 0;
            for (i, d) in dbs.iter().enumerate() {
                let n = sampled(d);
                if n > 0 {
                    populate(pool, i, d, Sampling { samples: s.samples.max(1), ..s }, rand);
                    total += n;
                }
            }
            if total == 0 {
                return None;
            }
            // The best candidate that still exists (a pool entry may be a ghost: deleted
            // or its TTL removed since it was sampled).
            while let Some(c) = pool.pop_best() {
                let Some(d) = dbs.get(c.db) else { continue };
                let present = if policy.is_allkeys() {
                    d.keys.contains_key(c.key.as_ref())
                } else {
                    d.expires.contains_key(c.key.as_ref())
                };
                if present {
                    return Some((c.db, c.key));
                }
            }
        }
    }
    for _ in 0..dbs.len() {
        *next_db = (*next_db + 1) % dbs.len().max(1);
        let d = &dbs[*next_db];
        if sampled(d) == 0 {
            continue;
        }
        let key = if policy.is_allkeys() {
            d.keys.fair_random_entry_ref(&mut *rand).map(|(k, _)| Bytes::from(k))
        } else {
            d.expires.fair_random_entry(&mut *rand).map(|(k, _)| Bytes::from(k))
        };
        if let Some(k) = key {
            return Some((*next_db, k));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keeps_the_best_sixteen_in_order() {
        let mut p = EvictionPool::default();
        for i in 0..40u64 {
            // Scores in a scrambled order.
            let s = (i * 7) % 40;
            p.offer(s, 0, s.to_string().as_bytes());
        }
        assert_eq!(p.len(), POOL_SIZE);
        let mut got = Vec::new();
        while let Some(c) = p.pop_best() {
            got.push(c.score);
        }
        assert_eq!(got, (24..40).rev().collect::<Vec<_>>());
    }

    #[test]
    fn policies_parse_by_their_config_names() {
        for (n, p) in [("noeviction", Policy::NoEviction), ("allkeys-lru", Policy::AllkeysLru), ("volatile-ttl", Policy::VolatileTtl)] {
            assert_eq!(Policy::parse(n), Some(p));
        }
        assert_eq!(Policy::parse("lru"), None);
        assert!(Policy::VolatileLfu.is_lfu() && !Policy::VolatileLfu.is_allkeys());
    }

    use crate::value::{StrValue, Value};
    use crate::Keyspace;

    fn keyspace(n: usize) -> Keyspace {
        let mut ks = Keyspace::new(1);
        ks.set_now(1_000_000_000);
        for i in 0..n {
            let k = format!("k{i}");
            ks.set(0, k.as_bytes(), Value::Str(StrValue::from_bytes(b"v")), false);
        }
        ks
    }

    /// Evicts `count` keys; returns the numbers of the keys evicted.
    fn evict(ks: &mut Keyspace, policy: Policy, samples: usize, count: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for _ in 0..count {
            let (db, key) = ks.eviction_victim(policy, samples).expect("a victim");
            assert!(ks.evict(db, &key));
            out.push(String::from_utf8_lossy(&key[1..]).parse().expect("numeric key"));
        }
        out
    }

    #[test]
    fn lru_approximation_evicts_mostly_the_oldest_keys() {
        // Key i was last accessed 10000 - i seconds ago: the lower, the older.
        let n = 10_000;
        let mut ks = keyspace(n);
        for i in 0..n {
            ks.set_idle_seconds(0, format!("k{i}").as_bytes(), (n - i) as u64);
        }
        for samples in [5, 10] {
            let mut ks2 = keyspace(0);
            std::mem::swap(&mut ks, &mut ks2);
            let evicted = evict(&mut ks2, Policy::AllkeysLru, samples, n / 2);
            // Valkey's documented quality: with 5 samples most evicted keys are from the
            // older half, with 10 nearly all of them.
            let old = evicted.iter().filter(|&&i| i < n / 2).count();
            let want = if samples == 5 { 85 } else { 92 };
            assert!(old * 100 >= evicted.len() * want, "samples {samples}: {old} of {} from the older half", evicted.len());
            // Restore the full keyspace for the next round.
            ks = keyspace(n);
            for i in 0..n {
                ks.set_idle_seconds(0, format!("k{i}").as_bytes(), (n - i) as u64);
            }
        }
    }

    #[test]
    fn lfu_evicts_the_least_frequently_used() {
        let n = 2000;
        let mut ks = keyspace(n);
        ks.set_lfu(true);
        for i in 0..n {
            ks.set_frequency(0, format!("k{i}").as_bytes(), if i % 2 == 0 { 200 } else { 1 });
        }
        let evicted = evict(&mut ks, Policy::AllkeysLfu, 5, n / 4);
        let rare = evicted.iter().filter(|&&i| i % 2 == 1).count();
        assert!(rare * 100 >= evicted.len() * 95, "{rare} of {} evicted keys were rarely used", evicted.len());
    }

    #[test]
    fn volatile_policies_evict_only_keys_with_a_ttl_and_ttl_picks_the_soonest() {
        let n = 1000;
        let mut ks = keyspace(n);
        let now = ks.now();
        // Odd keys expire, sooner for lower numbers.
        for i in (1..n).step_by(2) {
            ks.set_expire(0, format!("k{i}").as_bytes(), now + 1_000_000 + i as i64 * 1000);
        }
        let evicted = evict(&mut ks, Policy::VolatileTtl, 5, 100);
        assert!(evicted.iter().all(|i| i % 2 == 1));
        let soon = evicted.iter().filter(|&&i| i < n / 2).count();
        assert!(soon >= 90, "{soon} of 100 from the sooner half");
        for p in [Policy::VolatileLru, Policy::VolatileLfu, Policy::VolatileRandom] {
            let evicted = evict(&mut ks, p, 5, 50);
            assert!(evicted.iter().all(|i| i % 2 == 1), "{p:?} evicted a key without TTL");
        }
        // 500 volatile keys, 250 evicted: the rest go too, then nothing is left to pick.
        evict(&mut ks, Policy::VolatileRandom, 5, 250);
        assert_eq!(ks.eviction_victim(Policy::VolatileLru, 5), None);
        assert_eq!(ks.eviction_victim(Policy::NoEviction, 5), None);
        assert!(ks.eviction_victim(Policy::AllkeysRandom, 5).is_some());
        assert_eq!(ks.stats.evicted_keys, 500);
    }
}
