#![deny(warnings)]

//! `crate = "..."` with a `use` alias.

use session_runtime as sr;

#[derive(sr::Session)]
#[session(crate = "sr")]
pub struct Visit {
    count: u64,
}

pub fn use_it(s: &mut sr::Session<Visit>) {
    *s.count_mut() += 1;
    let _ = s.count();
}

fn main() {}
