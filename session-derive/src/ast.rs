//! A borrowed view of the derive input: the parts `#[derive(Session)]` works with, with the
//! original tokens kept for spans.

use syn::{Data, DeriveInput, Fields, Generics, Ident, Type, Visibility};

use crate::attr::{self, ContainerAttrs, FieldAttrs};
use crate::ctxt::Ctxt;

/// The message for any input that is not a struct with named fields.
pub const NOT_A_STRUCT: &str = "`#[derive(Session)]` only supports structs with named fields";

/// A struct with named fields.
pub struct Input<'a> {
    /// The struct's name.
    pub ident: &'a Ident,
    /// The struct's visibility, reused for the accessor type and its methods.
    pub vis: &'a Visibility,
    /// The struct's generics, as written.
    pub generics: &'a Generics,
    /// The struct's `#[session(...)]` keys.
    pub attrs: ContainerAttrs,
    /// Every field, in declaration order (skipped fields included).
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    /// Position in declaration order, counting every field: the index the runtime uses.
    pub index: usize,
    /// The field's name (possibly a raw identifier such as `r#type`).
    pub ident: &'a Ident,
    /// The field's type.
    pub ty: &'a Type,
    /// The field's `#[session(...)]` keys.
    pub attrs: FieldAttrs,
}

impl<'a> Input<'a> {
    /// Reads `input`. Returns `None` (after reporting why) if it is not a struct with named
    /// fields; attribute problems are reported and the bad keys ignored.
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(unnamed) => {
                    cx.error_spanned_by(unnamed, NOT_A_STRUCT);
                    return None;
                }
                Fields::Unit => {
                    let (token, ident, semi) = (data.struct_token, &input.ident, data.semi_token);
                    cx.error_spanned_by(quote::quote!(#token #ident #semi), NOT_A_STRUCT);
                    return None;
                }
            },
            Data::Enum(data) => {
                let (token, ident) = (data.enum_token, &input.ident);
                cx.error_spanned_by(quote::quote!(#token #ident), NOT_A_STRUCT);
                return None;
            }
            Data::Union(data) => {
                let (token, ident) = (data.union_token, &input.ident);
                cx.error_spanned_by(quote::quote!(#token #ident), NOT_A_STRUCT);
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .enumerate()
            .map(|(index, field)| Field {
                index,
                ident: field.ident.as_ref().expect("named field without a name"),
                ty: &field.ty,
                attrs: attr::field_attrs(cx, &field.attrs),
            })
            .collect();
        Some(Input {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs: attr::container_attrs(cx, &input.attrs),
            fields,
        })
    }
}

impl Field<'_> {
    /// Whether the field is never stored.
    pub fn is_skipped(&self) -> bool {
        self.attrs.skip.is_some()
    }

    /// Whether the field is a flash value, removed from the session once read.
    pub fn is_flash(&self) -> bool {
        self.attrs.flash.is_some()
    }

    /// Whether the field identifies the session's user.
    pub fn is_user_id(&self) -> bool {
        self.attrs.user_id.is_some()
    }

    /// The field's name without the `r#` of a raw identifier: `type` for `r#type`.
    pub fn name(&self) -> String {
        syn::ext::IdentExt::unraw(self.ident).to_string()
    }

    /// The key the field is stored under: its `rename` or its name.
    pub fn stored_name(&self) -> String {
        match &self.attrs.rename {
            Some(rename) => rename.name.value(),
            None => self.name(),
        }
    }
}

/// The names of the accessors generated for one field, in the order they are generated: six
/// for every field, seven for a flash field.
pub struct AccessorNames {
    /// `f`: read access (for a flash field: read and take).
    pub get: String,
    /// `peek_f`: read access without taking, for a flash field only.
    pub peek: Option<String>,
    /// `f_mut`: write access.
    pub get_mut: String,
    /// `set_f`.
    pub set: String,
    /// `take_f`.
    pub take: String,
    /// `reset_f`.
    pub reset: String,
    /// `is_f_dirty`.
    pub is_dirty: String,
}

impl AccessorNames {
    /// All the names, in the order the accessors are generated.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        [
            Some(&self.get),
            self.peek.as_ref(),
            Some(&self.get_mut),
            Some(&self.set),
            Some(&self.take),
            Some(&self.reset),
            Some(&self.is_dirty),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
    }
}

impl Field<'_> {
    /// The accessor names for this field, without any `r#`.
    pub fn accessor_names(&self) -> AccessorNames {
        let name = self.name();
        AccessorNames {
            peek: self.is_flash().then(|| format!("peek_{name}")),
            get_mut: format!("{name}_mut"),
            set: format!("set_{name}"),
            take: format!("take_{name}"),
            reset: format!("reset_{name}"),
            is_dirty: format!("is_{name}_dirty"),
            get: name,
        }
    }
}
