//! The AOF directory on disk: manifest persistence, opening incr files, the rewrite switch,
//! history deletion, the legacy single-file upgrade, sizes.
//!
//! Paths follow Valkey, where the server has `chdir`ed into `dir`: `work_dir` is the
//! server's `dir`, the AOF directory is `work_dir/appenddirname`, a legacy AOF is
//! `work_dir/appendfilename`, and the rewrite child's temp file lives in `work_dir`.
//! Every function returns errors as values; nothing here exits or panics.

use forkv_snapshot::autosync::SyncingFile;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::manifest::{self, Manifest, ManifestError};

/// The AOF directory: `work_dir/appenddirname`.
pub fn aof_dir(work_dir: &Path, appenddirname: &str) -> PathBuf {
    work_dir.join(appenddirname)
}

/// Why the manifest could not be read.
#[derive(Debug)]
pub enum ManifestLoadError {
    /// `Fatal error: can't open the AOF manifest file <path> for reading: <err>` (or a read
    /// error).
    Io(PathBuf, io::Error),
    /// The text is not a valid manifest.
    Parse(PathBuf, ManifestError),
}

impl std::fmt::Display for ManifestLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestLoadError::Io(p, e) => write!(
                f,
                "Fatal error: can't open the AOF manifest file {} for reading: {e}",
                p.display()
            ),
            ManifestLoadError::Parse(p, e) => {
                write!(f, "FATAL AOF MANIFEST FILE ERROR in {}: {e}", p.display())
            }
        }
    }
}

impl std::error::Error for ManifestLoadError {}

/// Reads `<dir>/<prefix>.manifest`. `Ok(None)` when the directory or the manifest does not
/// exist (fresh start or legacy layout), as `aofLoadManifestFromDisk`.
pub fn load_manifest(dir: &Path, prefix: &str) -> Result<Option<Manifest>, ManifestLoadError> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let path = dir.join(manifest::manifest_name(prefix));
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ManifestLoadError::Io(path, e)),
    };
    Manifest::parse_bytes(&data)
        .map(Some)
        .map_err(|e| ManifestLoadError::Parse(path, e))
}

/// The steps of [`persist_manifest`], for crash-injection tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistStep {
    /// The temp manifest is written (not yet fsynced).
    Written,
    /// The temp manifest is fsynced.
    Synced,
    /// The temp manifest has been renamed over the manifest.
    Renamed,
}

/// Writes the manifest atomically (Valkey `writeAofManifestFile`): write
/// `temp-<prefix>.manifest`, fsync it, rename it over `<prefix>.manifest`, fsync the
/// directory. A crash at any point leaves either the old or the new manifest, both complete.
pub fn persist_manifest(dir: &Path, prefix: &str, m: &Manifest) -> io::Result<()> {
    persist_manifest_with(dir, prefix, m, &mut |_| Ok(()))
}

/// [`persist_manifest`] with a hook called after each step; an error from the hook stops
/// the sequence there (tests use it to simulate a crash).
pub fn persist_manifest_with(
    dir: &Path,
    prefix: &str,
    m: &Manifest,
    hook: &mut dyn FnMut(PersistStep) -> io::Result<()>,
) -> io::Result<()> {
    let path = dir.join(manifest::manifest_name(prefix));
    let tmp = dir.join(manifest::temp_manifest_name(prefix));
    let text = m.to_string();
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        hook(PersistStep::Written)?;
        f.sync_all()?;
        hook(PersistStep::Synced)?;
    }
    fs::rename(&tmp, &path)?;
    hook(PersistStep::Renamed)?;
    fsync_dir(dir)
}

/// fsyncs a directory so that renames and creations in it are durable (`fsyncFileDir`).
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates the directory if missing (`dirCreateIfMissing`, mode 0755).
pub fn create_dir_if_missing(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens an existing (or creates a missing) incr file for appending: `O_WRONLY|O_APPEND|
/// O_CREAT`, 0644, as on server start. Returns the file and its current size.
pub fn open_incr_for_append(dir: &Path, name: &str) -> io::Result<(File, u64)> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(dir.join(name))?;
    let size = f.metadata()?.len();
    Ok((f, size))
}

/// Creates a new, empty incr file (`O_WRONLY|O_TRUNC|O_CREAT`), as a rewrite does.
pub fn create_incr(dir: &Path, name: &str) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(dir.join(name))
}

/// Size of one file of the AOF directory.
pub fn file_size(dir: &Path, name: &str) -> io::Result<u64> {
    Ok(fs::metadata(dir.join(name))?.len())
}

/// Total size of the base and incr files (history excluded): Valkey's `aof_current_size`
/// at load time. A listed file that is missing is an error (`NotFound`).
pub fn total_size(dir: &Path, m: &Manifest) -> io::Result<u64> {
    let mut total = 0u64;
    for ai in m.files_to_load() {
        total += file_size(dir, &ai.name)?;
    }
    Ok(total)
}

/// Server start with AOF on (`aofOpenIfNeededOnServerStart`): creates the directory, writes
/// a base file when there is nothing at all (via `write_base`, through a temp file, fsync and
/// rename), opens the last incr file for appending (creating one if needed) and persists the
/// manifest. Returns the open incr file and its size. `m` is updated in place.
pub fn open_on_server_start(
    work_dir: &Path,
    appenddirname: &str,
    prefix: &str,
    m: &mut Manifest,
    rdb_preamble: bool,
    write_base: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<(File, u64)> {
    let dir = aof_dir(work_dir, appenddirname);
    create_dir_if_missing(&dir)?;
    let mut next = m.clone();
    if next.is_empty() {
        let base = next.next_base(prefix, rdb_preamble);
        let tmp = work_dir.join(manifest::temp_rewrite_name(std::process::id()));
        write_file_synced(&tmp, write_base)?;
        if let Err(e) = fs::rename(&tmp, dir.join(&base)) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    }
    let name = next.last_incr_or_new(prefix);
    let (f, size) = open_incr_for_append(&dir, &name)?;
    if next != *m {
        persist_manifest(&dir, prefix, &next)?;
    }
    *m = next;
    Ok((f, size))
}

/// Writes a file through a buffered writer, then flushes and fsyncs it (what the rewrite
/// child does with its temp file before exiting). On error the partial file is removed.
pub fn write_file_synced(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    write_file_synced_incrementally(path, false, write)
}

/// [`write_file_synced`]; with `incremental_fsync` (`aof-rewrite-incremental-fsync`) the
/// file is also synced every 4 MiB on the way (forkv_snapshot::autosync).
pub fn write_file_synced_incrementally(
    path: &Path,
    incremental_fsync: bool,
    write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let res = (|| {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)?;
        let mut w = io::BufWriter::with_capacity(64 * 1024, SyncingFile::new(&f, incremental_fsync));
        write(&mut w)?;
        w.flush()?;
        drop(w);
        f.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(path);
    }
    res
}

/// Before forking a rewrite child with AOF on (`openNewIncrAofForAppend`): names the next
/// incr file, creates it empty, persists the new manifest. On success returns the new
/// manifest (adopt it) and the new file (switch the writer to it); on failure nothing in
/// memory changed and the caller keeps appending to the old file.
pub fn start_rewrite(dir: &Path, prefix: &str, m: &Manifest) -> io::Result<(Manifest, File)> {
    let (next, name) = m.start_rewrite(prefix);
    let f = create_incr(dir, &name)?;
    persist_manifest(dir, prefix, &next)?;
    Ok((next, f))
}

/// Opens the temp incr file used while AOF is being switched on (`AOF_WAIT_REWRITE`).
pub fn create_temp_incr(dir: &Path, prefix: &str) -> io::Result<File> {
    create_incr(dir, &manifest::temp_incr_name(prefix))
}

/// Result of [`finish_rewrite`].
#[derive(Debug)]
pub struct FinishedRewrite {
    /// The persisted manifest to adopt; its history list is what [`delete_history`] removes.
    pub manifest: Manifest,
    /// The new base file's name.
    pub new_base: String,
    /// The new base file's size (for `aof_current_size` / `aof_base_size`).
    pub base_size: u64,
}

/// After the rewrite child exited successfully (`backgroundRewriteDoneHandler`): renames the
/// child's `work_dir/temp-rewriteaof-bg-<pid>.aof` to the new base name, renames the temp
/// incr when AOF was being switched on, marks the covered files history and persists the
/// manifest. If the manifest cannot be persisted the new files are unlinked and the old
/// manifest stays valid: a crash anywhere in here loads the old base + incrs, which still
/// hold every write.
#[allow(clippy::too_many_arguments)]
pub fn finish_rewrite(
    work_dir: &Path,
    dir: &Path,
    prefix: &str,
    m: &Manifest,
    child_pid: u32,
    rdb_preamble: bool,
    aof_on: bool,
    from_temp_incr: bool,
) -> io::Result<FinishedRewrite> {
    let sw = m.finish_rewrite(prefix, rdb_preamble, aof_on, from_temp_incr);
    let tmp = work_dir.join(manifest::temp_rewrite_bg_name(child_pid));
    let base_path = dir.join(&sw.new_base);
    fs::rename(&tmp, &base_path)?;
    let mut new_incr_path = None;
    if let Some(incr) = &sw.new_incr_from_temp {
        let p = dir.join(incr);
        if let Err(e) = fs::rename(dir.join(manifest::temp_incr_name(prefix)), &p) {
            let _ = fs::remove_file(&base_path);
            return Err(e);
        }
        new_incr_path = Some(p);
    }
    if let Err(e) = persist_manifest(dir, prefix, &sw.manifest) {
        let _ = fs::remove_file(&base_path);
        if let Some(p) = new_incr_path {
            let _ = fs::remove_file(p);
        }
        return Err(e);
    }
    let base_size = fs::metadata(&base_path).map(|md| md.len()).unwrap_or(0);
    Ok(FinishedRewrite {
        manifest: sw.manifest,
        new_base: sw.new_base,
        base_size,
    })
}

/// Removes leftovers of a rewrite child (`aofRemoveTempFile`): both temp base names in
/// `work_dir`. Missing files are fine.
pub fn remove_rewrite_temp_files(work_dir: &Path, child_pid: u32) {
    let _ = fs::remove_file(work_dir.join(manifest::temp_rewrite_bg_name(child_pid)));
    let _ = fs::remove_file(work_dir.join(manifest::temp_rewrite_name(child_pid)));
}

/// Unlinks files of the AOF directory; returns the names that failed (missing ones count as
/// removed). Safe to run on another thread: unlinking a large file can take a while.
pub fn unlink_files(dir: &Path, names: &[String]) -> Vec<(String, io::Error)> {
    let mut failed = Vec::new();
    for n in names {
        match fs::remove_file(dir.join(n)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => failed.push((n.clone(), e)),
        }
    }
    failed
}

/// Deletes the history files and persists the manifest without them (`aofDelHistoryFiles`).
/// Files are unlinked first: a crash before the manifest is rewritten leaves history lines
/// naming missing files, which is harmless since history is never loaded. As in Valkey a
/// file that cannot be unlinked is only reported (returned), not kept in the manifest;
/// `Err` means the manifest could not be persisted.
pub fn delete_history(
    dir: &Path,
    prefix: &str,
    m: &mut Manifest,
) -> io::Result<Vec<(String, io::Error)>> {
    if m.history.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = m.take_history().into_iter().map(|a| a.name).collect();
    let failed = unlink_files(dir, &names);
    persist_manifest(dir, prefix, m)?;
    Ok(failed)
}

/// Upgrades a pre-7.0 single-file AOF (`work_dir/appendfilename`) into the multi-part layout
/// when Valkey would (`loadAppendOnlyFiles` + `aofUpgradePrepare`): the legacy file exists
/// and either the directory is missing, or the manifest lists nothing, or it lists only a
/// base named `appendfilename` that is not in the directory yet (an interrupted upgrade).
///
/// Steps: create the directory, persist a manifest with the legacy file as base seq 1, move
/// the file in. A crash between steps is retried on the next start (the conditions above
/// still hold). Returns whether an upgrade happened; `m` is updated.
pub fn upgrade_legacy(
    work_dir: &Path,
    appenddirname: &str,
    appendfilename: &str,
    m: &mut Manifest,
) -> io::Result<bool> {
    let legacy = work_dir.join(appendfilename);
    if !legacy.is_file() {
        return Ok(false);
    }
    let dir = aof_dir(work_dir, appenddirname);
    let needed = !dir.is_dir()
        || m.is_empty()
        || (m.incrs.is_empty()
            && m.base.as_ref().is_some_and(|b| b.name == appendfilename)
            && !dir.join(appendfilename).is_file());
    if !needed {
        return Ok(false);
    }
    create_dir_if_missing(&dir)?;
    let mut next = m.clone();
    next.set_legacy_base(appendfilename);
    persist_manifest(&dir, appendfilename, &next)?;
    fs::rename(&legacy, dir.join(appendfilename))?;
    fsync_dir(&dir)?;
    *m = next;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdir::TestDir;

    const P: &str = "appendonly.aof";

    #[test]
    fn persist_and_load() {
        let t = TestDir::new("persist");
        let dir = t.path().join("appendonlydir");
        assert!(load_manifest(&dir, P).unwrap().is_none());
        create_dir_if_missing(&dir).unwrap();
        create_dir_if_missing(&dir).unwrap();
        assert!(load_manifest(&dir, P).unwrap().is_none());
        let mut m = Manifest::default();
        m.next_base(P, true);
        m.next_incr(P);
        persist_manifest(&dir, P, &m).unwrap();
        assert_eq!(load_manifest(&dir, P).unwrap().unwrap(), m);
        assert!(!dir.join("temp-appendonly.aof.manifest").exists());
        fs::write(dir.join("appendonly.aof.manifest"), "garbage\n").unwrap();
        match load_manifest(&dir, P) {
            Err(ManifestLoadError::Parse(_, e)) => assert_eq!(e.message, manifest::ERR_FORMAT),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crash_during_persist_keeps_old_or_new_manifest() {
        for stop in [
            PersistStep::Written,
            PersistStep::Synced,
            PersistStep::Renamed,
        ] {
            let t = TestDir::new("crash");
            let dir = t.path().to_path_buf();
            let mut old = Manifest::default();
            old.next_base(P, false);
            old.next_incr(P);
            persist_manifest(&dir, P, &old).unwrap();
            let (new, _) = old.start_rewrite(P);
            let r = persist_manifest_with(&dir, P, &new, &mut |s| {
                if s == stop {
                    Err(io::Error::other("crash"))
                } else {
                    Ok(())
                }
            });
            assert!(r.is_err());
            let loaded = load_manifest(&dir, P).unwrap().unwrap();
            if stop == PersistStep::Renamed {
                assert_eq!(loaded, new);
            } else {
                assert_eq!(loaded, old);
            }
            // The next persist succeeds over the leftover temp file.
            persist_manifest(&dir, P, &new).unwrap();
            assert_eq!(load_manifest(&dir, P).unwrap().unwrap(), new);
        }
    }

    #[test]
    fn server_start_rewrite_cycle_and_history() {
        let t = TestDir::new("cycle");
        let work = t.path();
        let dir = aof_dir(work, "appendonlydir");
        let mut m = Manifest::default();
        let (mut f, size) =
            open_on_server_start(work, "appendonlydir", P, &mut m, false, &mut |w| {
                w.write_all(b"*1\r\n$4\r\nPING\r\n")
            })
            .unwrap();
        assert_eq!(size, 0);
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.aof");
        assert_eq!(file_size(&dir, "appendonly.aof.1.base.aof").unwrap(), 14);
        f.write_all(b"abc").unwrap();
        assert_eq!(total_size(&dir, &m).unwrap(), 17);
        // Reopen: appends to the same incr.
        let (_f, size) =
            open_on_server_start(work, "appendonlydir", P, &mut m, false, &mut |_| Ok(())).unwrap();
        assert_eq!(size, 3);
        assert_eq!(load_manifest(&dir, P).unwrap().unwrap(), m);

        let (m2, mut f2) = start_rewrite(&dir, P, &m).unwrap();
        assert_eq!(load_manifest(&dir, P).unwrap().unwrap(), m2);
        f2.write_all(b"during").unwrap();
        // Child output.
        fs::write(work.join(manifest::temp_rewrite_bg_name(777)), b"BASE2").unwrap();
        let fin = finish_rewrite(work, &dir, P, &m2, 777, true, true, false).unwrap();
        assert_eq!(fin.new_base, "appendonly.aof.2.base.rdb");
        assert_eq!(fin.base_size, 5);
        let mut m3 = fin.manifest;
        assert_eq!(load_manifest(&dir, P).unwrap().unwrap(), m3);
        assert!(delete_history(&dir, P, &mut m3).unwrap().is_empty());
        assert!(m3.history.is_empty());
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.2.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        assert_eq!(total_size(&dir, &m3).unwrap(), 11);
        remove_rewrite_temp_files(work, 777);
    }

    #[test]
    fn finish_rewrite_without_child_output_changes_nothing() {
        let t = TestDir::new("nochild");
        let dir = t.path().to_path_buf();
        let mut m = Manifest::default();
        m.next_incr(P);
        persist_manifest(&dir, P, &m).unwrap();
        assert!(finish_rewrite(&dir, &dir, P, &m, 1, true, true, false).is_err());
        assert_eq!(load_manifest(&dir, P).unwrap().unwrap(), m);
    }

    #[test]
    fn legacy_upgrade() {
        let t = TestDir::new("legacy");
        let work = t.path();
        fs::write(work.join(P), b"*1\r\n$4\r\nPING\r\n").unwrap();
        let mut m = Manifest::default();
        assert!(upgrade_legacy(work, "appendonlydir", P, &mut m).unwrap());
        assert!(!work.join(P).exists());
        let dir = work.join("appendonlydir");
        assert!(dir.join(P).is_file());
        assert_eq!(
            fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap(),
            "file appendonly.aof seq 1 type b\n"
        );
        assert!(!upgrade_legacy(work, "appendonlydir", P, &mut m).unwrap());

        // Interrupted upgrade: manifest written, file not moved yet -> redone.
        let t = TestDir::new("legacy2");
        let work = t.path();
        let dir = work.join("appendonlydir");
        fs::create_dir(&dir).unwrap();
        let mut m = Manifest::default();
        m.set_legacy_base(P);
        persist_manifest(&dir, P, &m).unwrap();
        fs::write(work.join(P), b"x").unwrap();
        let mut loaded = load_manifest(&dir, P).unwrap().unwrap();
        assert!(upgrade_legacy(work, "appendonlydir", P, &mut loaded).unwrap());
        assert!(dir.join(P).is_file());

        // A real multi-part dir is never touched by a stray legacy file.
        let t = TestDir::new("legacy3");
        let work = t.path();
        let dir = work.join("appendonlydir");
        fs::create_dir(&dir).unwrap();
        let mut m = Manifest::default();
        m.next_incr(P);
        persist_manifest(&dir, P, &m).unwrap();
        fs::write(work.join(P), b"x").unwrap();
        assert!(!upgrade_legacy(work, "appendonlydir", P, &mut m).unwrap());
        assert!(work.join(P).exists());
    }
}
