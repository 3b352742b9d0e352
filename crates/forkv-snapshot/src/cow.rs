//! Copy-on-write accounting: how much memory the fork has cost so far.
//!
//! After `fork()` parent and child share every page. When either side writes a shared page, the
//! kernel copies it, and the child's copy becomes private to the child. The child's
//! `Private_Dirty` total therefore measures what the fork costs in memory (Valkey's
//! `zmalloc_get_private_dirty(-1)`). We read it from `/proc/self/smaps_rollup` (Linux ≥ 4.14, a
//! single summary), falling back to summing `/proc/self/smaps`.
//!
//! Reading smaps walks every mapping in the kernel and can take long in a large process (Valkey
//! measured more than a second). So the child samples on a duty cycle: after a sample that took
//! `t`, the next one waits at least `t × CHILD_COW_DUTY_CYCLE`, which keeps sampling under 1% of
//! the child's time.

use std::io;

use crate::sys::monotonic_us;

/// Sampling may use at most 1/`CHILD_COW_DUTY_CYCLE` of the child's time (Valkey's value).
pub const CHILD_COW_DUTY_CYCLE: u64 = 100;

/// The calling process's `Private_Dirty` memory in bytes: in a fork child, its copy-on-write
/// cost. Uses only `open`/`read`/`close` and a stack buffer, so it is safe in the child.
/// Errors with `Unsupported` where there is no `/proc` (macOS).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn private_dirty_bytes() -> io::Result<u64> {
    match sum_private_dirty_in(c"/proc/self/smaps_rollup") {
        Ok(v) => Ok(v),
        Err(_) => sum_private_dirty_in(c"/proc/self/smaps"),
    }
}

/// The calling process's `Private_Dirty` memory in bytes. Not available on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn private_dirty_bytes() -> io::Result<u64> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Private_Dirty accounting needs /proc/self/smaps",
    ))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn sum_private_dirty_in(path: &std::ffi::CStr) -> io::Result<u64> {
    // SAFETY: `path` is a NUL-terminated string; open is async-signal-safe.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = sum_private_dirty(|buf| loop {
        // SAFETY: `buf` is a valid writable slice of the length passed; `fd` is open.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(usize::try_from(n).unwrap_or(0));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    });
    crate::sys::close_fd(fd);
    result
}

/// Sums the `Private_Dirty:` lines of an smaps-format stream delivered by `read` (which returns
/// 0 at the end). Lines may straddle reads; a line longer than the buffer is skipped (only
/// mapping headers with very long paths can be, never a `Private_Dirty:` line).
pub(crate) fn sum_private_dirty<R>(mut read: R) -> io::Result<u64>
where
    R: FnMut(&mut [u8]) -> io::Result<usize>,
{
    let mut buf = [0u8; 4096];
    let mut len = 0usize;
    let mut skipping = false;
    let mut total_kb = 0u64;
    loop {
        let n = read(&mut buf[len..])?;
        len += n;
        let mut start = 0usize;
        while let Some(pos) = buf[start..len].iter().position(|&b| b == b'\n') {
            if !skipping {
                total_kb = total_kb.saturating_add(private_dirty_kb(&buf[start..start + pos]));
            }
            skipping = false;
            start += pos + 1;
        }
        if n == 0 {
            if !skipping && start < len {
                total_kb = total_kb.saturating_add(private_dirty_kb(&buf[start..len]));
            }
            break;
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if len == buf.len() {
            len = 0;
            skipping = true;
        }
    }
    Ok(total_kb.saturating_mul(1024))
}

/// The kB figure of a `Private_Dirty:   123 kB` line, or 0 for any other line.
fn private_dirty_kb(line: &[u8]) -> u64 {
    let Some(rest) = line.strip_prefix(b"Private_Dirty:") else {
        return 0;
    };
    rest.iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |acc, b| {
            acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
}

/// Copy-on-write figures a child collected over its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CowStats {
    /// Latest sample, bytes.
    pub current: u64,
    /// Highest sample, bytes.
    pub peak: u64,
    /// Mean of all samples, bytes.
    pub average: u64,
    /// Number of samples taken.
    pub samples: u64,
    /// When the latest sample was taken (`CLOCK_MONOTONIC` µs; 0 if never).
    pub updated_us: u64,
}

/// The child's sampler: throttled by the duty cycle, keeps current/peak/average.
#[derive(Default)]
pub(crate) struct CowSampler {
    current: u64,
    peak: u64,
    sum: u128,
    count: u64,
    updated_us: u64,
    cost_us: u64,
}

impl CowSampler {
    /// Samples unless the duty cycle says the last sample is still fresh. Returns whether it
    /// sampled.
    pub(crate) fn maybe_sample(&mut self) -> bool {
        let now = monotonic_us();
        if self.count > 0
            && now.saturating_sub(self.updated_us)
                <= self.cost_us.saturating_mul(CHILD_COW_DUTY_CYCLE)
        {
            return false;
        }
        self.sample_from(now);
        true
    }

    /// Samples now, whatever the duty cycle says (the final report).
    pub(crate) fn sample(&mut self) {
        self.sample_from(monotonic_us());
    }

    fn sample_from(&mut self, start_us: u64) {
        // Where smaps is unavailable, report 0 like Valkey does.
        let cow = private_dirty_bytes().unwrap_or(0);
        let end = monotonic_us();
        self.cost_us = end.saturating_sub(start_us);
        self.updated_us = end;
        self.current = cow;
        self.peak = self.peak.max(cow);
        self.sum += u128::from(cow);
        self.count += 1;
    }

    pub(crate) fn stats(&self) -> CowStats {
        let average = if self.count == 0 {
            0
        } else {
            u64::try_from(self.sum / u128::from(self.count)).unwrap_or(u64::MAX)
        };
        CowStats {
            current: self.current,
            peak: self.peak,
            average,
            samples: self.count,
            updated_us: self.updated_us,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn feed(text: &[u8], chunk: usize) -> u64 {
        let mut pos = 0;
        sum_private_dirty(|buf| {
            let n = chunk.min(buf.len()).min(text.len() - pos);
            buf[..n].copy_from_slice(&text[pos..pos + n]);
            pos += n;
            Ok(n)
        })
        .unwrap()
    }

    #[test]
    fn parses_smaps_in_any_chunking() {
        let long_path = "x".repeat(9000);
        let text = format!(
            "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/{long_path}\n\
             Size:                328 kB\n\
             Private_Dirty:         4 kB\n\
             Shared_Dirty:         99 kB\n\
             7f00-7f01 rw-p 0 0 0\n\
             Private_Dirty:      1024 kB\n\
             Private_Hugetlb:       7 kB\n\
             Private_Dirty:  12 kB"
        );
        for chunk in [1, 3, 64, 4095, 4096, 100_000] {
            assert_eq!(
                feed(text.as_bytes(), chunk),
                (4 + 1024 + 12) * 1024,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(private_dirty_kb(b"Private_Clean: 5 kB"), 0);
        assert_eq!(private_dirty_kb(b"Private_Dirty:\t\t77 kB"), 77);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_process_has_private_dirty_pages() {
        let v = private_dirty_bytes().unwrap();
        assert!(v > 0);
        assert_eq!(v % 1024, 0);
    }

    #[test]
    fn sampler_throttles_and_averages() {
        let mut s = CowSampler::default();
        assert!(s.maybe_sample());
        s.sample();
        let st = s.stats();
        assert_eq!(st.samples, 2);
        assert!(st.peak >= st.average);
        assert!(st.updated_us > 0);
    }
}
