//! `#[service]`: parse (`attr`, `ast`), check (`check`), then write tokens (here).
//!
//! The expansion is the struct, unchanged, followed by one anonymous const holding an
//! `impl Registered` (name and constructor) and the linkme entry (type name, policy,
//! dependencies, commands). All logic lives in `servicepack`; the expansion only fills in
//! constants, so it stays a dozen lines however many arguments there are.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::{Ident, LitStr};

use crate::ast::Input;
use crate::attr::{Args, Backoff, Dependency, Restart, Retries};
use crate::check;
use crate::ctxt::Ctxt;
use crate::exports::{self, Exports, respan};

/// Expands `#[service(args)] input`.
pub(crate) fn service(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = Args::parse(&cx, args);
    let input = match Input::from_syn(&cx, input) {
        Ok(input) => input,
        Err(tokens) => return with_error(tokens, cx.check().err()),
    };
    check::check(&cx, &input, &args);
    match cx.check() {
        Ok(()) => registration(&input, &args),
        Err(error) => fallback(&input, &args, error),
    }
}

fn with_error(mut tokens: TokenStream, error: Option<syn::Error>) -> TokenStream {
    if let Some(error) = error {
        tokens.extend(error.into_compile_error());
    }
    tokens
}

/// The struct, the `impl Registered` and the registry entry.
fn registration(input: &Input, args: &Args) -> TokenStream {
    let exports = Exports::new(args.krate.value());
    let item = &input.item;
    let ident = input.ident();
    let name = LitStr::new(&check::service_name(input, args), ident.span());
    let type_name = ident.unraw().to_string();
    let registered = exports.registered();
    let result = exports.result();
    let entry = exports.entry();
    let linkme = exports.linkme();
    let services = exports.services();
    let concat = exports::concat();
    let module_path = exports::module_path();
    let construct = constructor(ident, args, &result);
    let policy = policy(&exports, args);
    let depends_on = dependencies(&exports, args);
    let commands = args
        .commands
        .get()
        .filter(|commands| commands.value)
        .map(|commands| {
            // Spanned on `commands`, so a missing `Commander` impl is reported there.
            let ty = respan(ident.to_token_stream(), commands.key);
            quote!(.with_commands::<#ty>())
        });
    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            // Keeps "`Registered` is implemented for `ThisService`" out of the error
            // about a `depends_on` type that is not a service.
            #[diagnostic::do_not_recommend]
            impl #registered for #ident {
                const NAME: &'static str = #name;

                fn construct() -> #result<Self> {
                    #construct
                }
            }

            #[#linkme::distributed_slice(#services)]
            #[linkme(crate = #linkme)]
            static __SERVICEPACK_ENTRY: #entry = #entry::new::<#ident>(
                #concat(#module_path(), "::", #type_name),
                #policy,
                &[#(#depends_on),*],
            )#commands;
        };
    }
}

/// `Default::default()` spanned on the struct ident (a missing `Default` is reported
/// there), or a call of the `new = path` constructor through a `fn() -> Result<Self>`
/// binding spanned on the path (a constructor of another type is reported there).
fn constructor(ident: &Ident, args: &Args, result: &TokenStream) -> TokenStream {
    if let Some(new) = args.new.get() {
        let path = &new.value;
        return respan(
            quote! {
                let __servicepack_new: fn() -> #result<Self> = #path;
                __servicepack_new()
            },
            new.span,
        );
    }
    let ok = exports::ok();
    let default = exports::default();
    let call = respan(quote!(<#ident as #default>::default()), ident.span());
    quote!(#ok(#call))
}

/// The `Policy` const-builder chain for the arguments given; defaults are left to `Policy::new()`.
fn policy(exports: &Exports, args: &Args) -> TokenStream {
    let policy = exports.policy();
    let duration = |value: &Duration| duration(exports, *value);
    let mut chain = quote!(#policy::new());
    if let Some(retries) = args.retries.value() {
        let path = exports.retries();
        let value = match retries {
            Retries::Limited(n) => quote!(#path::Limited(#n)),
            Retries::Unlimited => quote!(#path::Unlimited),
        };
        chain.extend(quote!(.retries(#value)));
    }
    if let Some(delay) = args.delay.value() {
        let delay = duration(delay);
        chain.extend(quote!(.delay(#delay)));
    }
    if args.backoff.value() == Some(&Backoff::Exponential) {
        let path = exports.backoff();
        let max_delay = args
            .max_delay
            .value()
            .map_or_else(|| quote!(#policy::DEFAULT_MAX_DELAY), duration);
        chain.extend(quote!(.backoff(#path::Exponential { max_delay: #max_delay })));
    }
    if Args::flag(&args.jitter) {
        chain.extend(quote!(.jitter(true)));
    }
    if let Some(reset) = args.retry_reset.value() {
        let reset = duration(reset);
        chain.extend(quote!(.retry_reset(#reset)));
    }
    if let Some(restart) = args.restart.value() {
        let path = exports.restart();
        let value = match restart {
            Restart::OnFailure => quote!(#path::OnFailure),
            Restart::Always => quote!(#path::Always),
            Restart::Never => quote!(#path::Never),
        };
        chain.extend(quote!(.restart(#value)));
    }
    if Args::flag(&args.allowed_failure) {
        chain.extend(quote!(.allowed_failure(true)));
    }
    if Args::flag(&args.notify_ready) {
        chain.extend(quote!(.notify_ready(true)));
    }
    if args.readiness.value() == Some(&false) {
        chain.extend(quote!(.counts_for_readiness(false)));
    }
    if let Some(timeout) = args.ready_timeout.value() {
        let timeout = duration(timeout);
        chain.extend(quote!(.ready_timeout(#timeout)));
    }
    if let Some(timeout) = args.stop_timeout.value() {
        let timeout = duration(timeout);
        chain.extend(quote!(.stop_timeout(#timeout)));
    }
    chain
}

/// A duration checked at compile time, as a `const` expression.
fn duration(exports: &Exports, value: Duration) -> TokenStream {
    let duration = exports.duration();
    let secs = value.as_secs();
    let nanos = value.subsec_nanos();
    quote!(#duration::new(#secs, #nanos))
}

/// Each dependency as a `&'static str`: a type's `Registered::NAME` (spanned on the
/// type, so a type that is not a service is reported there), or the string itself.
fn dependencies(exports: &Exports, args: &Args) -> Vec<TokenStream> {
    let registered = exports.registered();
    args.depends_on
        .value()
        .map(|dependencies| {
            dependencies
                .iter()
                .map(|dependency| match dependency {
                    Dependency::Type(path) => {
                        let span = path
                            .segments
                            .last()
                            .map_or_else(Span::call_site, |segment| segment.ident.span());
                        let registered = respan(registered.clone(), span);
                        quote!(<#path as #registered>::NAME)
                    }
                    Dependency::Name(name) => name.to_token_stream(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The struct and the compile errors. When the struct itself is fine, an
/// `impl Registered` that defers its `Service` bound keeps the errors of this attribute
/// from cascading into every service that depends on the struct.
fn fallback(input: &Input, args: &Args, error: syn::Error) -> TokenStream {
    let item = &input.item;
    let error = error.into_compile_error();
    if !input.item.generics.params.is_empty() || input.item.generics.where_clause.is_some() {
        return quote!(#item #error);
    }
    let exports = Exports::new(args.krate.value());
    let ident = input.ident();
    let name = check::service_name(input, args);
    let registered = exports.registered();
    let result = exports.result();
    let service = exports.service();
    let unreachable = exports::unreachable();
    quote! {
        #item
        #error

        const _: () = {
            #[automatically_derived]
            impl #registered for #ident
            where
                // Defers the `Service` bound: trivial bounds are not checked at the impl.
                for<'__servicepack> #ident: #service,
            {
                const NAME: &'static str = #name;

                fn construct() -> #result<Self> {
                    #unreachable()
                }
            }
        };
    }
}
