//! Serving clients from inside a busy script (Valkey's `processEventsWhileBlocked`).
//!
//! The host's event loop is Node's, and a script runs inside one of its callbacks, so
//! the loop cannot run until the script ends. Once a script is past
//! `busy-reply-threshold` (see `forkv_engine::busy`), its count hook lands here: the
//! sockets the host registered ([`Server::set_client_fd`]: TCP and unix clients, and TLS
//! clients through the host's TLS bridge) are polled without waiting, what is readable is read
//! into the client's query buffer and run by `Engine::feed_busy`, and the replies are
//! written with `send(2)` directly.
//!
//! The host's own queues keep their order: a client whose socket still holds output of
//! the host is not read (`Client::output_pending`, kept by the host); a reply the kernel
//! does not take whole goes, with every later one, to the client's outbox, which the
//! host delivers after the script, and the client is not read again during this run. A
//! client at EOF or in error is left for the host to close.
//!
//! New connections are accepted too (see [`crate::busy_accept`]): they are served from
//! the same call on, and handed to the host after the script.

use std::collections::HashMap;
use std::os::fd::RawFd;

use forkv_engine::busy::BusyEvents;
use forkv_engine::Engine;

use crate::busy_accept::{self, BusyAccepted, ListenerKind, Preamble};
use crate::direct_send::send_nonblocking;
use crate::Shared;

/// Bytes read from one socket per poll.
const READ_BYTES: usize = 16 * 1024;

/// The busy-time event processing the server installs in its engine.
pub(crate) struct BusyIo {
    pub(crate) shared: Shared,
    /// Clients not to read again during this run (EOF, error, output queued, a command
    /// left for later).
    stalled: Vec<u64>,
    buf: Vec<u8>,
}

impl BusyIo {
    pub(crate) fn new(shared: Shared) -> Self {
        BusyIo { shared, stalled: Vec::new(), buf: Vec::new() }
    }

    /// Writes `reply` to client `id` unless output of it is queued already; what the
    /// kernel does not take goes to the outbox. False when the client must not be read
    /// again during this run.
    fn write(&mut self, id: u64, fd: RawFd, reply: &[u8]) -> bool {
        if reply.is_empty() {
            return true;
        }
        let own = &mut *self.shared.borrow_mut();
        if own.outbox.has(id) {
            own.outbox.buffer(id).extend_from_slice(reply);
            return false;
        }
        let Ok(sent) = send_nonblocking(fd, reply) else {
            // A broken connection: the host sees it and closes the client.
            return false;
        };
        if sent < reply.len() {
            own.outbox.buffer(id).extend_from_slice(&reply[sent..]);
            return false;
        }
        true
    }
}

impl BusyIo {
    /// Accepts the connections pending on the host's listeners: each one refused by the
    /// host's rules is answered and closed, every other one becomes a client the loop
    /// serves (and the host adopts after the script).
    fn accept(&mut self, engine: &mut Engine) {
        let listeners = self.shared.borrow().listeners.clone();
        for conn in busy_accept::accept_pending(&listeners) {
            let own = &mut *self.shared.borrow_mut();
            let refusal: Option<Vec<u8>> = if engine.connection_count() >= own.accept_policy.maxclients {
                Some(busy_accept::maxclients_error().to_vec())
            } else if own.accept_policy.local_only && !conn.local {
                Some(format!("-{}\r\n", own.accept_policy.protected_error).into_bytes())
            } else {
                None
            };
            let unix = conn.kind == ListenerKind::Unix;
            let tls = conn.kind == ListenerKind::TlsBridge;
            if let Some(err) = refusal {
                busy_accept::refuse(conn.fd, &err);
                own.busy_accepted.push(BusyAccepted { id: 0, fd: -1, unix, tls, preamble: Vec::new(), refused: true });
                continue;
            }
            own.next_client_id += 1;
            let id = own.next_client_id;
            engine.add_client(id);
            if let Some(c) = engine.client_mut(id) {
                c.unix_socket = unix;
                c.socket_fd = Some(conn.fd);
            }
            own.fds.insert(id, conn.fd);
            own.busy_accepted.push(BusyAccepted { id, fd: conn.fd, unix, tls, preamble: Vec::new(), refused: false });
        }
    }

    /// Takes a bridged TLS client's preamble off the front of `data` (see
    /// [`busy_accept::Preamble`]). Returns where the client's own bytes start in `data`,
    /// or None when there are none to run now: the preamble is not complete yet, or the
    /// client was refused (protected mode, a malformed preamble) and its socket closed.
    fn strip_preamble(&mut self, engine: &mut Engine, id: u64, fd: RawFd, data: &[u8]) -> Option<usize> {
        let own = &mut *self.shared.borrow_mut();
        let Some(pos) = own.busy_accepted.iter().position(|a| a.id == id && a.tls && !a.refused && a.preamble.last() != Some(&b'\n')) else {
            return Some(0);
        };
        let policy_local_only = own.accept_policy.local_only;
        let entry = &mut own.busy_accepted[pos];
        let (taken, complete) = match data.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl + 1, true),
            None => (data.len(), false),
        };
        entry.preamble.extend_from_slice(&data[..taken]);
        let malformed = entry.preamble.len() > Preamble::MAX;
        if !complete && !malformed {
            return None;
        }
        let refusal: Option<Vec<u8>> = if malformed {
            Some(Vec::new())
        } else if policy_local_only && !Preamble::peer_is_local(&entry.preamble) {
            Some(format!("-{}\r\n", own.accept_policy.protected_error).into_bytes())
        } else {
            None
        };
        let Some(err) = refusal else {
            return Some(taken);
        };
        let entry = &mut own.busy_accepted[pos];
        entry.refused = true;
        entry.id = 0;
        entry.fd = -1;
        own.fds.remove(&id);
        engine.remove_client(id);
        self.stalled.push(id);
        busy_accept::refuse(fd, &err);
        None
    }
}

impl BusyEvents for BusyIo {
    fn process(&mut self, engine: &mut Engine) {
        self.accept(engine);
        let fds: Vec<(u64, RawFd)> = {
            let own = self.shared.borrow();
            own.fds.iter().filter(|(id, _)| !self.stalled.contains(id) && engine.busy_may_read(**id)).map(|(&id, &fd)| (id, fd)).collect()
        };
        if fds.is_empty() {
            return;
        }
        let mut polled: Vec<libc::pollfd> = fds.iter().map(|&(_, fd)| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
        // SAFETY: `polled` is a valid array of `polled.len()` pollfd structs; timeout 0.
        let ready = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, 0) };
        if ready <= 0 {
            return;
        }
        if self.buf.len() < READ_BYTES {
            self.buf.resize(READ_BYTES, 0);
        }
        for (p, &(id, fd)) in polled.iter().zip(&fds) {
            if p.revents == 0 {
                continue;
            }
            // A command run for an earlier client may have changed this one (QUIT...).
            if !engine.busy_may_read(id) {
                continue;
            }
            // SAFETY: `buf` holds READ_BYTES writable bytes; `fd` is a registered socket.
            let n = unsafe { libc::recv(fd, self.buf.as_mut_ptr().cast(), READ_BYTES, libc::MSG_DONTWAIT) };
            if n <= 0 {
                let err = std::io::Error::last_os_error().raw_os_error();
                if n < 0 && (err == Some(libc::EAGAIN) || err == Some(libc::EINTR)) {
                    continue;
                }
                // EOF or an error: the host closes the client after the script.
                self.stalled.push(id);
                continue;
            }
            let n = n as usize;
            let buf = std::mem::take(&mut self.buf);
            let start = self.strip_preamble(engine, id, fd, &buf[..n]);
            let fed = start.map(|at| engine.feed_busy(id, &buf[at..n]));
            self.buf = buf;
            let Some(fed) = fed else {
                continue;
            };
            let writable = self.write(id, fd, &fed.reply);
            if fed.stop || !writable {
                self.stalled.push(id);
            }
        }
    }

    fn run_ended(&mut self) {
        self.stalled.clear();
    }
}

/// The raw descriptors of the clients the busy loop may serve.
pub(crate) type ClientFds = HashMap<u64, RawFd, foldhash::fast::FixedState>;
