//! Every path that generated code names, in one place (after Rocket's `exports.rs`).
//!
//! Expansions name only `<servicepack>::__private::…`, `<servicepack>::{App, Result}`,
//! `::core::…` and `::std::…`, so user code that shadows `Result`, `Ok`, `Default` or
//! `Box` cannot change what an expansion means. `<servicepack>` is `::servicepack`, or
//! the `crate = path` argument for crates that re-export servicepack.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};

/// The paths of one expansion.
pub(crate) struct Exports {
    krate: TokenStream,
}

impl Exports {
    /// Paths rooted at `krate`, or at `::servicepack` when it is `None`.
    pub(crate) fn new(krate: Option<&syn::Path>) -> Self {
        Self {
            krate: krate.map_or_else(|| quote!(::servicepack), ToTokens::to_token_stream),
        }
    }

    fn private(&self, item: &str) -> TokenStream {
        let krate = &self.krate;
        let item = format_ident!("{item}");
        quote!(#krate::__private::#item)
    }

    /// `linkme`, re-exported so users never depend on it themselves.
    pub(crate) fn linkme(&self) -> TokenStream {
        self.private("linkme")
    }

    /// The distributed slice of every registered service.
    pub(crate) fn services(&self) -> TokenStream {
        self.private("SERVICES")
    }

    pub(crate) fn entry(&self) -> TokenStream {
        self.private("Entry")
    }

    pub(crate) fn registered(&self) -> TokenStream {
        self.private("Registered")
    }

    pub(crate) fn policy(&self) -> TokenStream {
        self.private("Policy")
    }

    pub(crate) fn retries(&self) -> TokenStream {
        self.private("Retries")
    }

    pub(crate) fn backoff(&self) -> TokenStream {
        self.private("Backoff")
    }

    pub(crate) fn restart(&self) -> TokenStream {
        self.private("Restart")
    }

    pub(crate) fn duration(&self) -> TokenStream {
        self.private("Duration")
    }

    /// `__private::main`, the whole of a `#[servicepack::main]` program.
    pub(crate) fn main(&self) -> TokenStream {
        self.private("main")
    }

    pub(crate) fn app_info(&self) -> TokenStream {
        self.private("AppInfo")
    }

    /// The public `App` a setup function receives.
    pub(crate) fn app(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::App)
    }

    /// The public `Service` trait.
    pub(crate) fn service(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::Service)
    }

    /// `servicepack::Result`.
    pub(crate) fn result(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::Result)
    }
}

/// `::core::result::Result::Ok`.
pub(crate) fn ok() -> TokenStream {
    quote!(::core::result::Result::Ok)
}

/// `::core::default::Default`.
pub(crate) fn default() -> TokenStream {
    quote!(::core::default::Default)
}

/// `::core::concat!`.
pub(crate) fn concat() -> TokenStream {
    quote!(::core::concat!)
}

/// `::core::module_path!`.
pub(crate) fn module_path() -> TokenStream {
    quote!(::core::module_path!)
}

/// `::core::env!`.
pub(crate) fn env() -> TokenStream {
    quote!(::core::env!)
}

/// `::core::unreachable!`.
pub(crate) fn unreachable() -> TokenStream {
    quote!(::core::unreachable!)
}

/// `::core::option::Option::{Some, None}`.
pub(crate) fn some() -> TokenStream {
    quote!(::core::option::Option::Some)
}

pub(crate) fn none() -> TokenStream {
    quote!(::core::option::Option::None)
}

/// `::std::process::ExitCode`, what the generated `main` returns.
pub(crate) fn exit_code() -> TokenStream {
    quote!(::std::process::ExitCode)
}

/// The same tokens with every span set to `span`, so that rustc reports a trait error
/// in generated code on the user's token that asked for it.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            }
            tree.set_span(span);
            tree
        })
        .collect()
}
