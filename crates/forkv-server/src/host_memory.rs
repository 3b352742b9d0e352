//! The process memory figures: the probe that measures the process's allocations (the
//! binding's counting allocator), the figure at start-up (Valkey's `used_memory_startup`),
//! and the samples the host takes on its cron tick (MEMORY STATS, DOCTOR, INFO memory).

use forkv_engine::evict::MemoryProbe;

use crate::Server;

impl Server {
    /// Installs the probe of the process's allocations; what it measures now is the
    /// initialised server's figure before any data (`used_memory_startup`).
    pub fn install_memory_probe(&mut self, probe: MemoryProbe) {
        self.engine.set_memory_probe(probe);
        let now = probe();
        self.engine.host_memory.startup = now;
        self.engine.host_memory.used = now;
    }

    /// The host's cron sample: resident set size and the peak of allocated bytes it has
    /// seen, with the allocated bytes and the allocator's own figures of the same instant.
    pub fn sample_host_memory(&mut self, rss: usize, peak: usize) {
        let used = self.engine.allocated_memory();
        let allocator = forkv_engine::allocator::sample_figures();
        let m = &mut self.engine.host_memory;
        m.used = used;
        m.allocator = allocator;
        m.rss = rss;
        m.peak = peak.max(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> usize {
        4096
    }

    #[test]
    fn startup_and_samples_use_the_probe() {
        let mut s = Server::new(1);
        s.install_memory_probe(probe);
        assert_eq!((s.engine.host_memory.startup, s.engine.host_memory.used), (4096, 4096));
        s.sample_host_memory(10_000, 100);
        let m = &s.engine.host_memory;
        assert_eq!((m.rss, m.peak, m.used), (10_000, 4096, 4096), "the peak is never below the current figure");
    }
}
