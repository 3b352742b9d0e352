//! The crash report (Valkey's `sigsegvHandler` and `sigalrmSignalHandler`, debug.c).
//!
//! A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT: a crash in native code, or
//! `kill -ABRT` from outside) writes a report to the server's log: the signal, the faulting
//! address, who sent it, and the stack trace of the thread that got it. Then the signal's
//! default action runs (it is raised again with the default disposition), so the process
//! still dies of that signal, with its core dump and exit status. SIGALRM writes a stack
//! trace and is not fatal, as in Valkey (its default action would end the process).
//!
//! A handler may only do what is async-signal-safe: it formats into a stack buffer and
//! writes with write(2); backtrace(3) is called once at install so that its first call
//! (which loads libgcc_s and allocates) is not in a handler; backtrace_symbols_fd(3)
//! writes symbol names without allocating. The log descriptor is a duplicate taken at
//! install, so it stays open whatever the host does with its own.
//!
//! Node's own SIGSEGV handler is V8's WebAssembly trap handler: an out-of-bounds access to
//! a wasm memory is a SIGSEGV that V8 turns into a JavaScript exception. The handler here
//! asks V8 first (`v8::TryHandleWebAssemblyTrapPosix`, exported by the node binary), as
//! Node's handler does, and reports only what V8 does not handle.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The signals whose report ends the process (Valkey's setupSigSegvHandlers).
const FATAL: [libc::c_int; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGABRT];

/// Frames in a stack trace.
const MAX_FRAMES: usize = 100;

/// The log the report goes to (a duplicate of the host's descriptor); -1 before install.
static LOG_FD: AtomicI32 = AtomicI32::new(-1);
/// V8's `TryHandleWebAssemblyTrapPosix`, or 0 when the process has none.
static V8_TRAP: AtomicUsize = AtomicUsize::new(0);
/// "forkv <version>", as the report names the server.
static NAME: OnceLock<String> = OnceLock::new();
/// A report is being written: a second fatal signal meanwhile ends the process at once.
static REPORTING: AtomicBool = AtomicBool::new(false);

type V8TrapFn = unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) -> bool;

#[cfg(target_env = "gnu")]
extern "C" {
    fn backtrace(buffer: *mut *mut libc::c_void, size: libc::c_int) -> libc::c_int;
    fn backtrace_symbols_fd(buffer: *const *mut libc::c_void, size: libc::c_int, fd: libc::c_int);
}

/// Installs the handlers: the fatal ones when `crash_log` (`crash-log-enabled`), and
/// SIGALRM's. The report goes to `log_fd` (duplicated here) and names the server
/// `name`. Only the first call in a process installs anything.
pub fn install(log_fd: libc::c_int, name: &str, crash_log: bool) -> io::Result<()> {
    if NAME.set(name.to_string()).is_err() {
        return Ok(());
    }
    // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor for an open one (or fails).
    let fd = unsafe { libc::fcntl(log_fd, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    LOG_FD.store(fd, Ordering::Release);
    preload_backtrace();
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks the symbol up.
    let trap = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_ZN2v829TryHandleWebAssemblyTrapPosixEiP9siginfo_tPv".as_ptr()) };
    V8_TRAP.store(trap as usize, Ordering::Release);
    if crash_log {
        for sig in FATAL {
            set_handler(sig, on_fatal)?;
        }
    }
    set_handler(libc::SIGALRM, on_sigalrm)
}

fn set_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid (no flags, empty mask); the handler has the
    // three-argument form SA_SIGINFO asks for.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(target_env = "gnu")]
fn preload_backtrace() {
    let mut frames = [std::ptr::null_mut(); 4];
    // SAFETY: backtrace writes at most 4 pointers into `frames`.
    unsafe { backtrace(frames.as_mut_ptr(), 4) };
}

#[cfg(not(target_env = "gnu"))]
fn preload_backtrace() {}

/// One log line built on the stack (no allocation in a handler).
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Line {
    /// A line in Valkey's format for lines written from a signal handler:
    /// `<pid>:signal-handler (<unix time>) <message>`.
    fn new() -> Line {
        let mut l = Line { buf: [0; 512], len: 0 };
        // SAFETY: getpid and time(NULL) are async-signal-safe.
        let (pid, now) = unsafe { (libc::getpid(), libc::time(std::ptr::null_mut())) };
        l.int(i64::from(pid));
        l.text(":signal-handler (");
        l.int(now);
        l.text(") ");
        l
    }

    fn text(&mut self, s: &str) -> &mut Line {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        self
    }

    fn int(&mut self, v: i64) -> &mut Line {
        if v < 0 {
            self.text("-");
        }
        let mut digits = [0u8; 20];
        let mut n = 0;
        let mut u = v.unsigned_abs();
        loop {
            digits[n] = b'0' + (u % 10) as u8;
            n += 1;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        for &d in digits[..n].iter().rev() {
            if self.len < self.buf.len() {
                self.buf[self.len] = d;
                self.len += 1;
            }
        }
        self
    }

    fn hex(&mut self, v: usize) -> &mut Line {
        self.text("0x");
        let mut started = false;
        for shift in (0..usize::BITS / 4).rev() {
            let d = (v >> (shift * 4)) & 0xf;
            if d != 0 || started || shift == 0 {
                started = true;
                let c = b"0123456789abcdef"[d];
                if self.len < self.buf.len() {
                    self.buf[self.len] = c;
                    self.len += 1;
                }
            }
        }
        self
    }

    fn write(&mut self) {
        self.text("\n");
        write_raw(&self.buf[..self.len]);
    }
}

fn write_raw(bytes: &[u8]) {
    let fd = LOG_FD.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    // SAFETY: write(2) of a live buffer; a short or failed write loses part of the report only.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// The stack of the thread the signal interrupted, framed as Valkey frames it.
fn stack_trace() {
    write_raw(b"\n------ STACK TRACE ------\n");
    #[cfg(target_env = "gnu")]
    {
        let mut frames = [std::ptr::null_mut(); MAX_FRAMES];
        // SAFETY: backtrace writes at most MAX_FRAMES pointers; backtrace_symbols_fd
        // reads that many and writes to the log descriptor without allocating.
        unsafe {
            let n = backtrace(frames.as_mut_ptr(), MAX_FRAMES as libc::c_int);
            backtrace_symbols_fd(frames.as_ptr(), n, LOG_FD.load(Ordering::Acquire));
        }
    }
    write_raw(b"\n------ STACK TRACE DONE ------\n");
}

extern "C" fn on_fatal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if sig == libc::SIGSEGV || sig == libc::SIGBUS {
        let trap = V8_TRAP.load(Ordering::Acquire);
        if trap != 0 {
            // SAFETY: `trap` is V8's TryHandleWebAssemblyTrapPosix, called with the
            // arguments the kernel gave this handler, as Node's handler calls it.
            let handled = unsafe { std::mem::transmute::<usize, V8TrapFn>(trap)(sig, info, ctx) };
            if handled {
                return;
            }
        }
    }
    if !REPORTING.swap(true, Ordering::AcqRel) {
        report(sig, info);
    }
    // The default action: the process ends of this signal (core dump, exit status).
    // SAFETY: sigaction and raise are async-signal-safe; SIG_DFL needs no handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
        libc::raise(sig);
    }
}

fn report(sig: libc::c_int, info: *mut libc::siginfo_t) {
    let name = NAME.get().map_or("forkv", String::as_str);
    write_raw(b"\n\n=== FORKV BUG REPORT START: Cut & paste starting from here ===\n");
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let (code, addr, pid, uid) = unsafe {
        match info.as_ref() {
            Some(i) => (i.si_code, i.si_addr() as usize, i.si_pid(), i.si_uid()),
            None => (0, 0, 0, 0),
        }
    };
    Line::new().text("# ").text(name).text(" crashed by signal: ").int(i64::from(sig)).text(", si_code: ").int(i64::from(code)).write();
    if sig == libc::SIGSEGV || sig == libc::SIGBUS {
        Line::new().text("# Accessing address: ").hex(addr).write();
    }
    if code == libc::SI_USER && pid != -1 {
        Line::new().text("# Killed by PID: ").int(i64::from(pid)).text(", UID: ").int(i64::from(uid)).write();
    }
    stack_trace();
    write_raw(b"\n=== FORKV BUG REPORT END. Make sure to include from START to END. ===\n\n");
}

extern "C" fn on_sigalrm(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let pid = unsafe { info.as_ref().map_or(0, |i| i.si_pid()) };
    // A timer's SIGALRM has no sender (Valkey's watchdog); one sent with kill(2) has.
    Line::new().text(if pid == 0 { "\n--- WATCHDOG TIMER EXPIRED ---" } else { "\nReceived SIGALRM" }).write();
    stack_trace();
    Line::new().text("--------\n").write();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_format_numbers_without_allocating() {
        let mut l = Line { buf: [0; 512], len: 0 };
        l.text("sig ").int(11).text(" ").int(-3).text(" ").hex(0xdead_beef).text(" ").hex(0);
        assert_eq!(&l.buf[..l.len], b"sig 11 -3 0xdeadbeef 0x0");
        let mut full = Line { buf: [0; 512], len: 0 };
        full.text(&"x".repeat(600));
        assert_eq!(full.len, 512, "a long message is cut, never overflows");
    }
}
