//! The AOF's configuration as the host hands it over ([`AofConfig`], one of the
//! [`crate::host_types`]), and what the server makes of it: the settings of the AOF while
//! it is written ([`Server::aof_settings`]) and where and how it loads ([`AofConfig::source`]).

use std::path::PathBuf;
use std::time::Duration;

use forkv_aof::FsyncPolicy;

use super::aof_job::AofSettings;
use super::load::AofSource;
use crate::host_types::host_type;
use crate::snapshot::RdbFormat;
use crate::Server;

host_type! {
#[input = "AofOptions"]
/// AOF settings from the configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AofConfig {
    /// `dir`: where `appenddirname` lives and where rewrite temp files go.
    pub dir: String,
    /// `appenddirname`.
    pub dirname: String,
    /// `appendfilename`: prefix of every file name and the manifest.
    pub filename: String,
    /// `appendfsync`: always / everysec / no.
    pub fsync: String,
    /// `aof-use-rdb-preamble`.
    pub use_rdb_preamble: bool,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// `cluster-enabled`: what a CLUSTER state report read from the AOF does (forkv itself
    /// has no cluster mode; see `crate::aof_load::AofLoadParams::cluster_enabled`).
    pub cluster_enabled: bool,
    /// `no-appendfsync-on-rewrite`.
    pub no_fsync_on_rewrite: bool,
    /// RDB options for a preamble base.
    pub rdb_compression: bool,
    pub rdb_checksum: bool,
    pub rdb_version: u32,
    /// Microseconds slept per key in the rewrite child (`rdb-key-save-delay`, for tests).
    pub key_save_delay_us: u64,
    /// Microseconds slept per key read from an RDB preamble (`key-load-delay`, for tests).
    pub key_load_delay_us: i64,
    /// `loading-process-events-interval-bytes`: bytes of an RDB preamble between two
    /// points where the host serves clients while loading.
    pub loading_events_interval_bytes: u64,
    /// `aof-disable-auto-gc`: keep history files instead of deleting them.
    pub disable_auto_gc: bool,
    /// `aof-timestamp-enabled`: `#TS:` annotations in incr files and AOF-format bases.
    pub timestamps: bool,
    /// `aof-rewrite-incremental-fsync`: the rewrite child syncs its file every 4 MiB.
    pub incremental_fsync: bool,
}
}

/// `appendfsync` by its config name (the configuration store admits only the three).
pub fn fsync_policy(name: &str) -> FsyncPolicy {
    match name {
        "always" => FsyncPolicy::Always,
        "no" => FsyncPolicy::No,
        _ => FsyncPolicy::EverySec,
    }
}

impl AofConfig {
    /// Where the AOF directory is and how it loads.
    pub fn source(&self) -> AofSource {
        AofSource {
            work_dir: PathBuf::from(&self.dir),
            dirname: self.dirname.clone(),
            filename: self.filename.clone(),
            load_truncated: self.load_truncated,
            cluster_enabled: self.cluster_enabled,
            key_load_delay_us: self.key_load_delay_us,
            events_interval_bytes: self.loading_events_interval_bytes,
        }
    }
}

impl Server {
    /// The settings of the AOF while it is written, from the host's configuration (a
    /// preamble base's RDB options carry this server's AUX fields).
    pub fn aof_settings(&self, c: &AofConfig) -> AofSettings {
        AofSettings {
            work_dir: PathBuf::from(&c.dir),
            dirname: c.dirname.clone(),
            filename: c.filename.clone(),
            fsync: fsync_policy(&c.fsync),
            use_rdb_preamble: c.use_rdb_preamble,
            no_fsync_on_rewrite: c.no_fsync_on_rewrite,
            rdb: self.rdb_write_options(RdbFormat { version: c.rdb_version, compression: c.rdb_compression, checksum: c.rdb_checksum }, None),
            key_save_delay: Duration::from_micros(c.key_save_delay_us),
            disable_auto_gc: c.disable_auto_gc,
            timestamps: c.timestamps,
            incremental_fsync: c.incremental_fsync,
        }
    }
}
