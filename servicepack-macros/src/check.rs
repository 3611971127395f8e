//! Checks that span several arguments, or an argument and the struct: what each argument
//! means alone was checked while parsing (`attr.rs`).

use std::collections::HashSet;

use quote::ToTokens;
use syn::ext::IdentExt;

use crate::ast::Input;
use crate::attr::{Args, Dependency};
use crate::ctxt::Ctxt;
use crate::shared::validate::{self, Part, Policy};

/// Records every inconsistency between the arguments, and between them and the struct.
pub(crate) fn check(cx: &Ctxt, input: &Input, args: &Args) {
    check_name(cx, input, args);
    check_policy(cx, args);
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
    if let Err(message) = validate::service_name(&name, Args::flag(&args.commands)) {
        cx.error(span, message);
    }
}

/// The checks across arguments, written once in `shared::validate` (where the CLI reads
/// them too); here they only get their spans.
fn check_policy(cx: &Ctxt, args: &Args) {
    let policy = Policy {
        retries: args.retries.value().copied(),
        delay: args.delay.value().copied(),
        backoff: args.backoff.value().copied(),
        max_delay: args.max_delay.value().copied(),
        jitter: Args::flag(&args.jitter),
        retry_reset: args.retry_reset.value().copied(),
        restart: args.restart.value().copied(),
        notify_ready: Args::flag(&args.notify_ready),
        ready_timeout: args.ready_timeout.value().copied(),
        stop_timeout: args.stop_timeout.value().copied(),
    };
    for problem in policy.problems() {
        let spans = match problem.key {
            "retries" => args.retries.get().map(|s| (s.key, s.span)),
            "max_delay" => args.max_delay.get().map(|s| (s.key, s.span)),
            "backoff" => args.backoff.get().map(|s| (s.key, s.span)),
            "jitter" => args.jitter.get().map(|s| (s.key, s.span)),
            "retry_reset" => args.retry_reset.get().map(|s| (s.key, s.span)),
            "ready_timeout" => args.ready_timeout.get().map(|s| (s.key, s.span)),
            "stop_timeout" => args.stop_timeout.get().map(|s| (s.key, s.span)),
            other => unreachable!("validate::Policy reported a problem with `{other}`"),
        };
        let (key, value) = spans.expect("a problem is only reported for a key that was written");
        let span = match problem.part {
            Part::Key => key,
            Part::Value => value,
        };
        cx.error(span, problem.message);
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
