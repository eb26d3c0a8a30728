//! Code generation. Everything here works on an [`Input`] that the earlier stages accepted
//! (possibly with some attribute keys ignored) and cannot fail.

use std::collections::HashSet;

use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Generics, Ident, WherePredicate};

use crate::ast::{Field, Input};
use crate::attr::DefaultSource;
use crate::ctxt::{to_compile_errors, Ctxt};
use crate::valid;

/// Runs the whole pipeline on `node`: the generated items, plus a `compile_error!` for every
/// problem found. Attribute problems do not stop generation (the bad keys are ignored), so a
/// typo in one attribute does not also break every use of the accessors.
pub fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let expanded = match Input::from_syn(&cx, node) {
        Some(input) => {
            valid::check(&cx, &input);
            if valid::can_expand(&input) {
                Expander::new(&input).expand()
            } else {
                TokenStream::new()
            }
        }
        None => TokenStream::new(),
    };
    match cx.check() {
        Ok(()) => expanded,
        Err(errors) => {
            let errors = to_compile_errors(&errors);
            quote!(#errors #expanded)
        }
    }
}

/// One field, with what every generated item needs about it.
struct FieldGen<'a> {
    field: &'a Field<'a>,
    /// The field's type with `Self` replaced by the struct (see [`replace_self`]).
    ty: TokenStream,
    /// The field's index, as an unsuffixed literal.
    index: Literal,
    /// The hidden associated function of the accessor type that returns the field's default:
    /// the one place the field's `Default` bound (or `default = path` function) is used, so a
    /// missing default is reported once.
    default_fn: Ident,
}

/// Everything shared by the generated items.
struct Expander<'a> {
    input: &'a Input<'a>,
    /// `<crate>::__private`.
    private: TokenStream,
    /// The accessor type: `VisitFields`.
    view: Ident,
    fields: Vec<FieldGen<'a>>,
    /// The struct's generics plus the bounds the trait impls need.
    bounded: Generics,
    /// The struct's generics plus the bounds the accessors need: those of the trait impls
    /// less the `Send + Sync` checks of concrete field types, which would only clutter the
    /// accessors' documentation.
    accessor_generics: Generics,
}

impl<'a> Expander<'a> {
    fn new(input: &'a Input<'a>) -> Self {
        let private = match &input.attrs.krate {
            Some(krate) => quote!(#krate::__private),
            None => quote!(::session_runtime::__private),
        };
        let ident = input.ident;
        let (_, ty_generics, _) = input.generics.split_for_impl();
        let self_ty = quote!(#ident #ty_generics);
        let fields: Vec<FieldGen> = input
            .fields
            .iter()
            .map(|field| FieldGen {
                field,
                ty: replace_self(field.ty.to_token_stream(), &self_ty),
                index: Literal::usize_unsuffixed(field.index),
                default_fn: format_ident!("__session_default_{}", field.index),
            })
            .collect();
        let bounded = bounded_generics(input.generics, &fields, &private, true);
        let accessor_generics = bounded_generics(input.generics, &fields, &private, false);
        Expander {
            input,
            private,
            view: format_ident!("{}Fields", ident, span = ident.span()),
            fields,
            bounded,
            accessor_generics,
        }
    }

    fn expand(&self) -> TokenStream {
        let companion = self.companion();
        let view_impl = self.view_impl();
        let data_impl = self.data_impl();
        let accessors_impl = self.accessors_impl();
        quote! {
            #companion

            const _: () = {
                #view_impl
                #data_impl
                #accessors_impl
            };
        }
    }

    /// `pub struct VisitFields { __tracked: Tracked<Visit> }`, with the struct's visibility
    /// and generics.
    fn companion(&self) -> TokenStream {
        let Expander {
            input,
            private: p,
            view,
            ..
        } = self;
        let (ident, vis, generics) = (input.ident, input.vis, input.generics);
        let (_, ty_generics, where_clause) = generics.split_for_impl();
        let doc = format!(
            "Typed accessors for the session fields of [`{name}`]; `Session<{name}>` dereferences to this type.",
            name = ident.unraw(),
        );
        quote! {
            #[doc = #doc]
            #vis struct #view #generics #where_clause {
                __tracked: #p::Tracked<#ident #ty_generics>,
            }
        }
    }

    fn view_impl(&self) -> TokenStream {
        let Expander {
            input,
            private: p,
            view,
            ..
        } = self;
        let ident = input.ident;
        let (_, ty_generics, _) = input.generics.split_for_impl();
        let (impl_generics, _, where_clause) = self.bounded.split_for_impl();
        quote! {
            #[automatically_derived]
            impl #impl_generics #p::SessionView for #view #ty_generics #where_clause {
                type Data = #ident #ty_generics;

                #[inline]
                fn from_tracked(__tracked: #p::Tracked<Self::Data>) -> Self {
                    #view { __tracked }
                }

                #[inline]
                fn tracked(&self) -> &#p::Tracked<Self::Data> {
                    &self.__tracked
                }

                #[inline]
                fn tracked_mut(&mut self) -> &mut #p::Tracked<Self::Data> {
                    &mut self.__tracked
                }
            }
        }
    }

    fn data_impl(&self) -> TokenStream {
        let Expander {
            input,
            private: p,
            view,
            fields,
            ..
        } = self;
        let ident = input.ident;
        let (_, ty_generics, _) = input.generics.split_for_impl();
        let (impl_generics, _, where_clause) = self.bounded.split_for_impl();
        let view = quote!(#view #ty_generics);
        let view_path = quote!(<#view>);
        let stored = || fields.iter().filter(|f| !f.field.is_skipped());

        let infos = fields.iter().map(|f| {
            let (stored, name) = (f.field.stored_name(), f.field.name());
            let skipped = f.field.is_skipped().then(|| quote!(.skipped()));
            let user_id = f.field.is_user_id().then(|| quote!(.user_id()));
            quote!(#p::FieldInfo::new(#stored, #name) #skipped #user_id)
        });
        let defaults = fields.iter().map(|f| {
            let (member, default_fn) = (f.field.ident, &f.default_fn);
            quote!(#member: #view_path::#default_fn())
        });
        let decode_arms = stored().map(|f| {
            let FieldGen {
                field, ty, index, ..
            } = f;
            let member = field.ident;
            let decode = quote_spanned!(field.ty.span()=> #p::decode_value::<#ty>(__value));
            quote!(#index => self.#member = #decode?,)
        });
        let encode_arms = stored().map(|f| {
            let FieldGen {
                field, ty, index, ..
            } = f;
            let member = field.ident;
            let encode = quote_spanned!(field.ty.span()=> #p::encode_value::<#ty>(&self.#member));
            quote!(#index => #encode,)
        });
        let reset_arms = fields.iter().map(|f| {
            let FieldGen {
                field,
                index,
                default_fn,
                ..
            } = f;
            let member = field.ident;
            quote!(#index => self.#member = #view_path::#default_fn(),)
        });

        quote! {
            #[automatically_derived]
            impl #impl_generics #p::SessionData for #ident #ty_generics #where_clause {
                type View = #view;

                const FIELDS: &'static [#p::FieldInfo] = &[#(#infos),*];

                fn default_session() -> Self {
                    Self { #(#defaults,)* }
                }

                fn decode_field(
                    &mut self,
                    __index: #p::usize,
                    __value: &#p::Json,
                ) -> #p::Result<(), #p::JsonError> {
                    match __index {
                        #(#decode_arms)*
                        _ => {}
                    }
                    #p::Result::Ok(())
                }

                fn encode_field(
                    &self,
                    __index: #p::usize,
                ) -> #p::Result<#p::Json, #p::JsonError> {
                    match __index {
                        #(#encode_arms)*
                        _ => #p::encode_value(&()),
                    }
                }

                fn reset_field(&mut self, __index: #p::usize) {
                    match __index {
                        #(#reset_arms)*
                        _ => {}
                    }
                }
            }
        }
    }

    /// The hidden default functions and the accessors of every field.
    fn accessors_impl(&self) -> TokenStream {
        let Expander {
            input,
            private: p,
            view,
            fields,
            ..
        } = self;
        let (_, ty_generics, _) = input.generics.split_for_impl();
        let (impl_generics, _, where_clause) = self.accessor_generics.split_for_impl();

        let default_fns = fields.iter().map(|f| {
            let FieldGen {
                field,
                ty,
                default_fn,
                ..
            } = f;
            let value = match field.attrs.default_source() {
                DefaultSource::Trait => {
                    quote_spanned!(field.ty.span()=> <#ty as #p::Default>::default())
                }
                DefaultSource::Path(path) => quote_spanned!(path.span()=> #path()),
            };
            quote! {
                #[inline]
                fn #default_fn() -> #ty {
                    #value
                }
            }
        });

        // Names that clash were reported by `valid`; a second definition would only add noise.
        let mut emitted = HashSet::new();
        let accessors = fields
            .iter()
            .flat_map(|f| self.accessors(f))
            .filter_map(|(name, tokens)| emitted.insert(name).then_some(tokens));

        quote! {
            #[allow(dead_code)]
            impl #impl_generics #view #ty_generics #where_clause {
                #(#default_fns)*
                #(#accessors)*
            }
        }
    }

    /// The accessors of one field, each with its name, in the order of
    /// [`AccessorNames::all`](crate::ast::AccessorNames::all).
    fn accessors(&self, f: &FieldGen) -> Vec<(String, TokenStream)> {
        let p = &self.private;
        let vis = self.input.vis;
        let FieldGen {
            field,
            ty,
            index,
            default_fn,
        } = f;
        let member = field.ident;
        let names = field.accessor_names();
        let ident = |name: &str| Ident::new(name, member.span());
        let (get_mut, set, take, reset, is_dirty) = (
            ident(&names.get_mut),
            ident(&names.set),
            ident(&names.take),
            ident(&names.reset),
            ident(&names.is_dirty),
        );

        let name = field.name();
        let skipped = field.is_skipped();
        let flash = field.is_flash();
        let storage = if skipped {
            "\n\nThis field is never stored (`#[session(skip)]`).".to_owned()
        } else if field.attrs.rename.is_some() {
            format!("\n\nStored under the key `{}`.", field.stored_name())
        } else {
            String::new()
        };
        let saved = if skipped {
            String::new()
        } else if flash {
            format!(", so it is saved with the session and kept until it is read with `{name}()`")
        } else {
            ", so it is saved with the session".to_owned()
        };
        let removed = if skipped {
            ""
        } else {
            "; the field is removed from the store"
        };
        let get_mut_doc = format!("Returns `{name}` for writing and marks it as changed{saved}.");
        let set_doc = format!(
            "Sets `{name}` to `value` and returns the previous value; marks the field as changed{saved}."
        );
        let take_doc =
            format!("Takes `{name}` out, leaving its default value in its place{removed}.");
        let reset_doc = format!("Puts `{name}` back to its default value{removed}.");
        let dirty_doc = format!("Whether `{name}` was written, set or reset during this request.");

        let mut accessors = Vec::with_capacity(7);
        if flash {
            let get_doc = format!(
                "Takes the flash value `{name}`: returns it and leaves its default value in its \
                 place.\n\nReading a flash value consumes it: like `take_{name}()`, this marks \
                 the field as removed, so the value is gone from the store after this request \
                 and the next request sees the default. Use `peek_{name}()` to read it without \
                 taking it.{storage}"
            );
            let must_use = format!(
                "reading a flash value takes it out of the session; use `reset_{name}()` to discard it"
            );
            accessors.push((
                names.get,
                quote! {
                    #[doc = #get_doc]
                    #[inline]
                    #[must_use = #must_use]
                    #vis fn #member(&mut self) -> #ty {
                        let __default = Self::#default_fn();
                        #p::replace(&mut self.__tracked.__reset(#index).#member, __default)
                    }
                },
            ));
            let peek_name = names.peek.expect("a flash field has a `peek_` accessor");
            let peek = ident(&peek_name);
            let peek_doc = format!(
                "Returns the flash value `{name}` without taking it: it stays in the session \
                 until it is read with `{name}()`. Never marks the field as changed."
            );
            accessors.push((
                peek_name,
                quote! {
                    #[doc = #peek_doc]
                    #[inline]
                    #[must_use]
                    #vis fn #peek(&self) -> &#ty {
                        &self.__tracked.data().#member
                    }
                },
            ));
        } else {
            let get_doc =
                format!("Returns `{name}`. Reading never marks the field as changed.{storage}");
            accessors.push((
                names.get,
                quote! {
                    #[doc = #get_doc]
                    #[inline]
                    #[must_use]
                    #vis fn #member(&self) -> &#ty {
                        &self.__tracked.data().#member
                    }
                },
            ));
        }
        accessors.extend([
            (
                names.get_mut,
                quote! {
                    #[doc = #get_mut_doc]
                    #[inline]
                    #vis fn #get_mut(&mut self) -> &mut #ty {
                        &mut self.__tracked.__write(#index).#member
                    }
                },
            ),
            (
                names.set,
                quote! {
                    #[doc = #set_doc]
                    #[inline]
                    #vis fn #set(&mut self, value: #ty) -> #ty {
                        #p::replace(&mut self.__tracked.__write(#index).#member, value)
                    }
                },
            ),
            (
                names.take,
                quote! {
                    #[doc = #take_doc]
                    #[inline]
                    #vis fn #take(&mut self) -> #ty {
                        let __default = Self::#default_fn();
                        #p::replace(&mut self.__tracked.__reset(#index).#member, __default)
                    }
                },
            ),
            (
                names.reset,
                quote! {
                    #[doc = #reset_doc]
                    #[inline]
                    #vis fn #reset(&mut self) {
                        let __default = Self::#default_fn();
                        self.__tracked.__reset(#index).#member = __default;
                    }
                },
            ),
            (
                names.is_dirty,
                quote! {
                    #[doc = #dirty_doc]
                    #[inline]
                    #[must_use]
                    #vis fn #is_dirty(&self) -> #p::bool {
                        self.__tracked.is_dirty(#index)
                    }
                },
            ),
        ]);
        accessors
    }
}

/// The struct's generics plus the bounds the generated impls need, each spanned on the field
/// type it is about, so that an unmet bound is reported at that field:
/// - with `concrete`, every field type `Send + Sync`: for a concrete type that is not, this
///   reports once at the field, instead of as a cascade of errors about the struct and the
///   accessor type (the trait impls need it; the accessors do not);
/// - every type parameter `'static`;
/// - every field type that mentions a type parameter also `'static`, with a default, and
///   (unless skipped) `Serialize + DeserializeOwned`. Concrete field types need no such bound:
///   their one use in the generated code reports at the field type.
fn bounded_generics(
    generics: &Generics,
    fields: &[FieldGen],
    p: &TokenStream,
    concrete: bool,
) -> Generics {
    let params: Vec<&Ident> = generics.type_params().map(|param| &param.ident).collect();
    let mut predicates: Vec<WherePredicate> = params
        .iter()
        .map(|param| syn::parse_quote!(#param: 'static))
        .collect();
    for FieldGen { field, ty, .. } in fields {
        let generic = mentions_any(ty.clone(), &params);
        if !generic && !concrete {
            continue;
        }
        let span = field.ty.span();
        let bound = |name: &str| spanned_path(p, name, field.ty);
        let mut bounds = vec![bound("Send"), bound("Sync")];
        if generic {
            bounds.push(quote_spanned!(span=> 'static));
            if !field.is_skipped() {
                bounds.push(bound("Serialize"));
                bounds.push(bound("DeserializeOwned"));
            }
            if let DefaultSource::Trait = field.attrs.default_source() {
                bounds.push(bound("Default"));
            }
        }
        predicates.push(syn::parse_quote_spanned!(span=> #ty: #(#bounds)+*));
    }
    let mut generics = generics.clone();
    if !predicates.is_empty() {
        generics.make_where_clause().predicates.extend(predicates);
    }
    generics
}

/// The path `#p::#name`, spanned so that the compiler underlines all of `ty` when it reports
/// the bound: the path starts with `ty`'s first token's span and ends with its last one's.
/// (A single span covering several tokens cannot be built on stable.)
fn spanned_path(p: &TokenStream, name: &str, ty: &syn::Type) -> TokenStream {
    let first = ty.span();
    let last = ty
        .to_token_stream()
        .into_iter()
        .last()
        .map_or(first, |tt| tt.span());
    let p = respan(p.clone(), first);
    let name = Ident::new(name, last);
    quote_spanned!(first=> #p::#name)
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// A field type with every `Self` replaced by `self_ty` (the struct with its generics): in the
/// impls for the accessor type, `Self` would otherwise mean the accessor type.
fn replace_self(tokens: TokenStream, self_ty: &TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tt| match tt {
            TokenTree::Ident(ident) if ident == "Self" => respan(self_ty.clone(), ident.span()),
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), replace_self(group.stream(), self_ty));
                new.set_span(group.span());
                TokenStream::from(TokenTree::Group(new))
            }
            other => TokenStream::from(other),
        })
        .collect()
}

/// Whether `tokens` contain one of `params` as an identifier.
fn mentions_any(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => params.contains(&&ident),
        TokenTree::Group(group) => mentions_any(group.stream(), params),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}
