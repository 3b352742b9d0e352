//! The input of a load that reads the RDB as it arrives from a primary's socket
//! (`repl-diskless-load`, Valkey's rioInitWithConn): the host hands each chunk it reads
//! to [`StreamInput::feed`]; the loader thread reads them through [`StreamReader`], which
//! blocks until the next chunk, and sees the end of the input when the host calls
//! [`StreamInput::end`] or drops it. A load cut short (the link lost mid-transfer) is a
//! short read for the loader, never a hang.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// The host's end: chunks go to the loader thread.
pub struct StreamInput {
    tx: Option<Sender<Vec<u8>>>,
    /// Bytes handed over and not yet read by the loader (the host pauses the socket above
    /// a limit, so a slow load slows the primary's transfer as Valkey's blocking read does).
    queued: Arc<AtomicUsize>,
}

/// The loader thread's end.
pub struct StreamReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    queued: Arc<AtomicUsize>,
}

/// A connected pair.
pub fn stream_input() -> (StreamInput, StreamReader) {
    let (tx, rx) = mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (StreamInput { tx: Some(tx), queued: queued.clone() }, StreamReader { rx, chunk: Vec::new(), pos: 0, queued })
}

impl StreamInput {
    /// One chunk of the snapshot. Ignored after [`StreamInput::end`] or once the loader
    /// stopped reading (it failed: the host learns it from the load's result).
    pub fn feed(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            self.queued.fetch_add(bytes.len(), Ordering::Relaxed);
            if tx.send(bytes.to_vec()).is_err() {
                self.queued.store(0, Ordering::Relaxed);
            }
        }
    }

    /// No more input: the loader reads what is queued, then the end.
    pub fn end(&mut self) {
        self.tx = None;
    }

    /// Bytes fed and not yet read.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.chunk.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.chunk = next;
                    self.pos = 0;
                }
                // The host ended the input: end of file.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        self.queued.fetch_sub(n, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_then_the_end() {
        let (mut input, mut reader) = stream_input();
        input.feed(b"abc");
        input.feed(b"");
        input.feed(b"de");
        assert_eq!(input.queued(), 5);
        let t = std::thread::spawn(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).map(|_| all)
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        input.feed(b"f");
        input.end();
        input.feed(b"ignored");
        assert_eq!(t.join().ok().and_then(|r| r.ok()), Some(b"abcdef".to_vec()));
        assert_eq!(input.queued(), 0);
    }
}
