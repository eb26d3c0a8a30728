//! Shared test support (each test target compiles only what it uses).
//!
//! - [`stores`]: `Spy` and `Faulty`, store wrappers for HTTP-level tests.
//! - [`http`]: one request through a `Router` with `oneshot`, and the `Reply` it gives.
//! - [`clock`]: a `ManualClock` the test moves by hand.
//! - [`cookies`]: cookie keys, unpadded base64url, forged cookie values, and a recording id
//!   generator.
//! - [`logs`]: capturing the `tracing` events of a test.
//! - [`engines`]: the store suites' skip rule, unique names, clean-up guards and a TCP proxy.
//! - [`demo`]: the demo example binary as a child process.
#![allow(dead_code)]

pub mod clock;
pub mod cookies;
pub mod demo;
pub mod engines;
pub mod http;
pub mod logs;
pub mod stores;
