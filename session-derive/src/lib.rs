//! The `#[derive(Session)]` macro of `session-runtime`.
//!
//! Do not depend on this crate directly: depend on `session-runtime`, which re-exports the
//! derive as `session_runtime::Session` next to the extractor of the same name. The generated
//! code uses the runtime's private module, so the two crates are always released together.
#![deny(missing_docs)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Makes a struct with named fields usable as `Session<Struct>`, with one typed,
/// dirty-tracked accessor set per field.
///
/// ```
/// use session_runtime::Session;
///
/// #[derive(Session)]
/// pub struct Visit {
///     user: Option<String>,
///     count: u64,
/// }
///
/// fn handler(visit: &mut Session<Visit>) {
///     if visit.user().is_none() {
///         visit.set_user(Some("ferris".to_owned())); // marks `user` only
///     }
///     *visit.count_mut() += 1; // marks `count` only
/// }
/// # fn main() {}
/// ```
///
/// # What it generates
///
/// For `#[derive(Session)] pub struct Visit { .. }`:
///
/// - `impl SessionData for Visit`: how the runtime creates, encodes, decodes and resets the
///   fields, one store field per struct field.
/// - `pub struct VisitFields`, with the same visibility as `Visit`: the type that
///   `Session<Visit>` dereferences to. For every field `f: T` it has
///
///   | method | does | marks `f` as changed |
///   |---|---|---|
///   | `f(&self) -> &T` | reads the field | no |
///   | `f_mut(&mut self) -> &mut T` | gives write access | yes |
///   | `set_f(&mut self, value: T) -> T` | replaces the value, returns the old one | yes |
///   | `take_f(&mut self) -> T` | returns the value, leaves the default in its place | yes, as removed |
///   | `reset_f(&mut self)` | puts the default back | yes, as removed |
///   | `is_f_dirty(&self) -> bool` | whether `f` was changed in this request | no |
///
///   A [`flash`](#sessionflash) field reads differently: its getter takes the value, and a
///   seventh accessor reads it without taking it.
///
///   | method (flash fields) | does | marks `f` as changed |
///   |---|---|---|
///   | `f(&mut self) -> T`, instead of `f(&self) -> &T` | takes the value: returns it, leaves the default in its place | yes, as removed |
///   | `peek_f(&self) -> &T` | reads the value without taking it | no |
///
///   A field that was reset or taken is removed from the store, not written. Raw
///   identifiers work: a field `r#type` gets `r#type()`, `type_mut()`, `set_type()`, ...
///
/// At the end of the request the runtime writes exactly the fields marked as changed.
///
/// # Requirements
///
/// - A struct with named fields: enums, unions, tuple structs and unit structs are rejected.
/// - Every field type is `Serialize + DeserializeOwned` (stored as JSON), `Send + Sync +
///   'static`, and has a default: `Default`, or the function given with `default = ..`.
///   Skipped fields need no serde traits.
/// - Type parameters are supported; the generated impls require of every field type that
///   mentions one what the list above requires. Lifetime and const parameters are rejected:
///   session data is `'static` and stored by value.
///
/// # Field attributes
///
/// ## `#[session(rename = "name")]`
///
/// Stores the field under `name` instead of the field's name. The accessors keep the field's
/// name. Use it to keep stored sessions readable after renaming a field in Rust, or to share
/// a key with another session type. The name must not be empty, must not start with `$`
/// (reserved for the runtime), and no two stored fields may share a name.
///
/// ```
/// # use session_runtime::Session;
/// #[derive(Session)]
/// pub struct Visit {
///     #[session(rename = "n")]
///     count: u64, // stored as "n", read with `count()`
/// }
/// # fn main() {}
/// ```
///
/// ## `#[session(skip)]`
///
/// Never stores the field: it starts at its default in every request, and its accessors only
/// change this request's copy. A skipped field needs no serde traits, and cannot be renamed.
///
/// ```
/// # use session_runtime::Session;
/// #[derive(Session)]
/// pub struct Cart {
///     items: Vec<u32>,
///     #[session(skip)]
///     scratch: Vec<u8>, // per-request only
/// }
/// # fn main() {}
/// ```
///
/// ## `#[session(default = path)]`, `#[session(default = "path")]`, `#[session(default)]`
///
/// The value a field has in a new session, after `reset_f()`, and in place of a taken value:
/// `path` names a function with no arguments that returns the field's type. Both the bare
/// path and a string holding it (serde's form) are accepted. A bare `default` means
/// `Default::default()`, which is also what a field without the key gets.
///
/// ```
/// # use session_runtime::Session;
/// fn dark() -> String {
///     "dark".to_owned()
/// }
///
/// #[derive(Session)]
/// pub struct Prefs {
///     #[session(default = dark)]
///     theme: String,
///     #[session(default = "Vec::new")]
///     recent: Vec<String>,
///     #[session(default)]
///     visits: u64,
/// }
/// # fn main() {}
/// ```
///
/// ## `#[session(flash)]`
///
/// Makes the field a flash value: one that is set in one request and shown once in a later
/// one, such as "settings saved" after a redirect. **Reading a flash value takes it**: the
/// getter `f()` needs `&mut self`, returns the value by value, leaves the field's default
/// in its place and marks the field as removed, so the value is gone from the store after
/// the request that read it. `peek_f()` reads it without taking it, and works through
/// `ReadSession<T>` (which cannot take anything). Setting it (`set_f()`, `f_mut()`) stores
/// it as for any other field, until it is read. A flash field cannot be skipped: it would
/// never reach the next request.
///
/// ```
/// use session_runtime::{ReadSession, Session};
///
/// #[derive(Session)]
/// pub struct Ui {
///     #[session(flash)]
///     notice: Option<String>,
/// }
///
/// // POST /settings: leaves a message for the page the user is redirected to.
/// async fn save_settings(mut ui: Session<Ui>) {
///     ui.set_notice(Some("settings saved".to_owned()));
/// }
///
/// // GET /settings: shows the message once; reloading the page does not show it again.
/// async fn show_settings(mut ui: Session<Ui>) -> String {
///     match ui.notice() {
///         Some(notice) => format!("<p class=\"notice\">{notice}</p>"),
///         None => String::new(),
///     }
/// }
///
/// // Looking without taking: the message is still shown by the next `show_settings`.
/// fn has_notice(ui: &ReadSession<Ui>) -> bool {
///     ui.peek_notice().is_some()
/// }
/// # fn main() {}
/// ```
///
/// ## `#[session(user_id)]`
///
/// Marks the field that identifies the session's user. The runtime records its stored value
/// as the session's owner, so that every session of that user can be revoked at once (after
/// a password change, or from a "log out everywhere" button) with the store's
/// `delete_by_owner`. At most one field per struct can have it, and it cannot be combined
/// with `skip` or `flash`: the owner must be stored, and must stay.
///
/// ```
/// # use session_runtime::Session;
/// #[derive(Session)]
/// pub struct Auth {
///     #[session(user_id)]
///     user_id: Option<String>,
///     roles: Vec<String>,
/// }
///
/// fn log_in(auth: &mut Session<Auth>, user: &str) {
///     auth.regenerate(); // a new session id on every privilege change
///     auth.set_user_id(Some(user.to_owned()));
/// }
/// # fn main() {}
/// ```
///
/// # Struct attributes
///
/// ## `#[session(crate = "path")]`
///
/// The path of the `session-runtime` crate, for code that renamed the dependency (in
/// `Cargo.toml`, with `use session_runtime as sr;` or `extern crate session_runtime as sr;`).
/// The default is `::session_runtime`.
///
/// ```
/// use session_runtime as sr;
///
/// #[derive(sr::Session)]
/// #[session(crate = "sr")]
/// pub struct Visit {
///     count: u64,
/// }
/// # fn main() {}
/// ```
///
/// # Errors
///
/// Every mistake in `#[session(..)]` attributes is reported at once, each at the offending
/// key or value: unknown keys, malformed values, a key given twice, two fields stored under
/// the same name, `skip` together with `rename`, `flash` or `user_id`, `flash` together with
/// `user_id`, more than one `user_id` field, and two fields whose accessors would have the
/// same name (`count` and `count_mut`, or a flash field `notice` and a field `peek_notice`).
/// The accessors are still generated (ignoring the bad keys), so code that uses them keeps
/// compiling while you fix the attribute.
#[proc_macro_derive(Session, attributes(session))]
pub fn derive_session(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
