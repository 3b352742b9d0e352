//! The AOF side's lines of the per-turn flush and the cron, in Valkey's words
//! (`flushAppendOnlyFile`, `serverCron`): each entry point is the state's or the policy's
//! own with its lines on the engine's queue, which the host drains.

use forkv_engine::log::LogLevel;

use super::aof_state::TurnFlush;
use super::policy::RewriteCron;
use crate::Server;

impl Server {
    /// [`Server::aof_flush_turn`], logging a new write error once and its recovery.
    pub fn aof_flush_turn_logged(&mut self, force: bool) -> TurnFlush {
        let r = self.aof_flush_turn(force);
        match &r {
            TurnFlush::Written { recovered: true, .. } => self.log(LogLevel::Warning, "AOF write error looks solved. The server can write again."),
            TurnFlush::Failed { error, first: true } => self.log(LogLevel::Warning, &format!("Error writing to the AOF file: {error}")),
            _ => {}
        }
        r
    }

    /// [`Server::aof_rewrite_cron`], logging the back-off's wait and an automatic rewrite's growth.
    pub fn aof_rewrite_cron_logged(&mut self, percentage: u64, min_size: u64) -> RewriteCron {
        let c = self.aof_rewrite_cron(percentage, min_size);
        if let Some(m) = c.limited_minutes {
            self.log(LogLevel::Warning, &format!("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {m} minutes"));
        }
        if let (true, Some(g)) = (c.start, c.auto_growth) {
            self.log(LogLevel::Notice, &format!("Starting automatic rewriting of AOF on {g}% growth"));
        }
        c
    }
}
