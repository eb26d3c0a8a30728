use session_runtime::Session;

#[derive(Session)]
#[session(skip)]
struct Visit {
    count: u64,
}

fn main() {}
