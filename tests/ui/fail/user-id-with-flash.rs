use session_runtime::Session;

#[derive(Session)]
struct Auth {
    #[session(flash, user_id)]
    user: Option<String>,
}

fn main() {}
