use session_runtime::Session;

#[derive(Default, serde::Serialize)]
struct Cart;

#[derive(Session)]
struct Visit {
    cart: Cart,
}

fn main() {}
