use session_runtime::Session;

#[derive(Session)]
struct Visit {
    count: u64,
    count_mut: u64,
}

fn main() {}
