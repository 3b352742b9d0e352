//! Accepting new connections while a script is busy (Valkey keeps its accept handlers in
//! `processEventsWhileBlocked`, so a client that connects meanwhile gets `-BUSY`, and can
//! send SCRIPT KILL or SHUTDOWN NOSAVE).
//!
//! Node's loop, which owns the listening sockets, cannot run during the script: the host
//! registers the descriptors of its plain TCP and unix listeners
//! ([`crate::Server::set_busy_listeners`]), and the busy loop ([`crate::busy_io`]) accepts
//! on them without waiting. A connection accepted here gets its client id from the same
//! counter as the host's ([`crate::Server::allocate_client_id`]), the host's accept-time
//! refusals (maxclients, protected mode: [`AcceptPolicy`]), an engine client and a place
//! among the sockets the busy loop serves. After the script the host takes the list
//! ([`crate::Server::take_busy_accepted`]) and wraps each descriptor in its own socket
//! object.
//!
//! TLS clients: the host terminates TLS in a worker thread of its own, which keeps
//! running during a script, and forwards each TLS client's plaintext over a private unix
//! socket (the "TLS bridge" listener, registered here like the others). A bridged
//! connection starts with a one-line preamble, `<peer ip> <peer port> <local ip> <local
//! port>\n`, written by the worker before any byte of the client: the busy loop strips it
//! (see [`Preamble`]), applies protected mode to the peer it names, and keeps it for the
//! host, which learns the client's address from it.

use std::os::fd::RawFd;
use crate::host_types::host_type;

/// The maxclients error (Valkey's `acceptCommonHandler`).
const MAXCLIENTS_ERROR: &[u8] = b"-ERR max number of clients reached\r\n";
/// Connections accepted per listener in one busy-loop call (Valkey's MAX_ACCEPTS_PER_CALL
/// is 1000; the hook runs every few milliseconds, so fewer per call keeps the script going).
const ACCEPTS_PER_CALL: usize = 16;

/// What kind of clients a listening socket of the host brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    /// Plain TCP.
    Tcp,
    /// The unix socket (`unixsocket`).
    Unix,
    /// The host's TLS bridge: a private unix socket on which its TLS worker forwards
    /// each TLS client's plaintext, after a preamble.
    TlsBridge,
}

/// One listening socket of the host.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Listener {
    pub(crate) fd: RawFd,
    pub(crate) kind: ListenerKind,
}

/// The host's accept-time rules, as of its last update.
#[derive(Clone, Debug)]
pub struct AcceptPolicy {
    /// `maxclients`.
    pub maxclients: usize,
    /// Protected mode refuses clients that are not local (no password, not bound to
    /// loopback only).
    pub local_only: bool,
    /// Valkey's protected-mode refusal, as the host words it (without `-` and CRLF).
    pub protected_error: String,
}

impl Default for AcceptPolicy {
    fn default() -> Self {
        AcceptPolicy { maxclients: 10_000, local_only: false, protected_error: String::new() }
    }
}

host_type! {
#[record = "BusyAcceptedConn"]
/// A connection the busy loop accepted, for the host to adopt after the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyAccepted {
    /// Its client id (0 when refused: the socket was answered and closed).
    pub id: u64,
    /// Its descriptor (-1 when refused).
    pub fd: RawFd,
    /// A client of the unix socket.
    pub unix: bool,
    /// A TLS client, through the host's TLS bridge.
    pub tls: bool,
    /// A TLS client's preamble as read so far (complete when it ends with `\n`; the host
    /// reads the rest from the socket when it is not).
    pub preamble: Vec<u8>,
    /// Refused (maxclients or protected mode): counted as a rejected connection.
    pub refused: bool,
}
}

/// The preamble of a bridged TLS connection (see the module's notes).
pub(crate) struct Preamble;

impl Preamble {
    /// The longest preamble (two IPv6 addresses and two ports fit well within it): a
    /// longer one is not the worker's, and the connection is dropped.
    pub(crate) const MAX: usize = 256;

    /// Whether the peer a complete preamble names is local (loopback), as Valkey's
    /// `connIsLocal` decides for a TLS connection.
    pub(crate) fn peer_is_local(preamble: &[u8]) -> bool {
        let text = std::str::from_utf8(preamble).unwrap_or("");
        let ip = text.split(' ').next().unwrap_or("");
        match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v4)) => v4.is_loopback(),
            Ok(std::net::IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
            Err(_) => false,
        }
    }
}

/// A new connection on a listener, not yet checked.
pub(crate) struct NewConn {
    pub(crate) fd: RawFd,
    pub(crate) kind: ListenerKind,
    /// A loopback peer, or the unix socket (Valkey's `connIsLocal`).
    pub(crate) local: bool,
}

/// Accepts what is pending on `listeners` now, without waiting.
pub(crate) fn accept_pending(listeners: &[Listener]) -> Vec<NewConn> {
    let mut polled: Vec<libc::pollfd> = listeners.iter().map(|l| libc::pollfd { fd: l.fd, events: libc::POLLIN, revents: 0 }).collect();
    if polled.is_empty() {
        return Vec::new();
    }
    // SAFETY: `polled` is a valid array of `polled.len()` pollfd structs; timeout 0.
    let ready = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, 0) };
    if ready <= 0 {
        return Vec::new();
    }
    let mut conns = Vec::new();
    for (p, l) in polled.iter().zip(listeners) {
        if p.revents & libc::POLLIN == 0 {
            continue;
        }
        for _ in 0..ACCEPTS_PER_CALL {
            // SAFETY: a sockaddr_storage is large enough for any peer address; `len` holds its size.
            let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: `addr`/`len` are valid out-parameters; a bad `fd` is an error return.
            let fd = unsafe { libc::accept4(l.fd, (&mut addr as *mut libc::sockaddr_storage).cast(), &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) };
            if fd < 0 {
                // EAGAIN: none left; any other error (EMFILE...) ends this round too.
                break;
            }
            if l.kind == ListenerKind::Tcp {
                set_nodelay(fd);
            }
            // A bridged TLS client's peer is known from its preamble only: it is checked then.
            let local = l.kind != ListenerKind::Tcp || is_loopback(&addr);
            conns.push(NewConn { fd, kind: l.kind, local });
        }
    }
    conns
}

/// Answers a refused connection with `error` (best effort) and closes it.
pub(crate) fn refuse(fd: RawFd, error: &[u8]) {
    let _ = crate::direct_send::send_nonblocking(fd, error);
    // SAFETY: `fd` was accepted by us and is not shared with anyone else.
    unsafe { libc::close(fd) };
}

/// The maxclients refusal.
pub(crate) fn maxclients_error() -> &'static [u8] {
    MAXCLIENTS_ERROR
}

/// TCP_NODELAY, as the host's TCP listeners set on every client.
fn set_nodelay(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a valid c_int option value of the given size.
    unsafe {
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, (&one as *const libc::c_int).cast(), std::mem::size_of::<libc::c_int>() as libc::socklen_t);
    }
}

/// A loopback peer address: 127.0.0.0/8, ::1 or ::ffff:127.x.y.z.
fn is_loopback(addr: &libc::sockaddr_storage) -> bool {
    match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let v4 = unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)).is_loopback()
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let v6 = unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preamble_names_a_local_peer_or_not() {
        assert!(Preamble::peer_is_local(b"127.0.0.1 5000 127.0.0.1 6380\n"));
        assert!(Preamble::peer_is_local(b"::1 5000 ::1 6380\n"));
        assert!(Preamble::peer_is_local(b"::ffff:127.0.0.1 5000 ::ffff:127.0.0.1 6380\n"));
        assert!(!Preamble::peer_is_local(b"10.1.2.3 5000 10.1.2.4 6380\n"));
        assert!(!Preamble::peer_is_local(b"garbage\n"));
    }
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn accepts_pending_loopback_connections_without_waiting() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let listeners = [Listener { fd: listener.as_raw_fd(), kind: ListenerKind::Tcp }];
        assert!(accept_pending(&listeners).is_empty());
        let _client = TcpStream::connect(listener.local_addr().expect("its address")).expect("a connection");
        let mut got = Vec::new();
        for _ in 0..100 {
            got = accept_pending(&listeners);
            if !got.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got.len(), 1);
        assert!(got[0].local && got[0].kind == ListenerKind::Tcp);
        for c in got {
            // SAFETY: accepted by the test.
            unsafe { libc::close(c.fd) };
        }
    }
}
