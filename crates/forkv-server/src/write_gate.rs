//! The write gate, decided in one place: whether write commands are refused, and with
//! which error, recomputed here whenever one of its sources changes, so that the engine
//! (which applies it, see `forkv_engine::write_gate`) never sees a stale one and the host
//! has nothing to compose.
//!
//! Its sources, in Valkey's order (`processCommand`):
//! 1. `writeCommandsDeniedByDiskError`: the RDB policy's last save failed under save rules
//!    and `stop-writes-on-bgsave-error` ([`crate::persist::policy::RdbPolicy::denies_writes`]),
//!    else the AOF is on and its last write failed ([`crate::persist::aof_state::AofStatus`]).
//! 2. `checkGoodReplicasStatus`: on a primary with `min-replicas-to-write` and
//!    `min-replicas-max-lag` set, fewer good replicas than asked ([`MinReplicas`]).
//!
//! The recomputation points: the save rules and a save's or fork's outcome, a reaped child,
//! the AOF's state and each write's outcome, the min-replicas settings and the server's
//! role, replicas going online or away, and the cron, at which the good replicas are
//! counted again as their acknowledgements age (Valkey's `refreshGoodReplicasCount`).

use forkv_engine::write_gate::{DiskError, WriteGate};

use crate::Server;

/// `min-replicas-to-write`, `min-replicas-max-lag`, and the good replicas last counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinReplicas {
    /// `min-replicas-to-write` (0: off).
    pub to_write: u64,
    /// `min-replicas-max-lag` in seconds (0: off).
    pub max_lag_s: u64,
    /// Online replicas whose last acknowledgement is at most `max_lag_s` old (Valkey's
    /// `repl_good_replicas_count`), as of the last count.
    pub good: u64,
}

impl MinReplicas {
    /// Valkey's `checkGoodReplicasStatus` failing: a primary with both settings on and
    /// fewer good replicas than asked.
    pub fn too_few(&self, is_replica: bool) -> bool {
        !is_replica && self.to_write > 0 && self.max_lag_s > 0 && self.good < self.to_write
    }
}

impl Server {
    /// The gate the engine applies now.
    pub fn write_gate(&self) -> &WriteGate {
        &self.engine.cfg.write_gate
    }

    /// Recomputes the gate from its sources (see the module's notes).
    pub(crate) fn refresh_write_gate(&mut self) {
        let disk = if self.rdb_policy.denies_writes() { Some(DiskError::Rdb) } else { self.aof_status.write_denied() };
        let too_few_replicas = self.min_replicas.too_few(self.engine.cfg.is_replica);
        self.engine.cfg.write_gate = WriteGate { disk, too_few_replicas };
    }

    /// Counts the good replicas again (Valkey's `refreshGoodReplicasCount`), then the gate.
    pub fn refresh_good_replicas(&mut self) {
        let m = self.min_replicas;
        self.min_replicas.good = if m.to_write == 0 || m.max_lag_s == 0 {
            0
        } else {
            self.repl().good_count(m.max_lag_s, crate::now_ms()) as u64
        };
        self.refresh_write_gate();
    }

    /// `min-replicas-to-write` and `min-replicas-max-lag` (None: unchanged).
    pub(crate) fn set_min_replicas(&mut self, to_write: Option<u64>, max_lag_s: Option<u64>) {
        if let Some(v) = to_write {
            self.min_replicas.to_write = v;
        }
        if let Some(v) = max_lag_s {
            self.min_replicas.max_lag_s = v;
        }
        self.refresh_good_replicas();
    }
}
