pub struct NotDerived {
    pub count: u64,
}

fn h(_: session_runtime::Session<NotDerived>) {}

fn main() {}
