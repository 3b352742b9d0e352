//! Small system helpers used on both sides of the fork. Nothing here takes a lock.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// `CLOCK_MONOTONIC` in microseconds. The clock is system-wide, so parent and child readings
/// compare directly.
pub(crate) fn monotonic_us() -> u64 {
    clock_us(libc::CLOCK_MONOTONIC)
}

/// A cheap monotonic reading for throttling checks (a few ns through the vDSO on Linux, with
/// millisecond resolution, which is plenty for a once-a-second decision).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn coarse_monotonic_us() -> u64 {
    clock_us(libc::CLOCK_MONOTONIC_COARSE)
}

/// A cheap monotonic reading for throttling checks.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn coarse_monotonic_us() -> u64 {
    monotonic_us()
}

fn clock_us(id: libc::clockid_t) -> u64 {
    // SAFETY: timespec is plain data; all-zero is a valid value.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime is async-signal-safe.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
}

/// The `strerror` text of an error, without std's " (os error N)" suffix, so messages read like
/// Valkey's ("Permission denied", "No space left on device").
pub(crate) fn error_text(err: &io::Error) -> String {
    let text = err.to_string();
    if err.raw_os_error().is_some() {
        if let Some(cut) = text.find(" (os error ") {
            return text[..cut].to_string();
        }
    }
    text
}

/// Closes a raw fd, ignoring errors (used where there is nothing useful to do about them).
pub(crate) fn close_fd(fd: RawFd) {
    // SAFETY: closing an fd we own (or one inherited that we mean to drop); async-signal-safe.
    unsafe {
        libc::close(fd);
    }
}

/// A fixed-capacity string built with `write!` and no heap allocation. Text past the capacity is
/// dropped at a character boundary.
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let take = floor_char_boundary(s, room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// The largest `i <= max` that is a char boundary of `s` (or `s.len()` if shorter).
pub(crate) fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn stack_buf_truncates_at_char_boundary() {
        let mut b = StackBuf::<5>::new();
        let _ = write!(b, "ab€cd");
        assert_eq!(b.as_str(), "ab€");
        let _ = write!(b, "x");
        assert_eq!(b.as_str(), "ab€");
    }

    #[test]
    fn error_text_strips_os_suffix() {
        let e = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(error_text(&e), "No space left on device");
        let e = io::Error::other("custom");
        assert_eq!(error_text(&e), "custom");
    }

    #[test]
    fn clocks_advance() {
        let a = monotonic_us();
        let b = coarse_monotonic_us();
        assert!(a > 0 && b > 0);
        assert!(monotonic_us() >= a);
    }
}
