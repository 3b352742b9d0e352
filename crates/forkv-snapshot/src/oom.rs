//! The OOM-killer score a fork child gives itself (Valkey's `setOOMScoreAdj(CONFIG_OOM_BGCHILD)`,
//! run by `serverFork` in the child): with `oom-score-adj` enabled the host computes the
//! background-child value (the third of `oom-score-adj-values`, relative to the score the
//! server started with unless `absolute`) and stores it here before any fork; the child
//! writes it to `/proc/self/oom_score_adj` first thing, with raw syscalls only.

use std::io::Write as _;
use std::sync::atomic::{AtomicI32, Ordering};

/// No adjustment: the child keeps the score it inherited.
const UNSET: i32 = i32::MIN;

static CHILD_SCORE: AtomicI32 = AtomicI32::new(UNSET);

/// Sets the score the next fork children write (clamped to -1000..=1000), or `None` to
/// leave theirs as inherited (`oom-score-adj no`).
pub fn set_child_oom_score_adj(score: Option<i32>) {
    CHILD_SCORE.store(score.map_or(UNSET, |s| s.clamp(-1000, 1000)), Ordering::Relaxed);
}

/// The score children get, if any.
pub fn child_oom_score_adj() -> Option<i32> {
    let v = CHILD_SCORE.load(Ordering::Relaxed);
    (v != UNSET).then_some(v)
}

/// In the child: writes the score, if one is set. A failure is not fatal (the child keeps
/// the inherited score), as in Valkey, which only logs it.
pub(crate) fn apply_in_child() {
    let Some(score) = child_oom_score_adj() else {
        return;
    };
    // No allocation in the child: the text is formatted into a stack buffer.
    let mut buf = [0u8; 16];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if writeln!(cursor, "{score}").is_err() {
        return;
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    // SAFETY: a NUL-terminated path, a buffer of `len` initialised bytes, the fd closed once.
    unsafe {
        let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return;
        }
        let _ = libc::write(fd, buf.as_ptr().cast(), len);
        libc::close(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_score_is_clamped_and_can_be_cleared() {
        set_child_oom_score_adj(Some(1500));
        assert_eq!(child_oom_score_adj(), Some(1000));
        set_child_oom_score_adj(Some(-2000));
        assert_eq!(child_oom_score_adj(), Some(-1000));
        set_child_oom_score_adj(None);
        assert_eq!(child_oom_score_adj(), None);
    }
}
