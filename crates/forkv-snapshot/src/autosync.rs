//! Incremental fsync of a file a child writes (Valkey's rio autosync, set by
//! `rdb-save-incremental-fsync` and `aof-rewrite-incremental-fsync`).
//!
//! Without it a multi-gigabyte RDB sits in the page cache until the final `fsync`, which
//! then stalls for as long as the disk needs to take it all, and meanwhile the dirty pages
//! crowd out everything else. With it, every [`AUTOSYNC_BYTES`] that reach the kernel
//! start their writeback at once (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), and the chunk
//! before them is waited for, so at most two chunks are ever dirty; Valkey's
//! rioFileWrite does exactly this (an `fsync` where `sync_file_range` does not exist).
//!
//! [`SyncingFile`] sits under the caller's buffer: writes are split at the chunk
//! boundaries, so a boundary is synced only once its bytes are in the kernel.

use std::fs::File;
use std::io::{self, Write};

/// Valkey's REDIS_AUTOSYNC_BYTES: 4 MiB between two syncs.
pub const AUTOSYNC_BYTES: u64 = 4 * 1024 * 1024;

/// A file writer that syncs every [`AUTOSYNC_BYTES`] when enabled (else a plain writer).
pub struct SyncingFile<'a> {
    file: &'a File,
    /// 0: no incremental sync.
    every: u64,
    written: u64,
    syncs: u64,
}

impl<'a> SyncingFile<'a> {
    /// A writer over `file` (positioned at its start), syncing incrementally when `enabled`.
    pub fn new(file: &'a File, enabled: bool) -> Self {
        Self::with_chunk(file, if enabled { AUTOSYNC_BYTES } else { 0 })
    }

    /// A writer syncing every `every` bytes (0: never), for tests with small chunks.
    pub fn with_chunk(file: &'a File, every: u64) -> Self {
        SyncingFile { file, every, written: 0, syncs: 0 }
    }

    /// The number of incremental syncs done so far.
    pub fn syncs(&self) -> u64 {
        self.syncs
    }

    /// The chunk ending at `self.written` is complete: start its writeback and wait for
    /// the one before it.
    fn sync_chunk(&mut self) -> io::Result<()> {
        sync_range(self.file, self.written, self.every)?;
        self.syncs += 1;
        Ok(())
    }
}

impl Write for SyncingFile<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.every == 0 {
            let n = (&*self.file).write(data)?;
            self.written += n as u64;
            return Ok(n);
        }
        let room = self.every - self.written % self.every;
        let take = data.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = (&*self.file).write(&data[..take])?;
        self.written += n as u64;
        if self.written.is_multiple_of(self.every) && n > 0 {
            self.sync_chunk()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `written` bytes are in the file, a multiple of `chunk`: start the writeback of the last
/// chunk, and wait until the one before it is on disk.
#[cfg(target_os = "linux")]
fn sync_range(file: &File, written: u64, chunk: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let range = |from: u64, flags: libc::c_uint| -> io::Result<()> {
        let (Ok(off), Ok(len)) = (libc::off64_t::try_from(from), libc::off64_t::try_from(chunk)) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        // SAFETY: sync_file_range takes an fd we own for the call and plain integers.
        if unsafe { libc::sync_file_range(fd, off, len, flags) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    range(written - chunk, libc::SYNC_FILE_RANGE_WRITE)?;
    if written >= 2 * chunk {
        let all = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        range(written - 2 * chunk, all)?;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sync_range(file: &File, _written: u64, _chunk: u64) -> io::Result<()> {
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_through(enabled_chunk: u64, total: usize) -> (u64, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!("forkv-autosync-{}-{enabled_chunk}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("f");
        let file = File::create(&path).expect("create");
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let mut w = SyncingFile::with_chunk(&file, enabled_chunk);
        // Uneven pieces, so that writes straddle the chunk boundaries.
        for piece in data.chunks(7001) {
            w.write_all(piece).expect("write");
        }
        let syncs = w.syncs();
        let back = std::fs::read(&path).expect("read back");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(back, data, "the file holds exactly what was written");
        (syncs, back)
    }

    #[test]
    fn syncs_once_per_complete_chunk() {
        assert_eq!(write_through(64 * 1024, 64 * 1024 * 5 + 100).0, 5);
        assert_eq!(write_through(64 * 1024, 64 * 1024 * 2).0, 2);
    }

    #[test]
    fn never_syncs_when_disabled() {
        assert_eq!(write_through(0, 300_000).0, 0);
    }

    #[test]
    fn the_valkey_chunk_is_four_mebibytes() {
        assert_eq!(AUTOSYNC_BYTES, 4 << 20);
        assert_eq!(write_through(AUTOSYNC_BYTES, (9 << 20) + 5).0, 2);
    }
}
