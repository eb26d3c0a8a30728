#![deny(warnings)]

//! Type parameters: the field types that mention one get the bounds, where they are used.

use std::marker::PhantomData;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use session_runtime::{Session, SessionData};

#[derive(Session)]
pub struct Cart<T, U: Clone = u8>
where
    T: Clone,
{
    items: Vec<T>,
    extra: Option<U>,
    count: u64,
    #[session(skip)]
    marker: PhantomData<fn() -> T>,
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Item {
    id: u32,
}

pub fn use_it(s: &mut Session<Cart<Item>>) {
    s.items_mut().push(Item { id: 1 });
    let _: Option<u8> = s.set_extra(Some(1));
    let _ = s.count();
}

pub fn generic<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static>(
    s: &mut Session<Cart<T, String>>,
) -> usize {
    s.reset_extra();
    s.items().len()
}

fn main() {
    let cart = Cart::<Item>::default_session();
    assert!(cart.items.is_empty() && cart.extra.is_none());
    assert_eq!(<Cart<u8, u8> as SessionData>::FIELDS.len(), 4);
}
