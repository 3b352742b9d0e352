//! Loading a whole AOF directory, as Valkey's `loadAppendOnlyFiles`.
//!
//! [`load_aof_dir`] reads the manifest (after an optional legacy upgrade), then the base
//! (an RDB preamble is handed to the caller's RDB reader through [`AofLoadCallbacks`]), then
//! the incr files in sequence order, parsing commands with [`AofCommandReader`]. Commands
//! between `MULTI` and `EXEC` are delivered only once `EXEC` is read; a `MULTI` block cut by
//! the end of the last file is dropped and reported as truncated at the `MULTI` (Valkey does
//! the same at clean EOF; on a mid-command cut it keeps the offset after the last queued
//! command, which leaves a dangling `MULTI` in the file; we cut before it, as
//! `valkey-check-aof --fix`). A truncated tail is accepted only in the last file and only
//! with `aof-load-truncated`; unlike Valkey, a non-last file is never cut before failing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::dir::{self, ManifestLoadError};
use crate::manifest::Manifest;
use crate::reader::{AofCommandReader, ReadOutcome};

/// What the loader hands to the server while loading.
pub trait AofLoadCallbacks {
    /// Loads an RDB preamble (a base file starting with `REDIS`) and returns its length in
    /// bytes (up to and including the checksum). `file` is positioned at offset 0; the
    /// reader may read ahead (RDB readers buffer): an old-style single-file AOF continues
    /// with commands after the RDB, and the loader resumes at the returned length.
    /// `&mut dyn BufRead` is also a `Read`.
    fn load_rdb_base(&mut self, file: &mut dyn BufRead, path: &Path) -> Result<u64, String>;

    /// Applies one command. MULTI/EXEC are not passed: a transaction's commands are passed
    /// one by one once its EXEC is read. An `Err` aborts loading (Valkey: unknown command).
    fn apply_command(&mut self, argv: Vec<Vec<u8>>) -> Result<(), String>;

    /// False for a command name the server does not have: loading stops with Valkey's
    /// `Unknown command '<name>' reading the append only file <file>`.
    fn knows_command(&self, _name: &[u8]) -> bool {
        true
    }

    /// Called every 1024 commands with the bytes loaded so far in the current file (Valkey
    /// serves events while loading then).
    fn progress(&mut self, _file_offset: u64) {}
}

/// Options for [`load_aof_dir`].
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// `aof-load-truncated`: accept (and cut) a truncated tail in the last file.
    pub aof_load_truncated: bool,
    /// Move a legacy `appendfilename` into the directory first (Valkey does when AOF is on).
    pub upgrade_legacy: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            aof_load_truncated: true,
            upgrade_legacy: true,
        }
    }
}

/// Why loading failed; messages follow Valkey's log lines.
#[derive(Debug)]
pub enum LoadError {
    /// The manifest could not be read or parsed.
    Manifest(ManifestLoadError),
    /// A file listed in the manifest is missing.
    MissingFile {
        /// File name.
        name: String,
    },
    /// A file could not be opened or stat'ed.
    Open {
        /// File name.
        name: String,
        /// The error.
        source: io::Error,
    },
    /// A read error other than end of file.
    Read {
        /// File name.
        name: String,
        /// The error.
        source: io::Error,
    },
    /// A command the server does not have.
    UnknownCommand {
        /// File name.
        name: String,
        /// The command name (lossily decoded).
        command: String,
    },
    /// The RDB preamble failed to load.
    Rdb {
        /// File name.
        name: String,
        /// The RDB reader's message.
        message: String,
    },
    /// Bytes that are not a command.
    Corrupt {
        /// File name.
        name: String,
        /// Offset of the bad token.
        offset: u64,
        /// Detail.
        reason: String,
    },
    /// A truncated file while `aof-load-truncated` is off.
    UnexpectedEof {
        /// File name.
        name: String,
        /// End of the last complete command.
        valid_up_to: u64,
    },
    /// A truncated file that is not the last one (never accepted).
    TruncatedNotLast {
        /// File name.
        name: String,
        /// End of the last complete command.
        valid_up_to: u64,
    },
    /// Cutting the truncated tail failed.
    Truncate {
        /// File name.
        name: String,
        /// The error.
        source: io::Error,
    },
    /// The callback refused a command.
    Apply {
        /// File name.
        name: String,
        /// Offset just after the refused command.
        offset: u64,
        /// The callback's message.
        message: String,
    },
    /// The legacy upgrade failed.
    Upgrade(io::Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Manifest(e) => write!(f, "{e}"),
            LoadError::MissingFile { name } => {
                write!(
                    f,
                    "The append log file {name} doesn't exist: No such file or directory"
                )
            }
            LoadError::Open { name, source } => write!(
                f,
                "Fatal error: can't open the append log file {name} for reading: {source}"
            ),
            LoadError::Read { name, source } => {
                write!(
                    f,
                    "Unrecoverable error reading the append only file {name}: {source}"
                )
            }
            LoadError::Rdb { name, message } => write!(
                f,
                "Error reading the RDB base file {name}, AOF loading aborted: {message}"
            ),
            LoadError::Corrupt {
                name,
                offset,
                reason,
            } => write!(
                f,
                "Bad file format reading the append only file {name} at offset {offset} \
                 ({reason}): make a backup of your AOF file, then use ./valkey-check-aof \
                 --fix <filename.manifest>"
            ),
            LoadError::UnexpectedEof { name, valid_up_to } => write!(
                f,
                "Unexpected end of file reading the append only file {name} (last complete \
                 command ends at offset {valid_up_to}). You can: 1) Make a backup of your AOF \
                 file, then use ./valkey-check-aof --fix <filename.manifest>. 2) Alternatively \
                 you can set the 'aof-load-truncated' configuration option to yes and restart \
                 the server."
            ),
            LoadError::TruncatedNotLast { name, valid_up_to } => write!(
                f,
                "Fatal error: the truncated file is not the last file ({name}, last complete \
                 command ends at offset {valid_up_to})"
            ),
            LoadError::Truncate { name, source } => {
                write!(f, "Error truncating the AOF file {name}: {source}")
            }
            LoadError::UnknownCommand { name, command } => write!(
                f,
                "Unknown command '{command}' reading the append only file {name}"
            ),
            LoadError::Apply {
                name,
                offset,
                message,
            } => write!(
                f,
                "Error applying a command reading the append only file {name} (ends at offset \
                 {offset}): {message}"
            ),
            LoadError::Upgrade(e) => {
                write!(
                    f,
                    "Error migrating an old-style AOF file into the AOF directory: {e}"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// How one file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Loaded completely.
    Ok,
    /// Zero bytes.
    Empty,
    /// A truncated tail was cut off (last file, `aof-load-truncated yes`).
    Truncated,
}

/// Result of [`load_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// How the file ended.
    pub status: FileStatus,
    /// Commands applied (MULTI/EXEC not counted).
    pub commands: u64,
    /// Whether the file began with an RDB preamble.
    pub rdb_preamble: bool,
    /// Size before loading.
    pub size: u64,
    /// Bytes cut from the tail.
    pub truncated_bytes: u64,
    /// Where the file was cut (its new length), when it was.
    pub truncated_at: Option<u64>,
}

/// Loads one AOF file (base or incr). `is_last` and `aof_load_truncated` decide what a
/// truncated tail means: cut and accepted only when both hold.
pub fn load_file(
    path: &Path,
    name: &str,
    is_last: bool,
    aof_load_truncated: bool,
    cb: &mut dyn AofLoadCallbacks,
) -> Result<FileReport, LoadError> {
    let open_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            LoadError::MissingFile {
                name: name.to_string(),
            }
        } else {
            LoadError::Open {
                name: name.to_string(),
                source,
            }
        }
    };
    let read_err = |source: io::Error| LoadError::Read {
        name: name.to_string(),
        source,
    };
    let mut file = File::open(path).map_err(open_err)?;
    let size = file.metadata().map_err(open_err)?.len();
    let mut report = FileReport {
        status: FileStatus::Ok,
        commands: 0,
        rdb_preamble: false,
        size,
        truncated_bytes: 0,
        truncated_at: None,
    };
    if size == 0 {
        report.status = FileStatus::Empty;
        return Ok(report);
    }
    let mut sig = [0u8; 5];
    let mut got = 0;
    while got < sig.len() {
        match file.read(&mut sig[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut buffered = BufReader::with_capacity(64 * 1024, file);
    let mut start = 0u64;
    if got == 5 && &sig == b"REDIS" {
        report.rdb_preamble = true;
        start = cb
            .load_rdb_base(&mut buffered, path)
            .map_err(|message| LoadError::Rdb {
                name: name.to_string(),
                message,
            })?;
        // The RDB reader buffers: commands start right after the RDB, wherever it stopped.
        buffered.seek(SeekFrom::Start(start)).map_err(read_err)?;
    }
    let mut reader = AofCommandReader::with_offset(buffered, start);
    let mut multi: Option<Vec<Vec<Vec<u8>>>> = None;
    let mut valid_before_multi = start;
    let cut_at = loop {
        let before = reader.valid_up_to();
        match reader.next_command().map_err(read_err)? {
            ReadOutcome::Command(argv) => {
                let cmd = argv.first().map(Vec::as_slice).unwrap_or_default();
                if cmd.eq_ignore_ascii_case(b"multi") {
                    // A nested MULTI is ignored, as in Valkey (it fails inside EXEC).
                    if multi.is_none() {
                        valid_before_multi = before;
                        multi = Some(Vec::new());
                    }
                } else if cmd.eq_ignore_ascii_case(b"exec") {
                    // EXEC without MULTI is ignored, as in Valkey (the AOF client gets no reply).
                    for c in multi.take().unwrap_or_default() {
                        apply(cb, c, name, reader.valid_up_to(), &mut report)?;
                    }
                } else if let Some(q) = multi.as_mut() {
                    q.push(argv);
                } else {
                    apply(cb, argv, name, reader.valid_up_to(), &mut report)?;
                }
            }
            ReadOutcome::Eof => {
                if multi.is_some() {
                    break valid_before_multi;
                }
                return Ok(report);
            }
            ReadOutcome::Truncated { valid_up_to } => {
                break if multi.is_some() {
                    valid_before_multi
                } else {
                    valid_up_to
                };
            }
            ReadOutcome::Corrupt { offset, reason } => {
                return Err(LoadError::Corrupt {
                    name: name.to_string(),
                    offset,
                    reason,
                });
            }
        }
    };
    drop(reader);
    if !aof_load_truncated {
        return Err(LoadError::UnexpectedEof {
            name: name.to_string(),
            valid_up_to: cut_at,
        });
    }
    if !is_last {
        return Err(LoadError::TruncatedNotLast {
            name: name.to_string(),
            valid_up_to: cut_at,
        });
    }
    let trunc_err = |source: io::Error| LoadError::Truncate {
        name: name.to_string(),
        source,
    };
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(trunc_err)?;
    f.set_len(cut_at).map_err(trunc_err)?;
    report.status = FileStatus::Truncated;
    report.truncated_bytes = size.saturating_sub(cut_at);
    report.truncated_at = Some(cut_at);
    Ok(report)
}

fn apply(
    cb: &mut dyn AofLoadCallbacks,
    argv: Vec<Vec<u8>>,
    name: &str,
    offset: u64,
    report: &mut FileReport,
) -> Result<(), LoadError> {
    if let Some(cmd) = argv.first() {
        if !cb.knows_command(cmd) {
            return Err(LoadError::UnknownCommand {
                name: name.to_string(),
                command: String::from_utf8_lossy(cmd).into_owned(),
            });
        }
    }
    cb.apply_command(argv).map_err(|message| LoadError::Apply {
        name: name.to_string(),
        offset,
        message,
    })?;
    report.commands += 1;
    if report.commands.is_multiple_of(1024) {
        cb.progress(offset);
    }
    Ok(())
}

/// Overall result of [`load_aof_dir`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStatus {
    /// No manifest / nothing listed (Valkey `AOF_NOT_EXIST`).
    NotExist,
    /// All listed files are empty (`AOF_EMPTY`).
    Empty,
    /// Loaded.
    Ok,
    /// Loaded, and the last file's truncated tail was cut (`AOF_TRUNCATED`).
    Truncated,
}

/// Result of [`load_aof_dir`].
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Overall status.
    pub status: LoadStatus,
    /// The manifest as loaded (after a legacy upgrade, if any): open its last incr next.
    pub manifest: Manifest,
    /// Whether a legacy single-file AOF was moved into the directory.
    pub upgraded_legacy: bool,
    /// Files read (base + incrs, empty ones included).
    pub files_loaded: usize,
    /// Commands applied.
    pub commands: u64,
    /// Bytes cut from the last file.
    pub truncated_bytes: u64,
    /// The file that was cut and its new length (Valkey logs `Truncating the AOF <name> at
    /// offset <n>`).
    pub truncated_at: Option<(String, u64)>,
    /// Size of base + incrs after loading: Valkey's `aof_current_size`.
    pub current_size: u64,
    /// Size of the base file: Valkey initialises `aof_rewrite_base_size` (INFO
    /// `aof_base_size`) to it on start.
    pub base_size: u64,
}

/// Loads `work_dir/appenddirname` as Valkey's `loadAppendOnlyFiles`: manifest, optional
/// legacy upgrade, base then incrs in order, truncation allowed only in the last file.
pub fn load_aof_dir(
    work_dir: &Path,
    appenddirname: &str,
    appendfilename: &str,
    opts: LoadOptions,
    cb: &mut dyn AofLoadCallbacks,
) -> Result<LoadReport, LoadError> {
    let dir: PathBuf = dir::aof_dir(work_dir, appenddirname);
    let mut manifest = dir::load_manifest(&dir, appendfilename)
        .map_err(LoadError::Manifest)?
        .unwrap_or_default();
    let mut report = LoadReport {
        status: LoadStatus::NotExist,
        manifest: Manifest::default(),
        upgraded_legacy: false,
        files_loaded: 0,
        commands: 0,
        truncated_bytes: 0,
        truncated_at: None,
        current_size: 0,
        base_size: 0,
    };
    if opts.upgrade_legacy {
        report.upgraded_legacy =
            dir::upgrade_legacy(work_dir, appenddirname, appendfilename, &mut manifest)
                .map_err(LoadError::Upgrade)?;
    }
    if manifest.is_empty() {
        report.manifest = manifest;
        return Ok(report);
    }
    let mut total = 0u64;
    for ai in manifest.files_to_load() {
        match dir::file_size(&dir, &ai.name) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LoadError::MissingFile {
                    name: ai.name.clone(),
                })
            }
            Err(source) => {
                return Err(LoadError::Open {
                    name: ai.name.clone(),
                    source,
                })
            }
        }
    }
    if total == 0 {
        report.status = LoadStatus::Empty;
        report.manifest = manifest;
        return Ok(report);
    }
    let count = manifest.load_count();
    report.status = LoadStatus::Ok;
    for (i, ai) in manifest.files_to_load().enumerate() {
        let is_last = i + 1 == count;
        let fr = load_file(
            &dir.join(&ai.name),
            &ai.name,
            is_last,
            opts.aof_load_truncated,
            cb,
        )?;
        report.files_loaded += 1;
        report.commands += fr.commands;
        report.truncated_bytes += fr.truncated_bytes;
        if i == 0 && manifest.base.is_some() {
            report.base_size = fr.size.saturating_sub(fr.truncated_bytes);
        }
        if fr.status == FileStatus::Truncated {
            report.status = LoadStatus::Truncated;
            report.truncated_at = fr.truncated_at.map(|at| (ai.name.clone(), at));
        }
    }
    report.current_size = total.saturating_sub(report.truncated_bytes);
    report.manifest = manifest;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::manifest;
    use crate::resp::encode_command;
    use crate::testdir::TestDir;
    use std::fs;
    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        encode_command(&mut out, &a);
        out
    }

    #[derive(Default)]
    struct Recorder {
        cmds: Vec<Vec<Vec<u8>>>,
        rdb_calls: usize,
        refuse: Option<&'static [u8]>,
        unknown: Option<&'static [u8]>,
    }

    impl AofLoadCallbacks for Recorder {
        fn load_rdb_base(&mut self, file: &mut dyn BufRead, _path: &Path) -> Result<u64, String> {
            // A fake "RDB": REDIS + 4 bytes, then the AOF tail; read ahead as a real
            // (buffered) RDB reader does.
            let mut b = [0u8; 12];
            let n = file.read(&mut b).map_err(|e| e.to_string())?;
            assert!(n >= 9, "short fake RDB");
            self.rdb_calls += 1;
            Ok(9)
        }
        fn knows_command(&self, name: &[u8]) -> bool {
            self.unknown != Some(name)
        }
        fn apply_command(&mut self, argv: Vec<Vec<u8>>) -> Result<(), String> {
            if self.refuse.is_some_and(|r| argv[0] == r) {
                return Err(format!(
                    "Unknown command '{}'",
                    String::from_utf8_lossy(&argv[0])
                ));
            }
            self.cmds.push(argv);
            Ok(())
        }
    }

    fn names(r: &Recorder) -> Vec<String> {
        r.cmds
            .iter()
            .map(|c| String::from_utf8_lossy(&c[0]).into_owned())
            .collect()
    }

    struct Fixture {
        _t: TestDir,
        work: PathBuf,
        dir: PathBuf,
    }

    fn fixture(base: &[u8], incrs: &[&[u8]]) -> Fixture {
        let t = TestDir::new("load");
        let work = t.path().to_path_buf();
        let dir = work.join("appendonlydir");
        fs::create_dir(&dir).unwrap();
        let mut m = Manifest::default();
        let b = m.next_base("appendonly.aof", false);
        fs::write(dir.join(b), base).unwrap();
        for data in incrs {
            let n = m.next_incr("appendonly.aof");
            fs::write(dir.join(n), data).unwrap();
        }
        dir::persist_manifest(&dir, "appendonly.aof", &m).unwrap();
        Fixture { _t: t, work, dir }
    }

    fn load(fx: &Fixture, truncated_ok: bool, rec: &mut Recorder) -> Result<LoadReport, LoadError> {
        let opts = LoadOptions {
            aof_load_truncated: truncated_ok,
            upgrade_legacy: true,
        };
        load_aof_dir(&fx.work, "appendonlydir", "appendonly.aof", opts, rec)
    }

    #[test]
    fn dir_loads_base_then_incrs_with_multi() {
        let base = [cmd(&["SET", "a", "1"]), cmd(&["SET", "b", "2"])].concat();
        let i1 = [
            cmd(&["MULTI"]),
            cmd(&["INCR", "a"]),
            cmd(&["INCR", "b"]),
            cmd(&["EXEC"]),
        ]
        .concat();
        let i2 = [cmd(&["EXEC"]), cmd(&["DEL", "a"])].concat();
        let fx = fixture(&base, &[&i1, &[], &i2]);
        let mut rec = Recorder::default();
        let rep = load(&fx, false, &mut rec).unwrap();
        assert_eq!(rep.status, LoadStatus::Ok);
        assert_eq!(names(&rec), ["SET", "SET", "INCR", "INCR", "DEL"]);
        assert_eq!((rep.files_loaded, rep.commands), (4, 5));
        assert_eq!(rep.base_size, base.len() as u64);
        assert_eq!(rep.current_size, (base.len() + i1.len() + i2.len()) as u64);
    }

    #[test]
    fn multi_without_exec_at_tail_is_truncated() {
        let i1 = [
            cmd(&["SET", "x", "1"]),
            cmd(&["MULTI"]),
            cmd(&["SET", "y", "2"]),
        ]
        .concat();
        let keep = cmd(&["SET", "x", "1"]).len() as u64;
        // Not allowed -> error.
        let fx = fixture(b"", &[&i1]);
        let err = load(&fx, false, &mut Recorder::default()).unwrap_err();
        assert!(
            matches!(err, LoadError::UnexpectedEof { valid_up_to, .. } if valid_up_to == keep),
            "{err}"
        );
        // Allowed -> cut before MULTI.
        let mut rec = Recorder::default();
        let rep = load(&fx, true, &mut rec).unwrap();
        assert_eq!(rep.status, LoadStatus::Truncated);
        assert_eq!(names(&rec), ["SET"]);
        let cut = Some(("appendonly.aof.1.incr.aof".to_string(), keep));
        assert_eq!(rep.truncated_at, cut);
        assert_eq!(
            fs::metadata(fx.dir.join("appendonly.aof.1.incr.aof"))
                .unwrap()
                .len(),
            keep
        );
        // Cut mid-command inside the MULTI: also before MULTI.
        let mut i2 = i1.clone();
        i2.extend_from_slice(b"*2\r\n$4\r\nEXEC");
        let fx = fixture(b"", &[&i2]);
        let rep = load(&fx, true, &mut Recorder::default()).unwrap();
        assert_eq!(rep.truncated_bytes, i2.len() as u64 - keep);
        // Reload after the cut is clean.
        let rep = load(&fx, false, &mut Recorder::default()).unwrap();
        assert_eq!(rep.status, LoadStatus::Ok);
    }

    #[test]
    fn truncated_only_in_last_file() {
        let good = cmd(&["SET", "a", "1"]);
        let mut bad = good.clone();
        bad.extend_from_slice(b"*3\r\n$3\r\nSET");
        let fx = fixture(&bad, &[&good]);
        let err = load(&fx, true, &mut Recorder::default()).unwrap_err();
        assert!(matches!(err, LoadError::TruncatedNotLast { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("Fatal error: the truncated file is not the last file"));
        // The non-last file was not modified.
        assert_eq!(
            fs::metadata(fx.dir.join("appendonly.aof.1.base.aof"))
                .unwrap()
                .len(),
            bad.len() as u64
        );
        // Last file truncated: accepted and cut.
        let fx = fixture(&good, &[&bad]);
        let rep = load(&fx, true, &mut Recorder::default()).unwrap();
        assert_eq!(rep.truncated_bytes, 11);
        assert_eq!(rep.current_size, 2 * good.len() as u64);
    }

    #[test]
    fn errors_corrupt_missing_apply_manifest() {
        let fx = fixture(b"*1\r\n$4\r\nPING\r\n!!", &[]);
        let err = load(&fx, true, &mut Recorder::default()).unwrap_err();
        assert!(err.to_string().starts_with(
            "Bad file format reading the append only file appendonly.aof.1.base.aof at offset 14"
        ), "{err}");

        let fx = fixture(b"", &[b"x"]);
        fs::remove_file(fx.dir.join("appendonly.aof.1.incr.aof")).unwrap();
        assert!(matches!(
            load(&fx, true, &mut Recorder::default()),
            Err(LoadError::MissingFile { .. })
        ));

        let fx = fixture(&cmd(&["NOPE"]), &[]);
        let mut rec = Recorder {
            refuse: Some(b"NOPE"),
            ..Default::default()
        };
        let err = load(&fx, true, &mut rec).unwrap_err();
        assert!(matches!(err, LoadError::Apply { offset: 14, .. }), "{err}");

        let fx = fixture(b"", &[&cmd(&["SET", "a", "b"]), &cmd(&["bla", "x"])]);
        let mut rec = Recorder {
            unknown: Some(b"bla"),
            ..Default::default()
        };
        let err = load(&fx, true, &mut rec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown command 'bla' reading the append only file appendonly.aof.2.incr.aof"
        );
        assert_eq!(names(&rec), ["SET"]);

        let fx = fixture(b"", &[]);
        fs::write(
            fx.dir.join("appendonly.aof.manifest"),
            "file a seq 1 type q\n",
        )
        .unwrap();
        let err = load(&fx, true, &mut Recorder::default()).unwrap_err();
        assert!(
            err.to_string().contains(manifest::ERR_UNKNOWN_TYPE),
            "{err}"
        );
    }

    #[test]
    fn empty_and_not_exist() {
        let fx = fixture(b"", &[b""]);
        let rep = load(&fx, true, &mut Recorder::default()).unwrap();
        assert_eq!(rep.status, LoadStatus::Empty);
        let t = TestDir::new("none");
        let rep = load_aof_dir(
            t.path(),
            "appendonlydir",
            "appendonly.aof",
            LoadOptions::default(),
            &mut Recorder::default(),
        )
        .unwrap();
        assert_eq!(rep.status, LoadStatus::NotExist);
    }

    #[test]
    fn rdb_preamble_then_tail_and_legacy_upgrade() {
        let t = TestDir::new("legacyload");
        let work = t.path();
        let mut legacy = b"REDIS0009".to_vec();
        legacy.extend_from_slice(&cmd(&["SET", "t", "1"]));
        legacy.extend_from_slice(b"*1\r\n$3\r\nDE");
        fs::write(work.join("appendonly.aof"), &legacy).unwrap();
        let mut rec = Recorder::default();
        let rep = load_aof_dir(
            work,
            "appendonlydir",
            "appendonly.aof",
            LoadOptions::default(),
            &mut rec,
        )
        .unwrap();
        assert!(rep.upgraded_legacy);
        assert_eq!(rep.status, LoadStatus::Truncated);
        assert_eq!(rec.rdb_calls, 1);
        assert_eq!(names(&rec), ["SET"]);
        let moved = work.join("appendonlydir").join("appendonly.aof");
        assert_eq!(
            fs::metadata(&moved).unwrap().len(),
            9 + cmd(&["SET", "t", "1"]).len() as u64
        );
        assert_eq!(rep.manifest.base.as_ref().unwrap().name, "appendonly.aof");
        // Truncated right after the preamble: the preamble is kept.
        fs::write(&moved, b"REDIS0009*1\r\n").unwrap();
        let rep = load_aof_dir(
            work,
            "appendonlydir",
            "appendonly.aof",
            LoadOptions::default(),
            &mut Recorder::default(),
        )
        .unwrap();
        assert_eq!(rep.status, LoadStatus::Truncated);
        assert_eq!(fs::metadata(&moved).unwrap().len(), 9);
    }
}
