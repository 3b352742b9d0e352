//! Writing to a client's socket descriptor directly: one `send(2)` per batch of replies,
//! never blocking.
//!
//! Two callers: the host's data path, which writes a read's replies straight to a plain
//! TCP or unix socket when Node's stream holds nothing for it (Node's write path costs a
//! request object, a callback and a tick per write, more than the command itself), and
//! the busy-script loop ([`crate::busy_io`]), which serves clients while Node's loop
//! cannot run. Both send only while nothing else is queued for the socket, so the bytes
//! keep their order; what the kernel does not take is the caller's to queue.

use std::os::fd::RawFd;

use crate::Server;

/// Replies up to this size go to an idle socket from the core ([`Server::send_reply_now`]).
/// Valkey's 16 KB reply buffer: within it the host's output limits cannot refuse a batch
/// (see the host's `OutputLimits.admit`), so they need not be asked.
pub const DIRECT_MAX: usize = 16 * 1024;

impl Server {
    /// The data path's direct write: the replies waiting (the last feed's) go to `fd`, a
    /// client socket the host found idle, with one non-blocking send, when they are at
    /// most [`DIRECT_MAX`] bytes; what the kernel took is dropped from them. Returns the
    /// bytes sent (0 for a broken connection: the host's stream write reports it).
    pub fn send_reply_now(&mut self, fd: RawFd) -> usize {
        let reply = self.reply();
        if reply.is_empty() || reply.len() > DIRECT_MAX {
            return 0;
        }
        let sent = send_nonblocking(fd, reply).unwrap_or(0);
        self.consume_reply(sent);
        sent
    }
}

/// Sends `bytes` to the socket `fd` without blocking, until all are sent or the kernel's
/// buffer is full. Returns how many bytes the kernel took (fewer than `bytes.len()` when
/// it is full), or the error of a broken connection when it took none of them in the
/// failing call (the bytes sent before the error are reported first, by an `Ok`).
pub fn send_nonblocking(fd: RawFd, bytes: &[u8]) -> std::io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        let rest = &bytes[sent..];
        // SAFETY: `rest` is a valid buffer of `rest.len()` bytes; a bad `fd` is an error
        // return (EBADF / ENOTSOCK), never undefined behaviour. MSG_NOSIGNAL: a closed
        // peer is EPIPE, not SIGPIPE.
        let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
        if n > 0 {
            sent += n as usize;
            continue;
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) if n < 0 => continue,
            Some(libc::EAGAIN) if n < 0 => break,
            _ if sent > 0 => break,
            _ => return Err(err),
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn the_data_path_sends_a_small_reply_itself_and_leaves_a_big_one() {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut s = Server::new(16);
        s.add_client(1);
        s.feed(1, b"PING\r\n");
        assert_eq!(s.send_reply_now(a.as_raw_fd()), 7);
        assert!(s.reply().is_empty(), "what the kernel took is dropped");
        let mut got = [0u8; 7];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"+PONG\r\n");

        let big = "x".repeat(DIRECT_MAX);
        s.feed(1, format!("ECHO {big}\r\n").as_bytes());
        let len = s.reply().len();
        assert!(len > DIRECT_MAX);
        assert_eq!(s.send_reply_now(a.as_raw_fd()), 0, "over DIRECT_MAX: the host's stream writes it");
        assert_eq!(s.reply().len(), len);
        s.clear_reply();
        assert_eq!(s.send_reply_now(a.as_raw_fd()), 0, "nothing to send");
    }

    #[test]
    fn sends_everything_the_kernel_takes() {
        let (a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(send_nonblocking(a.as_raw_fd(), b"+OK\r\n").unwrap(), 5);
        let mut got = [0u8; 5];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"+OK\r\n");
    }

    #[test]
    fn stops_without_blocking_when_the_buffer_is_full() {
        let (a, _b) = UnixStream::pair().unwrap();
        let big = vec![b'x'; 64 << 20];
        let sent = send_nonblocking(a.as_raw_fd(), &big).unwrap();
        assert!(sent > 0 && sent < big.len(), "sent {sent}");
        // Full: the next send takes nothing, still without blocking.
        assert_eq!(send_nonblocking(a.as_raw_fd(), b"y").unwrap(), 0);
    }

    #[test]
    fn a_closed_peer_is_an_error() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        assert!(send_nonblocking(a.as_raw_fd(), b"+OK\r\n").is_err());
    }

    #[test]
    fn a_bad_descriptor_is_an_error() {
        assert!(send_nonblocking(-1, b"x").is_err());
    }

    #[test]
    fn nothing_to_send_is_zero() {
        assert_eq!(send_nonblocking(-1, b"").unwrap(), 0);
    }
}
