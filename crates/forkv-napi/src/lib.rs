//! The Node-API binding: conversions only. This is the only crate that links napi (napi
//! symbols exist only inside the node binary, so it has no Rust tests; it is exercised by
//! the uvu suites), so everything that can be tested lives in the pure crates: a method
//! here is one call into `forkv_server::Server` (or a pure crate) plus a conversion.
//!
//! What is left, and why:
//! - `core`, `aof`, `persistence`, `repl`, `syscheck`, `syslog`: the `#[napi]` methods,
//!   each one call and a conversion of numbers, strings and Buffers.
//! - `host_types`: the one generic conversion of forkv-server's host types, inputs from
//!   JavaScript objects and records (results) to plain objects, field by field through the
//!   tables `host_type!` makes; no field is named here (their TypeScript types are generated
//!   into `ts/native/host-types.ts` by forkv-server's cargo test).
//! - `fastpath`: the read path's raw Node-API functions (`feedRead`, `wakeRead`,
//!   `resumeRead`, `takeDeliveriesInto`), one crossing per socket read without napi-rs's
//!   argument machinery (it cost as much as the command); argument checks, then one call
//!   (`Server::hand_over_into`, `DeliveryRecords::pack_into` in `forkv_server::host_io`).
//! - `alloc`: the counting `#[global_allocator]` (it must be declared in the binary that is
//!   linked, this addon) and its size-class charging; jemalloc's figures are read by the
//!   `forkv-jemalloc` crate.
//!
//! # The allocator
//!
//! Every Rust allocation of the process (the keyspace, query and reply buffers, the fork
//! child's work) goes through [`alloc`]'s counting wrapper, which feeds INFO `used_memory`;
//! Node, V8 and libuv keep glibc's `malloc`. Underneath the wrapper is jemalloc
//! (tikv-jemallocator, prefixed symbols, so it replaces nothing outside this library),
//! chosen by measurement against glibc and mimalloc (issue 16; `bench/memory` and
//! `bench/throughput`, each against redis-server 7.0 in the same run, on the 2-core
//! machine; 1M keys x 100 B):
//!
//! | allocator | RSS bytes per key | RSS growth / used_memory growth | SET / GET `-P 1`, k ops per server core-second |
//! |---|---|---|---|
//! | glibc    | 248.8 | 1.37 | 55.5 / 52.9 |
//! | mimalloc | 232.9 | 1.28 | 66.2 / 70.6 |
//! | jemalloc | 237.1 | 1.30 | 71.6 / 75.0 |
//!
//! (redis-server 7.0 in the same runs: 191.7 bytes per key, 1.04, about 105 / 118 k ops per
//! core-second.) Speed is read as requests per second of the server's own CPU time
//! (`/proc/<pid>/stat`, all threads), because on a machine shared by several builds the
//! ops/s of the three swing by more than they differ; by that measure jemalloc is 1.3-1.4x
//! glibc (glibc's `_int_free`/`malloc_consolidate` were a quarter of the profile) and a
//! little ahead of mimalloc. The current figures against redis are in the README's
//! benchmark section (`bench/figures.json`).
//!
//! In the terms of DESIGN §2 rule 3 (the fork child's allocator must be consistent after
//! fork): jemalloc registers `pthread_atfork` handlers when it initialises (prefork takes
//! every arena, bin and extent mutex, the child re-initialises them), the same guarantee
//! glibc's arenas give, so a thread of ours (the AOF writer, a load or rewrite thread)
//! that is inside the allocator when the main thread forks cannot leave a held lock in the
//! child. mimalloc (2.x, as libmimalloc-sys ships it) registers no fork handlers and takes
//! locks when a thread's segments are abandoned or visited; it would need every thread of
//! ours quiesced before each fork, which nothing enforces, for a few bytes per key less.
//! Both passed the fork-safety suites (test/persistence: fork-safety, fork-failure,
//! rdb-bgsave), and jemalloc also `bench/snapshot`'s BGSAVE loop under 20k SET/s.
//!
//! Two build facts: a jemalloc inside a `dlopen`ed library must not use the initial-exec
//! TLS model (the feature `disable_initial_exec_tls`; without it the addon fails to load
//! with "cannot allocate memory in static TLS block"), and a cross build for arm64 Linux
//! sets `JEMALLOC_SYS_WITH_LG_PAGE=16` (see .github/workflows/release.yml) so the binary
//! runs on 4, 16 and 64 KiB page kernels. jemalloc is built from the crates.io sources by
//! `cargo` with the machine's C compiler and `make`, so `npm install` from a clone and CI
//! need nothing else. The cargo features of this crate keep the other two buildable to
//! re-measure (see Cargo.toml).

// napi-derive registers exported functions only outside cfg(test), so under
// `cargo clippy --all-targets` they look unused.
#![cfg_attr(test, allow(dead_code))]

mod alloc;
mod aof;
mod core;
mod crash;
mod fastpath;
mod host_types;
mod persistence;
mod repl;
mod replica;
mod syscheck;
mod syslog;

pub use crate::core::Core;
