use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(rename = 5)]
    count: u64,
}

fn main() {}
