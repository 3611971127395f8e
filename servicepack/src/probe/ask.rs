//! The two commands: their clap definitions, the address to ask, and what each answer
//! means as an exit status.

use std::io::{self, Write as _};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::client::{self, Answer, ProbeError};
use super::{HEALTH, STATUS, table};
use crate::app::config::LogFormat;
use crate::app::exit::Exit;

/// `OPS_ADDR`: the default address to ask.
const OPS_ADDR: &str = "OPS_ADDR";
/// `OPS_TOKEN`: sent as the bearer to `/status`.
const OPS_TOKEN: &str = "OPS_TOKEN";

/// `./app health`.
pub(crate) fn health_command() -> Command {
    Command::new(HEALTH)
        .about("Ask a running app whether it is ready: exit 0 ready, 1 not ready or unreachable")
        .arg(addr_arg())
        .arg(
            Arg::new("service")
                .long("service")
                .value_name("NAME")
                .help("Ask about one service (GET /readyz/NAME) instead of the whole app"),
        )
}

/// `./app status`.
pub(crate) fn status_command() -> Command {
    Command::new(STATUS)
        .about("Print the status of a running app: exit 0 ready, 1 not ready or unreachable")
        .arg(addr_arg())
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print the JSON of GET /status instead of a table"),
        )
}

fn addr_arg() -> Arg {
    Arg::new("addr")
        .long("addr")
        .value_name("ADDR")
        .help("host:port of the app's ops endpoint [default: $OPS_ADDR]")
}

/// Runs `./app health`.
pub(crate) fn health(matches: &ArgMatches, format: LogFormat) -> Exit {
    let env = |name: &str| std::env::var(name).ok();
    let outcome = health_outcome(
        matches.get_one::<String>("addr").map(String::as_str),
        matches.get_one::<String>("service").map(String::as_str),
        env,
        client::TIMEOUT,
    );
    finish(&outcome, format)
}

/// Runs `./app status`.
pub(crate) fn status(matches: &ArgMatches, format: LogFormat) -> Exit {
    let env = |name: &str| std::env::var(name).ok();
    let outcome = status_outcome(
        matches.get_one::<String>("addr").map(String::as_str),
        matches.get_flag("json"),
        env,
        client::TIMEOUT,
    );
    finish(&outcome, format)
}

/// What a probe found: what to print on stdout, and the exit status with its reason.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Printed on stdout, as is.
    pub(crate) stdout: String,
    /// 0, 1 or 2.
    pub(crate) code: u8,
    /// Why the status is not 0, for stderr.
    pub(crate) reason: Option<String>,
}

impl Outcome {
    pub(crate) fn fail(code: u8, reason: String) -> Self {
        Self {
            stdout: String::new(),
            code,
            reason: Some(reason),
        }
    }
}

pub(crate) fn finish(outcome: &Outcome, format: LogFormat) -> Exit {
    let mut out = io::stdout().lock();
    if let Err(error) = out
        .write_all(outcome.stdout.as_bytes())
        .and_then(|()| out.flush())
        && error.kind() != io::ErrorKind::BrokenPipe
    {
        return Exit::Failure.because(format, &format!("cannot write to stdout: {error}"));
    }
    let exit = match outcome.code {
        0 => Exit::Success,
        1 => Exit::Failure,
        _ => Exit::Usage,
    };
    match &outcome.reason {
        Some(reason) => exit.because(format, reason),
        None => exit,
    }
}

/// The `host:port` to ask: `--addr`, else `OPS_ADDR`; an `http://` prefix and a trailing
/// `/` are allowed.
///
/// # Errors
///
/// A usage error (exit 2): no address at all, not `host:port`, or port 0.
pub(crate) fn target(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let (given, source) = match flag {
        Some(addr) => (addr.trim().to_owned(), "--addr".to_owned()),
        None => match env(OPS_ADDR).map(|addr| addr.trim().to_owned()) {
            Some(addr) if !addr.is_empty() => (addr.clone(), format!("{OPS_ADDR}={addr:?}")),
            _ => {
                return Err(format!(
                    "no address to ask: pass --addr HOST:PORT or set {OPS_ADDR} to the ops address of the running app (as given to its `run`)"
                ));
            }
        },
    };
    let addr = given.strip_prefix("http://").unwrap_or(&given);
    let addr = addr.strip_suffix('/').unwrap_or(addr);
    let port = addr
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && !host.contains('/'))
        .and_then(|(_, port)| port.parse::<u16>().ok());
    match port {
        None => Err(format!(
            "invalid address {source}: expected HOST:PORT such as 127.0.0.1:9090 or [::1]:9090"
        )),
        Some(0) => Err(format!(
            "invalid address {source}: port 0 lets `run` pick any free port; pass --addr with the port the app announced in its log"
        )),
        Some(_) => Ok(addr.to_owned()),
    }
}

/// `health`, with the environment and the deadline given.
pub(crate) fn health_outcome(
    flag: Option<&str>,
    service: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Outcome {
    let addr = match target(flag, env) {
        Ok(addr) => addr,
        Err(usage) => return Outcome::fail(2, usage),
    };
    let path = match service {
        None => "/readyz".to_owned(),
        Some(name) if name.trim().is_empty() => {
            return Outcome::fail(2, "--service needs a service name".to_owned());
        }
        Some(name) => format!("/readyz/{}", percent_encode(name)),
    };
    let what = service.map_or_else(|| "the app".to_owned(), |name| format!("service {name}"));
    let answer = match request(&addr, &path, None, timeout) {
        Ok(answer) => answer,
        Err(reason) => return Outcome::fail(1, reason),
    };
    let field = |key: &str| json_field(&answer, key);
    match answer.status.as_u16() {
        200 => Outcome {
            stdout: format!("{what} is ready\n"),
            code: 0,
            reason: None,
        },
        503 => {
            let reason = field("reason").unwrap_or_else(|| "no reason given".to_owned());
            Outcome::fail(1, format!("{what} is not ready: {reason}"))
        }
        404 if service.is_some() => Outcome::fail(
            1,
            format!("{what} is not enabled in the app at {addr} (404 on {path})"),
        ),
        _ => Outcome::fail(1, unexpected(&addr, &path, &answer)),
    }
}

/// `status`, with the environment and the deadline given.
pub(crate) fn status_outcome(
    flag: Option<&str>,
    json: bool,
    env: impl Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Outcome {
    let addr = match target(flag, &env) {
        Ok(addr) => addr,
        Err(usage) => return Outcome::fail(2, usage),
    };
    let token = env(OPS_TOKEN).filter(|token| !token.trim().is_empty());
    let answer = match request(&addr, "/status", token.as_deref(), timeout) {
        Ok(answer) => answer,
        Err(reason) => return Outcome::fail(1, reason),
    };
    match answer.status.as_u16() {
        200 => {}
        401 => {
            let hint = if token.is_some() {
                "the OPS_TOKEN given is not the app's"
            } else {
                "set OPS_TOKEN to the app's token"
            };
            return Outcome::fail(1, format!("{addr} refused /status (401): {hint}"));
        }
        403 => {
            let detail = json_field(&answer, "error").unwrap_or_default();
            return Outcome::fail(1, format!("{addr} refused /status (403): {detail}"));
        }
        _ => return Outcome::fail(1, unexpected(&addr, "/status", &answer)),
    }
    let status: table::Status = match serde_json::from_slice(&answer.body) {
        Ok(status) => status,
        Err(error) => {
            return Outcome::fail(
                1,
                format!(
                    "{addr} answered /status with JSON that is not a servicepack status: {error}"
                ),
            );
        }
    };
    let stdout = if json {
        let mut body = String::from_utf8_lossy(&answer.body).into_owned();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        body
    } else {
        table::render(&status)
    };
    Outcome {
        stdout,
        code: u8::from(!status.ready),
        reason: (!status.ready)
            .then(|| format!("the app is not ready: {}", status.not_ready_reason())),
    }
}

/// One GET on a runtime of its own; the error is the reason for exit 1.
fn request(
    addr: &str,
    path: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<Answer, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?;
    runtime
        .block_on(client::get(addr, path, token, timeout))
        .map_err(|error| match error {
            ProbeError::Connect(_) => format!("cannot reach the app at {addr}: {error}"),
            _ => format!("no answer from the app at {addr} for {path}: {error}"),
        })
}

/// A field of a JSON object body, when it is a string.
pub(crate) fn json_field(answer: &Answer, key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    value.get(key)?.as_str().map(table::printable)
}

fn unexpected(addr: &str, path: &str, answer: &Answer) -> String {
    let detail = json_field(answer, "error").unwrap_or_else(|| {
        table::printable(
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(200)
                .collect::<String>()
                .trim(),
        )
    });
    format!(
        "{addr} answered {} on {path}, not a servicepack ops endpoint's answer: {detail}",
        answer.status
    )
}

/// `name` as one path segment: unreserved characters as they are, the rest `%XX`.
pub(crate) fn percent_encode(name: &str) -> String {
    use std::fmt::Write as _;

    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}
