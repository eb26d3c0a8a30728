#![deny(warnings)]

use session_runtime::{ReadSession, Session, SessionData};

fn default_theme() -> String {
    "dark".to_owned()
}

mod defaults {
    pub fn lang() -> String {
        "en".to_owned()
    }
}

#[derive(Session)]
pub struct Visit {
    user: Option<String>,
    #[session(rename = "n")]
    count: u64,
    #[session(skip)]
    scratch: Vec<u8>,
    #[session(default = default_theme)]
    theme: String,
    #[session(default = "defaults::lang")]
    lang: String,
    #[session(default)]
    visits: u32,
    #[session(skip, default = "Vec::new")]
    recent: Vec<u32>,
    #[session(flash)]
    notice: Option<String>,
    #[session(user_id, rename = "uid")]
    account: Option<String>,
}

pub fn use_it(s: &mut Session<Visit>) {
    *s.count_mut() += 1;
    let _ = s.count();
    s.scratch_mut().push(1);
    let _: String = s.take_theme();
    s.reset_lang();
    let _: u32 = s.set_visits(3);
    let _: &Vec<u32> = s.recent();
    // A flash value is set like any field, and taken by its getter.
    let _: Option<String> = s.set_notice(Some("saved".to_owned()));
    let _: &Option<String> = s.peek_notice();
    let _: Option<String> = s.notice();
    s.notice_mut().get_or_insert_with(String::new).push('!');
    let _: bool = s.is_notice_dirty();
    let _: Option<String> = s.take_notice();
    s.reset_notice();
    let _: &Option<String> = s.account();
    let _: Option<String> = s.set_account(Some("ferris".to_owned()));
}

// Peeking needs only shared access: it works through a read-only session.
pub fn peek(s: &ReadSession<Visit>) -> Option<&str> {
    s.peek_notice().as_deref()
}

fn main() {
    let mut v = Visit::default_session();
    assert_eq!(
        (v.theme.as_str(), v.lang.as_str(), v.visits),
        ("dark", "en", 0)
    );
    v.theme = "light".to_owned();
    v.reset_field(3);
    assert_eq!(v.theme, "dark");

    let info: Vec<_> = Visit::FIELDS
        .iter()
        .map(|f| (f.name(), f.ident(), f.is_skipped(), f.is_user_id()))
        .collect();
    assert_eq!(
        info,
        [
            ("user", "user", false, false),
            ("n", "count", false, false),
            ("scratch", "scratch", true, false),
            ("theme", "theme", false, false),
            ("lang", "lang", false, false),
            ("visits", "visits", false, false),
            ("recent", "recent", true, false),
            ("notice", "notice", false, false),
            ("uid", "account", false, true),
        ]
    );

    // Encoding and decoding by index; skipped and unknown indices are null / no-ops.
    v.count = 7;
    assert_eq!(v.encode_field(1).unwrap().as_str(), "7");
    assert_eq!(v.encode_field(2).unwrap().as_str(), "null");
    assert_eq!(v.encode_field(99).unwrap().as_str(), "null");
    let raw = session_runtime::store::Json::from_string("41".to_owned()).unwrap();
    v.decode_field(1, &raw).unwrap();
    assert_eq!(v.count, 41);
    v.scratch.push(9);
    v.decode_field(2, &raw).unwrap();
    v.decode_field(99, &raw).unwrap();
    assert_eq!(v.scratch, [9]);
    let bad = session_runtime::store::Json::from_string("\"x\"".to_owned()).unwrap();
    assert!(v.decode_field(1, &bad).is_err());
    assert_eq!(v.count, 41, "a failed decode changes nothing");
}
