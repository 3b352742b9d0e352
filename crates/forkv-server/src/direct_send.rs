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
