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
//!
//! The other crossings of a turn take the same form: `wakeRead(core, id, fd)` (a woken
//! client's replies and pipelined input), `resumeRead(core, id, fd, hostReply)` (after a
//! host command) and `takeDeliveriesInto(core)` (pub/sub messages and other output for
//! other clients, as records in the reply buffer), instead of napi-rs methods that made a
//! Buffer per call (and one per delivery) and a result object.

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
        self.hand_over(id, outcome, fd)
    }

    /// The work of `wakeRead`: a woken client's replies and the input it pipelined meanwhile.
    fn wake_read(&mut self, id: u32, fd: i32) -> f64 {
        if self.io.is_none() {
            return -1.0;
        }
        let outcome = self.server.wake(u64::from(id));
        self.hand_over(id, outcome, fd)
    }

    /// The work of `resumeRead`: continues after a host command whose encoded reply is
    /// `host_reply`.
    fn resume_read(&mut self, id: u32, fd: i32, host_reply: &[u8]) -> f64 {
        if self.io.is_none() {
            return -1.0;
        }
        let outcome = self.server.resume(u64::from(id), host_reply);
        self.hand_over(id, outcome, fd)
    }

    /// Hands a step's replies over (see [`forkv_server::Server::hand_over_into`]).
    fn hand_over(&mut self, id: u32, outcome: forkv_engine::Outcome, fd: i32) -> f64 {
        let status = self.status_byte(outcome);
        let Some(io) = self.io.as_mut() else {
            return -1.0;
        };
        self.server.hand_over_into(u64::from(id), status, fd, &mut io.out, &mut io.slot)
    }

    /// The work of `takeDeliveriesInto` (see [`forkv_server::host_io::DeliveryRecords::pack_into`]).
    fn take_deliveries_into(&mut self) -> f64 {
        let Some(io) = self.io.as_mut() else {
            return -1.0;
        };
        self.deliveries.pack_into(&mut self.server, &mut io.out)
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

/// The call's first `N` arguments, or None (fewer given, or napi failed).
///
/// SAFETY (callers): env and info are the running callback's.
unsafe fn args<const N: usize>(env: sys::napi_env, info: sys::napi_callback_info) -> Option<[sys::napi_value; N]> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    // SAFETY: `argv` has room for `argc` values; env and info are the call's.
    let ok = unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
    (ok == sys::Status::napi_ok && argc >= N).then_some(argv)
}

/// The Core wrapped by `value`, when it has bound buffers.
///
/// SAFETY (callers): env is the running callback's and `value` one of its values.
unsafe fn bound_core(env: sys::napi_env, value: sys::napi_value) -> Option<*mut Core> {
    let mut wrapped: *mut std::ffi::c_void = ptr::null_mut();
    // SAFETY: see the function's contract.
    let ok = unsafe { sys::napi_unwrap(env, value, &mut wrapped) };
    let core = wrapped.cast::<Core>();
    (ok == sys::Status::napi_ok && is_bound(core)).then_some(core)
}

/// A number argument as u32 (None: not a number).
///
/// SAFETY (callers): env is the running callback's and `value` one of its values.
unsafe fn u32_arg(env: sys::napi_env, value: sys::napi_value) -> Option<u32> {
    let mut n = 0u32;
    // SAFETY: see the function's contract; a non-number is an error status.
    (unsafe { sys::napi_get_value_uint32(env, value, &mut n) } == sys::Status::napi_ok).then_some(n)
}

/// A number argument as i32 (None: not a number).
///
/// SAFETY (callers): env is the running callback's and `value` one of its values.
unsafe fn i32_arg(env: sys::napi_env, value: sys::napi_value) -> Option<i32> {
    let mut n = 0i32;
    // SAFETY: see the function's contract; a non-number is an error status.
    (unsafe { sys::napi_get_value_int32(env, value, &mut n) } == sys::Status::napi_ok).then_some(n)
}

/// Returns `r` to JavaScript as a number.
///
/// SAFETY (callers): env is the running callback's.
unsafe fn number(env: sys::napi_env, r: f64) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: env is the call's.
    if unsafe { sys::napi_create_double(env, r, &mut out) } != sys::Status::napi_ok {
        // SAFETY: env is the call's.
        return unsafe { throw(env, c"forkv: cannot return a number") };
    }
    out
}

// SAFETY of the `(*core)` calls below: `core` is a live Core: it is bound (a dropped Core
// unregisters itself) and it is the object napi-rs wrapped for argv[0], which the call
// keeps alive. No other reference to it exists during the call: the core never calls into
// JavaScript, so no method of it can run meanwhile.

/// `feedRead(core, id, len, fd)`: see the module docs.
///
/// # Safety
/// Called by Node-API only, with the env and callback info of the call.
pub unsafe extern "C" fn feed_read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: env and info are the call's, and so are the values read.
    unsafe {
        let Some(argv) = args::<4>(env, info) else {
            return throw(env, c"feedRead(core, id, len, fd): 4 arguments");
        };
        let Some(core) = bound_core(env, argv[0]) else {
            return throw(env, c"feedRead: not a Core with bound buffers");
        };
        let (Some(id), Some(len), Some(fd)) = (u32_arg(env, argv[1]), u32_arg(env, argv[2]), i32_arg(env, argv[3])) else {
            return throw(env, c"feedRead: id, len and fd are numbers");
        };
        number(env, (*core).feed_read(id, len, fd))
    }
}

/// `wakeRead(core, id, fd)`: a woken client's step (see the module docs).
///
/// # Safety
/// Called by Node-API only, with the env and callback info of the call.
pub unsafe extern "C" fn wake_read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: env and info are the call's, and so are the values read.
    unsafe {
        let Some(argv) = args::<3>(env, info) else {
            return throw(env, c"wakeRead(core, id, fd): 3 arguments");
        };
        let Some(core) = bound_core(env, argv[0]) else {
            return throw(env, c"wakeRead: not a Core with bound buffers");
        };
        let (Some(id), Some(fd)) = (u32_arg(env, argv[1]), i32_arg(env, argv[2])) else {
            return throw(env, c"wakeRead: id and fd are numbers");
        };
        number(env, (*core).wake_read(id, fd))
    }
}

/// `resumeRead(core, id, fd, hostReply)`: the step after a host command (see the module docs).
///
/// # Safety
/// Called by Node-API only, with the env and callback info of the call.
pub unsafe extern "C" fn resume_read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: env and info are the call's, and so are the values read.
    unsafe {
        let Some(argv) = args::<4>(env, info) else {
            return throw(env, c"resumeRead(core, id, fd, hostReply): 4 arguments");
        };
        let Some(core) = bound_core(env, argv[0]) else {
            return throw(env, c"resumeRead: not a Core with bound buffers");
        };
        let (Some(id), Some(fd)) = (u32_arg(env, argv[1]), i32_arg(env, argv[2])) else {
            return throw(env, c"resumeRead: id and fd are numbers");
        };
        let mut data: *mut std::ffi::c_void = ptr::null_mut();
        let mut len = 0usize;
        if sys::napi_get_buffer_info(env, argv[3], &mut data, &mut len) != sys::Status::napi_ok {
            return throw(env, c"resumeRead: hostReply is a Buffer");
        }
        // The Buffer's bytes stay valid during the call (the call holds the value) and no
        // JavaScript runs meanwhile; a host reply is never a view of the bound buffers.
        let reply: &[u8] = if len == 0 || data.is_null() { &[] } else { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        number(env, (*core).resume_read(id, fd, reply))
    }
}

/// `takeDeliveriesInto(core)`: the waiting deliveries as records (see the module docs).
///
/// # Safety
/// Called by Node-API only, with the env and callback info of the call.
pub unsafe extern "C" fn take_deliveries_into(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: env and info are the call's, and so are the values read.
    unsafe {
        let Some(argv) = args::<1>(env, info) else {
            return throw(env, c"takeDeliveriesInto(core): 1 argument");
        };
        let Some(core) = bound_core(env, argv[0]) else {
            return throw(env, c"takeDeliveriesInto: not a Core with bound buffers");
        };
        number(env, (*core).take_deliveries_into())
    }
}
