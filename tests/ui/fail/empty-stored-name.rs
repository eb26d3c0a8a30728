use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(rename = "")]
    count: u64,
}

fn main() {}
