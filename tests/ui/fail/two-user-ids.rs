use session_runtime::Session;

#[derive(Session)]
struct Auth {
    #[session(user_id)]
    user: Option<String>,
    #[session(user_id)]
    account: Option<String>,
}

fn main() {}
