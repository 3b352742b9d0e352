//! forkv's append-only file, in Valkey 7+'s multi-part layout. Everything here works without
//! the server loop: the server calls in at the right moments.
//!
//! # Layout
//!
//! ```text
//! <dir>/appendonlydir/                     (appenddirname)
//!     appendonly.aof.manifest              (<appendfilename>.manifest)
//!     appendonly.aof.3.base.rdb            snapshot of the last rewrite (.base.aof without
//!                                          an RDB preamble)
//!     appendonly.aof.5.incr.aof            commands since that rewrite started
//!     appendonly.aof.6.incr.aof            the file being appended to now
//! ```
//!
//! The manifest ([`manifest`]) is the only source of truth: a file the manifest does not
//! list does not exist as far as loading goes, and a listed file that is missing is fatal.
//! Loading ([`loader`]) reads the base (handing an RDB preamble to the RDB reader) and then
//! the incr files in sequence order, command by command ([`reader`]). Incr files are RESP
//! command streams ([`resp`]), appended by [`writer`]. A rewrite produces a new base from
//! the keyspace, either as RDB (another crate) or as commands ([`rewrite`]).
//!
//! # Rewrite without a rewrite buffer
//!
//! Before forking the rewrite child, the parent opens a **new incr file** and persists a
//! manifest that lists it ([`dir::start_rewrite`]). From then on every write goes to that
//! file, so the child's snapshot plus the new incr file always describe the whole dataset;
//! the parent never has to hand the child a diff. When the child succeeds
//! ([`dir::finish_rewrite`]) its temp file is renamed to the next base name and a manifest
//! is persisted in which the old base and the incr files the snapshot covers are `history`;
//! history files are then deleted ([`dir::delete_history`]) and the manifest persisted
//! again. If a rewrite fails, the extra incr file simply stays listed and the next success
//! folds it in.
//!
//! # Crash safety
//!
//! Every manifest change is atomic ([`dir::persist_manifest`]): write
//! `temp-<name>.manifest`, fsync it, `rename` over the manifest, fsync the directory. So at
//! any crash point the manifest on disk is either the old one or the new one, complete, and
//! each references only files that were durably created before it was renamed into place:
//!
//! * crash after creating the new incr file but before the manifest switch: the old manifest
//!   still ends with the old incr file, which holds every write made so far (the parent only
//!   switches writing after the persist succeeded); the empty new file is unreferenced and
//!   will be truncated and reused;
//! * crash after renaming the child's temp file to the new base name but before the
//!   manifest switch: the old manifest lists the old base and all incr files — nothing lost;
//!   the new base is an unreferenced file, overwritten by the next rewrite;
//! * crash after the switch: the new base plus the kept incr file hold everything, because
//!   that incr file was opened before the fork; history files still on disk are never read;
//! * crash while appending: only the last incr file can end in half a command, which is why
//!   `aof-load-truncated` applies to the last file only ([`loader::load_file`]).
//!
//! A legacy single `appendonly.aof` is moved into the directory as base seq 1 by
//! [`dir::upgrade_legacy`] (manifest first, then the move; both steps are redone if a crash
//! interrupts them).
//!
//! # Sizes
//!
//! `aof_current_size` is the size of base + incr files (history excluded);
//! `aof_base_size` (Valkey `aof_rewrite_base_size`) is `aof_current_size` right after the
//! last successful rewrite, or the base file's size after a restart. Automatic rewrites
//! compare the two ([`writer::AofWriter::should_auto_rewrite`]).

pub mod dir;
pub mod loader;
pub mod manifest;
pub mod reader;
pub mod resp;
pub mod rewrite;
pub mod writer;

#[cfg(test)]
mod testdir;

pub use loader::{
    load_aof_dir, load_file, AofLoadCallbacks, LoadError, LoadOptions, LoadReport, LoadStatus,
};
pub use manifest::{split_args, AofInfo, AofKind, Manifest, ManifestError};
pub use reader::{AofCommandReader, ReadOutcome};
pub use resp::encode_command;
pub use rewrite::{rewrite_functions_as_commands, rewrite_keyspace_as_commands, AOF_REWRITE_ITEMS_PER_CMD};
pub use writer::{timestamp_annotation, AofWriter, BackgroundFsync, FlushError, FlushReport, FsyncPolicy};
