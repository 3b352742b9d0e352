//! INFO's persistence section, from the server's own state: the job slot, the RDB and
//! rewrite policies, the AOF's status and sizes, and the loader. Field names and order
//! are Valkey's (`genValkeyInfoString`, "Persistence"); this is their one source.

use forkv_snapshot::ChildKind;

use crate::persist::aof_state::AofState;
use crate::Server;

impl Server {
    /// The persistence section's `name:value` fields, in Valkey's order.
    pub fn persistence_info(&self) -> Vec<(String, String)> {
        let mut f = Fields::default();
        let p = self.job_progress();
        let rdb = &self.rdb_policy;
        let rw = &self.rewrite_policy;
        let aof = self.aof_status();
        let aof_on = aof.state() != AofState::Off;
        let (loaded, expired) = self.last_rdb_load_keys();
        // A replica loading its primary's snapshot beside the data it serves
        // (repl-diskless-load swapdb) is async_loading, not loading, as in Valkey.
        f.put("loading", u8::from(self.is_loading() && !self.is_async_loading()));
        f.put("async_loading", u8::from(self.is_async_loading()));
        f.put("current_cow_peak", p.as_ref().map_or(0, |p| p.cow_peak));
        f.put("current_cow_size", p.as_ref().map_or(0, |p| p.cow_bytes));
        f.put("current_cow_size_age", p.as_ref().map_or(0, |p| p.cow_age_secs));
        f.put("current_fork_perc", format!("{:.2}", p.as_ref().map_or(0.0, |p| p.fork_perc)));
        f.put("current_save_keys_processed", p.as_ref().map_or(0, |p| p.keys_processed));
        f.put("current_save_keys_total", p.as_ref().map_or(0, |p| p.keys_total));
        f.put("rdb_changes_since_last_save", self.engine.ks.dirty);
        f.put("rdb_bgsave_in_progress", u8::from(p.as_ref().is_some_and(|p| p.kind == ChildKind::Rdb)));
        f.put("rdb_last_save_time", rdb.last_save_time);
        f.put("rdb_last_bgsave_status", status(rdb.last_bgsave_ok));
        f.put("rdb_last_bgsave_time_sec", rdb.last_bgsave_time_sec);
        f.put("rdb_current_bgsave_time_sec", self.job_run_secs(ChildKind::Rdb));
        f.put("rdb_saves", rdb.saves);
        f.put("rdb_last_cow_size", rdb.last_cow_size);
        f.put("rdb_last_load_keys_expired", expired);
        f.put("rdb_last_load_keys_loaded", loaded);
        f.put("aof_enabled", u8::from(aof_on));
        f.put("aof_rewrite_in_progress", u8::from(p.as_ref().is_some_and(|p| p.kind == ChildKind::AofRewrite)));
        f.put("aof_rewrite_scheduled", u8::from(rw.scheduled));
        f.put("aof_last_rewrite_time_sec", rw.last_time_sec);
        f.put("aof_current_rewrite_time_sec", self.job_run_secs(ChildKind::AofRewrite));
        f.put("aof_last_bgrewrite_status", status(rw.last_ok));
        f.put("aof_rewrites", rw.rewrites);
        f.put("aof_rewrites_consecutive_failures", rw.consecutive_failures);
        f.put("aof_last_write_status", status(aof.last_write_ok()));
        f.put("aof_last_cow_size", rw.last_cow_size);
        // forkv loads no modules: no module fork ever runs.
        f.put("module_fork_in_progress", 0);
        f.put("module_fork_last_cow_size", 0);
        if let Some(s) = self.aof_sizes().filter(|_| aof_on) {
            f.put("aof_current_size", s.current_size);
            f.put("aof_base_size", s.base_size);
            f.put("aof_pending_rewrite", u8::from(rw.scheduled));
            f.put("aof_buffer_length", s.buffer_length);
            f.put("aof_pending_bio_fsync", s.pending_bio_fsync);
            f.put("aof_delayed_fsync", s.delayed_fsync);
        }
        f.0
    }

    /// Refreshes the persistence fields INFO prints (a client's INFO, the cron: what a
    /// script's `server.call('INFO')` sees between two ticks).
    pub fn refresh_persistence_info(&mut self) {
        let fields = self.persistence_info();
        self.own.borrow_mut().host_info.persistence = fields;
    }
}

/// Valkey's `ok`/`err` status words.
fn status(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "err"
    }
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn put(&mut self, name: &str, value: impl ToString) {
        self.0.push((name.to_string(), value.to_string()));
    }
}
