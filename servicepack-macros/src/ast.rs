//! The item under `#[service]`: a struct without generics, with its default name.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Item, ItemStruct};

use crate::ctxt::Ctxt;

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

/// `ExampleDatabase` → `example-database`, `HTTPServer` → `http-server`,
/// `Http2Server` → `http2-server`, `snake_case` → `snake-case`.
///
/// A word starts at an uppercase letter that follows a lowercase letter or a digit, and at
/// the last uppercase letter of an acronym when a lowercase letter follows it.
pub(crate) fn kebab_case(ident: &str) -> String {
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if c.is_uppercase() {
            let previous = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let starts_word = match previous {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if starts_word && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::kebab_case;

    #[test]
    fn kebab_cases_idents() {
        let cases = [
            ("ExampleDatabase", "example-database"),
            ("HTTPServer", "http-server"),
            ("Http2Server", "http2-server"),
            ("V2Api", "v2-api"),
            ("Db", "db"),
            ("DB", "db"),
            ("A", "a"),
            ("ServerHTTP", "server-http"),
            ("IOLoop", "io-loop"),
            ("snake_case_name", "snake-case-name"),
            ("Mixed_Case", "mixed-case"),
            ("_Leading", "leading"),
            ("Trailing_", "trailing"),
            ("type", "type"),
            ("ÜberService", "über-service"),
        ];
        for (ident, expected) in cases {
            assert_eq!(kebab_case(ident), expected, "{ident}");
        }
    }
}
