//! Build facts for INFO's server section (Valkey's `redis_git_sha1`, `redis_git_dirty`,
//! `redis_build_id`, from its generated release.h): the commit the Rust sources were built
//! from, whether `crates/` had uncommitted changes then, and an id of the build.
//!
//! The script runs again when the checkout's HEAD or branch moves, or when a file the
//! binary is built from changes (each crate's `Cargo.toml`, `build.rs` and `src/`; not the
//! tests, nor the dev-only test-support crate): those are the files whose state the dirty
//! flag reports, so the facts follow the sources without a rebuild after every test edit.
//! The index is not watched: staging a change leaves it as dirty as before.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::Command;

/// Runs git in the crate's directory; None when git or the repository is missing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The crates that are linked into forkv (every one under `crates/` but the dev-only one).
const NOT_LINKED: &str = "forkv-test-support";

/// The files the binary is built from: each linked crate's manifest, build script and
/// sources, as paths relative to this crate's directory (where git runs).
fn built_from() -> Vec<String> {
    let mut paths = Vec::new();
    let Ok(crates) = std::fs::read_dir("..") else { return paths };
    let mut names: Vec<String> = crates.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names.iter().filter(|n| n.as_str() != NOT_LINKED) {
        for part in ["Cargo.toml", "build.rs", "src"] {
            let p = format!("../{name}/{part}");
            if std::path::Path::new(&p).exists() {
                paths.push(p);
            }
        }
    }
    paths
}

fn main() {
    // Valkey prints these for a build outside a git checkout.
    let sha = git(&["rev-parse", "--short=8", "HEAD"]).unwrap_or_else(|| "00000000".into());
    let sources = built_from();
    let mut status = vec!["--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(sources.iter().map(String::as_str));
    let dirty = git(&status).map_or(0, |s| u8::from(!s.is_empty()));
    let rustc = std::env::var("RUSTC").ok().and_then(|r| Command::new(r).arg("-V").output().ok());
    let rustc = rustc.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let mut h = DefaultHasher::new();
    (&sha, dirty, &rustc, std::env::var("TARGET").ok(), std::env::var("PROFILE").ok()).hash(&mut h);
    println!("cargo:rustc-env=FORKV_GIT_SHA1={sha}");
    println!("cargo:rustc-env=FORKV_GIT_DIRTY={dirty}");
    println!("cargo:rustc-env=FORKV_BUILD_ID={:016x}", h.finish());
    for p in &sources {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Some(p) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(p) = git(&["rev-parse", "--git-path", "packed-refs"]) {
        println!("cargo:rerun-if-changed={p}");
    }
}
