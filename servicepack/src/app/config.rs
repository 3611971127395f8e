//! The environment of the app, read once into a typed [`Config`].
//!
//! Every variable is checked before any command does work, and every bad one is reported
//! (not only the first), each naming the variable, the value and what was expected. An
//! empty value counts as unset, so `LOG_LEVEL=` in a compose file means the default.

use std::fmt;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

pub(crate) use crate::app::terminal::Color;
use crate::parse_duration;

/// `SERVICES_ENABLED`: comma-separated service names to run.
pub(crate) const SERVICES_ENABLED: &str = "SERVICES_ENABLED";
/// `RUNNER_SHUTDOWNTIMEOUT`: the shutdown budget.
pub(crate) const RUNNER_SHUTDOWNTIMEOUT: &str = "RUNNER_SHUTDOWNTIMEOUT";
/// `RUNNER_DRAINDELAY`: after a shutdown request, how long the app drains before the
/// first service is stopped.
pub(crate) const RUNNER_DRAINDELAY: &str = "RUNNER_DRAINDELAY";
/// `LOG_LEVEL`: a level or a filter directive.
pub(crate) const LOG_LEVEL: &str = "LOG_LEVEL";
/// `LOG_FORMAT`: `text` or `json`.
pub(crate) const LOG_FORMAT: &str = "LOG_FORMAT";
/// `LOG_ADD_SOURCE`: file and line in each log line.
pub(crate) const LOG_ADD_SOURCE: &str = "LOG_ADD_SOURCE";
/// `ENV`: a label for the start-up line.
pub(crate) const ENV: &str = "ENV";
/// `RUST_LOG`: what `LOG_LEVEL` says, read only when `LOG_LEVEL` is unset.
pub(crate) const RUST_LOG: &str = "RUST_LOG";

/// The shutdown budget when `RUNNER_SHUTDOWNTIMEOUT` is unset.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The environment, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// `SERVICES_ENABLED`, trimmed, without empty items; empty means every service.
    pub(crate) services_enabled: Vec<String>,
    /// `RUNNER_SHUTDOWNTIMEOUT`.
    pub(crate) shutdown_timeout: Duration,
    /// `RUNNER_DRAINDELAY` (0 when unset).
    pub(crate) drain_delay: Duration,
    /// `LOG_LEVEL`, `LOG_FORMAT`, `LOG_ADD_SOURCE`.
    pub(crate) log: LogConfig,
    /// `ENV`, as given (`prod` when unset).
    pub(crate) env: String,
    /// `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `READY_FD` (SPEC §7).
    pub(crate) notify: super::notify::NotifyConfig,
    /// `OPS_ADDR`, `OPS_TOKEN`, `RUNNER_DRAINDELAY` (SPEC §6).
    pub(crate) ops: crate::ops::config::OpsConfig,
    /// `SERVICES_PEERS`, `RUNNER_PEERTIMEOUT` (SPEC §9.3).
    pub(crate) peers: super::peers::PeersConfig,
}

/// How logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogConfig {
    /// Which events are written.
    pub(crate) filter: LogFilter,
    /// Text or JSON lines.
    pub(crate) format: LogFormat,
    /// `source=file:line` in each line.
    pub(crate) add_source: bool,
    /// `NO_COLOR`, `CLICOLOR_FORCE`: whether text lines are coloured.
    pub(crate) color: Color,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: LogFilter::Level(LevelFilter::INFO),
            format: LogFormat::Text,
            add_source: false,
            color: Color::Auto,
        }
    }
}

/// `LOG_LEVEL`: one level for everything, or an `EnvFilter` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogFilter {
    /// `trace` … `error`, or `off`.
    Level(LevelFilter),
    /// A directive such as `info,my_app=debug`; it parsed when the config was read.
    Directive(String),
}

impl LogFilter {
    /// The filter for the subscriber.
    pub(crate) fn env_filter(&self) -> EnvFilter {
        match self {
            Self::Level(level) => EnvFilter::builder().parse_lossy(level.to_string()),
            Self::Directive(directive) => EnvFilter::builder().parse_lossy(directive),
        }
    }
}

/// The shape of each log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogFormat {
    /// `2026-01-02T03:04:05.123456Z  INFO starting service=db attempt=1`.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One variable with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The variable name.
    pub(crate) variable: &'static str,
    /// The value as given.
    pub(crate) value: String,
    /// What was expected, and why the value is not that.
    pub(crate) expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Every bad variable, with the log format to report them in (JSON when `LOG_FORMAT`
/// itself was fine and said `json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigErrors {
    /// One entry per bad variable, in the order of SPEC's table.
    pub(crate) errors: Vec<ConfigError>,
    /// The format to write the errors in.
    pub(crate) format: LogFormat,
    /// Whether they are coloured.
    pub(crate) color: Color,
}

impl Config {
    /// Reads the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Reads the variables through `lookup` (the process environment, or a map in tests).
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigErrors> {
        let read = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let mut errors = Vec::new();

        let services_enabled = read(SERVICES_ENABLED)
            .map(|list| parse_list(&list))
            .unwrap_or_default();
        let go_duration = |variable: &'static str, default: Duration| {
            read(variable).map_or(Ok(default), |value| {
                parse_duration(&value).map_err(|error| ConfigError {
                    variable,
                    expected: format!(
                        "expected a Go duration such as \"10s\", \"1m30s\" or \"500ms\" ({})",
                        error.reason()
                    ),
                    value,
                })
            })
        };
        let shutdown_timeout = go_duration(RUNNER_SHUTDOWNTIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT);
        let drain_delay = go_duration(RUNNER_DRAINDELAY, Duration::ZERO);
        // `RUST_LOG` only when `LOG_LEVEL` is unset; the same syntax, and an error names
        // the variable it came from.
        let level = read(LOG_LEVEL)
            .map(|value| (LOG_LEVEL, value))
            .or_else(|| read(RUST_LOG).map(|value| (RUST_LOG, value)));
        let filter = level.map_or(Ok(LogConfig::default().filter), |(variable, value)| {
            parse_log_level(variable, &value)
        });
        let format = read(LOG_FORMAT).map_or(Ok(LogFormat::Text), parse_log_format);
        let add_source = read(LOG_ADD_SOURCE).map_or(Ok(false), parse_add_source);
        let env = read(ENV).unwrap_or_else(|| "prod".to_owned());
        let notify = super::notify::NotifyConfig::from_lookup(read);
        let color = Color::from_lookup(&lookup);

        let shutdown_timeout = shutdown_timeout.unwrap_or_else(|error| {
            errors.push(error);
            DEFAULT_SHUTDOWN_TIMEOUT
        });
        let drain_delay = drain_delay.unwrap_or_else(|error| {
            errors.push(error);
            Duration::ZERO
        });
        let filter = filter.unwrap_or_else(|error| {
            errors.push(error);
            LogConfig::default().filter
        });
        let format = format.unwrap_or_else(|error| {
            errors.push(error);
            LogFormat::Text
        });
        let add_source = add_source.unwrap_or_else(|error| {
            errors.push(error);
            false
        });
        let notify = notify.unwrap_or_else(|error| {
            errors.push(error);
            super::notify::NotifyConfig::default()
        });
        let ops = crate::ops::config::from_lookup(read, &mut errors);
        let peers = super::peers::from_lookup(read, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors {
                errors,
                format,
                color,
            });
        }
        Ok(Self {
            services_enabled,
            shutdown_timeout,
            drain_delay,
            log: LogConfig {
                filter,
                format,
                add_source,
                color,
            },
            env,
            notify,
            ops,
            peers,
        })
    }

    /// Which of `registered` run: those named by `SERVICES_ENABLED`, or all of them.
    ///
    /// # Errors
    ///
    /// `SERVICES_ENABLED` names a service that is not registered; the error lists the
    /// registered names.
    pub(crate) fn enabled(&self, registered: &[&str]) -> Result<Vec<bool>, ConfigError> {
        if self.services_enabled.is_empty() {
            return Ok(vec![true; registered.len()]);
        }
        let unknown: Vec<&str> = self
            .services_enabled
            .iter()
            .map(String::as_str)
            .filter(|name| !registered.contains(name))
            .collect();
        if !unknown.is_empty() {
            let mut names: Vec<&str> = registered.to_vec();
            names.sort_unstable();
            names.dedup();
            let registered = if names.is_empty() {
                "no service is registered".to_owned()
            } else {
                format!("registered services: {}", names.join(", "))
            };
            let unknown = unknown
                .iter()
                .map(|name| format!("{name:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError {
                variable: SERVICES_ENABLED,
                value: self.services_enabled.join(","),
                expected: format!(
                    "no service named {unknown} is registered; {registered} (a comma-separated list of these, or empty for all)"
                ),
            });
        }
        Ok(registered
            .iter()
            .map(|name| self.services_enabled.iter().any(|enabled| enabled == name))
            .collect())
    }
}

fn parse_log_format(value: String) -> Result<LogFormat, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(ConfigError {
            variable: LOG_FORMAT,
            value,
            expected: "expected text or json".to_owned(),
        }),
    }
}

fn parse_add_source(value: String) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ConfigError {
            variable: LOG_ADD_SOURCE,
            value,
            expected: "expected true or false".to_owned(),
        }),
    }
}

fn parse_list(list: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// `LOG_LEVEL` (or `RUST_LOG`, named by `variable`). A hand match rather than
/// `LevelFilter::from_str`, which also takes `0` to `5`, which SPEC does not list.
fn parse_log_level(variable: &'static str, value: &str) -> Result<LogFilter, ConfigError> {
    const EXPECTED: &str = "expected trace, debug, info, warn, error or off (any case), or a tracing filter directive such as \"info,my_app=debug\"";
    if value.contains(['=', ',']) {
        return match EnvFilter::builder().parse(value) {
            Ok(_) => Ok(LogFilter::Directive(value.to_owned())),
            Err(error) => Err(ConfigError {
                variable,
                value: value.to_owned(),
                expected: format!("{EXPECTED}; the directive does not parse: {error}"),
            }),
        };
    }
    let level = match value.to_ascii_lowercase().as_str() {
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        "off" => LevelFilter::OFF,
        _ => {
            return Err(ConfigError {
                variable,
                value: value.to_owned(),
                expected: EXPECTED.to_owned(),
            });
        }
    };
    Ok(LogFilter::Level(level))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|&(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn single_error(vars: &[(&str, &str)]) -> ConfigError {
        let errors = parse(vars)
            .expect_err("the config should be refused")
            .errors;
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = parse(&[]).unwrap();
        assert!(config.services_enabled.is_empty());
        assert_eq!(config.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(config.log, LogConfig::default());
        assert_eq!(config.env, "prod");
    }

    #[test]
    fn empty_values_mean_the_default() {
        let vars = [
            (SERVICES_ENABLED, ""),
            (RUNNER_SHUTDOWNTIMEOUT, " "),
            (LOG_LEVEL, ""),
            (LOG_FORMAT, ""),
            (LOG_ADD_SOURCE, ""),
            (ENV, ""),
        ];
        assert_eq!(parse(&vars).unwrap(), parse(&[]).unwrap());
    }

    #[test]
    fn good_values_parse() {
        let config = parse(&[
            (SERVICES_ENABLED, " api, ,db,,api "),
            (RUNNER_SHUTDOWNTIMEOUT, "1m30s"),
            (LOG_LEVEL, "DeBuG"),
            (LOG_FORMAT, "JSON"),
            (LOG_ADD_SOURCE, "True"),
            (ENV, "dev"),
        ])
        .unwrap();
        assert_eq!(config.services_enabled, ["api", "db"]);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(90));
        assert_eq!(config.log.filter, LogFilter::Level(LevelFilter::DEBUG));
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(config.log.add_source);
        assert_eq!(config.env, "dev");
    }

    #[test]
    fn every_level_any_case() {
        for (text, level) in [
            ("trace", LevelFilter::TRACE),
            ("DEBUG", LevelFilter::DEBUG),
            ("Info", LevelFilter::INFO),
            ("wArN", LevelFilter::WARN),
            ("error", LevelFilter::ERROR),
            ("OFF", LevelFilter::OFF),
        ] {
            let config = parse(&[(LOG_LEVEL, text)]).unwrap();
            assert_eq!(config.log.filter, LogFilter::Level(level), "{text}");
        }
    }

    #[test]
    fn directives_are_kept_as_written() {
        for directive in ["info,my_app=debug", "my_app=trace", "warn,"] {
            let config = parse(&[(LOG_LEVEL, directive)]).unwrap();
            assert_eq!(
                config.log.filter,
                LogFilter::Directive(directive.to_owned())
            );
        }
    }

    #[test]
    fn bad_log_level_names_the_variable_and_the_value() {
        for value in ["loud", "verbose", "info,my_app=loud", "my_app=[", "="] {
            let error = single_error(&[(LOG_LEVEL, value)]);
            assert_eq!(error.variable, LOG_LEVEL);
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("invalid LOG_LEVEL={value:?}: expected trace")),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_shutdown_timeout_names_the_expected_form() {
        for value in ["ten", "10", "-1s", "5x"] {
            let error = single_error(&[(RUNNER_SHUTDOWNTIMEOUT, value)]);
            assert_eq!(error.variable, RUNNER_SHUTDOWNTIMEOUT);
            let text = error.to_string();
            assert!(
                text.contains(&format!("RUNNER_SHUTDOWNTIMEOUT={value:?}")),
                "{text}"
            );
            assert!(text.contains("\"1m30s\""), "{text}");
        }
    }

    #[test]
    fn bad_log_format_and_add_source() {
        let error = single_error(&[(LOG_FORMAT, "xml")]);
        assert_eq!(
            error.to_string(),
            "invalid LOG_FORMAT=\"xml\": expected text or json"
        );
        let error = single_error(&[(LOG_ADD_SOURCE, "maybe")]);
        assert_eq!(
            error.to_string(),
            "invalid LOG_ADD_SOURCE=\"maybe\": expected true or false"
        );
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let errors = parse(&[
            (RUNNER_SHUTDOWNTIMEOUT, "ten"),
            (LOG_LEVEL, "loud"),
            (LOG_FORMAT, "json"),
            (LOG_ADD_SOURCE, "maybe"),
        ])
        .unwrap_err();
        let variables: Vec<&str> = errors.errors.iter().map(|error| error.variable).collect();
        assert_eq!(
            variables,
            [RUNNER_SHUTDOWNTIMEOUT, LOG_LEVEL, LOG_ADD_SOURCE]
        );
        assert_eq!(
            errors.format,
            LogFormat::Json,
            "a good LOG_FORMAT is still used"
        );
    }

    #[test]
    fn drain_delay_is_a_go_duration() {
        assert_eq!(parse(&[]).unwrap().drain_delay, Duration::ZERO);
        let config = parse(&[(RUNNER_DRAINDELAY, "1m30s")]).unwrap();
        assert_eq!(config.drain_delay, Duration::from_secs(90));
        let error = single_error(&[(RUNNER_DRAINDELAY, "soon")]);
        assert_eq!(error.variable, RUNNER_DRAINDELAY);
        assert!(error.to_string().contains("\"1m30s\""), "{error}");
    }

    #[test]
    fn rust_log_is_read_when_log_level_is_unset() {
        let config = parse(&[(RUST_LOG, "debug")]).unwrap();
        assert_eq!(config.log.filter, LogFilter::Level(LevelFilter::DEBUG));
        let config = parse(&[(RUST_LOG, "info,my_app=trace")]).unwrap();
        assert_eq!(
            config.log.filter,
            LogFilter::Directive("info,my_app=trace".to_owned())
        );
        let config = parse(&[(RUST_LOG, "trace"), (LOG_LEVEL, "warn")]).unwrap();
        assert_eq!(config.log.filter, LogFilter::Level(LevelFilter::WARN));
        // A bad RUST_LOG does not matter when LOG_LEVEL decides.
        assert!(parse(&[(RUST_LOG, "loud"), (LOG_LEVEL, "warn")]).is_ok());
    }

    #[test]
    fn a_bad_rust_log_names_rust_log() {
        let error = single_error(&[(RUST_LOG, "loud")]);
        assert_eq!(error.variable, RUST_LOG);
        assert!(
            error
                .to_string()
                .starts_with("invalid RUST_LOG=\"loud\": expected trace"),
            "{error}"
        );
    }

    #[test]
    fn any_env_label_is_kept() {
        assert_eq!(parse(&[(ENV, "staging")]).unwrap().env, "staging");
    }

    #[test]
    fn services_enabled_selects_registered_services() {
        let config = parse(&[(SERVICES_ENABLED, "db, api")]).unwrap();
        assert_eq!(
            config.enabled(&["api", "worker", "db"]).unwrap(),
            [true, false, true]
        );
        let all = parse(&[(SERVICES_ENABLED, " , ")]).unwrap();
        assert_eq!(all.enabled(&["api", "db"]).unwrap(), [true, true]);
    }

    #[test]
    fn unknown_enabled_service_lists_the_registered_names() {
        let config = parse(&[(SERVICES_ENABLED, "api,nope")]).unwrap();
        let error = config.enabled(&["worker", "api"]).unwrap_err();
        assert_eq!(error.variable, SERVICES_ENABLED);
        assert_eq!(
            error.to_string(),
            "invalid SERVICES_ENABLED=\"api,nope\": no service named \"nope\" is registered; registered services: api, worker (a comma-separated list of these, or empty for all)"
        );
        let error = config.enabled(&[]).unwrap_err();
        assert!(
            error.to_string().contains("no service is registered"),
            "{error}"
        );
    }
}
