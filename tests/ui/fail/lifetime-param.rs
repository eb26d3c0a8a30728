use session_runtime::Session;

#[derive(Session)]
struct Visit<'a> {
    user: &'a str,
}

fn main() {}
