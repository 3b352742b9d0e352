//! Persistence orchestration while the server runs: what composes the AOF writer, the
//! fork and the manifest into BGREWRITEAOF and the per-turn flush ([`aof_job`]), and the
//! RDB policy: save rules, BGSAVE scheduling, the save status and MISCONF ([`policy`]). The RDB
//! snapshot's composition is [`crate::snapshot`], the child slot [`crate::jobs`], loading
//! [`crate::aof_load`] and the binding's loader threads.

pub mod aof_job;
pub mod policy;
