use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(skip, rename = "n")]
    count: u64,
}

fn main() {}
