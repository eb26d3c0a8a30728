//! Compile tests for `#[derive(Session)]`: what must compile (`ui/pass`) and the exact
//! errors for what must not (`ui/fail/*.stderr`). Bless new snapshots with
//! `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
