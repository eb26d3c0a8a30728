use session_runtime::Session;

#[derive(Session, Default)]
struct Visit {
    destroy: bool,
    count: u64,
}

fn main() {}
