//! Checks that span several arguments, or an argument and the struct: what each argument
//! means alone was checked while parsing (`attr.rs`).

use std::collections::HashSet;
use std::time::Duration;

use quote::ToTokens;
use syn::ext::IdentExt;

use crate::ast::Input;
use crate::attr::{Args, Backoff, Dependency, Restart, Retries};
use crate::ctxt::Ctxt;

/// Top-level commands of the generated app; a service with `commands` becomes a
/// subcommand named after the service, so it cannot take one of these names.
const BUILT_IN_COMMANDS: [&str; 7] = [
    "run",
    "services",
    "graph",
    "check",
    "completions",
    "help",
    "sv",
];

/// Records every inconsistency between the arguments, and between them and the struct.
pub(crate) fn check(cx: &Ctxt, input: &Input, args: &Args) {
    check_name(cx, input, args);
    check_retries(cx, args);
    check_timeouts(cx, args);
    check_dependencies(cx, input, args);
}

/// The service name: `name = "..."` or the ident in kebab-case.
pub(crate) fn service_name(input: &Input, args: &Args) -> String {
    args.name
        .value()
        .map_or_else(|| input.default_name(), syn::LitStr::value)
}

fn check_name(cx: &Ctxt, input: &Input, args: &Args) {
    let name = service_name(input, args);
    let span = args
        .name
        .get()
        .map_or_else(|| input.ident().span(), |name| name.span);
    let valid = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(char::is_alphanumeric);
    if !valid {
        cx.error(
            span,
            format!(
                "invalid service name {name:?}: use letters, digits, `-`, `_` and `.`, starting with a letter or digit, like `name = \"example-database\"`"
            ),
        );
    } else if Args::flag(&args.commands) && BUILT_IN_COMMANDS.contains(&name.as_str()) {
        cx.error(
            span,
            format!(
                "service name {name:?} with `commands` would hide the built-in `{name}` command; choose another name with `name = \"...\"`"
            ),
        );
    }
}

fn check_retries(cx: &Ctxt, args: &Args) {
    let exponential = args.backoff.value() == Some(&Backoff::Exponential);
    let delay = args.delay.value().copied().unwrap_or(Duration::ZERO);
    if let Some(max_delay) = args.max_delay.get() {
        if !exponential {
            cx.error(
                max_delay.key,
                "`max_delay` only caps exponential backoff; add `backoff = \"exponential\"` or remove `max_delay`",
            );
        } else if max_delay.value < delay {
            cx.error(
                max_delay.span,
                "`max_delay` is shorter than `delay`; make it at least as long as the first delay",
            );
        }
    }
    if let Some(backoff) = args.backoff.get()
        && exponential
        && delay.is_zero()
    {
        cx.error(
            backoff.key,
            "exponential backoff doubles the `delay`, which is zero; add a first delay like `delay = \"1s\"`",
        );
    }
    if let Some(jitter) = args.jitter.get()
        && jitter.value
        && delay.is_zero()
    {
        cx.error(
            jitter.key,
            "`jitter` randomises the `delay`, which is zero; add `delay = \"1s\"` or remove `jitter`",
        );
    }
    if args.restart.value() == Some(&Restart::Never)
        && let Some(retries) = args.retries.get()
        && !matches!(retries.value, Retries::Limited(0))
    {
        cx.error(
            retries.key,
            "`retries` has no effect with `restart = \"never\"`, which runs the service once; remove one of them",
        );
    }
    if let Some(reset) = args.retry_reset.get()
        && reset.value.is_zero()
    {
        cx.error(
            reset.span,
            "`retry_reset` must be longer than zero; remove it to never reset the failure count",
        );
    }
}

fn check_timeouts(cx: &Ctxt, args: &Args) {
    if let Some(timeout) = args.ready_timeout.get() {
        if !Args::flag(&args.notify_ready) {
            cx.error(
                timeout.key,
                "`ready_timeout` only applies to a service that calls `ctx.ready()`; add `notify_ready` or remove `ready_timeout`",
            );
        } else if timeout.value.is_zero() {
            cx.error(timeout.span, "`ready_timeout` must be longer than zero");
        }
    }
    if let Some(timeout) = args.stop_timeout.get()
        && timeout.value.is_zero()
    {
        cx.error(
            timeout.span,
            "`stop_timeout` must be longer than zero; give `stop` time to run, like `stop_timeout = \"10s\"`",
        );
    }
}

fn check_dependencies(cx: &Ctxt, input: &Input, args: &Args) {
    let Some(dependencies) = args.depends_on.value() else {
        return;
    };
    let own_name = service_name(input, args);
    let ident = input.ident().unraw().to_string();
    let mut seen = HashSet::new();
    for dependency in dependencies {
        let (key, is_self) = match dependency {
            Dependency::Type(path) => {
                let segments: Vec<String> = path
                    .segments
                    .iter()
                    .map(|segment| segment.ident.unraw().to_string())
                    .collect();
                let is_self = path.leading_colon.is_none()
                    && match segments.as_slice() {
                        [only] => only == "Self" || *only == ident,
                        [first, last] => first == "self" && *last == ident,
                        _ => false,
                    };
                (path.to_token_stream().to_string(), is_self)
            }
            Dependency::Name(name) => {
                let value = name.value();
                if value.is_empty() {
                    cx.error(name.span(), "a dependency name cannot be empty");
                }
                let is_self = value == own_name;
                (format!("{value:?}"), is_self)
            }
        };
        let span = || match dependency {
            Dependency::Type(path) => path.to_token_stream(),
            Dependency::Name(name) => name.to_token_stream(),
        };
        if is_self {
            cx.error_spanned_by(
                span(),
                format!(
                    "`{}` cannot depend on itself; remove it from `depends_on`",
                    input.ident()
                ),
            );
        } else if !seen.insert(key.clone()) {
            cx.error_spanned_by(
                span(),
                format!("`{key}` is listed twice in `depends_on`; remove one"),
            );
        }
    }
}
