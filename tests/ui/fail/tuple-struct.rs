use session_runtime::Session;

#[derive(Session)]
struct Visit(u64, Option<String>);

fn main() {}
