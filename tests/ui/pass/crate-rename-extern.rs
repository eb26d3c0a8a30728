#![deny(warnings)]

//! `crate = "..."` with an `extern crate` alias, used from a nested module.

extern crate session_runtime as sessions;

mod handlers {
    #[derive(sessions::Session)]
    #[session(crate = "sessions")]
    pub struct Visit {
        count: u64,
    }

    pub fn use_it(s: &mut sessions::Session<Visit>) {
        *s.count_mut() += 1;
        let _ = s.count();
    }
}

fn main() {
    let _ = handlers::use_it;
}
