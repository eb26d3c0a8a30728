use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(rename = "n", rename = "m")]
    count: u64,
}

fn main() {}
