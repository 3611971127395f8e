//! What a `#[service]` value may be, and the message for each mistake, written once.
//!
//! `#[service]` calls these with the text of a literal and puts the message on the
//! literal's span; `servicepack add` calls them with the value of a flag and prints the
//! message. So `servicepack add worker --restart sometimes` is refused with the very
//! words the compiler would print for `restart = "sometimes"`.

use std::time::Duration;

use super::commands::BUILT_IN_COMMANDS;
use super::duration::parse_duration;

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

/// `retries = 2` or `retries = "unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retries {
    /// At most this many retries.
    Limited(u32),
    /// Retry forever.
    Unlimited,
}

/// `backoff = "constant" | "exponential"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backoff {
    Constant,
    Exponential,
}

/// `restart = "on-failure" | "always" | "never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    OnFailure,
    Always,
    Never,
}

/// How a key is written, for the "say the fix" half of a message.
pub(crate) fn example(key: &str) -> &'static str {
    match key {
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

/// `retries = N` with `N` the digits of an integer literal.
pub(crate) fn retries_number(digits: &str) -> Result<Retries, String> {
    digits.parse::<u32>().map(Retries::Limited).map_err(|_| {
        format!(
            "`retries = {digits}` is too large; the most is {}, or write `retries = \"unlimited\"`",
            u32::MAX
        )
    })
}

/// `retries = "..."`: only `"unlimited"` is a string value.
pub(crate) fn retries_string(text: &str) -> Result<Retries, String> {
    match text {
        "unlimited" => Ok(Retries::Unlimited),
        other => Err(match other.parse::<u32>() {
            Ok(n) => format!("write the number without quotes: `retries = {n}`"),
            Err(_) => format!(
                "unknown `retries` value {other:?}; write a whole number (`retries = 2`) or `retries = \"unlimited\"`"
            ),
        }),
    }
}

/// For `retries = -1`.
pub(crate) const RETRIES_NEGATIVE: &str =
    "`retries` cannot be negative; write `retries = 0` for no retries or `retries = \"unlimited\"`";

/// For `retries = 1.5`.
pub(crate) const RETRIES_NOT_WHOLE: &str =
    "`retries` must be a whole number: `retries = 2`, or `retries = \"unlimited\"`";

/// `retries` as a command-line value, where numbers and words are both plain text:
/// the same outcomes and messages as the literal forms above.
pub(crate) fn retries_text(text: &str) -> Result<Retries, String> {
    let text = text.trim();
    if text.starts_with('-') && text[1..].parse::<f64>().is_ok() {
        Err(RETRIES_NEGATIVE.to_owned())
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        retries_number(text)
    } else if text.parse::<f64>().is_ok() {
        Err(RETRIES_NOT_WHOLE.to_owned())
    } else {
        retries_string(text)
    }
}

/// `backoff = "..."`.
pub(crate) fn backoff(text: &str) -> Result<Backoff, String> {
    match text {
        "exponential" => Ok(Backoff::Exponential),
        "constant" => Ok(Backoff::Constant),
        other => Err(format!(
            "unknown `backoff` value {other:?}; expected \"exponential\" or \"constant\""
        )),
    }
}

/// `restart = "..."`.
pub(crate) fn restart(text: &str) -> Result<Restart, String> {
    match text {
        "on-failure" => Ok(Restart::OnFailure),
        "always" => Ok(Restart::Always),
        "never" => Ok(Restart::Never),
        "on_failure" | "onfailure" | "OnFailure" => {
            Err("write `restart = \"on-failure\"`, with a hyphen".to_owned())
        }
        other => Err(format!(
            "unknown `restart` value {other:?}; expected \"on-failure\", \"always\" or \"never\""
        )),
    }
}

/// `readiness = true | false`, from the text of a command-line value.
pub(crate) fn readiness(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "`readiness` takes `true` or `false`; {}",
            example("readiness")
        )),
    }
}

/// A duration value (`delay`, `max_delay`, `retry_reset`, `ready_timeout`,
/// `stop_timeout`), in Go syntax.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|error| error.to_string())
}

/// A service name: the one rule for names given with `name = "..."` or derived from the
/// ident, and the reserved names for a service with `commands`.
pub(crate) fn service_name(name: &str, commands: bool) -> Result<(), String> {
    let valid = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(char::is_alphanumeric);
    if !valid {
        Err(format!(
            "invalid service name {name:?}: use letters, digits, `-`, `_` and `.`, starting with a letter or digit, like `name = \"example-database\"`"
        ))
    } else if commands && BUILT_IN_COMMANDS.contains(&name) {
        Err(format!(
            "service name {name:?} with `commands` would hide the built-in `{name}` command; choose another name with `name = \"...\"`"
        ))
    } else {
        Ok(())
    }
}

/// A path value (`new`, `crate`) written as text: `Self::open`, `::servicepack`,
/// `my_app::servicepack`. The attribute gets this from the parser; the CLI checks it
/// here, with the attribute's message.
pub(crate) fn path(key: &str, text: &str) -> Result<(), String> {
    let body = text.strip_prefix("::").unwrap_or(text);
    let segment = |s: &str| {
        let s = s.strip_prefix("r#").unwrap_or(s);
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
            && s != "_"
    };
    if !body.is_empty() && body.split("::").all(segment) {
        Ok(())
    } else {
        Err(format!("expected a path for `{key}`; {}", example(key)))
    }
}

/// The arguments as values, for the checks that span several of them. `None` and
/// `false` mean "not written".
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) retries: Option<Retries>,
    pub(crate) delay: Option<Duration>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) jitter: bool,
    pub(crate) retry_reset: Option<Duration>,
    pub(crate) restart: Option<Restart>,
    pub(crate) notify_ready: bool,
    pub(crate) ready_timeout: Option<Duration>,
    pub(crate) stop_timeout: Option<Duration>,
}

/// Which token of `key = value` a problem points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Key,
    Value,
}

/// One inconsistency between arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The key whose token is pointed at.
    pub(crate) key: &'static str,
    pub(crate) part: Part,
    pub(crate) message: &'static str,
}

impl Policy {
    /// Every inconsistency, in the order the attribute reports them.
    pub(crate) fn problems(&self) -> Vec<Problem> {
        let problem = |key, part, message| Problem { key, part, message };
        let mut problems = Vec::new();
        let exponential = self.backoff == Some(Backoff::Exponential);
        let delay = self.delay.unwrap_or(Duration::ZERO);
        if let Some(max_delay) = self.max_delay {
            if !exponential {
                problems.push(problem(
                    "max_delay",
                    Part::Key,
                    "`max_delay` only caps exponential backoff; add `backoff = \"exponential\"` or remove `max_delay`",
                ));
            } else if max_delay < delay {
                problems.push(problem(
                    "max_delay",
                    Part::Value,
                    "`max_delay` is shorter than `delay`; make it at least as long as the first delay",
                ));
            }
        }
        if exponential && delay.is_zero() {
            problems.push(problem(
                "backoff",
                Part::Key,
                "exponential backoff doubles the `delay`, which is zero; add a first delay like `delay = \"1s\"`",
            ));
        }
        if self.jitter && delay.is_zero() {
            problems.push(problem(
                "jitter",
                Part::Key,
                "`jitter` randomises the `delay`, which is zero; add `delay = \"1s\"` or remove `jitter`",
            ));
        }
        if self.restart == Some(Restart::Never)
            && self.retries.is_some_and(|r| r != Retries::Limited(0))
        {
            problems.push(problem(
                "retries",
                Part::Key,
                "`retries` has no effect with `restart = \"never\"`, which runs the service once; remove one of them",
            ));
        }
        if self.retry_reset.is_some_and(|reset| reset.is_zero()) {
            problems.push(problem(
                "retry_reset",
                Part::Value,
                "`retry_reset` must be longer than zero; remove it to never reset the failure count",
            ));
        }
        if let Some(timeout) = self.ready_timeout {
            if !self.notify_ready {
                problems.push(problem(
                    "ready_timeout",
                    Part::Key,
                    "`ready_timeout` only applies to a service that calls `ctx.ready()`; add `notify_ready` or remove `ready_timeout`",
                ));
            } else if timeout.is_zero() {
                problems.push(problem(
                    "ready_timeout",
                    Part::Value,
                    "`ready_timeout` must be longer than zero",
                ));
            }
        }
        if self.stop_timeout.is_some_and(|timeout| timeout.is_zero()) {
            problems.push(problem(
                "stop_timeout",
                Part::Value,
                "`stop_timeout` must be longer than zero; give `stop` time to run, like `stop_timeout = \"10s\"`",
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_text_reads_like_the_literals() {
        assert_eq!(retries_text("3"), Ok(Retries::Limited(3)));
        assert_eq!(retries_text("unlimited"), Ok(Retries::Unlimited));
        assert_eq!(retries_text("-1"), Err(RETRIES_NEGATIVE.to_owned()));
        assert_eq!(retries_text("1.5"), Err(RETRIES_NOT_WHOLE.to_owned()));
        assert!(
            retries_text("5000000000")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            retries_text("many")
                .unwrap_err()
                .contains("unknown `retries` value \"many\"")
        );
    }

    #[test]
    fn names_and_paths() {
        assert!(service_name("example-database", true).is_ok());
        assert!(
            service_name("-x", false)
                .unwrap_err()
                .contains("invalid service name")
        );
        for reserved in BUILT_IN_COMMANDS {
            assert!(service_name(reserved, false).is_ok());
            assert!(
                service_name(reserved, true)
                    .unwrap_err()
                    .contains("would hide")
            );
        }
        for good in [
            "Self::open",
            "::servicepack",
            "my_app::servicepack",
            "r#type::new",
        ] {
            assert_eq!(path("new", good), Ok(()), "{good}");
        }
        for bad in ["", "a::", "a b", "1x", "\"x\"", "a::::b", "_"] {
            assert!(path("crate", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policies_report_each_inconsistency() {
        let second = Some(Duration::from_secs(1));
        let keys =
            |policy: Policy| -> Vec<&str> { policy.problems().iter().map(|p| p.key).collect() };
        assert!(keys(Policy::default()).is_empty());
        assert_eq!(
            keys(Policy {
                max_delay: second,
                ..Policy::default()
            }),
            ["max_delay"]
        );
        assert_eq!(
            keys(Policy {
                backoff: Some(Backoff::Exponential),
                jitter: true,
                ..Policy::default()
            }),
            ["backoff", "jitter"]
        );
        assert_eq!(
            keys(Policy {
                restart: Some(Restart::Never),
                retries: Some(Retries::Limited(2)),
                ready_timeout: second,
                stop_timeout: Some(Duration::ZERO),
                ..Policy::default()
            }),
            ["retries", "ready_timeout", "stop_timeout"]
        );
    }
}
