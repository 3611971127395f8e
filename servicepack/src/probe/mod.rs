//! `./app health` and `./app status` (SPEC §7): clients of a running app's ops endpoint.
//!
//! They construct no service and read no registration: they ask `/readyz` (or
//! `/readyz/{service}`) and `/status` at `--addr` or `OPS_ADDR`, within a deadline, and
//! turn the answer into an exit status (0 ready, 1 not ready or unreachable, 2 usage),
//! with the reason on stderr. Generated runit `check` scripts, Docker `HEALTHCHECK`s and
//! compose healthchecks call `health`, so images need no curl. They come with the `ops`
//! feature (hyper's client, next to the endpoint's server); without it the names stay
//! reserved and the commands are absent.

#[cfg(feature = "ops")]
pub(crate) mod ask;
#[cfg(feature = "ops")]
pub(crate) mod client;
#[cfg(feature = "ops")]
pub(crate) mod ctl;
#[cfg(feature = "ops")]
mod table;
#[cfg(all(test, feature = "ops"))]
mod tests;

use clap::{ArgMatches, Command};

use crate::app::config::LogFormat;
use crate::app::exit::Exit;

/// `./app health`.
pub(crate) const HEALTH: &str = "health";
/// `./app status`.
pub(crate) const STATUS: &str = "status";

/// The clap definitions of `health` and `status` (none without the `ops` feature).
pub(crate) fn commands() -> Vec<Command> {
    #[cfg(feature = "ops")]
    return vec![ask::health_command(), ask::status_command(), ctl::command()];
    #[cfg(not(feature = "ops"))]
    return Vec::new();
}

/// Runs `health` or `status` (`name`).
pub(crate) fn run(name: &str, matches: &ArgMatches, format: LogFormat) -> Exit {
    #[cfg(feature = "ops")]
    return if name == HEALTH {
        ask::health(matches, format)
    } else if name == ctl::CTL {
        ctl::run(matches, format)
    } else {
        ask::status(matches, format)
    };
    #[cfg(not(feature = "ops"))]
    {
        let _ = (matches, format);
        unreachable!("clap matched `{name}`, which `commands` does not add without the ops feature")
    }
}
