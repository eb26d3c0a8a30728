use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(rename = 5, colour = "red")]
    count: u64,
    #[session(skip, rename = "x")]
    scratch: Vec<u8>,
}

fn main() {}
