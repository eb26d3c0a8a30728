#![deny(warnings)]

use session_runtime::{Session, SessionData};

#[derive(Session)]
pub struct Visit {
    user: Option<String>,
    count: u64,
}

pub fn use_it(s: &mut Session<Visit>) {
    *s.count_mut() += 1;
    let _: &u64 = s.count();
    let _: Option<String> = s.set_user(Some("ferris".to_owned()));
    let _: Option<String> = s.take_user();
    s.reset_count();
    let _: bool = s.is_count_dirty() || s.is_user_dirty();
}

// The accessor type has the documented name and is what `Session<Visit>` dereferences to.
pub fn deref(s: &Session<Visit>) -> &VisitFields {
    s
}

fn main() {
    let v = Visit::default_session();
    assert_eq!(v.user, None);
    assert_eq!(v.count, 0);
    let names: Vec<_> = Visit::FIELDS
        .iter()
        .map(|f| (f.name(), f.ident()))
        .collect();
    assert_eq!(names, [("user", "user"), ("count", "count")]);
}
