#![deny(warnings)]
#![allow(non_camel_case_types, dead_code)]

//! Generated code must not depend on what is in scope at the derive: every name below
//! shadows a prelude item it might otherwise use.

use session_runtime::Session;

struct Option;
struct Result;
struct Ok;
struct Err;
struct Some;
struct None;
struct Box;
struct String;
struct Default;
struct Vec;
struct Send;
struct Sync;
struct Serialize;
struct Deserialize;
struct replace;
mod serde {}
mod serde_json {}
mod std {}

#[derive(Session)]
pub struct Visit {
    user: ::std::option::Option<::std::string::String>,
    count: u64,
    #[session(skip)]
    scratch: ::std::vec::Vec<u8>,
    #[session(default = "::std::vec::Vec::new")]
    list: ::std::vec::Vec<u64>,
    #[session(flash)]
    notice: ::std::option::Option<::std::string::String>,
    #[session(user_id)]
    account: ::std::option::Option<::std::string::String>,
}

pub fn use_it(s: &mut session_runtime::Session<Visit>) {
    *s.count_mut() += 1;
    let _ = s.count();
    let _ = s.set_count(2);
    let _ = s.take_user();
    s.reset_list();
    let _ = s.peek_notice();
    let _ = s.notice();
    let _ = s.account();
}

fn main() {}
