//! The item under `#[service]`: a struct without generics, with its default name.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Item, ItemStruct};

use crate::ctxt::Ctxt;
use crate::shared::kebab::kebab_case;

/// The struct a `#[service]` registers.
pub(crate) struct Input {
    /// The struct exactly as written; re-emitted unchanged.
    pub(crate) item: ItemStruct,
}

impl Input {
    /// Parses the item, recording an error for anything but a plain struct. `Err` carries
    /// the tokens to re-emit as they were when the item is not a struct at all.
    pub(crate) fn from_syn(cx: &Ctxt, tokens: TokenStream) -> Result<Self, TokenStream> {
        let item = match syn::parse2::<Item>(tokens.clone()) {
            Ok(Item::Struct(item)) => item,
            Ok(other) => {
                let (kind, span) = describe(&other);
                cx.error(
                    span,
                    format!(
                        "`#[service]` goes on a struct, not on {kind}; put it on a struct that implements `Service`"
                    ),
                );
                return Err(tokens);
            }
            Err(error) => {
                cx.syn_error(error);
                return Err(tokens);
            }
        };
        let generics = &item.generics;
        if !generics.params.is_empty() || generics.where_clause.is_some() {
            cx.error_spanned_by(
                generics,
                "`#[service]` does not support generic structs: the registry needs one concrete type; wrap a concrete instantiation in a struct of its own",
            );
        }
        Ok(Self { item })
    }

    pub(crate) fn ident(&self) -> &Ident {
        &self.item.ident
    }

    /// The name used when there is no `name = "..."`: the ident in kebab-case.
    pub(crate) fn default_name(&self) -> String {
        kebab_case(&self.item.ident.unraw().to_string())
    }
}

fn describe(item: &Item) -> (&'static str, proc_macro2::Span) {
    match item {
        Item::Enum(item) => ("an enum", item.enum_token.span),
        Item::Fn(item) => ("a function", item.sig.fn_token.span),
        Item::Union(item) => ("a union", item.union_token.span),
        Item::Trait(item) => ("a trait", item.trait_token.span),
        Item::Impl(item) => ("an impl block", item.impl_token.span),
        Item::Mod(item) => ("a module", item.mod_token.span),
        Item::Type(item) => ("a type alias", item.type_token.span),
        Item::Const(item) => ("a const", item.const_token.span),
        Item::Static(item) => ("a static", item.static_token.span),
        other => ("this item", other.span()),
    }
}
