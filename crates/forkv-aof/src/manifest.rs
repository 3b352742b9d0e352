//! The AOF manifest: which files make up the AOF, in which order, and what each is.
//!
//! Text format (Valkey `aofInfoFormat` / `aofLoadManifestFromFile`), one file per line:
//!
//! ```text
//! file appendonly.aof.2.base.rdb seq 2 type b
//! file appendonly.aof.1.incr.aof seq 1 type h
//! file appendonly.aof.2.incr.aof seq 2 type i
//! ```
//!
//! Lines are key/value pairs in any order (at least 6 tokens, an even count; unknown keys are
//! ignored for forward compatibility), tokenised by `sdssplitargs` rules, so names with spaces
//! or special bytes are written quoted by `sdscatrepr` rules. `#` lines are comments. Output
//! order is base, history, incr. Everything here is pure: the filesystem side is in
//! [`crate::dir`].

use forkv_keyspace::sds::is_space;
pub use forkv_keyspace::sds::split_args;
use std::fmt;

/// Manifest lines longer than this are rejected (Valkey `MANIFEST_MAX_LINE`).
pub const MANIFEST_MAX_LINE: usize = 1024;

/// What a file listed in the manifest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AofKind {
    /// The snapshot written by the last rewrite (`type b`); at most one.
    Base,
    /// Commands written after a rewrite started (`type i`); loaded in sequence order.
    Incr,
    /// Obsolete after a successful rewrite (`type h`); never loaded, deleted soon.
    History,
}

impl AofKind {
    /// The manifest type letter.
    pub fn as_char(self) -> char {
        match self {
            AofKind::Base => 'b',
            AofKind::Incr => 'i',
            AofKind::History => 'h',
        }
    }
}

/// One file listed in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofInfo {
    /// File name inside the AOF directory (never a path).
    pub name: String,
    /// Sequence number (base and incr numbers are independent).
    pub seq: i64,
    /// Base, incr or history.
    pub kind: AofKind,
}

impl AofInfo {
    /// Appends this file's manifest line (with its trailing newline).
    pub fn format_line(&self, out: &mut String) {
        out.push_str("file ");
        if needs_repr(self.name.as_bytes()) {
            out.push_str(&repr(self.name.as_bytes()));
        } else {
            out.push_str(&self.name);
        }
        out.push_str(" seq ");
        out.push_str(&self.seq.to_string());
        out.push_str(" type ");
        out.push(self.kind.as_char());
        out.push('\n');
    }
}

/// The parsed manifest (Valkey `aofManifest`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofInfo>,
    /// Incr files in increasing sequence order; the last one is the file being appended to.
    pub incrs: Vec<AofInfo>,
    /// History files waiting for deletion.
    pub history: Vec<AofInfo>,
    /// Sequence number of the newest base file ever named.
    pub cur_base_seq: i64,
    /// Sequence number of the newest incr file ever named.
    pub cur_incr_seq: i64,
}

/// A manifest that Valkey would refuse, with its exact message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// Valkey's message, e.g. `Invalid AOF manifest file format`.
    pub message: &'static str,
    /// The 1-based line number and the (trimmed) offending line, when Valkey reports them.
    pub line: Option<(usize, String)>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.line {
            Some((n, text)) => write!(
                f,
                "{} (reading the manifest file, at line {n}: '{text}')",
                self.message
            ),
            None => f.write_str(self.message),
        }
    }
}

impl std::error::Error for ManifestError {}

/// `Found an empty AOF manifest`
pub const ERR_EMPTY: &str = "Found an empty AOF manifest";
/// `The AOF manifest file contains too long line`
pub const ERR_TOO_LONG: &str = "The AOF manifest file contains too long line";
/// `Invalid AOF manifest file format`
pub const ERR_FORMAT: &str = "Invalid AOF manifest file format";
/// `File can't be a path, just a filename`
pub const ERR_PATH: &str = "File can't be a path, just a filename";
/// `Found duplicate base file information`
pub const ERR_DUP_BASE: &str = "Found duplicate base file information";
/// `Found a non-monotonic sequence number`
pub const ERR_NON_MONOTONIC: &str = "Found a non-monotonic sequence number";
/// `Unknown AOF file type`
pub const ERR_UNKNOWN_TYPE: &str = "Unknown AOF file type";

/// `<appendfilename>.manifest`
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// `temp-<appendfilename>.manifest`, written then renamed over the manifest.
pub fn temp_manifest_name(prefix: &str) -> String {
    format!("temp-{prefix}.manifest")
}

/// `<appendfilename>.<seq>.base.rdb` (RDB preamble) or `.base.aof` (commands).
pub fn base_name(prefix: &str, seq: i64, rdb_preamble: bool) -> String {
    let fmt = if rdb_preamble { "rdb" } else { "aof" };
    format!("{prefix}.{seq}.base.{fmt}")
}

/// `<appendfilename>.<seq>.incr.aof`
pub fn incr_name(prefix: &str, seq: i64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// `temp-<appendfilename>.incr`: accumulates writes while AOF is being switched on at runtime.
pub fn temp_incr_name(prefix: &str) -> String {
    format!("temp-{prefix}.incr")
}

/// `temp-rewriteaof-bg-<pid>.aof`: what a rewrite child writes (in the server's working dir).
pub fn temp_rewrite_bg_name(child_pid: u32) -> String {
    format!("temp-rewriteaof-bg-{child_pid}.aof")
}

/// `temp-rewriteaof-<pid>.aof`: the temp file of a synchronous (foreground) rewrite.
pub fn temp_rewrite_name(pid: u32) -> String {
    format!("temp-rewriteaof-{pid}.aof")
}

/// What a successful rewrite changes (see [`Manifest::finish_rewrite`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteSwitch {
    /// The manifest to persist and then adopt.
    pub manifest: Manifest,
    /// Name of the new base file (the child's temp file is renamed to it).
    pub new_base: String,
    /// When AOF was being switched on: the incr name the temp incr file is renamed to.
    pub new_incr_from_temp: Option<String>,
}

impl Manifest {
    /// Parses manifest text with Valkey's rules and messages.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse_bytes(text.as_bytes())
    }

    /// Parses manifest bytes; mirrors `aofLoadManifestFromFile` line for line (fgets of at
    /// most 1024 bytes, C-string semantics, comment skipping, trim, `sdssplitargs`).
    ///
    /// Deviations, both stricter: an empty file name and a name that is not UTF-8 are
    /// rejected as `Invalid AOF manifest file format`.
    pub fn parse_bytes(data: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut maxseq: i64 = 0;
        let mut pos = 0usize;
        let mut linenum = 0usize;
        loop {
            if pos >= data.len() {
                if linenum == 0 {
                    return Err(ManifestError {
                        message: ERR_EMPTY,
                        line: None,
                    });
                }
                break;
            }
            // fgets(buf, MANIFEST_MAX_LINE + 1): at most 1024 bytes, stopping after '\n'.
            let limit = (pos + MANIFEST_MAX_LINE).min(data.len());
            let end = data[pos..limit]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(limit, |i| pos + i + 1);
            let chunk = &data[pos..end];
            pos = end;
            linenum += 1;
            // The C code sees the buffer as a NUL-terminated string.
            let cstr = chunk
                .iter()
                .position(|&c| c == 0)
                .map_or(chunk, |i| &chunk[..i]);
            if cstr.first() == Some(&b'#') {
                continue;
            }
            if !cstr.contains(&b'\n') {
                return Err(ManifestError {
                    message: ERR_TOO_LONG,
                    line: None,
                });
            }
            let line = trim(cstr, b" \t\r\n");
            let err = |message: &'static str| ManifestError {
                message,
                line: Some((linenum, String::from_utf8_lossy(line).into_owned())),
            };
            if line.is_empty() {
                return Err(err(ERR_FORMAT));
            }
            let argv = split_args(line).ok_or_else(|| err(ERR_FORMAT))?;
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err(err(ERR_FORMAT));
            }
            let mut name: Option<Vec<u8>> = None;
            let mut seq: i64 = 0;
            let mut kind: u8 = 0;
            for pair in argv.chunks_exact(2) {
                let (key, val) = (&pair[0], &pair[1]);
                if key.eq_ignore_ascii_case(b"file") {
                    // sdsnew(argv[i+1]): stops at an embedded NUL.
                    let v = val
                        .iter()
                        .position(|&c| c == 0)
                        .map_or(&val[..], |i| &val[..i]);
                    if v.contains(&b'/') || v.contains(&b'\\') {
                        return Err(err(ERR_PATH));
                    }
                    name = Some(v.to_vec());
                } else if key.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(val);
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = val.first().copied().unwrap_or(0);
                }
            }
            let name = match name {
                Some(n) if !n.is_empty() => String::from_utf8(n).map_err(|_| err(ERR_FORMAT))?,
                _ => return Err(err(ERR_FORMAT)),
            };
            if seq == 0 || kind == 0 {
                return Err(err(ERR_FORMAT));
            }
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err(err(ERR_DUP_BASE));
                    }
                    m.base = Some(AofInfo {
                        name,
                        seq,
                        kind: AofKind::Base,
                    });
                    m.cur_base_seq = seq;
                }
                b'h' => m.history.push(AofInfo {
                    name,
                    seq,
                    kind: AofKind::History,
                }),
                b'i' => {
                    if seq <= maxseq {
                        return Err(err(ERR_NON_MONOTONIC));
                    }
                    m.incrs.push(AofInfo {
                        name,
                        seq,
                        kind: AofKind::Incr,
                    });
                    m.cur_incr_seq = seq;
                    maxseq = seq;
                }
                _ => return Err(err(ERR_UNKNOWN_TYPE)),
            }
        }
        Ok(m)
    }

    /// True when there is nothing to load (no base and no incr file).
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    /// The files to load, in order: base, then incrs by sequence.
    pub fn files_to_load(&self) -> impl Iterator<Item = &AofInfo> + '_ {
        self.base.iter().chain(self.incrs.iter())
    }

    /// Number of files to load (base + incrs).
    pub fn load_count(&self) -> usize {
        usize::from(self.base.is_some()) + self.incrs.len()
    }

    /// The incr file currently appended to (the last one).
    pub fn last_incr(&self) -> Option<&AofInfo> {
        self.incrs.last()
    }

    /// Names a new incr file with the next sequence number and appends it to the incr list
    /// (Valkey `getNewIncrAofName`). Returns its name.
    pub fn next_incr(&mut self, prefix: &str) -> String {
        self.cur_incr_seq += 1;
        let name = incr_name(prefix, self.cur_incr_seq);
        self.incrs.push(AofInfo {
            name: name.clone(),
            seq: self.cur_incr_seq,
            kind: AofKind::Incr,
        });
        name
    }

    /// The last incr file, or a newly named one when there is none (`getLastIncrAofName`).
    pub fn last_incr_or_new(&mut self, prefix: &str) -> String {
        match self.incrs.last() {
            Some(ai) => ai.name.clone(),
            None => self.next_incr(prefix),
        }
    }

    /// Names a new base file and moves the current base (if any) to the front of the history
    /// list (`getNewBaseFileNameAndMarkPreAsHistory`). Returns the new name.
    pub fn next_base(&mut self, prefix: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = AofKind::History;
            self.history.insert(0, old);
        }
        self.cur_base_seq += 1;
        let name = base_name(prefix, self.cur_base_seq, rdb_preamble);
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.cur_base_seq,
            kind: AofKind::Base,
        });
        name
    }

    /// After a successful rewrite, moves the incr files the new base covers to history
    /// (`markRewrittenIncrAofAsHistory`). With `keep_last` (AOF is on, the last incr is the
    /// file being appended to since the rewrite started) the last incr stays.
    pub fn mark_rewritten_incrs_as_history(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last && !self.incrs.is_empty());
        let split = self.incrs.len() - keep;
        let moved: Vec<AofInfo> = self.incrs.drain(..split).collect();
        // Valkey walks the incr list from the tail, pushing each at the head of history: the
        // resulting history order is the incr order, followed by the previous history.
        for mut ai in moved.into_iter().rev() {
            ai.kind = AofKind::History;
            self.history.insert(0, ai);
        }
    }

    /// Takes the history list (the files to delete); the manifest must then be persisted.
    pub fn take_history(&mut self) -> Vec<AofInfo> {
        std::mem::take(&mut self.history)
    }

    /// Before forking a rewrite child with AOF on: a copy with one more incr file, which
    /// receives every write made while the child runs (`openNewIncrAofForAppend`).
    /// Returns the new manifest and the new incr name; persist it before switching files.
    pub fn start_rewrite(&self, prefix: &str) -> (Manifest, String) {
        let mut m = self.clone();
        let name = m.next_incr(prefix);
        (m, name)
    }

    /// After the child succeeded (`backgroundRewriteDoneHandler`): a copy with a new base,
    /// the old base and the incr files it covers marked history.
    ///
    /// `aof_on`: AOF is enabled, so the last incr (opened by [`Manifest::start_rewrite`])
    /// stays. `from_temp_incr`: AOF was being switched on (Valkey `AOF_WAIT_REWRITE`): the
    /// temp incr file becomes a new incr file and is kept.
    pub fn finish_rewrite(
        &self,
        prefix: &str,
        rdb_preamble: bool,
        aof_on: bool,
        from_temp_incr: bool,
    ) -> RewriteSwitch {
        let mut m = self.clone();
        let new_base = m.next_base(prefix, rdb_preamble);
        let new_incr_from_temp = from_temp_incr.then(|| m.next_incr(prefix));
        m.mark_rewritten_incrs_as_history(aof_on || from_temp_incr);
        RewriteSwitch {
            manifest: m,
            new_base,
            new_incr_from_temp,
        }
    }

    /// The manifest for a legacy single `appendfilename` moved into the directory: that file
    /// becomes base seq 1 (`aofUpgradePrepare`).
    pub fn set_legacy_base(&mut self, prefix: &str) {
        self.base = Some(AofInfo {
            name: prefix.to_string(),
            seq: 1,
            kind: AofKind::Base,
        });
        self.cur_base_seq = 1;
    }
}

impl fmt::Display for Manifest {
    /// The manifest text: base, then history, then incr lines (`getAofManifestAsString`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for ai in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            ai.format_line(&mut s);
        }
        f.write_str(&s)
    }
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let Some((first, rest)) = s.split_first() {
        if !set.contains(first) {
            break;
        }
        s = rest;
    }
    while let Some((last, rest)) = s.split_last() {
        if !set.contains(last) {
            break;
        }
        s = rest;
    }
    s
}

/// C `isprint` in the C locale.
fn is_print(c: u8) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// C `atoll` (glibc `strtoll` base 10, saturating on overflow).
fn atoll(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = i64::from(s[i] - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    v
}

/// True when a name must be quoted in the manifest (`sdsneedsrepr`).
pub fn needs_repr(s: &[u8]) -> bool {
    s.iter().any(|&c| {
        matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 0x07 | 0x08)
            || !is_print(c)
            || is_space(c)
    })
}

/// Quotes bytes the way `sdscatrepr` does: `"..."` with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`,
/// `\b` escapes and `\xHH` for other non-printable bytes.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            c if is_print(c) => out.push(char::from(c)),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err_of(text: &str) -> ManifestError {
        Manifest::parse(text).unwrap_err()
    }

    #[test]
    fn parse_and_format_round_trip() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.2.incr.aof seq 2 type h\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n\
                    file appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.history.len(), 2);
        assert_eq!(m.incrs.len(), 2);
        assert_eq!((m.cur_base_seq, m.cur_incr_seq), (2, 4));
        assert_eq!(m.to_string(), text);
        let names: Vec<_> = m.files_to_load().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.3.incr.aof",
                "appendonly.aof.4.incr.aof"
            ]
        );
    }

    #[test]
    fn keys_in_any_order_comments_extra_keys_case() {
        let text = "# a comment\n\
                    type b seq 7 FILE base.rdb\n\
                    file x.1.incr.aof seq 1 type i newkey newvalue\n\
                    \t file   y.2.incr.aof  seq 2 type  incr  \r\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().seq, 7);
        assert_eq!(m.incrs[1].name, "y.2.incr.aof");
        assert_eq!(m.incrs[1].kind, AofKind::Incr);
        // Only comments: not "empty" (Valkey counts lines, not entries).
        assert!(Manifest::parse("# nothing\n").unwrap().is_empty());
    }

    #[test]
    fn quoted_names_round_trip() {
        for name in [
            "with space.aof",
            "quote\"q",
            "tab\tnl\ncr\r",
            "\u{7}\u{8}x\u{1}",
            "é",
        ] {
            let m = Manifest {
                base: Some(AofInfo {
                    name: name.to_string(),
                    seq: 1,
                    kind: AofKind::Base,
                }),
                ..Manifest::default()
            };
            let text = m.to_string();
            assert!(text.starts_with("file \""), "{text}");
            let back = Manifest::parse(&text).unwrap();
            assert_eq!(back.base.unwrap().name, name);
        }
        assert_eq!(repr(b"a b\x01\xff"), "\"a b\\x01\\xff\"");
        assert!(!needs_repr(b"appendonly.aof.1.base.rdb"));
        let m = Manifest::parse("file 'single q\\'s' seq 1 type b\n").unwrap();
        assert_eq!(m.base.unwrap().name, "single q's");
        let m = Manifest::parse("file \"a\\x41\\n\" seq 1 type b\n").unwrap();
        assert_eq!(m.base.unwrap().name, "aA\n");
    }

    #[test]
    fn valkey_error_messages() {
        assert_eq!(err_of("").message, "Found an empty AOF manifest");
        assert_eq!(
            err_of("file a seq 1 type b").message,
            "The AOF manifest file contains too long line"
        );
        let long = format!("file {} seq 1 type b\n", "a".repeat(1100));
        assert_eq!(err_of(&long).message, ERR_TOO_LONG);
        assert_eq!(err_of("\n").message, "Invalid AOF manifest file format");
        assert_eq!(err_of("   \n").message, ERR_FORMAT);
        assert_eq!(err_of("file a seq 1\n").message, ERR_FORMAT);
        assert_eq!(err_of("file a seq 1 type b extra\n").message, ERR_FORMAT);
        assert_eq!(err_of("file \"a seq 1 type b\n").message, ERR_FORMAT);
        assert_eq!(err_of("file \"a\"b seq 1 type b\n").message, ERR_FORMAT);
        assert_eq!(err_of("file a seq x type b\n").message, ERR_FORMAT);
        assert_eq!(err_of("file a seq 0 type b\n").message, ERR_FORMAT);
        assert_eq!(err_of("file a seq 1 type \"\"\n").message, ERR_FORMAT);
        assert_eq!(err_of("name a seq 1 type b\n").message, ERR_FORMAT);
        assert_eq!(
            err_of("file dir/a seq 1 type b\n").message,
            "File can't be a path, just a filename"
        );
        assert_eq!(err_of("file dir\\\\a seq 1 type b\n").message, ERR_PATH);
        assert_eq!(
            err_of("file a seq 1 type b\nfile b seq 2 type b\n").message,
            "Found duplicate base file information"
        );
        assert_eq!(
            err_of("file a seq 2 type i\nfile b seq 2 type i\n").message,
            "Found a non-monotonic sequence number"
        );
        assert_eq!(err_of("file a seq -1 type i\n").message, ERR_NON_MONOTONIC);
        assert_eq!(
            err_of("file a seq 1 type x\n").message,
            "Unknown AOF file type"
        );
        let e = err_of("file a seq 1 type b\nfile b seq 1 type z\n");
        assert_eq!(e.line, Some((2, "file b seq 1 type z".to_string())));
        // Comments count as lines.
        assert_eq!(err_of("#c\nbad\n").line.unwrap().0, 2);
    }

    #[test]
    fn atoll_like_c() {
        assert_eq!(atoll(b"12abc"), 12);
        assert_eq!(atoll(b"  -3"), -3);
        assert_eq!(atoll(b"+4"), 4);
        assert_eq!(atoll(b"x1"), 0);
        assert_eq!(atoll(b"99999999999999999999999"), i64::MAX);
        assert_eq!(atoll(b"-99999999999999999999999"), i64::MIN);
        let m = Manifest::parse("file a seq 3xyz type base\n").unwrap();
        assert_eq!(m.base.unwrap().seq, 3);
    }

    #[test]
    fn naming() {
        assert_eq!(manifest_name("appendonly.aof"), "appendonly.aof.manifest");
        assert_eq!(
            temp_manifest_name("appendonly.aof"),
            "temp-appendonly.aof.manifest"
        );
        assert_eq!(
            base_name("appendonly.aof", 3, true),
            "appendonly.aof.3.base.rdb"
        );
        assert_eq!(
            base_name("appendonly.aof", 3, false),
            "appendonly.aof.3.base.aof"
        );
        assert_eq!(incr_name("appendonly.aof", 9), "appendonly.aof.9.incr.aof");
        assert_eq!(temp_incr_name("appendonly.aof"), "temp-appendonly.aof.incr");
        assert_eq!(temp_rewrite_bg_name(42), "temp-rewriteaof-bg-42.aof");
    }

    #[test]
    fn rewrite_transitions() {
        let p = "appendonly.aof";
        // Server start with nothing: base 1 then incr 1.
        let mut m = Manifest::default();
        assert_eq!(m.next_base(p, true), "appendonly.aof.1.base.rdb");
        assert_eq!(m.last_incr_or_new(p), "appendonly.aof.1.incr.aof");
        assert_eq!(m.last_incr_or_new(p), "appendonly.aof.1.incr.aof");
        // A rewrite starts: incr 2 opened before the fork.
        let (m2, incr) = m.start_rewrite(p);
        assert_eq!(incr, "appendonly.aof.2.incr.aof");
        assert_eq!(m.incrs.len(), 1, "start_rewrite is pure");
        // It finishes: base 2, incr 2 kept, base 1 and incr 1 history.
        let sw = m2.finish_rewrite(p, true, true, false);
        assert_eq!(sw.new_base, "appendonly.aof.2.base.rdb");
        assert_eq!(
            sw.manifest.to_string(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let mut m3 = sw.manifest;
        let hist = m3.take_history();
        assert_eq!(hist.len(), 2);
        assert_eq!(
            m3.to_string(),
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        // Failed rewrites leave several incr files; the next success folds them all.
        let (m4, _) = m3.start_rewrite(p);
        let (m5, _) = m4.start_rewrite(p);
        assert_eq!(m5.incrs.len(), 3);
        let sw = m5.finish_rewrite(p, false, true, false);
        assert_eq!(sw.new_base, "appendonly.aof.3.base.aof");
        let seqs: Vec<_> = sw
            .manifest
            .history
            .iter()
            .map(|a| (a.seq, a.kind))
            .collect();
        assert_eq!(
            seqs,
            [
                (2, AofKind::History),
                (3, AofKind::History),
                (2, AofKind::History)
            ]
        );
        assert_eq!(sw.manifest.incrs.len(), 1);
        assert_eq!(sw.manifest.incrs[0].seq, 4);
        // AOF off (BGREWRITEAOF with appendonly no): every incr becomes history.
        let sw = m5.finish_rewrite(p, true, false, false);
        assert!(sw.manifest.incrs.is_empty());
        // AOF being switched on: the temp incr gets the next incr name and stays.
        let sw = m3.finish_rewrite(p, true, false, true);
        assert_eq!(
            sw.new_incr_from_temp.as_deref(),
            Some("appendonly.aof.3.incr.aof")
        );
        assert_eq!(sw.manifest.incrs.len(), 1);
        assert_eq!(sw.manifest.incrs[0].seq, 3);
        // Parse keeps the sequence counters.
        let back = Manifest::parse(&sw.manifest.to_string()).unwrap();
        assert_eq!((back.cur_base_seq, back.cur_incr_seq), (3, 3));
    }
}
