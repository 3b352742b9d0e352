//! A second SIGINT during the shutdown save: Valkey's `sigShutdownHandler` exits at once
//! ("You insist... exiting now."), removing the temp file of the save in progress.
//!
//! The shutdown save runs on the JS main thread inside one synchronous napi call, so the
//! host's own signal handler (libuv's, which only writes to a pipe the event loop reads
//! later) cannot act until the save is over. [`SigintExitGuard`] installs, for the length
//! of that save only, a handler that does what Valkey's does: unlink the temp file and
//! `_exit(1)`, both async-signal-safe. Dropping the guard puts the previous handler back.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The temp file the handler removes (a leaked `CString` while a guard lives).
static TEMP_FILE: AtomicPtr<libc::c_char> = AtomicPtr::new(ptr::null_mut());

/// What the handler writes to stderr before exiting (the host's logger is out of reach
/// from a signal handler).
const MESSAGE: &[u8] = b"You insist... exiting now.\n";

extern "C" fn on_sigint(_sig: libc::c_int) {
    let path = TEMP_FILE.load(Ordering::Acquire);
    // SAFETY: only async-signal-safe calls; `path` is null or a NUL-terminated string
    // that stays allocated while the handler is installed (the guard restores the old
    // handler before freeing it).
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        if !path.is_null() {
            libc::unlink(path);
        }
        libc::_exit(1);
    }
}

/// While alive, SIGINT removes `temp_file` and exits with status 1.
pub struct SigintExitGuard {
    previous: libc::sigaction,
}

impl SigintExitGuard {
    /// Installs the handler; `temp_file` is the save's temp file.
    pub fn install(temp_file: &Path) -> io::Result<Self> {
        let c = CString::new(temp_file.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let old = TEMP_FILE.swap(c.into_raw(), Ordering::AcqRel);
        free_path(old);
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
        // is an `extern "C" fn(c_int)` as sa_sigaction expects without SA_SIGINFO.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, &sa, &mut previous) != 0 {
                free_path(TEMP_FILE.swap(ptr::null_mut(), Ordering::AcqRel));
                return Err(io::Error::last_os_error());
            }
            Ok(SigintExitGuard { previous })
        }
    }
}

impl Drop for SigintExitGuard {
    fn drop(&mut self) {
        // SAFETY: restores the handler saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, ptr::null_mut());
        }
        free_path(TEMP_FILE.swap(ptr::null_mut(), Ordering::AcqRel));
    }
}

fn free_path(p: *mut libc::c_char) {
    if !p.is_null() {
        // SAFETY: every non-null pointer stored in TEMP_FILE came from `CString::into_raw`.
        drop(unsafe { CString::from_raw(p) });
    }
}
