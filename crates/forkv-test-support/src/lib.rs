//! What the integration tests of forkv's crates share, in one place.
//!
//! The RDB and AOF crates prove their files against the real thing: they start Debian's
//! `redis-server`, make it load what forkv wrote (and the reverse), and read the data back
//! over a socket. Before this crate each test suite carried its own temp directory type,
//! its own RESP client and its own redis-server guard, each slightly different. They live
//! here now, as a dev-dependency only (never linked into forkv itself):
//!
//! - [`TempDir`]: a fresh directory per test, removed on drop unless
//!   `FORKV_KEEP_TEST_DIRS` is set (to inspect a failure).
//! - [`Client`] and [`Reply`]: a blocking RESP2 client, enough for tests to drive a
//!   server and compare replies; [`command`] encodes a command for a server fed in process.
//! - [`RedisServer`] and [`redis_tool`]: a `redis-server` child on a free loopback port,
//!   stopped by `SHUTDOWN NOSAVE` or by its own PID on drop. A missing tool fails the test
//!   with an explanation; these tests never skip, because CI installs the tools and a
//!   silent skip would hide a broken interop check.
//! - [`sha1_hex`], [`hex`], [`unhex`] and [`Rng`]: digests of big values in fixture
//!   listings and deterministic pseudo-random data.
//!
//! How each crate compares datasets stays in that crate: an RDB keeps a stream
//! consumer's seen/active times and an AOF does not, so their canonical forms differ.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod bytes;
mod dir;
mod redis;
mod resp;

pub use bytes::{hex, sha1_hex, unhex, Rng};
pub use dir::TempDir;
pub use redis::{redis_tool, RedisServer};
pub use resp::{command, encode, Client, Reply};
