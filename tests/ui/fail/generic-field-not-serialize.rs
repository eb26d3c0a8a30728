use session_runtime::Session;

#[derive(Session)]
pub struct Cart<T> {
    items: Vec<T>,
}

#[derive(Default)]
pub struct Item;

pub fn handler(_: Session<Cart<Item>>) {}

fn main() {}
