use session_runtime::Session;

#[derive(Session)]
struct Visit<const N: usize> {
    counts: [u64; N],
}

fn main() {}
