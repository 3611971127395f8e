//! `SERVICES_PEERS` and `RUNNER_PEERTIMEOUT` (SPEC §9.3): where the dependencies that
//! run in other processes are, and how long a dependent waits for them.
//!
//! The runtime only knows [`Runner::peer`](crate::Runner::peer), a name and a waiter;
//! this module parses the variables with the rest of the config, checks the names
//! against the registry, and gives each peer a waiter that polls the peer's ops endpoint
//! (`poll.rs`, with the `health` client's hyper connection).

#[cfg(feature = "ops")]
mod poll;
#[cfg(all(test, feature = "ops"))]
mod tests;

use std::fmt;
use std::time::Duration;

use crate::Runner;
use crate::app::config::ConfigError;
use crate::parse_duration;

/// `SERVICES_PEERS`: `name=http://host:port,…`.
pub(crate) const SERVICES_PEERS: &str = "SERVICES_PEERS";
/// `RUNNER_PEERTIMEOUT`: how long one attempt waits for its peers; `0s`: no limit.
pub(crate) const RUNNER_PEERTIMEOUT: &str = "RUNNER_PEERTIMEOUT";

/// The peer part of the environment, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PeersConfig {
    /// Every peer, in the order given (a name given twice: the last one).
    pub(crate) peers: Vec<Peer>,
    /// `RUNNER_PEERTIMEOUT`; zero: no limit.
    pub(crate) timeout: Duration,
}

/// One entry of `SERVICES_PEERS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The service that runs there.
    pub(crate) name: String,
    /// Where its ops endpoint is.
    pub(crate) url: PeerUrl,
}

/// An `http://host:port[/prefix]` URL, split for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerUrl {
    /// `host:port`, as given (a name is resolved at every poll, so a container that
    /// comes up later is found).
    pub(crate) authority: String,
    /// The path before `/readyz/…`, without a trailing `/` (usually empty).
    pub(crate) prefix: String,
}

impl fmt::Display for PeerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

const EXPECTED_LIST: &str = "expected a comma-separated list of name=http://HOST:PORT, such as \"example-database=http://db:9100,example-flaky=http://flaky:9101\"";

/// Reads the peer variables through `read` (trimmed, empty means unset) and pushes every
/// bad one to `errors`. Whether the names are registered is checked later, against the
/// registry ([`PeersConfig::check_registered`]).
pub(crate) fn from_lookup(
    read: impl Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> PeersConfig {
    let peers = read(SERVICES_PEERS).map_or_else(Vec::new, |value| {
        parse_peers(&value).unwrap_or_else(|expected| {
            errors.push(ConfigError {
                variable: SERVICES_PEERS,
                value,
                expected,
            });
            Vec::new()
        })
    });
    let timeout = read(RUNNER_PEERTIMEOUT).map_or(Duration::ZERO, |value| {
        parse_duration(&value).unwrap_or_else(|error| {
            errors.push(ConfigError {
                variable: RUNNER_PEERTIMEOUT,
                expected: format!(
                    "expected a Go duration such as \"30s\", \"2m\" or \"0s\" for no limit ({})",
                    error.reason()
                ),
                value,
            });
            Duration::ZERO
        })
    });
    PeersConfig { peers, timeout }
}

fn parse_peers(value: &str) -> Result<Vec<Peer>, String> {
    if !cfg!(feature = "ops") {
        return Err("this app was built without servicepack's `ops` feature, whose HTTP client asks the peers: unset SERVICES_PEERS, or build with the feature (it is on by default)".to_owned());
    }
    let mut peers: Vec<Peer> = Vec::new();
    for item in value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let Some((name, url)) = item.split_once('=') else {
            return Err(format!("{item:?} has no `=`; {EXPECTED_LIST}"));
        };
        let (name, url) = (name.trim(), url.trim());
        if name.is_empty() {
            return Err(format!(
                "{item:?} has no service name before `=`; {EXPECTED_LIST}"
            ));
        }
        let url = parse_url(url).map_err(|why| format!("the URL of {name} {why}"))?;
        peers.retain(|peer| peer.name != name);
        peers.push(Peer {
            name: name.to_owned(),
            url,
        });
    }
    Ok(peers)
}

/// `http://HOST:PORT` with an optional path prefix; the reason it is not, after "the URL
/// of NAME".
fn parse_url(url: &str) -> Result<PeerUrl, String> {
    let form = "expected http://HOST:PORT such as http://db:9100 or http://127.0.0.1:9100 (the peer's OPS_ADDR)";
    let Some(rest) = url.strip_prefix("http://") else {
        if url.starts_with("https://") {
            return Err(format!(
                "{url:?} uses https, which the peer's ops endpoint does not serve; {form}"
            ));
        }
        return Err(format!("{url:?} does not start with http://; {form}"));
    };
    if rest.contains(['?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} has a query, a fragment, credentials or a space; {form}"
        ));
    }
    let (authority, prefix) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let port = authority
        .rsplit_once(':')
        .filter(|(host, _)| {
            !host.is_empty()
                && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
        })
        .map(|(_, port)| port.parse::<u16>());
    match port {
        None => return Err(format!("{url:?} has no HOST:PORT; {form}")),
        Some(Err(_) | Ok(0)) => return Err(format!("{url:?} has no valid port (1-65535); {form}")),
        Some(Ok(_)) => {}
    }
    Ok(PeerUrl {
        authority: authority.to_owned(),
        prefix: prefix.trim_end_matches('/').to_owned(),
    })
}

impl PeersConfig {
    /// Checks that every peer names a registered service.
    ///
    /// # Errors
    ///
    /// A name that is not registered; the error lists the registered names.
    pub(crate) fn check_registered(&self, registered: &[&str]) -> Result<(), ConfigError> {
        let unknown: Vec<String> = self
            .peers
            .iter()
            .filter(|peer| !registered.contains(&peer.name.as_str()))
            .map(|peer| format!("{:?}", peer.name))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let mut names = registered.to_vec();
        names.sort_unstable();
        names.dedup();
        Err(ConfigError {
            variable: SERVICES_PEERS,
            value: self
                .peers
                .iter()
                .map(|peer| format!("{}={}", peer.name, peer.url))
                .collect::<Vec<_>>()
                .join(","),
            expected: format!(
                "no service named {} is registered; name registered services (registered services: {}) with the URL of the app that runs them",
                unknown.join(", "),
                names.join(", ")
            ),
        })
    }

    /// Gives `runner` a waiter for every peer, and the peer timeout.
    pub(crate) fn install(&self, runner: Runner) -> Runner {
        #[cfg(feature = "ops")]
        let runner = self.peers.iter().fold(runner, |runner, peer| {
            let (name, url) = (peer.name.clone(), peer.url.clone());
            runner.peer(peer.name.clone(), move || {
                poll::until_ready(name.clone(), url.clone(), poll::Pace::default())
            })
        });
        runner.peer_timeout(self.timeout)
    }
}
