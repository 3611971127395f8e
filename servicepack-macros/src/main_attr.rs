//! `#[servicepack::main]`: the program is `servicepack::__private::main`; the user's
//! function, when it takes `app: &mut App`, becomes the setup function it calls.
//!
//! `services_from = [billing, search]` adds `extern crate billing as _;` for each crate.
//! Cargo passes every dependency to rustc, but rustc loads (and so links) only the crates
//! that the source names: the `#[service]` registrations of a library crate that the
//! binary never names are not in the binary at all. Once a crate is loaded, rustc keeps
//! its `#[used]` linkme entries alive through the linker on its own.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, Ident, Item, ItemFn, Lit, ReturnType, Token, Type};

use crate::ctxt::Ctxt;
use crate::exports::{self, Exports, respan};

const SIGNATURES: &str = "write `fn main() { … }` or `fn main(app: &mut servicepack::App) { … }`";

/// The arguments of `#[servicepack::main(...)]`.
struct Args {
    services_from: Vec<Ident>,
    krate: Option<syn::Path>,
}

/// Expands `#[servicepack::main(args)] input`.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = parse_args(&cx, args);
    let function = match syn::parse2::<Item>(input.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            cx.error(
                item_span(&other),
                format!("`#[servicepack::main]` goes on the `main` function; {SIGNATURES}"),
            );
            return with_error(input, cx);
        }
        Err(error) => {
            cx.syn_error(error);
            return with_error(input, cx);
        }
    };
    check_signature(&cx, &function);
    match cx.check() {
        Ok(()) => program(&function, &args),
        Err(error) => fallback(function, &error),
    }
}

/// The errors, and a `main` that compiles whatever the signature was, so that rustc does
/// not add its own complaints about `main` and the body is still type-checked (and seen
/// by IDEs) inside a function that is never called.
fn fallback(mut function: ItemFn, error: &syn::Error) -> TokenStream {
    let attrs = std::mem::take(&mut function.attrs);
    let vis = std::mem::replace(&mut function.vis, syn::Visibility::Inherited);
    let ident = std::mem::replace(
        &mut function.sig.ident,
        format_ident!("__servicepack_setup"),
    );
    let exit_code = exports::exit_code();
    let unreachable = exports::unreachable();
    let error = error.to_compile_error();
    quote! {
        #error

        #(#attrs)*
        #vis fn #ident() -> #exit_code {
            #[allow(dead_code, unused)]
            #function
            #unreachable()
        }
    }
}

fn with_error(mut tokens: TokenStream, cx: Ctxt) -> TokenStream {
    if let Err(error) = cx.check() {
        tokens.extend(error.into_compile_error());
    }
    tokens
}

fn item_span(item: &Item) -> proc_macro2::Span {
    match item {
        Item::Struct(item) => item.struct_token.span,
        Item::Enum(item) => item.enum_token.span,
        Item::Mod(item) => item.mod_token.span,
        Item::Impl(item) => item.impl_token.span,
        other => other.span(),
    }
}

fn parse_args(cx: &Ctxt, tokens: TokenStream) -> Args {
    let mut args = Args {
        services_from: Vec::new(),
        krate: None,
    };
    let mut seen_services_from = false;
    let parser = |input: ParseStream| {
        while !input.is_empty() {
            let key = input.call(Ident::parse_any)?;
            let value = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            match (key.unraw().to_string().as_str(), value) {
                ("services_from", Some(Expr::Array(array))) => {
                    if seen_services_from {
                        cx.error(
                            key.span(),
                            "duplicate argument `services_from`; list every crate in one `services_from = [...]`",
                        );
                    }
                    seen_services_from = true;
                    for element in array.elems {
                        match element {
                            Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
                                let name = path.path.get_ident().expect("checked").clone();
                                args.services_from.push(name);
                            }
                            other => cx.error_spanned_by(
                                other,
                                "expected a crate name, as `use` spells it: `services_from = [billing, search_index]`",
                            ),
                        }
                    }
                }
                ("services_from", Some(Expr::Lit(ExprLit { lit: Lit::Str(text), .. }))) => cx.error(
                    text.span(),
                    format!(
                        "write the crate names without quotes, in a list: `services_from = [{}]`",
                        text.value().replace('-', "_")
                    ),
                ),
                ("services_from", other) => cx.error_spanned_by(
                    other.map_or_else(|| key.to_token_stream(), |value| value.to_token_stream()),
                    "expected a list of crate names: `services_from = [billing, search]`",
                ),
                ("crate", Some(Expr::Path(path))) if path.qself.is_none() => {
                    args.krate = Some(path.path);
                }
                ("crate", _) => cx.error(
                    key.span(),
                    "expected the path of the servicepack crate: `crate = my_app::servicepack`",
                ),
                (other, _) => cx.error(
                    key.span(),
                    format!(
                        "unknown `#[servicepack::main]` argument `{other}`; valid arguments are `services_from` and `crate`"
                    ),
                ),
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        cx.syn_error(error);
    }
    args
}

fn check_signature(cx: &Ctxt, function: &ItemFn) {
    let sig = &function.sig;
    if let Some(asyncness) = &sig.asyncness {
        cx.error(
            asyncness.span,
            "`#[servicepack::main]` starts its own tokio runtime, so `main` cannot be `async`; remove `async` (pre-run hooks registered on `App` may be async)",
        );
    }
    if let Some(constness) = &sig.constness {
        cx.error(constness.span, "`main` cannot be `const`; remove `const`");
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        cx.error(unsafety.span, "`main` cannot be `unsafe`; remove `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, "`main` cannot have an ABI; remove `extern`");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            format!("`main` cannot be generic; remove the generic parameters: {SIGNATURES}"),
        );
    }
    if let ReturnType::Type(arrow, ty) = &sig.output {
        let unit = matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty());
        if !unit {
            cx.error_spanned_by(
                quote!(#arrow #ty),
                "`main` returns nothing: the exit code comes from the services (see `./app --help`); remove the return type, and register a pre-run hook on `App` for start-up work that can fail",
            );
        }
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(
            variadic,
            format!("`main` takes no variadic arguments; {SIGNATURES}"),
        );
    }
    let mut inputs = sig.inputs.iter();
    if let Some(first) = inputs.next() {
        match first {
            FnArg::Typed(arg) if is_mut_app(&arg.ty) => {}
            FnArg::Typed(arg) => cx.error_spanned_by(
                &arg.ty,
                format!(
                    "expected `&mut servicepack::App`, found `{}`; {SIGNATURES}",
                    arg.ty
                        .to_token_stream()
                        .to_string()
                        .replace(" :: ", "::")
                        .replace("& mut ", "&mut ")
                ),
            ),
            receiver @ FnArg::Receiver(_) => cx.error_spanned_by(
                receiver,
                format!("expected `app: &mut servicepack::App`; {SIGNATURES}"),
            ),
        }
    }
    for extra in inputs {
        cx.error_spanned_by(
            extra,
            format!("`main` takes at most one parameter; {SIGNATURES}"),
        );
    }
}

/// `&mut App`, `&mut servicepack::App`, or any other path ending in `App` (an import
/// under another name is caught by the type check of the expansion).
fn is_mut_app(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    reference.mutability.is_some()
        && matches!(&*reference.elem, Type::Path(path)
            if path.qself.is_none()
                && path.path.segments.last().is_some_and(|last| last.ident == "App" && last.arguments.is_empty()))
}

/// `fn main() -> ExitCode { __private::main(AppInfo { … }, setup) }`.
fn program(function: &ItemFn, args: &Args) -> TokenStream {
    let exports = Exports::new(args.krate.as_ref());
    let attrs = &function.attrs;
    let vis = &function.vis;
    let ident = &function.sig.ident;
    let main = exports.main();
    let app_info = exports.app_info();
    let app = exports.app();
    let env = exports::env();
    let exit_code = exports::exit_code();
    let (setup_fn, setup) = if function.sig.inputs.is_empty() {
        // `fn main() { … }`: the body still runs, before the app starts.
        let block = &function.block;
        let none = exports::none();
        if block.stmts.is_empty() {
            (None, none)
        } else {
            let setup = format_ident!("__servicepack_setup");
            let some = exports::some();
            (
                Some(quote!(fn #setup(_: &mut #app) #block)),
                quote!(#some(#setup as fn(&mut #app))),
            )
        }
    } else {
        let setup = format_ident!("__servicepack_setup");
        let inputs = &function.sig.inputs;
        let block = &function.block;
        let some = exports::some();
        // The cast is spanned on the parameter, so a parameter of the wrong type is
        // reported there.
        let cast_type = respan(quote!(fn(&mut #app)), inputs.span());
        (
            Some(quote!(fn #setup(#inputs) #block)),
            quote!(#some(#setup as #cast_type)),
        )
    };
    // Spanned on the crate name, so that "can't find crate" points at it.
    let crates = args.services_from.iter().map(|name| {
        respan(
            quote! {
                #[allow(unused_extern_crates)]
                extern crate #name as _;
            },
            name.span(),
        )
    });
    quote! {
        #(#crates)*

        #(#attrs)*
        #vis fn #ident() -> #exit_code {
            #setup_fn
            #main(
                #app_info {
                    // Doctests have no binary name; the package name stands in.
                    bin_name: match ::core::option_env!("CARGO_BIN_NAME") {
                        ::core::option::Option::Some(name) => name,
                        ::core::option::Option::None => #env("CARGO_PKG_NAME"),
                    },
                    version: #env("CARGO_PKG_VERSION"),
                    description: #env("CARGO_PKG_DESCRIPTION"),
                },
                #setup,
            )
        }
    }
}
