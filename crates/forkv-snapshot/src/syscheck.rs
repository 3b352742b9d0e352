//! Start-up system checks that matter for forking: memory overcommit, transparent huge pages,
//! and the open-files limit. The texts are Valkey's (`syscheck.c`, `server.c`), so operators
//! can search for them.
//!
//! - **Overcommit.** With `vm.overcommit_memory` other than 1, Linux may refuse `fork()` for a
//!   large process (it would have to reserve memory for a full copy that copy-on-write never
//!   makes), or kill the child under memory pressure.
//! - **THP.** With transparent huge pages set to `always`, a one-byte write after the fork copies
//!   2 MB instead of 4 kB, which multiplies copy-on-write memory and latency. Valkey turns THP off
//!   for its own process with `prctl(PR_SET_THP_DISABLE)` and warns only if that fails.
//! - **Open files.** `maxclients` needs `maxclients + 32` descriptors (Valkey's
//!   `CONFIG_MIN_RESERVED_FDS`).

use std::io;

use crate::childinfo::LogLevel;
use crate::sys::error_text;

/// Descriptors reserved beyond `maxclients` for listeners, persistence, logs (Valkey's
/// `CONFIG_MIN_RESERVED_FDS`).
pub const MIN_RESERVED_FDS: u64 = 32;

/// Valkey's overcommit warning (the jemalloc sentence is left out: forkv uses the system
/// allocator).
pub const OVERCOMMIT_WARNING: &str = "Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition. To fix this issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf and then reboot or run the command 'sysctl vm.overcommit_memory=1' for this to take effect.";

/// The system's transparent huge pages mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThpMode {
    /// `[always]`: the kernel backs anonymous memory with huge pages whenever it can.
    Always,
    /// `[madvise]`: only regions that ask for it.
    Madvise,
    /// `[never]`.
    Never,
}

impl ThpMode {
    /// The mode as the kernel names it (`always`, `madvise`, `never`).
    pub fn name(self) -> &'static str {
        match self {
            ThpMode::Always => "always",
            ThpMode::Madvise => "madvise",
            ThpMode::Never => "never",
        }
    }
}

/// Turns transparent huge pages off for this process and its future children
/// (`prctl(PR_SET_THP_DISABLE)`, Linux ≥ 3.15). `Unsupported` elsewhere.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn disable_thp_for_process() -> io::Result<()> {
    let on: libc::c_ulong = 1;
    let zero: libc::c_ulong = 0;
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and only sets a flag on this process.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, on, zero, zero, zero) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Turns transparent huge pages off for this process. Not available on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn disable_thp_for_process() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "PR_SET_THP_DISABLE is Linux-only",
    ))
}

/// `/proc/sys/vm/overcommit_memory` (0 heuristic, 1 always, 2 never), or `None` if unreadable
/// (not Linux, restricted container).
pub fn overcommit_memory() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The transparent huge pages mode from `/sys/kernel/mm/transparent_hugepage/enabled`, or
/// `None` if the file is missing or unreadable.
pub fn thp_enabled_mode() -> Option<ThpMode> {
    let text = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    parse_thp_mode(&text)
}

/// Parses the THP `enabled` file: the bracketed word is the active mode
/// (`always [madvise] never` → `Madvise`).
pub fn parse_thp_mode(text: &str) -> Option<ThpMode> {
    if text.contains("[always]") {
        Some(ThpMode::Always)
    } else if text.contains("[madvise]") {
        Some(ThpMode::Madvise)
    } else if text.contains("[never]") {
        Some(ThpMode::Never)
    } else {
        None
    }
}

/// Valkey's THP warning, with `product` where Valkey names itself ("Valkey" gives the exact
/// text).
pub fn thp_warning_text(product: &str) -> String {
    format!(
        "You have Transparent Huge Pages (THP) support enabled in your kernel. \
         This will create latency and memory usage issues with {product}. \
         To fix this issue run the command 'echo madvise > /sys/kernel/mm/transparent_hugepage/enabled' as root, \
         and add it to your /etc/rc.local in order to retain the setting after a reboot. \
         {product} must be restarted after THP is disabled (set to 'madvise' or 'never')."
    )
}

/// The overcommit warning if `vm.overcommit_memory` is readable and not 1 (Valkey's
/// `checkOvercommit`).
pub fn check_overcommit() -> Option<&'static str> {
    match overcommit_memory() {
        Some(1) | None => None,
        Some(_) => Some(OVERCOMMIT_WARNING),
    }
}

/// What [`linux_memory_warnings`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryWarnings {
    /// Lines to log at warning level, each already prefixed `WARNING ` like Valkey's.
    pub warnings: Vec<String>,
    /// THP is `always` and could not be disabled for this process (Valkey's
    /// `server.thp_enabled`).
    pub thp_enabled: bool,
}

/// Valkey's `linuxMemoryWarnings`: warns about overcommit; if THP is `always`, tries to disable
/// it for this process when `disable_thp` is set, and warns only if THP stays on.
pub fn linux_memory_warnings(disable_thp: bool, product: &str) -> MemoryWarnings {
    let mut out = MemoryWarnings::default();
    if let Some(text) = check_overcommit() {
        out.warnings.push(format!("WARNING {text}"));
    }
    if thp_enabled_mode() == Some(ThpMode::Always) {
        let disabled = disable_thp && disable_thp_for_process().is_ok();
        if !disabled {
            out.thp_enabled = true;
            out.warnings
                .push(format!("WARNING {}", thp_warning_text(product)));
        }
    }
    out
}

/// The soft and hard `RLIMIT_NOFILE` (`RLIM_INFINITY` shows as `u64::MAX`).
pub fn open_files_limit() -> io::Result<(u64, u64)> {
    // SAFETY: rlimit is plain data; getrlimit fills it.
    let (rc, rl) = unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        let rc = libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        (rc, rl)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((rlim_to_u64(rl.rlim_cur), rlim_to_u64(rl.rlim_max)))
}

fn rlim_to_u64(v: libc::rlim_t) -> u64 {
    if v == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        // rlim_t is u64 on today's targets but not by definition.
        #[allow(clippy::unnecessary_cast)]
        let v = v as u64;
        v
    }
}

fn set_open_files_limit(soft: u64, hard: u64) -> io::Result<()> {
    let to_rlim = |v: u64| {
        if v == u64::MAX {
            libc::RLIM_INFINITY
        } else {
            v as libc::rlim_t
        }
    };
    let rl = libc::rlimit {
        rlim_cur: to_rlim(soft),
        rlim_max: to_rlim(hard),
    };
    // SAFETY: `rl` is a valid rlimit; setrlimit only changes this process's limit.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What [`adjust_open_files_limit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFilesAdjustment {
    /// The `maxclients` the server can actually serve (reduced if the limit could not be
    /// raised).
    pub maxclients: u32,
    /// The soft limit in force afterwards.
    pub limit: u64,
    /// Lines to log, with Valkey's levels and texts.
    pub messages: Vec<(LogLevel, String)>,
    /// The limit is too low to start at all (Valkey exits with status 1).
    pub fatal: bool,
}

/// Valkey's `adjustOpenFilesLimit`: raises `RLIMIT_NOFILE` to `maxclients + 32` or to the highest
/// value the system allows, and reduces `maxclients` to fit if it must.
///
/// Unlike Valkey, the hard limit is never lowered: Valkey sets both limits to the new value,
/// which inside Node would permanently cap a limit that Node itself raised.
pub fn adjust_open_files_limit(maxclients: u32) -> OpenFilesAdjustment {
    adjust_with(maxclients, open_files_limit, set_open_files_limit)
}

fn adjust_with<G, S>(maxclients: u32, get: G, mut set: S) -> OpenFilesAdjustment
where
    G: FnOnce() -> io::Result<(u64, u64)>,
    S: FnMut(u64, u64) -> io::Result<()>,
{
    let maxfiles = u64::from(maxclients) + MIN_RESERVED_FDS;
    let (oldlimit, hard) = match get() {
        Ok(v) => v,
        Err(e) => {
            return OpenFilesAdjustment {
                maxclients: u32::try_from(1024 - MIN_RESERVED_FDS).unwrap_or(992),
                limit: 1024,
                messages: vec![(
                    LogLevel::Warning,
                    format!(
                        "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
                        error_text(&e)
                    ),
                )],
                fatal: false,
            };
        }
    };
    if oldlimit >= maxfiles {
        return OpenFilesAdjustment {
            maxclients,
            limit: oldlimit,
            messages: Vec::new(),
            fatal: false,
        };
    }

    const DECR_STEP: u64 = 16;
    let mut bestlimit = maxfiles;
    let mut setrlimit_error: Option<io::Error> = None;
    while bestlimit > oldlimit {
        match set(bestlimit, hard.max(bestlimit)) {
            Ok(()) => break,
            Err(e) => setrlimit_error = Some(e),
        }
        if bestlimit < DECR_STEP {
            bestlimit = oldlimit;
            break;
        }
        bestlimit -= DECR_STEP;
    }
    bestlimit = bestlimit.max(oldlimit);

    if bestlimit >= maxfiles {
        return OpenFilesAdjustment {
            maxclients,
            limit: maxfiles,
            messages: vec![(
                LogLevel::Notice,
                format!(
                    "Increased maximum number of open files to {maxfiles} (it was originally set to {oldlimit})."
                ),
            )],
            fatal: false,
        };
    }

    if bestlimit <= MIN_RESERVED_FDS {
        return OpenFilesAdjustment {
            maxclients: 0,
            limit: oldlimit,
            messages: vec![(
                LogLevel::Warning,
                format!(
                    "Your current 'ulimit -n' of {oldlimit} is not enough for the server to start. Please increase your open file limit to at least {maxfiles}. Exiting."
                ),
            )],
            fatal: true,
        };
    }
    let reduced = u32::try_from(bestlimit - MIN_RESERVED_FDS).unwrap_or(u32::MAX);
    let os_error = setrlimit_error
        .as_ref()
        .map(error_text)
        .unwrap_or_else(|| "Success".to_string());
    OpenFilesAdjustment {
        maxclients: reduced,
        limit: bestlimit,
        messages: vec![
            (
                LogLevel::Warning,
                format!(
                    "You requested maxclients of {maxclients} requiring at least {maxfiles} max file descriptors."
                ),
            ),
            (
                LogLevel::Warning,
                format!(
                    "Server can't set maximum open files to {maxfiles} because of OS error: {os_error}."
                ),
            ),
            (
                LogLevel::Warning,
                format!(
                    "Current maximum open files is {bestlimit}. maxclients has been reduced to {reduced} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
                ),
            ),
        ],
        fatal: false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn thp_modes() {
        assert_eq!(
            parse_thp_mode("always [madvise] never\n"),
            Some(ThpMode::Madvise)
        );
        assert_eq!(
            parse_thp_mode("[always] madvise never"),
            Some(ThpMode::Always)
        );
        assert_eq!(
            parse_thp_mode("always madvise [never]"),
            Some(ThpMode::Never)
        );
        assert_eq!(parse_thp_mode("garbage"), None);
    }

    #[test]
    fn thp_text_is_valkeys() {
        let t = thp_warning_text("Valkey");
        assert!(t.starts_with("You have Transparent Huge Pages (THP) support enabled in your kernel. This will create latency and memory usage issues with Valkey."));
        assert!(t.ends_with(
            "Valkey must be restarted after THP is disabled (set to 'madvise' or 'never')."
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_linux_settings() {
        assert!(overcommit_memory().is_some());
        let (soft, hard) = open_files_limit().unwrap();
        assert!(soft <= hard);
        // Must not panic whatever the host says.
        let w = linux_memory_warnings(false, "forkv");
        assert!(w.warnings.iter().all(|l| l.starts_with("WARNING ")));
    }

    #[test]
    fn limit_already_enough() {
        let r = adjust_with(100, || Ok((1024, 4096)), |_, _| panic!("no set"));
        assert_eq!(r.maxclients, 100);
        assert!(r.messages.is_empty());
    }

    #[test]
    fn limit_raised() {
        let r = adjust_with(
            10_000,
            || Ok((1024, 1 << 20)),
            |soft, hard| {
                assert_eq!(soft, 10_032);
                assert_eq!(hard, 1 << 20);
                Ok(())
            },
        );
        assert_eq!(r.maxclients, 10_000);
        assert_eq!(
            r.messages,
            vec![(
                LogLevel::Notice,
                "Increased maximum number of open files to 10032 (it was originally set to 1024)."
                    .to_string()
            )]
        );
    }

    #[test]
    fn limit_capped_by_hard_limit() {
        let r = adjust_with(
            10_000,
            || Ok((1024, 4096)),
            |soft, _| {
                if soft > 4096 {
                    Err(io::Error::from_raw_os_error(libc::EPERM))
                } else {
                    Ok(())
                }
            },
        );
        // 10032 - 16 * 371 = 4096: the first step that fits under the hard limit.
        assert_eq!(r.limit, 4096);
        assert_eq!(r.maxclients, u32::try_from(r.limit).unwrap() - 32);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(
            r.messages[1].1,
            "Server can't set maximum open files to 10032 because of OS error: Operation not permitted."
        );
        assert!(r.messages[2]
            .1
            .starts_with(&format!("Current maximum open files is {}.", r.limit)));
    }

    #[test]
    fn limit_too_low_is_fatal() {
        let r = adjust_with(
            10_000,
            || Ok((20, 20)),
            |_, _| Err(io::Error::from_raw_os_error(libc::EPERM)),
        );
        assert!(r.fatal);
        assert_eq!(r.messages[0].1, "Your current 'ulimit -n' of 20 is not enough for the server to start. Please increase your open file limit to at least 10032. Exiting.");
    }

    #[test]
    fn overcommit_text_is_valkeys() {
        assert!(OVERCOMMIT_WARNING.starts_with("Memory overcommit must be enabled!"));
    }
}
