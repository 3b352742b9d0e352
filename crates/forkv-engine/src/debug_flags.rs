//! Toggles that DEBUG subcommands set for the whole server.

/// Server-wide DEBUG toggles (Valkey keeps them as `server.*` fields).
#[derive(Debug, Default, Clone, Copy)]
pub struct DebugFlags {
    /// `DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`: RESTORE (and RDB loading) skip the CRC-64
    /// check; the payload's version is still checked.
    pub skip_checksum_validation: bool,
    /// `DEBUG SET-DISABLE-DENY-SCRIPTS 1`: scripts may call `noscript` commands.
    pub disable_deny_scripts: bool,
}
