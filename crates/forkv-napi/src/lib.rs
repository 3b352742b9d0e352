//! The Node-API binding: module wiring only. Everything here is a thin shell over the
//! pure crates; this is the only crate that links napi (napi symbols exist only inside
//! the node binary, so it has no Rust tests — it is exercised by the uvu suites).

// napi-derive registers exported functions only outside cfg(test), so under
// `cargo clippy --all-targets` they look unused.
#![cfg_attr(test, allow(dead_code))]

mod alloc;
mod aof;
mod core;
mod persistence;
mod repl;
mod settings;
mod syscheck;

pub use crate::core::Core;
