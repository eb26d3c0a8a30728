use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(skip = true)]
    count: u64,
}

fn main() {}
