//! The arguments of `#[service(...)]`, parsed into a typed model.
//!
//! Parsing never stops at the first mistake: a bad argument is recorded in the [`Ctxt`]
//! and the parser skips to the next comma, so every mistake of the attribute is reported
//! in one compile. Each key goes through a [`Slot`], which is where duplicate keys are
//! caught, once for all of them.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::duration::parse_duration;

/// Every key `#[service]` accepts, in the order of the documentation.
pub(crate) const KEYS: [&str; 17] = [
    "name",
    "retries",
    "delay",
    "backoff",
    "max_delay",
    "jitter",
    "retry_reset",
    "restart",
    "depends_on",
    "allowed_failure",
    "notify_ready",
    "readiness",
    "ready_timeout",
    "stop_timeout",
    "commands",
    "new",
    "crate",
];

/// A value with the spans of its key and of the value itself.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) key: Span,
    pub(crate) span: Span,
}

/// `retries = 2` or `retries = "unlimited"`.
#[derive(Clone, Copy)]
pub(crate) enum Retries {
    Limited(u32),
    Unlimited,
}

/// `backoff = "constant" | "exponential"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backoff {
    Constant,
    Exponential,
}

/// `restart = "on-failure" | "always" | "never"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    OnFailure,
    Always,
    Never,
}

/// One item of `depends_on = [...]`.
pub(crate) enum Dependency {
    /// A `#[service]` type, checked at compile time.
    Type(syn::Path),
    /// A service name, possibly of another process.
    Name(LitStr),
}

/// A key that may be given once. The duplicate-key error is written here and nowhere else.
///
/// A key counts as given even when its value is wrong, so that `retries = -1, retries = 2`
/// reports both the bad value and the duplicate.
pub(crate) struct Slot<T> {
    key: &'static str,
    given: bool,
    value: Option<Spanned<T>>,
}

impl<T> Slot<T> {
    const fn new(key: &'static str) -> Self {
        Self {
            key,
            given: false,
            value: None,
        }
    }

    /// Records the key and its parsed value, or the reason the value did not parse.
    fn set(&mut self, cx: &Ctxt, key: &Ident, span: Span, value: syn::Result<T>) {
        if self.given {
            cx.error(
                key.span(),
                format!(
                    "duplicate argument `{}`; remove this one or the first",
                    self.key
                ),
            );
            return;
        }
        self.given = true;
        match value {
            Ok(value) => {
                self.value = Some(Spanned {
                    value,
                    key: key.span(),
                    span,
                });
            }
            Err(error) => cx.syn_error(error),
        }
    }

    pub(crate) fn get(&self) -> Option<&Spanned<T>> {
        self.value.as_ref()
    }

    pub(crate) fn value(&self) -> Option<&T> {
        self.value.as_ref().map(|spanned| &spanned.value)
    }
}

/// Everything written in `#[service(...)]`; an absent key is an empty slot.
pub(crate) struct Args {
    pub(crate) name: Slot<LitStr>,
    pub(crate) retries: Slot<Retries>,
    pub(crate) delay: Slot<Duration>,
    pub(crate) backoff: Slot<Backoff>,
    pub(crate) max_delay: Slot<Duration>,
    pub(crate) jitter: Slot<bool>,
    pub(crate) retry_reset: Slot<Duration>,
    pub(crate) restart: Slot<Restart>,
    pub(crate) depends_on: Slot<Vec<Dependency>>,
    pub(crate) allowed_failure: Slot<bool>,
    pub(crate) notify_ready: Slot<bool>,
    pub(crate) readiness: Slot<bool>,
    pub(crate) ready_timeout: Slot<Duration>,
    pub(crate) stop_timeout: Slot<Duration>,
    pub(crate) commands: Slot<bool>,
    pub(crate) new: Slot<syn::Path>,
    pub(crate) krate: Slot<syn::Path>,
}

impl Args {
    fn new() -> Self {
        Self {
            name: Slot::new("name"),
            retries: Slot::new("retries"),
            delay: Slot::new("delay"),
            backoff: Slot::new("backoff"),
            max_delay: Slot::new("max_delay"),
            jitter: Slot::new("jitter"),
            retry_reset: Slot::new("retry_reset"),
            restart: Slot::new("restart"),
            depends_on: Slot::new("depends_on"),
            allowed_failure: Slot::new("allowed_failure"),
            notify_ready: Slot::new("notify_ready"),
            readiness: Slot::new("readiness"),
            ready_timeout: Slot::new("ready_timeout"),
            stop_timeout: Slot::new("stop_timeout"),
            commands: Slot::new("commands"),
            new: Slot::new("new"),
            krate: Slot::new("crate"),
        }
    }

    /// Whether a flag key is present and not `= false`.
    pub(crate) fn flag(slot: &Slot<bool>) -> bool {
        slot.value().copied().unwrap_or(false)
    }

    /// Parses the tokens inside `#[service(...)]`, recording every mistake in `cx`.
    pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream) -> Self {
        let mut args = Self::new();
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                args.parse_one(cx, input);
            }
            Ok(())
        };
        if let Err(error) = parser.parse2(tokens) {
            cx.syn_error(error);
        }
        args
    }

    /// Parses `key` or `key = value` and the comma after it; on a syntax error, records it
    /// and skips to the next top-level comma.
    fn parse_one(&mut self, cx: &Ctxt, input: ParseStream) {
        let key = match input.call(Ident::parse_any) {
            Ok(key) => key,
            Err(error) => {
                cx.error(
                    error.span(),
                    "expected an argument name such as `retries`; write `#[service(key = value, flag, ...)]`",
                );
                skip_past_comma(input);
                return;
            }
        };
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse().expect("peeked `=`");
            let Ok(value) = input.parse::<Expr>() else {
                cx.error(
                    eq.span,
                    format!("expected a value after `{key} =`; {}", example(&key)),
                );
                skip_past_comma(input);
                return;
            };
            Some(value)
        } else {
            None
        };
        self.apply(cx, &key, value);
        if !input.is_empty() && input.parse::<Token![,]>().is_err() {
            cx.error(
                input.span(),
                "expected `,` between arguments: `#[service(retries = 2, delay = \"1s\")]`",
            );
            skip_past_comma(input);
        }
    }

    fn apply(&mut self, cx: &Ctxt, key: &Ident, value: Option<Expr>) {
        let name = key.unraw().to_string();
        let span = value
            .as_ref()
            .map_or_else(|| key.span(), syn::spanned::Spanned::span);
        let value = value.map(unwrap_group);
        match name.as_str() {
            "name" => {
                let name = required(key, value).and_then(|v| lit_str(key, v));
                self.name.set(cx, key, span, name);
            }
            "retries" => {
                let retries = required(key, value).and_then(|v| retries(key, v));
                self.retries.set(cx, key, span, retries);
            }
            "delay" => self.delay.set(cx, key, span, duration_arg(key, value)),
            "backoff" => {
                let backoff = required(key, value).and_then(|v| backoff(key, v));
                self.backoff.set(cx, key, span, backoff);
            }
            "max_delay" => self.max_delay.set(cx, key, span, duration_arg(key, value)),
            "jitter" => self.jitter.set(cx, key, span, flag(key, value)),
            "retry_reset" => self
                .retry_reset
                .set(cx, key, span, duration_arg(key, value)),
            "restart" => {
                let restart = required(key, value).and_then(|v| restart(key, v));
                self.restart.set(cx, key, span, restart);
            }
            "depends_on" => {
                let dependencies = required(key, value).and_then(|v| depends_on(cx, key, v));
                self.depends_on.set(cx, key, span, dependencies);
            }
            "allowed_failure" => self.allowed_failure.set(cx, key, span, flag(key, value)),
            "notify_ready" => self.notify_ready.set(cx, key, span, flag(key, value)),
            "readiness" => {
                let counts = required(key, value).and_then(|v| bool_arg(key, v));
                self.readiness.set(cx, key, span, counts);
            }
            "ready_timeout" => self
                .ready_timeout
                .set(cx, key, span, duration_arg(key, value)),
            "stop_timeout" => self
                .stop_timeout
                .set(cx, key, span, duration_arg(key, value)),
            "commands" => self.commands.set(cx, key, span, flag(key, value)),
            "new" => {
                let new = required(key, value).and_then(|v| path(key, v));
                self.new.set(cx, key, span, new);
            }
            "crate" => {
                let krate = required(key, value).and_then(|v| path(key, v));
                self.krate.set(cx, key, span, krate);
            }
            _ => cx.syn_error(unknown_key(key, &name)),
        }
    }
}

/// Skips token trees up to and including the next top-level comma.
fn skip_past_comma(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if let proc_macro2::TokenTree::Punct(punct) = tree
                && punct.as_char() == ','
            {
                break;
            }
        }
        Ok(((), rest))
    });
}

/// Looks through the invisible groups that `macro_rules!` wraps around `$x:expr`.
fn unwrap_group(mut expr: Expr) -> Expr {
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    expr
}

/// How a key is written, for the "say the fix" half of a message.
fn example(key: &Ident) -> &'static str {
    match key.unraw().to_string().as_str() {
        "name" => "write a string: `name = \"db\"`",
        "retries" => "write a whole number or \"unlimited\": `retries = 2`",
        "delay" => "write a duration string: `delay = \"2s\"`",
        "backoff" => "write `backoff = \"exponential\"` (or \"constant\", the default)",
        "max_delay" => "write a duration string: `max_delay = \"1m\"`",
        "retry_reset" => "write a duration string: `retry_reset = \"5m\"`",
        "restart" => "write `restart = \"always\"`, `\"on-failure\"` or `\"never\"`",
        "depends_on" => {
            "write a list of service types and names: `depends_on = [Database, \"external-cache\"]`"
        }
        "readiness" => "write `readiness = false` to leave the service out of the app's readiness",
        "ready_timeout" => "write a duration string: `ready_timeout = \"30s\"`",
        "stop_timeout" => "write a duration string: `stop_timeout = \"10s\"`",
        "new" => "write the path of a `fn() -> servicepack::Result<Self>`: `new = Self::connect`",
        "crate" => "write the path of the servicepack crate: `crate = my_app::servicepack`",
        _ => "see the `#[service]` documentation",
    }
}

fn required(key: &Ident, value: Option<Expr>) -> syn::Result<Expr> {
    value.ok_or_else(|| {
        syn::Error::new(
            key.span(),
            format!("`{key}` needs a value; {}", example(key)),
        )
    })
}

fn lit_str(key: &Ident, value: Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("expected a string for `{key}`; {}", example(key)),
        )),
    }
}

fn flag(key: &Ident, value: Option<Expr>) -> syn::Result<bool> {
    match value {
        None => Ok(true),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Bool(lit),
            ..
        })) => Ok(lit.value),
        Some(value) => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` is a flag and takes no value; write `{key}` alone to turn it on"),
        )),
    }
}

/// `key = true` or `key = false`.
fn bool_arg(key: &Ident, value: Expr) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Ok(lit.value),
        value => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` takes `true` or `false`; {}", example(key)),
        )),
    }
}

fn duration_arg(key: &Ident, value: Option<Expr>) -> syn::Result<Duration> {
    let value = required(key, value)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(_) | Lit::Float(_),
        ..
    }) = &value
    {
        return Err(syn::Error::new_spanned(
            &value,
            format!(
                "`{key}` needs a unit; write the duration as a string: `{key} = \"{}s\"`",
                value.to_token_stream()
            ),
        ));
    }
    let text = lit_str(key, value)?;
    parse_duration(&text.value()).map_err(|error| syn::Error::new(text.span(), error))
}

fn retries(key: &Ident, value: Expr) -> syn::Result<Retries> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u32>().map(Retries::Limited).map_err(|_| {
            syn::Error::new(
                int.span(),
                format!(
                    "`retries = {int}` is too large; the most is {}, or write `retries = \"unlimited\"`",
                    u32::MAX
                ),
            )
        }),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text), ..
        }) => match text.value().as_str() {
            "unlimited" => Ok(Retries::Unlimited),
            other => Err(syn::Error::new(
                text.span(),
                match other.parse::<u32>() {
                    Ok(n) => format!("write the number without quotes: `retries = {n}`"),
                    Err(_) => format!(
                        "unknown `retries` value {other:?}; write a whole number (`retries = 2`) or `retries = \"unlimited\"`"
                    ),
                },
            )),
        },
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => Err(syn::Error::new_spanned(
            value,
            "`retries` cannot be negative; write `retries = 0` for no retries or `retries = \"unlimited\"`",
        )),
        Expr::Lit(ExprLit {
            lit: Lit::Float(_), ..
        }) => Err(syn::Error::new_spanned(
            value,
            "`retries` must be a whole number: `retries = 2`, or `retries = \"unlimited\"`",
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("expected a number for `{key}`; {}", example(key)),
        )),
    }
}

fn backoff(key: &Ident, value: Expr) -> syn::Result<Backoff> {
    let text = lit_str(key, value)?;
    match text.value().as_str() {
        "exponential" => Ok(Backoff::Exponential),
        "constant" => Ok(Backoff::Constant),
        other => Err(syn::Error::new(
            text.span(),
            format!("unknown `backoff` value {other:?}; expected \"exponential\" or \"constant\""),
        )),
    }
}

fn restart(key: &Ident, value: Expr) -> syn::Result<Restart> {
    let text = lit_str(key, value)?;
    match text.value().as_str() {
        "on-failure" => Ok(Restart::OnFailure),
        "always" => Ok(Restart::Always),
        "never" => Ok(Restart::Never),
        "on_failure" | "onfailure" | "OnFailure" => Err(syn::Error::new(
            text.span(),
            "write `restart = \"on-failure\"`, with a hyphen",
        )),
        other => Err(syn::Error::new(
            text.span(),
            format!(
                "unknown `restart` value {other:?}; expected \"on-failure\", \"always\" or \"never\""
            ),
        )),
    }
}

fn depends_on(cx: &Ctxt, key: &Ident, value: Expr) -> syn::Result<Vec<Dependency>> {
    let Expr::Array(array) = value else {
        let fix = match value {
            Expr::Path(_) | Expr::Lit(_) => format!(
                "`depends_on` takes a list; write `depends_on = [{}]`",
                value.to_token_stream()
            ),
            _ => format!("expected a list for `{key}`; {}", example(key)),
        };
        return Err(syn::Error::new_spanned(value, fix));
    };
    let mut dependencies = Vec::new();
    for element in array.elems {
        match unwrap_group(element) {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                dependencies.push(Dependency::Type(path.path));
            }
            Expr::Lit(ExprLit {
                lit: Lit::Str(name),
                ..
            }) => dependencies.push(Dependency::Name(name)),
            other => cx.error_spanned_by(
                other,
                "expected a service type (`Database`) or a service name (`\"external-cache\"`) in `depends_on`",
            ),
        }
    }
    Ok(dependencies)
}

fn path(key: &Ident, value: Expr) -> syn::Result<syn::Path> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(path.path),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Err(syn::Error::new(
            text.span(),
            format!("write the path without quotes: `{key} = {}`", text.value()),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("expected a path for `{key}`; {}", example(key)),
        )),
    }
}

fn unknown_key(key: &Ident, name: &str) -> syn::Error {
    let suggestion = KEYS
        .iter()
        .filter(|candidate| edit_distance(name, candidate) <= 2.max(name.len() / 3))
        .min_by_key(|candidate| edit_distance(name, candidate))
        .map(|candidate| format!("did you mean `{candidate}`? "))
        .unwrap_or_default();
    syn::Error::new(
        key.span(),
        format!(
            "unknown `#[service]` argument `{name}`; {suggestion}valid arguments are {}",
            KEYS.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// Levenshtein distance, for "did you mean" on a misspelt key.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse(tokens: TokenStream) -> (Args, Vec<String>) {
        let cx = Ctxt::new();
        let args = Args::parse(&cx, tokens);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (args, errors)
    }

    #[test]
    fn parses_every_argument() {
        let (args, errors) = parse(quote! {
            name = "db", retries = 3, delay = "1.5s", backoff = "exponential",
            max_delay = "1m", jitter, retry_reset = "5m", restart = "always",
            depends_on = [Cache, "external"], allowed_failure, notify_ready, readiness = false,
            ready_timeout = "30s", stop_timeout = "10s", commands, new = Self::open,
            crate = ::servicepack,
        });
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(args.name.value().unwrap().value(), "db");
        assert!(matches!(args.retries.value(), Some(Retries::Limited(3))));
        assert_eq!(args.delay.value(), Some(&Duration::from_millis(1500)));
        assert!(args.backoff.value() == Some(&Backoff::Exponential));
        assert_eq!(args.max_delay.value(), Some(&Duration::from_secs(60)));
        assert!(Args::flag(&args.jitter));
        assert!(args.restart.value() == Some(&Restart::Always));
        assert_eq!(args.depends_on.value().unwrap().len(), 2);
        assert!(Args::flag(&args.commands));
        assert_eq!(args.readiness.value(), Some(&false));
        assert!(args.new.value().is_some() && args.krate.value().is_some());
    }

    #[test]
    fn numbers_and_durations() {
        let (args, errors) = parse(quote!(retries = "unlimited", jitter = false));
        assert!(errors.is_empty());
        assert!(matches!(args.retries.value(), Some(Retries::Unlimited)));
        assert!(!Args::flag(&args.jitter));
        let cases: [(TokenStream, &str); 8] = [
            (quote!(retries = -1), "cannot be negative"),
            (quote!(retries = 1.5), "whole number"),
            (quote!(retries = "2"), "without quotes: `retries = 2`"),
            (quote!(retries = 5000000000), "too large"),
            (quote!(delay = 2), "`delay = \"2s\"`"),
            (quote!(delay = "2x"), "unknown unit \"x\""),
            (quote!(delay = "-1s"), "negative durations"),
            (quote!(stop_timeout = "ten seconds"), "invalid duration"),
        ];
        for (tokens, expected) in cases {
            let (_, errors) = parse(tokens.clone());
            assert_eq!(errors.len(), 1, "{tokens}");
            assert!(errors[0].contains(expected), "{tokens}: {}", errors[0]);
        }
    }

    #[test]
    fn reports_every_mistake() {
        let (_, errors) = parse(quote!(
            retries = 1,
            retries = 2,
            jiter,
            name = 5,
            restart = "sometimes"
        ));
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(errors[0].contains("duplicate argument `retries`"));
        assert!(errors[1].contains("did you mean `jitter`?"));
        assert!(errors[2].contains("expected a string for `name`"));
        assert!(errors[3].contains("unknown `restart` value \"sometimes\""));
        let (_, errors) = parse(quote!(retries = -1, retries = 2));
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].contains("cannot be negative") && errors[1].contains("duplicate"));
    }

    #[test]
    fn recovers_after_a_syntax_error() {
        let (args, errors) = parse(quote!(retries = , delay = "1s"));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(args.delay.value(), Some(&Duration::from_secs(1)));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("jiter", "jitter"), 1);
        assert_eq!(edit_distance("retry", "retries"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
