//! Unit tests: `ast` + `valid` on `parse_quote!` input, asserting messages and error counts,
//! plus a check that the expansion of accepted input parses as items.

use syn::{parse_quote, DeriveInput};

use crate::ast::{Input, NOT_A_STRUCT};
use crate::ctxt::Ctxt;
use crate::{expand, valid};

/// Every message `ast` and `valid` report for `input`, in order.
fn errors(input: &DeriveInput) -> Vec<String> {
    let cx = Ctxt::new();
    if let Some(input) = Input::from_syn(&cx, input) {
        valid::check(&cx, &input);
    }
    match cx.check() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts that `input` is accepted and that its expansion parses as a list of items.
fn assert_ok(input: &DeriveInput) -> syn::File {
    assert_eq!(errors(input), Vec::<String>::new());
    let tokens = expand::derive(input);
    syn::parse2::<syn::File>(tokens).expect("expansion is not valid Rust")
}

fn assert_errors(input: &DeriveInput, expected: &[&str]) {
    assert_eq!(errors(input), expected);
}

#[test]
fn accepts_every_attribute() {
    let input: DeriveInput = parse_quote! {
        #[session(crate = "sr")]
        pub struct Visit {
            user: Option<String>,
            #[session(rename = "n")]
            count: u64,
            #[session(skip)]
            scratch: Vec<u8>,
            #[session(skip, default = fresh)]
            scratch2: Vec<u8>,
            #[session(default = default_theme)]
            theme: String,
            #[session(default = "crate::defaults::lang")]
            lang: String,
            #[session(default)]
            #[session(rename = "v")]
            visits: u32,
            r#type: u8,
        }
    };
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    assert!(text.contains("pub struct VisitFields"), "{text}");
    assert!(
        text.contains("sr :: __private :: FieldInfo :: new (\"n\" , \"count\")"),
        "{text}"
    );
    assert!(
        text.contains("FieldInfo :: new (\"scratch\" , \"scratch\") . skipped ()"),
        "{text}"
    );
    assert!(
        text.contains("FieldInfo :: new (\"type\" , \"type\")"),
        "{text}"
    );
    for method in [
        "fn r#type",
        "fn type_mut",
        "fn set_type",
        "fn take_type",
        "fn reset_type",
    ] {
        assert!(text.contains(method), "{method} missing in {text}");
    }
    assert!(text.contains("fn is_type_dirty"), "{text}");
    assert!(text.contains("default_theme ()"), "{text}");
    assert!(text.contains("crate :: defaults :: lang ()"), "{text}");
}

#[test]
fn accessor_api_is_complete() {
    let input: DeriveInput = parse_quote! {
        pub(crate) struct Visit { count: u64 }
    };
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    for method in [
        "pub (crate) fn count (& self) -> & u64",
        "pub (crate) fn count_mut (& mut self) -> & mut u64",
        "pub (crate) fn set_count (& mut self , value : u64) -> u64",
        "pub (crate) fn take_count (& mut self) -> u64",
        "pub (crate) fn reset_count (& mut self)",
        "pub (crate) fn is_count_dirty (& self) -> :: session_runtime :: __private :: bool",
    ] {
        assert!(text.contains(method), "`{method}` missing in {text}");
    }
    assert!(text.contains("pub (crate) struct VisitFields"), "{text}");
    assert!(
        text.contains(":: session_runtime :: __private :: SessionData for Visit"),
        "{text}"
    );
}

#[test]
fn accepts_type_parameters() {
    let input: DeriveInput = parse_quote! {
        pub struct Cart<T: Clone, U = u8> where U: Copy {
            items: Vec<T>,
            extra: U,
            count: u64,
            next: Option<Box<Self>>,
        }
    };
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    assert!(
        text.contains("pub struct CartFields < T : Clone , U = u8 > where U : Copy"),
        "{text}"
    );
    assert!(
        text.contains("Vec < T > : :: session_runtime :: __private :: Send"),
        "{text}"
    );
    assert!(text.contains("T : 'static"), "{text}");
    // `Self` in a field type means the struct, also inside impls for `CartFields`.
    assert!(text.contains("Option < Box < Cart < T , U > > >"), "{text}");
    assert!(!text.contains("Self > >"), "{text}");
}

#[test]
fn accepts_no_fields() {
    assert_ok(&parse_quote!(
        struct Empty {}
    ));
}

#[test]
fn accepts_many_fields() {
    let fields = (0..70).map(|i| quote::format_ident!("f{i}"));
    let input: DeriveInput = parse_quote!(struct Big { #(#fields: u8,)* });
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    assert!(text.contains("fn is_f69_dirty"), "{text}");
    assert!(text.contains("__write (69)"), "{text}");
}

#[test]
fn rejects_what_is_not_a_struct_with_named_fields() {
    for input in [
        parse_quote!(
            enum E {
                A,
            }
        ),
        parse_quote!(union U { a: u8 }),
        parse_quote!(
            struct T(u8, u16);
        ),
        parse_quote!(
            struct Unit;
        ),
    ] {
        assert_errors(&input, &[NOT_A_STRUCT]);
        // Only the error: no accessors for something that is not a struct.
        let text = expand::derive(&input).to_string();
        assert!(text.starts_with(":: core :: compile_error !"), "{text}");
        assert!(!text.contains("Fields"), "{text}");
    }
}

#[test]
fn reports_unknown_keys() {
    let input: DeriveInput = parse_quote! {
        #[session(foo, crate = "sr", skip)]
        struct Visit {
            #[session(bar = "x", rename = "n", crate = "y", baz(1, 2))]
            count: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "unknown session attribute `bar`",
            "session attribute `crate` is only allowed on the struct",
            "unknown session attribute `baz`",
            "unknown session attribute `foo`",
            "session attribute `skip` is only allowed on a field",
        ],
    );
}

#[test]
fn reports_malformed_values() {
    let input: DeriveInput = parse_quote! {
        #[session(crate = 5)]
        struct Visit {
            #[session(rename)]
            a: u64,
            #[session(rename = 5)]
            b: u64,
            #[session(rename("x"))]
            c: u64,
            #[session(skip = true)]
            d: u64,
            #[session(default = 1 + 2)]
            e: u64,
            #[session(default = "not a path")]
            f: u64,
            #[session(default(x))]
            g: u64,
            #[session(rename = "x" "y")]
            h: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "session attribute `rename` needs a value, like `rename = \"name\"`",
            "session attribute `rename` expects a string literal, like `rename = \"name\"`",
            "session attribute `rename` needs a value, like `rename = \"name\"`",
            "session attribute `skip` takes no value",
            "session attribute `default` expects a function path, like `default = my_default` or `default = \"my_default\"`",
            "session attribute `default` expects a function path, like `default = my_default` or `default = \"my_default\"`",
            "malformed session attribute `default`: expected `default` or `default = my_default`",
            "expected `,` or `)` after the value",
            "session attribute `crate` expects a path in a string, like `crate = \"session_runtime\"`",
        ],
    );
}

#[test]
fn reports_missing_values() {
    let input: DeriveInput = parse_quote! {
        #[session(crate)]
        struct Visit {
            #[session(default(x))]
            count: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "malformed session attribute `default`: expected `default` or `default = my_default`",
            "session attribute `crate` needs a value, like `crate = \"session_runtime\"`",
        ],
    );
}

#[test]
fn reports_syntax_errors_in_the_list() {
    let input: DeriveInput = parse_quote! {
        struct Visit {
            #[session("rename")]
            a: u64,
            #[session]
            b: u64,
        }
    };
    assert_eq!(errors(&input).len(), 2);
}

#[test]
fn reports_every_problem_in_one_attribute() {
    // A bad key does not hide the keys after it.
    let input: DeriveInput = parse_quote! {
        struct Visit {
            #[session(rename = 1, nope, rename = "", skip)]
            count: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "session attribute `rename` expects a string literal, like `rename = \"name\"`",
            "unknown session attribute `nope`",
            "`skip` and `rename` cannot be used together: a skipped field is never stored",
        ],
    );
}

#[test]
fn reports_duplicate_keys() {
    let input: DeriveInput = parse_quote! {
        #[session(crate = "a")]
        #[session(crate = "b")]
        struct Visit {
            #[session(rename = "a", rename = "b")]
            a: u64,
            #[session(skip)]
            #[session(skip)]
            b: u64,
            #[session(default, default = f)]
            c: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "duplicate session attribute `rename`",
            "duplicate session attribute `skip`",
            "duplicate session attribute `default`",
            "duplicate session attribute `crate`",
        ],
    );
}

#[test]
fn reports_duplicate_stored_names() {
    let input: DeriveInput = parse_quote! {
        struct Visit {
            n: u64,
            #[session(rename = "n")]
            count: u64,
            #[session(rename = "count")]
            total: u64,
            #[session(skip)]
            total2: u64,
            #[session(rename = "total2")]
            other: u64,
        }
    };
    assert_errors(
        &input,
        &["field `count` is stored under `n`, which field `n` already uses"],
    );

    let input: DeriveInput = parse_quote! {
        struct Visit {
            #[session(rename = "x")]
            a: u64,
            #[session(rename = "x")]
            b: u64,
            #[session(rename = "x")]
            c: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "field `b` is stored under `x`, which field `a` already uses",
            "field `c` is stored under `x`, which field `a` already uses",
        ],
    );
}

#[test]
fn reports_bad_stored_names() {
    let input: DeriveInput = parse_quote! {
        struct Visit {
            #[session(rename = "")]
            a: u64,
            #[session(rename = "$id")]
            b: u64,
            #[session(rename = "ok$")]
            c: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "stored name cannot be empty",
            "stored name `$id` starts with `$`, which is reserved for the session runtime",
        ],
    );
}

#[test]
fn reports_skip_with_rename_but_not_skip_with_default() {
    let input: DeriveInput = parse_quote! {
        struct Visit {
            #[session(skip, rename = "x")]
            a: u64,
            #[session(skip, default = f)]
            b: u64,
        }
    };
    assert_errors(
        &input,
        &["`skip` and `rename` cannot be used together: a skipped field is never stored"],
    );
}

#[test]
fn reports_clashing_accessors() {
    let input: DeriveInput = parse_quote! {
        struct Visit {
            count: u64,
            count_mut: u64,
            set_count: u64,
            is_x_dirty: u64,
            x: u64,
        }
    };
    assert_errors(
        &input,
        &[
            "field `count_mut` needs an accessor `count_mut`, which field `count` already has; rename one of the fields",
            "field `set_count` needs an accessor `set_count`, which field `count` already has; rename one of the fields",
            "field `x` needs an accessor `is_x_dirty`, which field `is_x_dirty` already has; rename one of the fields",
        ],
    );
    // Still expands, without duplicate methods.
    let file = syn::parse2::<syn::File>(expand::derive(&input)).unwrap();
    let text = quote::quote!(#file).to_string();
    assert_eq!(text.matches("fn count_mut (").count(), 1, "{text}");
}

#[test]
fn rejects_lifetime_and_const_parameters() {
    let input: DeriveInput = parse_quote! {
        struct Visit<'a, T, const N: usize> { a: &'a T, b: [u8; N] }
    };
    assert_errors(
        &input,
        &[
            "`#[derive(Session)]` does not support lifetime parameters: session data must be `'static`",
            "`#[derive(Session)]` does not support const parameters",
        ],
    );
    // Only the errors.
    let text = expand::derive(&input).to_string();
    assert!(!text.contains("Fields"), "{text}");
}

#[test]
fn attribute_errors_keep_the_expansion() {
    let input: DeriveInput = parse_quote! {
        pub struct Visit {
            #[session(renme = "n")]
            count: u64,
        }
    };
    assert_errors(&input, &["unknown session attribute `renme`"]);
    let text = expand::derive(&input).to_string();
    assert!(text.contains("compile_error"), "{text}");
    assert!(text.contains("pub fn count_mut"), "{text}");
    syn::parse2::<syn::File>(expand::derive(&input)).unwrap();
}

#[test]
fn other_attributes_are_ignored() {
    let input: DeriveInput = parse_quote! {
        #[derive(Debug)]
        #[serde(rename_all = "camelCase")]
        /// Docs.
        struct Visit {
            /// Docs.
            #[serde(default)]
            count: u64,
        }
    };
    assert_ok(&input);
}

#[test]
fn flash_field_api() {
    let input: DeriveInput = parse_quote! {
        pub struct Ui {
            #[session(flash)]
            notice: Option<String>,
            #[session(flash, rename = "e", default = none)]
            error: Option<String>,
        }
    };
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    for method in [
        // The getter takes the value: `&mut self`, by value, marked as removed.
        "pub fn notice (& mut self) -> Option < String > { let __default = Self :: __session_default_0 () ; :: session_runtime :: __private :: replace (& mut self . __tracked . __reset (0) . notice , __default) }",
        "pub fn peek_notice (& self) -> & Option < String > { & self . __tracked . data () . notice }",
        "pub fn notice_mut (& mut self) -> & mut Option < String >",
        "pub fn set_notice (& mut self , value : Option < String >) -> Option < String >",
        "pub fn take_notice (& mut self) -> Option < String >",
        "pub fn reset_notice (& mut self)",
        "pub fn is_notice_dirty (& self)",
        "pub fn error (& mut self) -> Option < String >",
        "pub fn peek_error (& self) -> & Option < String >",
    ] {
        assert!(text.contains(method), "`{method}` missing in {text}");
    }
    assert!(!text.contains("fn notice (& self)"), "{text}");
    assert_eq!(text.matches("fn peek_").count(), 2, "{text}");
    // A flash field is stored like any other.
    assert!(
        text.contains("FieldInfo :: new (\"notice\" , \"notice\") ,"),
        "{text}"
    );
    assert!(
        text.contains("FieldInfo :: new (\"e\" , \"error\")]"),
        "{text}"
    );
    assert!(!text.contains(". skipped ()"), "{text}");
}

#[test]
fn non_flash_fields_have_no_peek() {
    let input: DeriveInput = parse_quote! {
        struct Visit { count: u64 }
    };
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    assert!(!text.contains("peek_"), "{text}");
}

#[test]
fn user_id_field_is_marked() {
    let input: DeriveInput = parse_quote! {
        struct Auth {
            roles: Vec<String>,
            #[session(user_id, rename = "uid")]
            user: Option<String>,
        }
    };
    let file = assert_ok(&input);
    let text = quote::quote!(#file).to_string();
    assert!(
        text.contains("FieldInfo :: new (\"uid\" , \"user\") . user_id ()"),
        "{text}"
    );
    assert_eq!(text.matches(". user_id ()").count(), 1, "{text}");
    // Otherwise an ordinary field.
    assert!(
        text.contains("fn user (& self) -> & Option < String >"),
        "{text}"
    );
}

#[test]
fn reports_flash_with_skip() {
    let input: DeriveInput = parse_quote! {
        struct Ui {
            #[session(skip, flash)]
            a: Option<String>,
            #[session(flash)]
            #[session(skip)]
            b: Option<String>,
            #[session(flash, default = f)]
            c: Option<String>,
        }
    };
    assert_errors(
        &input,
        &[
            "`skip` and `flash` cannot be used together: a skipped field is never stored, so it cannot carry a value to the next request",
            "`skip` and `flash` cannot be used together: a skipped field is never stored, so it cannot carry a value to the next request",
        ],
    );
}

#[test]
fn reports_user_id_rules() {
    let input: DeriveInput = parse_quote! {
        struct Auth {
            #[session(user_id)]
            user: Option<String>,
            #[session(user_id)]
            account: Option<String>,
            #[session(user_id, skip)]
            a: Option<String>,
            #[session(flash, user_id)]
            b: Option<String>,
        }
    };
    assert_errors(
        &input,
        &[
            "only one field can be `user_id`, and field `user` already is",
            "`skip` and `user_id` cannot be used together: a skipped field is never stored, so it cannot identify the session's user",
            "only one field can be `user_id`, and field `user` already is",
            "`flash` and `user_id` cannot be used together: a flash value is removed once read, so it cannot identify the session's user",
            "only one field can be `user_id`, and field `user` already is",
        ],
    );

    // Each combination alone is one error.
    let input: DeriveInput = parse_quote! {
        struct Auth {
            #[session(skip, user_id)]
            user: Option<String>,
        }
    };
    assert_errors(
        &input,
        &["`skip` and `user_id` cannot be used together: a skipped field is never stored, so it cannot identify the session's user"],
    );
    let input: DeriveInput = parse_quote! {
        struct Auth {
            #[session(user_id, flash)]
            user: Option<String>,
        }
    };
    assert_errors(
        &input,
        &["`flash` and `user_id` cannot be used together: a flash value is removed once read, so it cannot identify the session's user"],
    );
    // `skip` wins over `flash` for `user_id`: one error about `user_id`, one about `flash`.
    let input: DeriveInput = parse_quote! {
        struct Auth {
            #[session(skip, flash, user_id)]
            user: Option<String>,
        }
    };
    assert_eq!(errors(&input).len(), 2);
}

#[test]
fn reports_malformed_and_duplicate_flags() {
    let input: DeriveInput = parse_quote! {
        #[session(flash, user_id)]
        struct Ui {
            #[session(flash = true, user_id("x"))]
            a: Option<String>,
            #[session(flash, flash)]
            b: Option<String>,
            #[session(user_id)]
            #[session(user_id)]
            c: Option<String>,
        }
    };
    assert_errors(
        &input,
        &[
            "session attribute `flash` takes no value",
            "session attribute `user_id` takes no value",
            "duplicate session attribute `flash`",
            "duplicate session attribute `user_id`",
            "session attribute `flash` is only allowed on a field",
            "session attribute `user_id` is only allowed on a field",
        ],
    );
}

#[test]
fn reports_accessors_clashing_with_peek() {
    let input: DeriveInput = parse_quote! {
        struct Ui {
            #[session(flash)]
            notice: Option<String>,
            peek_notice: bool,
        }
    };
    assert_errors(
        &input,
        &["field `peek_notice` needs an accessor `peek_notice`, which field `notice` already has; rename one of the fields"],
    );
    // Still expands, without a duplicate method.
    let file = syn::parse2::<syn::File>(expand::derive(&input)).unwrap();
    let text = quote::quote!(#file).to_string();
    assert_eq!(text.matches("fn peek_notice (").count(), 1, "{text}");

    // The other way round: the flash field comes second and is the one reported.
    let input: DeriveInput = parse_quote! {
        struct Ui {
            peek_notice: bool,
            #[session(flash)]
            notice: Option<String>,
        }
    };
    assert_errors(
        &input,
        &["field `notice` needs an accessor `peek_notice`, which field `peek_notice` already has; rename one of the fields"],
    );
}
