use session_runtime::Session;

#[derive(Session)]
struct Visit {
    #[session(rename = "$expires")]
    expires: u64,
}

fn main() {}
