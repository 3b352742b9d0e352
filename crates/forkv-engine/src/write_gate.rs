//! Why write commands are refused, as the server decides it (forkv-server's `write_gate`)
//! and the engine applies it: Valkey's two checks of `processCommand`, in its order.
//!
//! 1. `writeCommandsDeniedByDiskError`: the last background save failed while save rules
//!    and `stop-writes-on-bgsave-error` are set (MISCONF with the RDB text), or the AOF is
//!    on and its last write failed (MISCONF with the OS error's text). Write commands and
//!    PING are refused, except from the primary (or the AOF being loaded).
//! 2. `checkGoodReplicasStatus`: a primary with `min-replicas-to-write` and
//!    `min-replicas-max-lag` set has fewer good replicas than asked (NOREPLICAS). Write
//!    commands are refused.
//!
//! The texts are here, once; scripts word the disk refusal of a script that declares
//! flags differently (see `cmd::script`), from the same [`DiskError`].

use std::borrow::Cow;

use crate::errors;

/// Valkey's `DISK_ERROR_TYPE_RDB` / `DISK_ERROR_TYPE_AOF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// The last background save failed (`rdb_last_bgsave_status:err`).
    Rdb,
    /// The last AOF write failed with this OS error text (`strerror(aof_last_write_errno)`).
    Aof(String),
}

impl DiskError {
    /// The refusal (`writeCommandsGetDiskErrorMessage`).
    pub fn error(&self) -> Cow<'static, str> {
        match self {
            DiskError::Rdb => Cow::Borrowed(errors::MISCONF),
            DiskError::Aof(reason) => Cow::Owned(format!("{}{reason}", errors::MISCONF_AOF)),
        }
    }
}

/// The gate: open when both parts are clear (the default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteGate {
    /// Writes cannot be persisted.
    pub disk: Option<DiskError>,
    /// Fewer good replicas than `min-replicas-to-write` (never on a replica).
    pub too_few_replicas: bool,
}

impl WriteGate {
    /// The refusal of a command in `processCommand`'s order: the disk error for a write or
    /// PING (`ping`), then NOREPLICAS for a write. `obey`: the primary's link or the AOF
    /// loader, which apply what they are given.
    pub fn refusal(&self, write: bool, ping: bool, obey: bool) -> Option<Cow<'static, str>> {
        if obey {
            return None;
        }
        match &self.disk {
            Some(d) if write || ping => Some(d.error()),
            _ if write && self.too_few_replicas => Some(Cow::Borrowed(errors::NOREPLICAS)),
            _ => None,
        }
    }

    /// The refusal of a write a script calls (`scriptVerifyWriteCommandAllow`): the disk
    /// error unless `obey`, then NOREPLICAS, which Valkey checks for every caller.
    pub fn script_call_refusal(&self, obey: bool) -> Option<Cow<'static, str>> {
        match &self.disk {
            Some(d) if !obey => Some(d.error()),
            _ if self.too_few_replicas => Some(Cow::Borrowed(errors::NOREPLICAS)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_error_comes_first_and_refuses_ping_too() {
        let gate = WriteGate { disk: Some(DiskError::Aof("No space left on device".into())), too_few_replicas: true };
        assert_eq!(gate.refusal(true, false, false).as_deref(), Some("MISCONF Errors writing to the AOF file: No space left on device"));
        assert_eq!(gate.refusal(false, true, false).as_deref(), Some("MISCONF Errors writing to the AOF file: No space left on device"));
        assert_eq!(gate.refusal(false, false, false), None, "reads run");
        assert_eq!(gate.refusal(true, false, true), None, "the primary's writes are applied");
        let gate = WriteGate { disk: Some(DiskError::Rdb), too_few_replicas: false };
        assert_eq!(gate.refusal(true, false, false).as_deref(), Some(errors::MISCONF));
    }

    #[test]
    fn too_few_replicas_refuses_writes_only() {
        let gate = WriteGate { disk: None, too_few_replicas: true };
        assert_eq!(gate.refusal(true, false, false).as_deref(), Some("NOREPLICAS Not enough good replicas to write."));
        assert_eq!(gate.refusal(false, true, false), None, "PING is not a write");
        assert_eq!(WriteGate::default().refusal(true, true, false), None);
        // A script's write is refused for any caller.
        assert_eq!(gate.script_call_refusal(true).as_deref(), Some(errors::NOREPLICAS));
        let disk = WriteGate { disk: Some(DiskError::Rdb), too_few_replicas: true };
        assert_eq!(disk.script_call_refusal(true).as_deref(), Some(errors::NOREPLICAS), "an obeyed caller skips only the disk check");
        assert_eq!(disk.script_call_refusal(false).as_deref(), Some(errors::MISCONF));
    }
}
