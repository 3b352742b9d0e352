//! MIGRATE's connections to target servers (Valkey's `migrate_cached_sockets`).
//!
//! MIGRATE talks to the target synchronously, as Valkey does: the server is blocked for
//! the duration of one transfer, bounded by the command's timeout on every connect,
//! write and read. A connection is kept per `host:port` for reuse: it remembers the
//! database it last selected (so a second MIGRATE to the same database sends no SELECT)
//! and is closed once unused for more than ten seconds (the cron calls
//! [`MigrateSockets::close_idle`]) or when an I/O error makes its state unknown. At most
//! 64 are kept; a new one beyond that replaces the least recently used.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The most connections kept (Valkey's `MIGRATE_SOCKET_CACHE_ITEMS`).
const MAX_CACHED: usize = 64;
/// Seconds an unused connection is kept (Valkey's `MIGRATE_SOCKET_CACHE_TTL`).
const IDLE_SECS: i64 = 10;
/// The longest reply line read from the target (Valkey reads into 1024-byte buffers).
const MAX_LINE: usize = 1024;
/// Writes go out in chunks of this size, each bounded by the timeout.
const WRITE_CHUNK: usize = 64 * 1024;

/// One cached connection.
pub struct CachedSocket {
    stream: TcpStream,
    /// The database the target has selected on this connection, -1 when unknown.
    pub last_dbid: i64,
    /// Unix seconds of the last use.
    last_use: i64,
}

/// The cache, keyed by `host:port` as the client wrote them.
#[derive(Default)]
pub struct MigrateSockets {
    map: HashMap<String, CachedSocket>,
}

/// Why an exchange with the target failed.
#[derive(Debug, PartialEq, Eq)]
pub enum IoFailure {
    /// The timeout expired (Valkey's `ETIMEDOUT`: never retried).
    Timeout,
    /// Any other error, including the peer closing the connection.
    Other,
}

impl From<io::Error> for IoFailure {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => IoFailure::Timeout,
            _ => IoFailure::Other,
        }
    }
}

impl MigrateSockets {
    /// Number of cached connections (INFO's `migrate_cached_sockets`).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no connection is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cached connection to `name` (`host:port`), or a new one made within
    /// `timeout`.
    pub fn get(&mut self, name: &str, host: &str, port: &[u8], timeout: Duration, now_s: i64) -> Result<&mut CachedSocket, ConnectError> {
        if !self.map.contains_key(name) {
            let stream = connect(host, port, timeout)?;
            if self.map.len() >= MAX_CACHED {
                let oldest = self.map.iter().min_by_key(|(_, s)| s.last_use).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.map.remove(&k);
                }
            }
            self.map.insert(name.to_string(), CachedSocket { stream, last_dbid: -1, last_use: now_s });
        }
        let cs = self.map.get_mut(name).ok_or(ConnectError::Unreachable)?;
        cs.last_use = now_s;
        Ok(cs)
    }

    /// Closes the connection to `name` (after an I/O error: its state is unknown).
    pub fn close(&mut self, name: &str) {
        self.map.remove(name);
    }

    /// Closes the connections unused for more than ten seconds (from the cron).
    pub fn close_idle(&mut self, now_s: i64) {
        self.map.retain(|_, s| now_s - s.last_use <= IDLE_SECS);
    }
}

/// Why no connection could be made.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// The address did not resolve or the connect timed out (Valkey answers "error or
    /// timeout connecting").
    Unreachable,
    /// The target refused or reset the connection. Valkey's non-blocking connect only
    /// finds this out when it writes, so it is reported as a write failure.
    Refused,
}

/// Connects to `host:port` within `timeout` (the port parsed like C's `atoi`).
fn connect(host: &str, port: &[u8], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let port = atoi_port(port).ok_or(ConnectError::Unreachable)?;
    let addrs = (host, port).to_socket_addrs().map_err(|_| ConnectError::Unreachable)?;
    let mut failure = ConnectError::Unreachable;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => failure = ConnectError::Unreachable,
            Err(_) => failure = ConnectError::Refused,
        }
    }
    Err(failure)
}

/// The leading decimal digits of `port` as a port number (`atoi`, then the u16 range).
fn atoi_port(port: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(port).ok()?.trim_start();
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u16>().ok()
}

impl CachedSocket {
    /// Writes all of `buf` in 64 KiB chunks, each within `timeout`.
    pub fn write_all(&mut self, buf: &[u8], timeout: Duration) -> Result<(), IoFailure> {
        self.stream.set_write_timeout(Some(timeout))?;
        for chunk in buf.chunks(WRITE_CHUNK) {
            self.stream.write_all(chunk)?;
        }
        Ok(())
    }

    /// Reads one reply line (without its CRLF) within `timeout`. A line longer than
    /// 1024 bytes is cut there, as Valkey's `syncReadLine` does.
    pub fn read_line(&mut self, timeout: Duration) -> Result<Vec<u8>, IoFailure> {
        self.stream.set_read_timeout(Some(timeout))?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.stream.read(&mut byte) {
                Ok(0) => return Err(IoFailure::Other),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            if byte[0] == b'\n' {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if line.len() < MAX_LINE - 1 {
                line.push(byte[0]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn ports_parse_like_atoi() {
        assert_eq!(atoi_port(b"6379"), Some(6379));
        assert_eq!(atoi_port(b"6379abc"), Some(6379));
        assert_eq!(atoi_port(b"abc"), None);
        assert_eq!(atoi_port(b"99999"), None);
    }

    #[test]
    fn connections_are_cached_and_expire() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("test setup");
        let port = listener.local_addr().expect("test setup").port().to_string();
        let mut cache = MigrateSockets::default();
        let t = Duration::from_millis(500);
        let name = format!("127.0.0.1:{port}");
        assert!(cache.get(&name, "127.0.0.1", port.as_bytes(), t, 100).is_ok());
        assert_eq!(cache.len(), 1);
        cache.get(&name, "127.0.0.1", port.as_bytes(), t, 105).expect("test setup").last_dbid = 9;
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&name, "127.0.0.1", port.as_bytes(), t, 106).expect("test setup").last_dbid, 9);
        cache.close_idle(116);
        assert_eq!(cache.len(), 1);
        cache.close_idle(117);
        assert!(cache.is_empty());
    }

    #[test]
    fn reads_lines_and_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("test setup");
        let port = listener.local_addr().expect("test setup").port().to_string();
        let mut cache = MigrateSockets::default();
        let t = Duration::from_millis(200);
        let cs = cache.get("x", "127.0.0.1", port.as_bytes(), t, 0).expect("test setup");
        let (mut peer, _) = listener.accept().expect("test setup");
        peer.write_all(b"+OK\r\n-ERR no\r\n").expect("test setup");
        assert_eq!(cs.read_line(t).expect("test setup"), b"+OK");
        assert_eq!(cs.read_line(t).expect("test setup"), b"-ERR no");
        assert_eq!(cs.read_line(t), Err(IoFailure::Timeout));
        drop(peer);
        assert_eq!(cs.read_line(t), Err(IoFailure::Other));
    }

    #[test]
    fn refused_connection_is_none() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("test setup");
        let port = listener.local_addr().expect("test setup").port().to_string();
        drop(listener);
        let mut cache = MigrateSockets::default();
        assert_eq!(cache.get("x", "127.0.0.1", port.as_bytes(), Duration::from_millis(200), 0).err(), Some(ConnectError::Refused));
        assert_eq!(cache.get("y", "nosuchhost.invalid", b"1", Duration::from_millis(200), 0).err(), Some(ConnectError::Unreachable));
        assert!(cache.is_empty());
    }
}
