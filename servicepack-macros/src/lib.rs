//! The attributes of `servicepack`: `#[service]` and `#[servicepack::main]`.
//! Use them through the `servicepack` crate, which documents them.
//!
//! `#[service]` goes parse (`attr`: the arguments, `ast`: the struct), check (`check`:
//! what spans several arguments), expand (`expand`: tokens only, naming paths from
//! `exports`). Every mistake is collected in a `ctxt::Ctxt` and reported at once.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod exports;
mod main_attr;
// Shared as source with `servicepack` and `servicepack-cli`, each using a part of it.
#[allow(dead_code, unreachable_pub)]
mod shared;

use proc_macro::TokenStream;

#[doc = include_str!("../docs/service.md")]
#[proc_macro_attribute]
pub fn service(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::service(args.into(), input.into()).into()
}

#[doc = include_str!("../docs/main.md")]
#[proc_macro_attribute]
pub fn main(args: TokenStream, input: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), input.into()).into()
}
