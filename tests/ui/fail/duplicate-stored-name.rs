use session_runtime::Session;

#[derive(Session)]
struct Visit {
    n: u64,
    #[session(rename = "n")]
    count: u64,
}

fn main() {}
