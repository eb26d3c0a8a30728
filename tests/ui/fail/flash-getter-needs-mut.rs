// Reading a flash value takes it, so its getter needs `&mut`: a `ReadSession` cannot take
// it (and never writes), only `peek_notice()` it.
use session_runtime::{ReadSession, Session};

#[derive(Session)]
pub struct Ui {
    #[session(flash)]
    notice: Option<String>,
}

pub fn handler(ui: ReadSession<Ui>) -> Option<String> {
    ui.notice()
}

fn main() {}
