use std::cell::Cell;

use session_runtime::Session;

#[derive(Session)]
struct Visit {
    count: Cell<u64>,
}

fn main() {}
