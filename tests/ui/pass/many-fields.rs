#![deny(warnings)]

//! More than 64 fields: the dirty set grows past its inline word.

use session_runtime::{Session, SessionData};

#[derive(Session)]
pub struct Big {
    f0: u32,
    f1: u32,
    f2: u32,
    f3: u32,
    f4: u32,
    f5: u32,
    f6: u32,
    f7: u32,
    f8: u32,
    f9: u32,
    f10: u32,
    f11: u32,
    f12: u32,
    f13: u32,
    f14: u32,
    f15: u32,
    f16: u32,
    f17: u32,
    f18: u32,
    f19: u32,
    f20: u32,
    f21: u32,
    f22: u32,
    f23: u32,
    f24: u32,
    f25: u32,
    f26: u32,
    f27: u32,
    f28: u32,
    f29: u32,
    f30: u32,
    f31: u32,
    f32: u32,
    f33: u32,
    f34: u32,
    f35: u32,
    f36: u32,
    f37: u32,
    f38: u32,
    f39: u32,
    f40: u32,
    f41: u32,
    f42: u32,
    f43: u32,
    f44: u32,
    f45: u32,
    f46: u32,
    f47: u32,
    f48: u32,
    f49: u32,
    f50: u32,
    f51: u32,
    f52: u32,
    f53: u32,
    f54: u32,
    f55: u32,
    f56: u32,
    f57: u32,
    f58: u32,
    f59: u32,
    f60: u32,
    f61: u32,
    f62: u32,
    f63: u32,
    f64: u32,
    f65: u32,
    f66: u32,
    f67: u32,
    f68: u32,
    f69: u32,
}

pub fn use_it(s: &mut Session<Big>) {
    *s.f0_mut() += 1;
    *s.f63_mut() += 1;
    *s.f64_mut() += 1;
    let _: u32 = s.set_f69(7);
    let _: bool = s.is_f69_dirty();
    let _ = s.f65();
}

fn main() {
    assert_eq!(Big::FIELDS.len(), 70);
    assert_eq!(Big::FIELDS[69].name(), "f69");
    let mut big = Big::default_session();
    big.f69 = 5;
    assert_eq!(big.encode_field(69).unwrap().as_str(), "5");
    big.reset_field(69);
    assert_eq!(big.f69, 0);
}
