#![deny(warnings)]

use session_runtime::{Session, SessionData};

#[derive(Session)]
pub struct Tokens {
    r#type: String,
    r#fn: u8,
    #[session(rename = "loop")]
    r#loop: bool,
}

pub fn use_it(s: &mut Session<Tokens>) {
    let _: &String = s.r#type();
    s.type_mut().push('x');
    let _: String = s.set_type(String::new());
    let _: String = s.take_type();
    s.reset_type();
    let _: bool = s.is_type_dirty();
    let _: u8 = s.set_fn(1);
    let _: &bool = s.r#loop();
    *s.loop_mut() = true;
}

fn main() {
    let names: Vec<_> = Tokens::FIELDS
        .iter()
        .map(|f| (f.name(), f.ident()))
        .collect();
    assert_eq!(names, [("type", "type"), ("fn", "fn"), ("loop", "loop")]);
}
