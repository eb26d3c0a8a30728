use session_runtime::Session;

#[derive(Session)]
struct Auth {
    #[session(skip, user_id)]
    user: Option<String>,
}

fn main() {}
