use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(renamed = "n")]
    count: u64,
}

fn main() {}
