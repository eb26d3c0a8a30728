use session_runtime::Session;

#[derive(Session)]
enum Visit {
    New,
    Returning { count: u64 },
}

fn main() {}
