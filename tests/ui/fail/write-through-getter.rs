use session_runtime::Session;

#[derive(Session)]
pub struct Visit {
    count: u64,
}

pub fn handler(visit: Session<Visit>) {
    *visit.count() = 1;
}

fn main() {}
