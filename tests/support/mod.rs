//! Shared test support (each test target compiles only what it uses).
#![allow(dead_code)]

pub mod stores;
