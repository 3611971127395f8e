//! The ops variables: `OPS_ADDR` and `OPS_TOKEN` (SPEC §3, §6), read with the rest of the
//! environment and reported the same way. `RUNNER_DRAINDELAY` is the runtime's (the drain
//! happens with or without an endpoint), read in `app::config`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::app::config::ConfigError;
use crate::parse_duration;

/// `OPS_ADDR`: where the ops endpoint listens.
pub(crate) const OPS_ADDR: &str = "OPS_ADDR";
/// `OPS_TOKEN`: the bearer token for the protected routes.
pub(crate) const OPS_TOKEN: &str = "OPS_TOKEN";

/// `OPS_COMMANDS_MAX`: commands dispatched into the running app at once.
pub(crate) const OPS_COMMANDS_MAX: &str = "OPS_COMMANDS_MAX";
/// `OPS_COMMAND_TIMEOUT`: how long each dispatched command may take.
pub(crate) const OPS_COMMAND_TIMEOUT: &str = "OPS_COMMAND_TIMEOUT";

/// The shortest `OPS_TOKEN` accepted.
pub(crate) const MIN_TOKEN_LEN: usize = 16;

/// The ops part of the environment, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpsConfig {
    /// `OPS_ADDR`; `None`: no endpoint.
    pub(crate) addr: Option<SocketAddr>,
    /// `OPS_TOKEN`.
    pub(crate) token: Option<Token>,
    /// `OPS_COMMANDS_MAX` (4 when unset).
    pub(crate) commands_max: usize,
    /// `OPS_COMMAND_TIMEOUT` (30 s when unset).
    pub(crate) command_timeout: Duration,
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            addr: None,
            token: None,
            commands_max: crate::runtime::commands::DEFAULT_MAX,
            command_timeout: crate::runtime::commands::DEFAULT_TIMEOUT,
        }
    }
}

/// A bearer token; its `Debug` never shows it, so a logged config leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(Box<str>);

impl Token {
    pub(crate) fn new(token: &str) -> Self {
        Self(token.into())
    }

    #[cfg_attr(
        not(feature = "ops"),
        allow(dead_code, reason = "only the endpoint compares tokens")
    )]
    /// Whether `candidate` is this token, in time that depends only on the lengths.
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg_attr(
    not(feature = "ops"),
    allow(dead_code, reason = "only the endpoint compares tokens")
)]
/// Compares every byte whatever the first difference is: the time tells an attacker the
/// lengths at most, never how much of a guess was right.
fn constant_time_eq(expected: &[u8], candidate: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != candidate.len());
    for (index, &byte) in expected.iter().enumerate() {
        let other = candidate.get(index).copied().unwrap_or(!byte);
        difference |= byte ^ other;
    }
    std::hint::black_box(difference) == 0
}

/// Reads the ops variables through `read` (trimmed, empty means unset, as the rest of the
/// config does) and pushes every bad one to `errors`.
pub(crate) fn from_lookup(
    read: impl Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> OpsConfig {
    let addr = read(OPS_ADDR).and_then(|value| match parse_addr(&value) {
        Ok(addr) => Some(addr),
        Err(expected) => {
            errors.push(ConfigError {
                variable: OPS_ADDR,
                value,
                expected,
            });
            None
        }
    });
    let token = read(OPS_TOKEN).and_then(|value| {
        let length = value.chars().count();
        if length >= MIN_TOKEN_LEN {
            Some(Token::new(&value))
        } else {
            errors.push(ConfigError {
                variable: OPS_TOKEN,
                // Never repeat a secret, not even a bad one.
                value: "<redacted>".to_owned(),
                expected: format!(
                    "expected a token of at least {MIN_TOKEN_LEN} characters, got {length} (generate one with `openssl rand -hex 16`)"
                ),
            });
            None
        }
    });
    let commands_max =
        read(OPS_COMMANDS_MAX).map_or(crate::runtime::commands::DEFAULT_MAX, |value| {
            match value.parse::<usize>() {
                Ok(max) if max > 0 => max,
                _ => {
                    errors.push(ConfigError {
                        variable: OPS_COMMANDS_MAX,
                        value,
                        expected: "expected a positive integer such as \"4\"".to_owned(),
                    });
                    crate::runtime::commands::DEFAULT_MAX
                }
            }
        });
    let command_timeout =
        read(OPS_COMMAND_TIMEOUT).map_or(crate::runtime::commands::DEFAULT_TIMEOUT, |value| {
            match parse_duration(&value) {
                Ok(timeout) if !timeout.is_zero() => timeout,
                Ok(_) => {
                    errors.push(ConfigError {
                        variable: OPS_COMMAND_TIMEOUT,
                        value,
                        expected: "expected a Go duration longer than zero such as \"30s\""
                            .to_owned(),
                    });
                    crate::runtime::commands::DEFAULT_TIMEOUT
                }
                Err(error) => {
                    errors.push(ConfigError {
                        variable: OPS_COMMAND_TIMEOUT,
                        expected: format!(
                            "expected a Go duration such as \"30s\" or \"1m30s\" ({})",
                            error.reason()
                        ),
                        value,
                    });
                    crate::runtime::commands::DEFAULT_TIMEOUT
                }
            }
        });
    OpsConfig {
        addr,
        token,
        commands_max,
        command_timeout,
    }
}

fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = value.parse().map_err(|_| {
        "expected an IP address and a port such as \"127.0.0.1:9090\", \"[::1]:9090\" or \"0.0.0.0:9090\" (port 0: any free port)".to_owned()
    })?;
    if cfg!(feature = "ops") {
        Ok(addr)
    } else {
        Err("this app was built without servicepack's `ops` feature: unset OPS_ADDR, or build with the feature (it is on by default)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> (OpsConfig, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let config = from_lookup(
            |name| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            },
            &mut errors,
        );
        (config, errors)
    }

    #[test]
    fn unset_means_no_endpoint() {
        assert_eq!(parse(&[]), (OpsConfig::default(), Vec::new()));
    }

    #[test]
    fn good_values_parse() {
        let (config, errors) = parse(&[(OPS_ADDR, "[::1]:0"), (OPS_TOKEN, "0123456789abcdef")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.addr, Some("[::1]:0".parse().unwrap()));
        assert!(config.token.unwrap().matches(b"0123456789abcdef"));
    }

    #[test]
    fn every_bad_value_names_its_variable_and_never_the_token() {
        let (_, errors) = parse(&[(OPS_ADDR, "localhost"), (OPS_TOKEN, "short-secret")]);
        let variables: Vec<_> = errors.iter().map(|error| error.variable).collect();
        assert_eq!(variables, [OPS_ADDR, OPS_TOKEN]);
        let text: String = errors.iter().map(ToString::to_string).collect();
        assert!(!text.contains("short-secret"), "{text}");
        assert!(text.contains("at least 16 characters"), "{text}");
    }

    #[test]
    fn command_limits_parse_and_bad_ones_name_their_variable() {
        let (config, errors) = parse(&[(OPS_COMMANDS_MAX, "8"), (OPS_COMMAND_TIMEOUT, "1m")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            (config.commands_max, config.command_timeout),
            (8, Duration::from_secs(60))
        );
        for (max, timeout) in [("0", "0s"), ("-1", "soon"), ("many", "30")] {
            let (_, errors) = parse(&[(OPS_COMMANDS_MAX, max), (OPS_COMMAND_TIMEOUT, timeout)]);
            let variables: Vec<_> = errors.iter().map(|error| error.variable).collect();
            assert_eq!(
                variables,
                [OPS_COMMANDS_MAX, OPS_COMMAND_TIMEOUT],
                "{max} {timeout}"
            );
        }
    }

    #[test]
    fn tokens_compare_whole() {
        let token = Token::new("0123456789abcdef");
        assert!(token.matches(b"0123456789abcdef"));
        assert!(!token.matches(b"0123456789abcdeF"));
        assert!(!token.matches(b"0123456789abcde"));
        assert!(!token.matches(b"0123456789abcdef0"));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    }
}
