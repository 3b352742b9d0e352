//! Atomic file replacement: temp file, write, flush, `fsync`, `rename`, `fsync` the directory.
//!
//! This is the sequence of Valkey's `rdbSave`. After a crash at any point, the final name holds
//! either the old complete file or the new complete file. `rename` is atomic within a directory,
//! the file's `fsync` makes its data durable before the name points at it, and the directory's
//! `fsync` makes the rename itself durable. On any error before the rename the temp file is
//! unlinked and the old file is untouched.
//!
//! Works in a fork child: the only allocations are the paths and error messages, and the write
//! buffer can be allocated by the parent before the fork
//! ([`write_file_atomically_with_buffer`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::IntoRawFd;
use std::path::Path;

use crate::autosync::SyncingFile;
use crate::sys::error_text;

/// Writes a file atomically: `f` writes the contents into a buffer of `buf_capacity` bytes
/// (allocated once, before `f` runs) over `dir/temp_name`; then flush, `fsync`, rename over
/// `dir/final_name`, `fsync` `dir`. Returns the number of bytes written.
///
/// On error the temp file is removed, the old final file stays intact, and the error keeps
/// the OS error's kind with a Valkey-style message naming the file and directory, e.g.
/// `Failed opening the temp file temp-42.rdb (in directory /data) for saving: Permission
/// denied`, or `Write error while saving temp-42.rdb to the disk (write): No space left on
/// device`.
pub fn write_file_atomically<F>(
    dir: &Path,
    final_name: &str,
    temp_name: &str,
    buf_capacity: usize,
    f: F,
) -> io::Result<u64>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    write_file_atomically_with_buffer(
        dir,
        final_name,
        temp_name,
        Vec::with_capacity(buf_capacity),
        f,
    )
}

/// Like [`write_file_atomically`], with a write buffer the caller allocated (typically in the
/// parent, before the fork). Its capacity is the buffer size and it never grows.
pub fn write_file_atomically_with_buffer<F>(
    dir: &Path,
    final_name: &str,
    temp_name: &str,
    buffer: Vec<u8>,
    f: F,
) -> io::Result<u64>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    write_file_atomically_synced(dir, final_name, temp_name, buffer, false, f)
}

/// Like [`write_file_atomically_with_buffer`]; with `incremental_fsync`
/// (`rdb-save-incremental-fsync`) the file is synced every
/// [`crate::autosync::AUTOSYNC_BYTES`] on the way (see [`crate::autosync`]).
pub fn write_file_atomically_synced<F>(
    dir: &Path,
    final_name: &str,
    temp_name: &str,
    mut buffer: Vec<u8>,
    incremental_fsync: bool,
    f: F,
) -> io::Result<u64>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let temp_path = dir.join(temp_name);
    let final_path = dir.join(final_name);
    let dir_shown = dir.display();

    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp_path)
        .map_err(|e| {
            annotate(
                &e,
                format!(
                    "Failed opening the temp file {temp_name} (in directory {dir_shown}) for saving: {}",
                    error_text(&e)
                ),
            )
        })?;

    let write_err = |op: &str, e: &io::Error| {
        annotate(
            e,
            format!(
                "Write error while saving {temp_name} to the disk ({op}): {}",
                error_text(e)
            ),
        )
    };

    buffer.clear();
    let written = {
        let mut w = PreallocatedWriter {
            file: SyncingFile::new(&file, incremental_fsync),
            buf: buffer,
            written: 0,
        };
        let step = f(&mut w)
            .map_err(|e| write_err("write", &e))
            .and_then(|()| w.flush().map_err(|e| write_err("flush", &e)));
        match step {
            Ok(()) => w.written,
            Err(e) => return Err(discard(&temp_path, file, e)),
        }
    };
    if let Err(e) = file.sync_all() {
        return Err(discard(&temp_path, file, write_err("fsync", &e)));
    }
    if let Err(e) = close_checked(file) {
        let _ = fs::remove_file(&temp_path);
        return Err(write_err("close", &e));
    }
    if let Err(e) = fs::rename(&temp_path, &final_path) {
        let _ = fs::remove_file(&temp_path);
        return Err(annotate(
            &e,
            format!(
                "Error moving temp file {temp_name} on the final destination {final_name} (in directory {dir_shown}): {}",
                error_text(&e)
            ),
        ));
    }
    // The new file is in place now; a failed directory fsync means the rename might not
    // survive a power loss, which the caller must still hear about.
    fsync_dir(dir).map_err(|e| {
        annotate(
            &e,
            format!(
                "Failed to fsync directory {dir_shown} after saving {final_name}: {}",
                error_text(&e)
            ),
        )
    })?;
    Ok(written)
}

/// Closes the file and removes the temp file; returns `err`.
fn discard(temp_path: &Path, file: File, err: io::Error) -> io::Error {
    drop(file);
    let _ = fs::remove_file(temp_path);
    err
}

/// A new error with `source`'s kind and the given message.
fn annotate(source: &io::Error, message: String) -> io::Error {
    io::Error::new(source.kind(), message)
}

/// `close(2)` with its error checked (std's `File` drop ignores it; NFS reports write errors
/// there).
fn close_checked(file: File) -> io::Result<()> {
    let fd = file.into_raw_fd();
    // SAFETY: `fd` came from into_raw_fd, so we own it and close it exactly once.
    let rc = unsafe { libc::close(fd) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // On Linux the fd is released even on EINTR; the data was already fsynced.
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// `fsync` on the directory, so a rename in it is durable (Valkey's `fsyncFileDir`).
/// Filesystems that cannot fsync a directory (`EINVAL`, `ENOTSUP`) count as success.
fn fsync_dir(dir: &Path) -> io::Result<()> {
    let d = File::open(dir)?;
    match d.sync_all() {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL) | Some(libc::ENOTSUP) | Some(libc::EBADF)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A buffered writer over a preallocated `Vec` that never reallocates: writes that do not fit
/// flush the buffer first, and writes as large as the buffer go straight to the file.
struct PreallocatedWriter<'a> {
    file: SyncingFile<'a>,
    buf: Vec<u8>,
    written: u64,
}

impl PreallocatedWriter<'_> {
    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Write for PreallocatedWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let cap = self.buf.capacity();
        if self.buf.len() + data.len() > cap {
            self.flush_buf()?;
        }
        if data.len() >= cap {
            self.file.write_all(data)?;
        } else {
            self.buf.extend_from_slice(data);
        }
        self.written += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::PathBuf;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "forkv-snapshot-atomic-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_and_replaces() {
        let d = temp_dir("ok");
        fs::write(d.join("dump.rdb"), b"old").unwrap();
        let n = write_file_atomically(&d, "dump.rdb", "temp-1.rdb", 8, |w| {
            w.write_all(b"hello ")?;
            w.write_all(b"world, this is longer than the buffer")?;
            w.write_all(b"!")
        })
        .unwrap();
        let body = fs::read(d.join("dump.rdb")).unwrap();
        assert_eq!(body, b"hello world, this is longer than the buffer!");
        assert_eq!(n, body.len() as u64);
        assert!(!d.join("temp-1.rdb").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn error_keeps_old_file_and_removes_temp() {
        let d = temp_dir("err");
        fs::write(d.join("dump.rdb"), b"old").unwrap();
        let err = write_file_atomically(&d, "dump.rdb", "temp-2.rdb", 64, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ))
        })
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().contains("temp-2.rdb"), "{err}");
        assert_eq!(fs::read(d.join("dump.rdb")).unwrap(), b"old");
        assert!(!d.join("temp-2.rdb").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    /// A real ENOSPC: the temp name is a symlink to /dev/full.
    #[cfg(target_os = "linux")]
    #[test]
    fn disk_full_is_reported_and_cleaned_up() {
        let d = temp_dir("full");
        fs::write(d.join("dump.rdb"), b"old").unwrap();
        std::os::unix::fs::symlink("/dev/full", d.join("temp-4.rdb")).unwrap();
        let err = write_file_atomically(&d, "dump.rdb", "temp-4.rdb", 16, |w| {
            w.write_all(&[7u8; 1000])
        })
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            err.to_string(),
            "Write error while saving temp-4.rdb to the disk (write): No space left on device"
        );
        assert_eq!(fs::read(d.join("dump.rdb")).unwrap(), b"old");
        assert!(fs::symlink_metadata(d.join("temp-4.rdb")).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_is_a_clean_error() {
        let d = std::env::temp_dir().join("forkv-snapshot-no-such-dir/deeper");
        let err = write_file_atomically(&d, "dump.rdb", "temp-3.rdb", 64, |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let msg = err.to_string();
        assert!(
            msg.starts_with("Failed opening the temp file temp-3.rdb"),
            "{msg}"
        );
        assert!(
            msg.ends_with("for saving: No such file or directory"),
            "{msg}"
        );
    }

    #[test]
    fn zero_capacity_buffer_writes_through() {
        let d = temp_dir("zero");
        let n = write_file_atomically_with_buffer(&d, "a", "a.tmp", Vec::new(), |w| {
            w.write_all(b"abc")?;
            w.write_all(b"")?;
            w.write_all(b"de")
        })
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(fs::read(d.join("a")).unwrap(), b"abcde");
        fs::remove_dir_all(&d).unwrap();
    }
}
