//! The `#!lua flags=...` first line of a script (Valkey's `evalExtractShebangFlags`).

/// A script's flags, as declared in its shebang (or the compatibility mode without one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags(pub u32);

impl ScriptFlags {
    /// `no-writes`: the script may not call write commands.
    pub const NO_WRITES: u32 = 1 << 0;
    /// `allow-oom`: runs (and may write) when over maxmemory.
    pub const ALLOW_OOM: u32 = 1 << 1;
    /// `allow-stale`: runs on a stale replica.
    pub const ALLOW_STALE: u32 = 1 << 2;
    /// `no-cluster`: refused in cluster mode.
    pub const NO_CLUSTER: u32 = 1 << 3;
    /// No shebang: Valkey's pre-7 rules (flags decided per command called).
    pub const EVAL_COMPAT_MODE: u32 = 1 << 4;
    /// `allow-cross-slot-keys`: may touch keys of several slots.
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;

    /// Flag names as `FUNCTION LIST` prints them, in Valkey's order.
    pub const NAMES: &'static [(u32, &'static str)] = &[
        (Self::NO_WRITES, "no-writes"),
        (Self::ALLOW_OOM, "allow-oom"),
        (Self::ALLOW_STALE, "allow-stale"),
        (Self::NO_CLUSTER, "no-cluster"),
        (Self::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    /// True when flag `f` is set.
    pub fn has(self, f: u32) -> bool {
        self.0 & f != 0
    }

    /// Looks a flag up by its name.
    pub fn by_name(name: &[u8]) -> Option<u32> {
        Self::NAMES.iter().find(|(_, n)| n.as_bytes() == name).map(|(f, _)| *f)
    }
}

/// Reads the shebang of an EVAL body: the flags, and how many bytes of the first line
/// to skip before compiling (the newline stays, so line numbers are unchanged).
/// Errors are worded as Valkey's (without the `ERR ` code).
pub fn parse(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags(ScriptFlags::EVAL_COMPAT_MODE), 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    // Valkey splits the whole line ("#!lua flags=..."): the first word must be "#!lua".
    let line = &body[..end];
    let parts: Vec<&[u8]> = line.split(|c| c.is_ascii_whitespace()).filter(|p| !p.is_empty()).collect();
    let engine = parts.first().copied().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        if part.len() >= 6 && part[..6].eq_ignore_ascii_case(b"flags=") {
            for name in part[6..].split(|&c| c == b',').filter(|n| !n.is_empty()) {
                match ScriptFlags::by_name(name) {
                    Some(f) => flags |= f,
                    None => {
                        return Err(format!("Unexpected flag in script shebang: {}", String::from_utf8_lossy(name)))
                    }
                }
            }
        } else {
            return Err(format!("Unknown lua shebang option: {}", String::from_utf8_lossy(part)));
        }
    }
    Ok((ScriptFlags(flags), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(parse(b"return 1"), Ok((ScriptFlags(ScriptFlags::EVAL_COMPAT_MODE), 0)));
        assert_eq!(parse(b"#!lua\nreturn 1"), Ok((ScriptFlags(0), 5)));
        assert_eq!(
            parse(b"#!lua flags=no-writes,allow-oom\nreturn 1").map(|r| r.0),
            Ok(ScriptFlags(ScriptFlags::NO_WRITES | ScriptFlags::ALLOW_OOM))
        );
        assert!(parse(b"#!not-lua\n").err().unwrap_or_default().starts_with("Unexpected engine in script shebang"));
        // Valkey 8.0.1's words: the first word of the line, "#!" included.
        assert_eq!(parse(b"#!LUA\n").err(), Some("Unexpected engine in script shebang: #!LUA".into()));
        assert_eq!(parse(b"#! lua\n").err(), Some("Unexpected engine in script shebang: #!".into()));
        assert!(parse(b"#!lua badger=data\n").err().unwrap_or_default().starts_with("Unknown lua shebang option"));
        assert!(parse(b"#!lua flags=allow-oom,what?\n").err().unwrap_or_default().starts_with("Unexpected flag in script shebang"));
        assert_eq!(parse(b"#!lua"), Err("Invalid script shebang".into()));
    }
}
