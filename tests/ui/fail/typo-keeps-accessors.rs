// An attribute typo is the only error: the accessors are still generated, so the
// handlers that use them do not fail too.
use session_runtime::Session;

#[derive(Session)]
pub struct Visit {
    #[session(renme = "n")]
    count: u64,
}

pub fn handler(mut visit: Session<Visit>) -> u64 {
    *visit.count_mut() += 1;
    *visit.count()
}

fn main() {}
