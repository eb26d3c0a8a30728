//! Rules that span several keys or fields: what `attr` cannot see while reading one key.

use std::collections::HashMap;

use syn::GenericParam;

use crate::ast::Input;
use crate::attr::{FLASH, RENAME, SKIP, USER_ID};
use crate::ctxt::Ctxt;

/// The prefix of store keys the runtime keeps for itself.
pub const RESERVED_PREFIX: &str = "$";

/// Reports every rule `input` breaks.
pub fn check(cx: &Ctxt, input: &Input) {
    check_generics(cx, input);
    check_renames(cx, input);
    check_flash(cx, input);
    check_user_id(cx, input);
    check_stored_names(cx, input);
    check_accessor_names(cx, input);
}

/// Whether code can be generated for `input` at all. Attribute mistakes do not prevent it
/// (the bad keys are ignored); lifetime and const parameters do.
pub fn can_expand(input: &Input) -> bool {
    input
        .generics
        .params
        .iter()
        .all(|param| matches!(param, GenericParam::Type(_)))
}

fn check_generics(cx: &Ctxt, input: &Input) {
    for param in &input.generics.params {
        match param {
            GenericParam::Lifetime(lifetime) => cx.error_spanned_by(
                lifetime,
                "`#[derive(Session)]` does not support lifetime parameters: session data must be `'static`",
            ),
            GenericParam::Const(konst) => cx.error_spanned_by(
                konst,
                "`#[derive(Session)]` does not support const parameters",
            ),
            GenericParam::Type(_) => {}
        }
    }
}

fn check_renames(cx: &Ctxt, input: &Input) {
    for field in &input.fields {
        let Some(rename) = &field.attrs.rename else {
            continue;
        };
        if field.is_skipped() {
            cx.error_spanned_by(
                &rename.tokens,
                format!("`{SKIP}` and `{RENAME}` cannot be used together: a skipped field is never stored"),
            );
            continue;
        }
        let name = rename.name.value();
        if name.is_empty() {
            cx.error_spanned_by(&rename.name, "stored name cannot be empty");
        } else if name.starts_with(RESERVED_PREFIX) {
            cx.error_spanned_by(
                &rename.name,
                format!("stored name `{name}` starts with `{RESERVED_PREFIX}`, which is reserved for the session runtime"),
            );
        }
    }
}

fn check_flash(cx: &Ctxt, input: &Input) {
    for field in &input.fields {
        if let (Some(flash), true) = (&field.attrs.flash, field.is_skipped()) {
            cx.error_spanned_by(
                flash,
                format!("`{SKIP}` and `{FLASH}` cannot be used together: a skipped field is never stored, so it cannot carry a value to the next request"),
            );
        }
    }
}

fn check_user_id(cx: &Ctxt, input: &Input) {
    let mut first: Option<String> = None;
    for field in &input.fields {
        let Some(user_id) = &field.attrs.user_id else {
            continue;
        };
        if field.is_skipped() {
            cx.error_spanned_by(
                user_id,
                format!("`{SKIP}` and `{USER_ID}` cannot be used together: a skipped field is never stored, so it cannot identify the session's user"),
            );
        } else if field.is_flash() {
            cx.error_spanned_by(
                user_id,
                format!("`{FLASH}` and `{USER_ID}` cannot be used together: a flash value is removed once read, so it cannot identify the session's user"),
            );
        }
        match &first {
            Some(first) => cx.error_spanned_by(
                user_id,
                format!("only one field can be `{USER_ID}`, and field `{first}` already is"),
            ),
            None => first = Some(field.name()),
        }
    }
}

fn check_stored_names(cx: &Ctxt, input: &Input) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for field in input.fields.iter().filter(|field| !field.is_skipped()) {
        let stored = field.stored_name();
        match seen.get(&stored) {
            Some(first) => {
                let msg = format!(
                    "field `{}` is stored under `{stored}`, which field `{first}` already uses",
                    field.name(),
                );
                match &field.attrs.rename {
                    Some(rename) => cx.error_spanned_by(&rename.name, msg),
                    None => cx.error_spanned_by(field.ident, msg),
                }
            }
            None => {
                seen.insert(stored, field.name());
            }
        }
    }
}

/// Methods of `Session<T>` / `ReadSession<T>` themselves. Method lookup finds these before
/// the accessors reached through `Deref`, so an accessor with one of these names would be
/// unreachable as `session.name()`.
pub const SESSION_METHODS: &[&str] = &[
    "get",
    "set",
    "is_new",
    "regenerate",
    "destroy",
    "save",
    "remember_for",
];

fn check_accessor_names(cx: &Ctxt, input: &Input) {
    // accessor name -> the field it was generated for
    let mut seen: HashMap<String, String> = HashMap::new();
    for field in &input.fields {
        let names = field.accessor_names();
        let mut reported = false;
        if let Some(name) = names.all().find(|n| SESSION_METHODS.contains(n)) {
            cx.error_spanned_by(
                field.ident,
                format!(
                    "field `{}` needs an accessor `{name}`, which `Session` already has as a method; rename the field and keep the stored name with `#[session(rename = \"{}\")]`",
                    field.name(),
                    field.name(),
                ),
            );
            reported = true;
        }
        for name in names.all() {
            match seen.get(name) {
                Some(owner) if !reported => {
                    cx.error_spanned_by(
                        field.ident,
                        format!(
                            "field `{}` needs an accessor `{name}`, which field `{owner}` already has; rename one of the fields",
                            field.name(),
                        ),
                    );
                    reported = true;
                }
                Some(_) => {}
                None => {
                    seen.insert(name.to_owned(), field.name());
                }
            }
        }
    }
}
