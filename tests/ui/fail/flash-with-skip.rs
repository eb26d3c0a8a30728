use session_runtime::Session;

#[derive(Session)]
struct Ui {
    #[session(skip, flash)]
    notice: Option<String>,
}

fn main() {}
