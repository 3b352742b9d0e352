//! Persistence orchestration while the server runs: the AOF's configuration from the host
//! ([`aof_config`]), what composes the AOF writer, the
//! fork and the manifest into BGREWRITEAOF and the per-turn flush ([`aof_job`]), and the
//! RDB policy: save rules, BGSAVE scheduling, the save status and MISCONF ([`policy`]),
//! whether the AOF is on and its write-error gate ([`aof_state`]), and
//! loading the dataset at start-up and for DEBUG RELOAD/LOADAOF ([`load`], on a loader
//! thread), the shutdown's steps in Valkey's order ([`shutdown`]), and INFO's persistence
//! section ([`info`]). The RDB snapshot's composition is [`crate::snapshot`], the child slot
//! [`crate::jobs`], the AOF replay [`crate::aof_load`].

pub mod aof_config;
mod aof_log;
pub mod aof_job;
pub mod aof_state;
pub mod info;
pub mod load;
mod load_log;
pub mod policy;
mod rdb_log;
pub mod shutdown;
pub mod stream_input;
