//! Parsing of `#[session(...)]` attributes with `syn::meta::parse_nested_meta`.
//!
//! Parsing never stops at the first problem: every malformed or unknown key is reported into
//! the [`Ctxt`] and skipped, and the keys after it are still read.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// The attribute name: `#[session(...)]`.
pub const SESSION: &str = "session";
/// Field key: `rename = "name"`, the key the field is stored under.
pub const RENAME: &str = "rename";
/// Field key: `skip`, the field is never stored.
pub const SKIP: &str = "skip";
/// Field key: `default` or `default = path`, the field's default value.
pub const DEFAULT: &str = "default";
/// Field key: `flash`, the field is removed from the session once it has been read.
pub const FLASH: &str = "flash";
/// Field key: `user_id`, the field identifies the session's user.
pub const USER_ID: &str = "user_id";
/// Container key: `crate = "path"`, the path of the runtime crate.
pub const CRATE: &str = "crate";

/// Keys accepted on a field.
const FIELD_KEYS: &[&str] = &[RENAME, SKIP, DEFAULT, FLASH, USER_ID];
/// Keys accepted on the struct.
const CONTAINER_KEYS: &[&str] = &[CRATE];

/// `rename = "name"` on a field.
pub struct Rename {
    /// The `rename = "..."` tokens, for errors about the key as a whole.
    pub tokens: TokenStream,
    /// The stored name.
    pub name: LitStr,
}

/// Where a field's default value comes from.
pub enum DefaultSource {
    /// `Default::default()`: no `default` key, or a bare `default`.
    Trait,
    /// `default = path` or `default = "path"`: a function called with no arguments.
    Path(ExprPath),
}

/// The `#[session(...)]` keys of one field.
pub struct FieldAttrs {
    /// `rename = "name"`.
    pub rename: Option<Rename>,
    /// The `skip` key, if given.
    pub skip: Option<Path>,
    /// `default` / `default = path`; `None` if the key is absent.
    pub default: Option<DefaultSource>,
    /// The `flash` key, if given (kept for errors about it).
    pub flash: Option<Path>,
    /// The `user_id` key, if given (kept for errors about it).
    pub user_id: Option<Path>,
}

impl FieldAttrs {
    /// Where the default value comes from (`Default::default()` unless `default = path`).
    pub fn default_source(&self) -> &DefaultSource {
        self.default.as_ref().unwrap_or(&DefaultSource::Trait)
    }
}

/// The `#[session(...)]` keys of the struct itself.
pub struct ContainerAttrs {
    /// `crate = "path"`.
    pub krate: Option<Path>,
}

/// Parses the `#[session(...)]` attributes of a field.
pub fn field_attrs(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs {
        rename: None,
        skip: None,
        default: None,
        flash: None,
        user_id: None,
    };
    for attr in session_attrs(attrs) {
        parse_list(cx, attr, |meta| {
            let key = meta.path.clone();
            if key.is_ident(RENAME) {
                let lit = parse_str_value(cx, &meta, RENAME, "rename = \"name\"")?;
                let rename = lit.map(|name| Rename {
                    tokens: quote!(#key = #name),
                    name,
                });
                set_once(cx, &mut out.rename, &key, rename);
            } else if key.is_ident(SKIP) {
                parse_flag(cx, &meta, SKIP, &mut out.skip)?;
            } else if key.is_ident(FLASH) {
                parse_flag(cx, &meta, FLASH, &mut out.flash)?;
            } else if key.is_ident(USER_ID) {
                parse_flag(cx, &meta, USER_ID, &mut out.user_id)?;
            } else if key.is_ident(DEFAULT) {
                let source = parse_default(cx, &meta)?;
                set_once(cx, &mut out.default, &key, source);
            } else {
                unknown_key(cx, &meta, CONTAINER_KEYS, "on the struct")?;
            }
            Ok(())
        });
    }
    out
}

/// Parses the `#[session(...)]` attributes of the struct.
pub fn container_attrs(cx: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut out = ContainerAttrs { krate: None };
    for attr in session_attrs(attrs) {
        parse_list(cx, attr, |meta| {
            let key = meta.path.clone();
            if key.is_ident(CRATE) {
                let path = parse_crate(cx, &meta)?;
                set_once(cx, &mut out.krate, &key, path);
            } else {
                unknown_key(cx, &meta, FIELD_KEYS, "on a field")?;
            }
            Ok(())
        });
    }
    out
}

fn session_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident(SESSION))
}

/// Runs `f` on every key of `attr`. A key handler reports its own problems and skips the
/// key's value, so that one bad key does not hide the others; an error it returns (or one in
/// the list's syntax) ends this attribute.
fn parse_list(cx: &Ctxt, attr: &Attribute, f: impl FnMut(ParseNestedMeta) -> syn::Result<()>) {
    if let Err(err) = attr.parse_nested_meta(f) {
        cx.syn_error(err);
    }
}

fn path_name(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

/// Stores a parsed `value` (if it parsed) in `slot`, or reports `key` as given twice.
fn set_once<T>(cx: &Ctxt, slot: &mut Option<T>, key: &Path, value: Option<T>) {
    if let Some(value) = value {
        if slot.is_some() {
            duplicate(cx, key);
        } else {
            *slot = Some(value);
        }
    }
}

fn duplicate(cx: &Ctxt, key: &Path) {
    cx.error_spanned_by(
        key,
        format!("duplicate session attribute `{}`", path_name(key)),
    );
}

/// Reports an unknown key and skips its value. `elsewhere` are the keys that are valid in the
/// other position (field vs struct), for a more helpful message.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    elsewhere: &[&str],
    where_valid: &str,
) -> syn::Result<()> {
    let name = path_name(&meta.path);
    if elsewhere.contains(&name.as_str()) {
        cx.error_spanned_by(
            &meta.path,
            format!("session attribute `{name}` is only allowed {where_valid}"),
        );
    } else {
        cx.error_spanned_by(&meta.path, format!("unknown session attribute `{name}`"));
    }
    skip_value(meta.input)
}

/// Consumes whatever follows a key (`= value` or `(...)`), up to the next top-level comma,
/// and returns it.
fn take_value(input: ParseStream) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut tokens = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            tokens.extend([tt]);
            rest = next;
        }
        Ok((tokens, rest))
    })
}

/// Skips whatever follows a key, up to the next top-level comma.
fn skip_value(input: ParseStream) -> syn::Result<()> {
    take_value(input).map(drop)
}

/// Parses `= <expr>` after a key. `Ok(None)` if there is no `=` (after reporting `missing`)
/// or the value is not an expression (after reporting the parse error).
fn parse_value_expr(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    missing: impl FnOnce() -> String,
) -> syn::Result<Option<Expr>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(&meta.path, missing());
        skip_value(meta.input)?;
        return Ok(None);
    }
    let input = meta.value()?;
    match input.parse::<Expr>() {
        Ok(expr) => {
            // Anything after the expression but before the next comma is malformed too.
            if !(input.is_empty() || input.peek(Token![,])) {
                cx.syn_error(input.error("expected `,` or `)` after the value"));
                skip_value(input)?;
            }
            Ok(Some(expr))
        }
        Err(err) => {
            cx.syn_error(err);
            skip_value(input)?;
            Ok(None)
        }
    }
}

/// Parses `key = "string"`.
fn parse_str_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    key: &str,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let expr = parse_value_expr(cx, meta, || {
        format!("session attribute `{key}` needs a value, like `{example}`")
    })?;
    Ok(match expr {
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        })) => Some(lit),
        Some(other) => {
            cx.error_spanned_by(
                other,
                format!("session attribute `{key}` expects a string literal, like `{example}`"),
            );
            None
        }
        None => None,
    })
}

/// Parses a flag key (`skip`, `flash`, `user_id`) into `slot`: reports a value after it
/// (and ignores the key) or a second occurrence.
fn parse_flag(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    key: &str,
    slot: &mut Option<Path>,
) -> syn::Result<()> {
    let value = no_value(cx, meta, key)?.then(|| meta.path.clone());
    set_once(cx, slot, &meta.path, value);
    Ok(())
}

/// Checks that a flag key has no value. `Ok(false)` if it has one (after reporting
/// it and skipping it).
fn no_value(cx: &Ctxt, meta: &ParseNestedMeta, key: &str) -> syn::Result<bool> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(true);
    }
    let value = take_value(meta.input)?;
    cx.error_spanned_by(value, format!("session attribute `{key}` takes no value"));
    Ok(false)
}

/// Parses `default` (bare), `default = path` or `default = "path"`.
fn parse_default(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<DefaultSource>> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(Some(DefaultSource::Trait));
    }
    const EXPECTED: &str =
        "session attribute `default` expects a function path, like `default = my_default` or `default = \"my_default\"`";
    let expr = parse_value_expr(cx, meta, || {
        "malformed session attribute `default`: expected `default` or `default = my_default`"
            .to_owned()
    })?;
    Ok(match expr {
        Some(Expr::Path(path)) if path.attrs.is_empty() => Some(DefaultSource::Path(path)),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        })) => match lit.parse::<ExprPath>() {
            Ok(path) => Some(DefaultSource::Path(path)),
            Err(_) => {
                cx.error_spanned_by(lit, EXPECTED);
                None
            }
        },
        Some(other) => {
            cx.error_spanned_by(other, EXPECTED);
            None
        }
        None => None,
    })
}

/// Parses `crate = "path"` (or `crate = path`).
fn parse_crate(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Path>> {
    const EXPECTED: &str =
        "session attribute `crate` expects a path in a string, like `crate = \"session_runtime\"`";
    let expr = parse_value_expr(cx, meta, || {
        "session attribute `crate` needs a value, like `crate = \"session_runtime\"`".to_owned()
    })?;
    Ok(match expr {
        Some(Expr::Path(path)) if path.attrs.is_empty() && path.qself.is_none() => Some(path.path),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        })) => match lit.parse::<Path>() {
            Ok(path) => Some(path),
            Err(_) => {
                cx.error_spanned_by(lit, EXPECTED);
                None
            }
        },
        Some(other) => {
            cx.error_spanned_by(other, EXPECTED);
            None
        }
        None => None,
    })
}
