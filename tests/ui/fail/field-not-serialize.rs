use session_runtime::Session;

#[derive(Default, serde::Deserialize)]
struct Cart;

#[derive(Session)]
struct Visit {
    cart: Cart,
}

fn main() {}
