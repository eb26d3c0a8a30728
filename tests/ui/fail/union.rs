use session_runtime::Session;

#[derive(Session)]
union Visit {
    count: u64,
    total: u32,
}

fn main() {}
