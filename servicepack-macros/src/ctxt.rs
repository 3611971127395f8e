//! Error collection, after `serde_derive`'s `Ctxt`: every check records its `syn::Error`
//! and carries on, so one compile shows every mistake of an attribute at once.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;

/// Collects errors; [`Ctxt::check`] combines them into one `syn::Error`.
///
/// Dropping a `Ctxt` without calling `check` is a bug in this crate and panics, so an
/// error can never be recorded and then forgotten.
pub(crate) struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error at `span`.
    pub(crate) fn error(&self, span: Span, message: impl Display) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// Records an error spanning all of `tokens` (first to last token).
    pub(crate) fn error_spanned_by(&self, tokens: impl quote::ToTokens, message: impl Display) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records one of syn's own parse errors.
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("errors are recorded before `check`")
            .push(error);
    }

    /// Consumes the context: `Ok` when nothing was recorded, else every error combined.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self
            .errors
            .borrow_mut()
            .take()
            .expect("`check` is called once");
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        assert!(
            std::thread::panicking() || self.errors.borrow().is_none(),
            "servicepack-macros: a Ctxt was dropped without `check`"
        );
    }
}
