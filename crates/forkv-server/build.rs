//! Build facts for INFO's server section (Valkey's `redis_git_sha1`, `redis_git_dirty`,
//! `redis_build_id`, from its generated release.h): the commit the Rust sources were built
//! from, whether `crates/` had uncommitted changes then, and an id of the build.
//!
//! The script runs again when the checkout's HEAD, branch or index moves, or a file under
//! `crates/` changes, so the facts follow the sources the binary was built from.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::Command;

/// Runs git in the crate's directory; None when git or the repository is missing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    // Valkey prints these for a build outside a git checkout.
    let sha = git(&["rev-parse", "--short=8", "HEAD"]).unwrap_or_else(|| "00000000".into());
    let dirty = git(&["--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--", ".."]).map_or(0, |s| u8::from(!s.is_empty()));
    let rustc = std::env::var("RUSTC").ok().and_then(|r| Command::new(r).arg("-V").output().ok());
    let rustc = rustc.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let mut h = DefaultHasher::new();
    (&sha, dirty, &rustc, std::env::var("TARGET").ok(), std::env::var("PROFILE").ok()).hash(&mut h);
    println!("cargo:rustc-env=FORKV_GIT_SHA1={sha}");
    println!("cargo:rustc-env=FORKV_GIT_DIRTY={dirty}");
    println!("cargo:rustc-env=FORKV_BUILD_ID={:016x}", h.finish());
    println!("cargo:rerun-if-changed=..");
    for path in ["HEAD", "index"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
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
