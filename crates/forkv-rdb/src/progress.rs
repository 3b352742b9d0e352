//! How far a load has come, shared with the thread that waits for it: Valkey serves its
//! clients while loading only at event points (`processEventsWhileBlocked`), each time
//! the loader has read another `loading-process-events-interval-bytes` of an RDB file
//! (`rdbLoadProgressCallback`) or replayed another 1024 AOF commands. The loader marks
//! them here; the host serves the input it held at each new one.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes read and event points passed by a running load.
#[derive(Debug)]
pub struct LoadProgress {
    interval: u64,
    bytes: AtomicU64,
    events: AtomicU64,
}

impl LoadProgress {
    /// `interval_bytes`: the bytes between two event points (0: no event points).
    pub fn new(interval_bytes: u64) -> Self {
        LoadProgress { interval: interval_bytes, bytes: AtomicU64::new(0), events: AtomicU64::new(0) }
    }

    /// The loader has read up to `offset`: an event point when it crossed a multiple of the
    /// interval since the last call.
    pub fn reached(&self, offset: u64) {
        let before = self.bytes.swap(offset, Ordering::Relaxed);
        if self.interval > 0 && offset / self.interval > before / self.interval {
            self.event();
        }
    }

    /// An event point whatever the bytes (every 1024 AOF commands).
    pub fn event(&self) {
        self.events.fetch_add(1, Ordering::Release);
    }

    /// Event points passed so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Acquire)
    }

    /// Bytes read so far (of the file being read).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// No event points (a load nobody serves clients during).
impl Default for LoadProgress {
    fn default() -> Self {
        LoadProgress::new(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_point_per_interval_crossed() {
        let p = LoadProgress::new(1024);
        p.reached(1000);
        assert_eq!(p.events(), 0);
        p.reached(1024);
        assert_eq!(p.events(), 1);
        p.reached(5000);
        assert_eq!(p.events(), 2, "one point however many intervals one step crosses");
        p.event();
        assert_eq!((p.events(), p.bytes()), (3, 5000));
        let none = LoadProgress::new(0);
        none.reached(1 << 30);
        assert_eq!(none.events(), 0);
    }
}
