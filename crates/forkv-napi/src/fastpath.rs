//! The read path's one crossing, without napi-rs's argument machinery.
//!
//! A socket read costs the host one call into the core: `feedRead(core, id, len, fd)`.
//! Measured with callgrind (`-P 1` SET), the `#[napi]` glue around `feedInto` took about
//! 4,600 instructions per call (three `Buffer` arguments, each a `napi_get_buffer_info`
//! and a native-borrow registration in a global mutex-guarded map, the class identity
//! check, the borrow scope), and `sendNow` another 1,500: as much as running the SET
//! itself. Here the buffers are handed over once (`Core.bindIo`: the host's read buffer,
//! reply buffer and result slot, kept alive by references the core holds), the call
//! takes three integers, and it is a plain Node-API function: `napi_get_cb_info`,
//! `napi_unwrap`, three number reads and one number back.
//!
//! `fd`, when not -1, is the client's socket, which the host found idle (nothing queued
//! in Node's stream, not corked) and whose replies nothing holds back (not a replica
//! link, no `appendfsync always` hold): the core then sends the replies itself, up to
//! `DIRECT_MAX` bytes, with one non-blocking `send(2)` ([`forkv_server::Server::send_reply_now`]), instead of copying them out for
//! the host to send with a second crossing. What the kernel does not take is copied to
//! the start of the reply buffer for the host's stream path.

use std::cell::RefCell;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::core::Core;

/// The host's buffers for `feedRead`, held by strong references.
pub struct IoBuffers {
    /// Socket reads land here (the host's shared read buffer).
    input: Buffer,
    /// Replies the host must still write are copied here.
    out: Buffer,
    /// Two f64 (native endian): the client's memory after the call, and the bytes the core
    /// sent to the socket itself.
    slot: Buffer,
}

thread_local! {
    /// The cores whose buffers are bound (their addresses): `feedRead` refuses any other
    /// object, as napi-rs's class identity check would.
    static BOUND: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl IoBuffers {
    /// Checks the sizes `feedRead` relies on.
    pub fn new(input: Buffer, out: Buffer, slot: Buffer) -> Result<Self> {
        if slot.len() < 16 {
            return Err(Error::from_reason("the result slot needs 16 bytes"));
        }
        Ok(IoBuffers { input, out, slot })
    }
}

/// Records that `core` has its buffers bound (`Core.bindIo`).
pub fn register(core: *const Core) {
    BOUND.with(|b| {
        let mut b = b.borrow_mut();
        if !b.contains(&(core as usize)) {
            b.push(core as usize);
        }
    });
}

/// Forgets a core that is dropped.
pub fn unregister(core: *const Core) {
    BOUND.with(|b| b.borrow_mut().retain(|&p| p != core as usize));
}

fn is_bound(core: *const Core) -> bool {
    BOUND.with(|b| b.borrow().contains(&(core as usize)))
}

impl Core {
    /// The work of `feedRead` (see the module docs): returns `reply_length * 256 + status`
    /// like `feedInto`, where `reply_length` counts only what the host must still write.
    fn feed_read(&mut self, id: u32, len: u32, fd: i32) -> f64 {
        let outcome = {
            let Some(io) = self.io.as_ref() else {
                return -1.0;
            };
            let n = (len as usize).min(io.input.len());
            self.server.feed(u64::from(id), &io.input[..n])
        };
        let status = self.status_byte(outcome);
        let memory = self.server.client_memory(u64::from(id)) as f64;
        let sent = if fd >= 0 { self.server.send_reply_now(fd) } else { 0 };
        let rest_len = self.server.reply().len();
        let Some(io) = self.io.as_mut() else {
            return -1.0;
        };
        io.slot[..8].copy_from_slice(&memory.to_ne_bytes());
        io.slot[8..16].copy_from_slice(&(sent as f64).to_ne_bytes());
        // Longer than the buffer: the rest waits for `takeReply()`.
        if let Some(dst) = io.out.get_mut(..rest_len) {
            dst.copy_from_slice(self.server.reply());
            self.server.clear_reply();
        }
        rest_len as f64 * 256.0 + f64::from(status)
    }
}

/// Throws a JavaScript error and returns no value.
///
/// SAFETY (callers): `env` is the env of the running callback.
unsafe fn throw(env: sys::napi_env, msg: &'static std::ffi::CStr) -> sys::napi_value {
    // SAFETY: see the function's contract; `msg` is NUL-terminated.
    unsafe { sys::napi_throw_error(env, ptr::null(), msg.as_ptr()) };
    ptr::null_mut()
}

/// `feedRead(core, id, len, fd)`: see the module docs.
///
/// # Safety
/// Called by Node-API only, with the env and callback info of the call.
pub unsafe extern "C" fn feed_read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut argc = 4usize;
    let mut argv = [ptr::null_mut(); 4];
    // SAFETY: `argv` has room for `argc` values; env and info are the call's.
    let ok = unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
    if ok != sys::Status::napi_ok || argc < 4 {
        // SAFETY: env is the call's.
        return unsafe { throw(env, c"feedRead(core, id, len, fd): 4 arguments") };
    }
    let mut wrapped: *mut std::ffi::c_void = ptr::null_mut();
    // SAFETY: argv[0] is a value of this call.
    let ok = unsafe { sys::napi_unwrap(env, argv[0], &mut wrapped) };
    let core = wrapped.cast::<Core>();
    if ok != sys::Status::napi_ok || !is_bound(core) {
        // SAFETY: env is the call's.
        return unsafe { throw(env, c"feedRead: not a Core with bound buffers") };
    }
    let (mut id, mut len, mut fd) = (0u32, 0u32, -1i32);
    // SAFETY: the values are the call's; a non-number is an error status, checked.
    let nums_ok = unsafe {
        sys::napi_get_value_uint32(env, argv[1], &mut id) == sys::Status::napi_ok
            && sys::napi_get_value_uint32(env, argv[2], &mut len) == sys::Status::napi_ok
            && sys::napi_get_value_int32(env, argv[3], &mut fd) == sys::Status::napi_ok
    };
    if !nums_ok {
        // SAFETY: env is the call's.
        return unsafe { throw(env, c"feedRead: id, len and fd are numbers") };
    }
    // SAFETY: `core` is a live Core: it is bound (a dropped Core unregisters itself) and it
    // is the object napi-rs wrapped for argv[0], which the call keeps alive. No other
    // reference to it exists during this call: the core never calls into JavaScript, so
    // no method of it can run meanwhile.
    let r = unsafe { (*core).feed_read(id, len, fd) };
    let mut out = ptr::null_mut();
    // SAFETY: env is the call's.
    if unsafe { sys::napi_create_double(env, r, &mut out) } != sys::Status::napi_ok {
        // SAFETY: env is the call's.
        return unsafe { throw(env, c"feedRead: cannot return a number") };
    }
    out
}
