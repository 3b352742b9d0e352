//! A client's transaction state: the MULTI queue, the rest of a running EXEC, and the
//! keys it WATCHes. The commands that fill and run them are in `cmd::multi`.

use forkv_keyspace::Bytes;

use crate::table::CommandSpec;

/// One queued command.
pub(crate) struct Queued {
    pub(crate) spec: &'static CommandSpec,
    pub(crate) argv: Vec<Vec<u8>>,
}

/// A client's MULTI state.
#[derive(Default)]
pub(crate) struct MultiState {
    pub(crate) queue: Vec<Queued>,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    pub(crate) dirty_exec: bool,
    /// Union of the queued commands' flags (EXEC counts as a write when they do).
    pub(crate) flags: u32,
    /// Union of the complements (EXEC is refused while loading when one lacks `loading`).
    pub(crate) inv_flags: u32,
}

impl MultiState {
    /// Number of queued commands.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Valkey's flagTransaction: the queue will never run, so it is dropped now.
    pub(crate) fn flag_error(&mut self) {
        self.dirty_exec = true;
        self.queue.clear();
    }

    /// The flags EXEC is checked with: its own plus every queued command's.
    pub(crate) fn queued_flags(&self) -> (u32, u32) {
        (self.flags, self.inv_flags)
    }

    /// Bytes the queue holds: arguments, their vectors and the queue's slots
    /// (CLIENT LIST `multi-mem`).
    pub(crate) fn memory(&self) -> usize {
        let args: usize = self.queue.iter().map(|q| q.argv.iter().map(|a| a.capacity() + std::mem::size_of::<Vec<u8>>()).sum::<usize>()).sum();
        args + self.queue.capacity() * std::mem::size_of::<Queued>()
    }
}

impl super::Client {
    /// What `spec` adds to a command's flags for the checks before it runs: for EXEC in a
    /// transaction, the union of the queued commands' flags and of their complements
    /// (Valkey checks EXEC with the flags of what it would run); (0, 0) otherwise.
    pub(crate) fn exec_queued_flags(&self, spec: &CommandSpec) -> (u32, u32) {
        match &self.multi {
            Some(m) if spec.name == "exec" => m.queued_flags(),
            _ => (0, 0),
        }
    }
}

/// The rest of a running EXEC's queue.
pub(crate) struct ExecRun {
    pub(crate) rest: std::vec::IntoIter<Queued>,
    /// When EXEC started, and whether it waited for a host command: EXEC then ends in
    /// [`Engine::exec_continue`] and is counted there (INFO commandstats).
    pub(crate) started: std::time::Instant,
    pub(crate) paused: bool,
}

/// One WATCHed key of a client.
pub(crate) struct WatchedKey {
    pub(crate) db: usize,
    pub(crate) key: Bytes,
    /// The key was already logically expired (but not yet deleted) when watched.
    pub(crate) expired: bool,
}
