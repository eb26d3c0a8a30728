#![deny(warnings)]

use session_runtime::{Session, SessionData};

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
}

pub fn use_it(s: &mut Session<Visit>) {
    *s.count_mut() += 1;
    let _ = s.count();
    s.scratch_mut().push(1);
    let _: String = s.take_theme();
    s.reset_lang();
    let _: u32 = s.set_visits(3);
    let _: &Vec<u32> = s.recent();
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
        .map(|f| (f.name(), f.ident(), f.is_skipped()))
        .collect();
    assert_eq!(
        info,
        [
            ("user", "user", false),
            ("n", "count", false),
            ("scratch", "scratch", true),
            ("theme", "theme", false),
            ("lang", "lang", false),
            ("visits", "visits", false),
            ("recent", "recent", true),
        ]
    );

    // Encoding and decoding by index; skipped and unknown indices are null / no-ops.
    v.count = 7;
    assert_eq!(v.encode_field(1).unwrap().get(), "7");
    assert_eq!(v.encode_field(2).unwrap().get(), "null");
    assert_eq!(v.encode_field(99).unwrap().get(), "null");
    let raw = serde_json::value::RawValue::from_string("41".to_owned()).unwrap();
    v.decode_field(1, &raw).unwrap();
    assert_eq!(v.count, 41);
    v.scratch.push(9);
    v.decode_field(2, &raw).unwrap();
    v.decode_field(99, &raw).unwrap();
    assert_eq!(v.scratch, [9]);
    let bad = serde_json::value::RawValue::from_string("\"x\"".to_owned()).unwrap();
    assert!(v.decode_field(1, &bad).is_err());
    assert_eq!(v.count, 41, "a failed decode changes nothing");
}
