use session_runtime::Session;

fn zero() -> u32 {
    0
}

#[derive(Session)]
struct Visit {
    #[session(default = zero)]
    count: u64,
}

fn main() {}
