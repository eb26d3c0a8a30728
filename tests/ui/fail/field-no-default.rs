use session_runtime::Session;

#[derive(serde::Serialize, serde::Deserialize)]
struct Cart;

#[derive(Session)]
struct Visit {
    cart: Cart,
}

fn main() {}
