//! `./app ctl` (SPEC §8): the client of the control routes. It reads the token from
//! `OPS_TOKEN` and the address from `--addr` or `OPS_ADDR`, sends one `POST`, and turns
//! the answer into an exit status: 0 success, 1 otherwise (the reason on stderr), 2 for
//! usage errors.

use std::time::Duration;

use bytes::Bytes;
use clap::{Arg, ArgMatches, Command};
use hyper::{Method, StatusCode};

use super::ask::{Outcome, finish, target};
use super::client::{self, ProbeError};
use crate::app::config::LogFormat;
use crate::app::exit::Exit;

/// `./app ctl`.
pub(crate) const CTL: &str = "ctl";

/// `OPS_TOKEN`: the bearer of every control route.
const OPS_TOKEN: &str = "OPS_TOKEN";
/// `OPS_COMMAND_TIMEOUT`: how long the app lets a command run; the client waits longer.
const OPS_COMMAND_TIMEOUT: &str = "OPS_COMMAND_TIMEOUT";

/// The clap definition of `ctl`.
pub(crate) fn command() -> Command {
    Command::new(CTL)
        .about("Control a running app: shut down, drain, restart a service, run a service's command in it")
        .arg(
            Arg::new("addr")
                .long("addr")
                .value_name("ADDR")
                .global(true)
                .help("host:port of the app's ops endpoint [default: $OPS_ADDR]"),
        )
        .subcommand_required(true)
        .subcommand(Command::new("shutdown").about("Begin the graceful shutdown (as SIGTERM)"))
        .subcommand(
            Command::new("drain").about("Answer 503 \"draining\" on /readyz from now on; services keep running"),
        )
        .subcommand(
            Command::new("restart")
                .about("Stop one service and start it again as a fresh attempt")
                .arg(Arg::new("name").required(true).value_name("NAME")),
        )
        .subcommand(
            Command::new("command")
                .about("Run a service's command on the running instance")
                .arg(Arg::new("name").required(true).value_name("NAME"))
                .arg(
                    Arg::new("args")
                        .value_name("ARGS")
                        .num_args(1..)
                        .required(true)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true),
                ),
        )
}

/// Runs `./app ctl`; returns the exit status.
pub(crate) fn run(matches: &ArgMatches, format: LogFormat) -> Exit {
    let env = |name: &str| std::env::var(name).ok();
    let outcome = outcome(matches, env);
    finish(&outcome, format)
}

/// What to send: path, body, and the route's words for messages.
fn request(matches: &ArgMatches) -> Option<(String, Bytes, String)> {
    let (sub, args) = matches.subcommand()?;
    let name = || args.get_one::<String>("name").cloned().unwrap_or_default();
    Some(match sub {
        "shutdown" => (
            "/admin/shutdown".to_owned(),
            Bytes::new(),
            "shutdown".to_owned(),
        ),
        "drain" => ("/admin/drain".to_owned(), Bytes::new(), "drain".to_owned()),
        "restart" => (
            format!("/admin/services/{}/restart", name()),
            Bytes::new(),
            format!("restart of {}", name()),
        ),
        _ => {
            let words: Vec<&String> = args.get_many::<String>("args")?.collect();
            let body = serde_json::json!({ "args": words }).to_string();
            (
                format!("/admin/services/{}/commands", name()),
                Bytes::from(body),
                format!(
                    "`{} {}`",
                    name(),
                    words
                        .iter()
                        .map(|word| word.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            )
        }
    })
}

/// `ctl`, with the environment given.
pub(crate) fn outcome(matches: &ArgMatches, env: impl Fn(&str) -> Option<String>) -> Outcome {
    let addr = match target(matches.get_one::<String>("addr").map(String::as_str), &env) {
        Ok(addr) => addr,
        Err(reason) => return Outcome::fail(2, reason),
    };
    let Some(token) = env(OPS_TOKEN).filter(|token| !token.trim().is_empty()) else {
        return Outcome::fail(
            2,
            format!("{OPS_TOKEN} is not set: the control routes need the running app's token"),
        );
    };
    let Some((path, body, what)) = request(matches) else {
        return Outcome::fail(2, "ctl needs a subcommand".to_owned());
    };
    let is_command = path.ends_with("/commands");
    // A command may run for the app's whole command timeout: wait a little longer.
    let timeout = if is_command {
        env(OPS_COMMAND_TIMEOUT)
            .and_then(|value| crate::parse_duration(value.trim()).ok())
            .unwrap_or(crate::runtime::commands::DEFAULT_TIMEOUT)
            .saturating_add(Duration::from_secs(5))
    } else {
        client::TIMEOUT
    };
    let answer = match send(&addr, &path, token.trim(), body, timeout) {
        Ok(answer) => answer,
        Err(reason) => return Outcome::fail(1, reason),
    };
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let text = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    match answer.status {
        StatusCode::OK if is_command => {
            match value.get("ok").and_then(serde_json::Value::as_bool) {
                Some(true) => Outcome {
                    stdout: format!("{what}: ok\n"),
                    code: 0,
                    reason: None,
                },
                _ => Outcome::fail(
                    1,
                    format!("{what} failed: {}", text("error").unwrap_or_default()),
                ),
            }
        }
        status if status.is_success() => Outcome {
            stdout: format!(
                "{what}: {}\n",
                text("status").unwrap_or_else(|| "ok".to_owned())
            ),
            code: 0,
            reason: None,
        },
        status => Outcome::fail(
            1,
            format!(
                "{what} refused ({status}): {}",
                text("error").unwrap_or_else(|| String::from_utf8_lossy(&answer.body).into_owned())
            ),
        ),
    }
}

fn send(
    addr: &str,
    path: &str,
    token: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<client::Answer, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?;
    runtime
        .block_on(client::send(
            Method::POST,
            addr,
            path,
            Some(token),
            body,
            timeout,
        ))
        .map_err(|error| match error {
            ProbeError::Connect(_) => format!("cannot reach the app at {addr}: {error}"),
            _ => format!("no answer from the app at {addr} for {path}: {error}"),
        })
}
