//! The waiter of one peer: `GET <url>/readyz/<name>` until it answers `200`, with a
//! backoff from 100 ms to 5 s between polls (each poll a fresh connection under the
//! `health` client's deadline, so a name that does not resolve yet, a refused
//! connection and a `503` are all "not yet"), and a WARN every 30 s naming the peer,
//! its URL, how long the wait has lasted and what the last poll found. The future never
//! fails: the runtime bounds it with `RUNNER_PEERTIMEOUT` and drops it at shutdown.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hyper::StatusCode;
use tokio::time::{Instant, MissedTickBehavior};

use super::PeerUrl;
use crate::Result;
use crate::format_duration;
use crate::probe::ask::{json_field, percent_encode};
use crate::probe::client::{self, Answer};

/// How fast a waiter polls and how often it warns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// The wait after the first poll; doubled after each one.
    pub(crate) first: Duration,
    /// The longest wait between polls.
    pub(crate) max: Duration,
    /// How often the WARN is written while the peer is not ready.
    pub(crate) warn_every: Duration,
    /// The deadline of one poll.
    pub(crate) request_timeout: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
            warn_every: Duration::from_secs(30),
            request_timeout: client::TIMEOUT,
        }
    }
}

/// Resolves once the peer `name` at `url` answers `GET /readyz/<name>` with `200`.
///
/// # Errors
///
/// Never: the caller bounds the wait (the `Result` is what a peer waiter returns).
pub(crate) async fn until_ready(name: String, url: PeerUrl, pace: Pace) -> Result<()> {
    let path = format!("{}/readyz/{}", url.prefix, percent_encode(&name));
    let started = Instant::now();
    let last = Mutex::new(String::from("no answer yet"));
    let polling = async {
        let mut delay = pace.first;
        loop {
            let found = match client::get(&url.authority, &path, None, pace.request_timeout).await {
                Ok(answer) if answer.status == StatusCode::OK => return,
                Ok(answer) => describe(&answer),
                Err(error) => error.to_string(),
            };
            *last.lock().unwrap_or_else(PoisonError::into_inner) = found;
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(pace.max);
        }
    };
    let mut warn = tokio::time::interval_at(started + pace.warn_every, pace.warn_every);
    warn.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(polling);
    loop {
        tokio::select! {
            () = &mut polling => {
                tracing::debug!(
                    peer = name.as_str(),
                    url = %url,
                    waited = %format_duration(round(started.elapsed())),
                    "peer is ready",
                );
                return Ok(());
            }
            _ = warn.tick() => {
                let last = last.lock().unwrap_or_else(PoisonError::into_inner).clone();
                tracing::warn!(
                    peer = name.as_str(),
                    url = %url,
                    waited = %format_duration(round(started.elapsed())),
                    last = last.as_str(),
                    "still waiting for peer",
                );
            }
        }
    }
}

/// What a poll that was not `200` found.
fn describe(answer: &Answer) -> String {
    match answer.status {
        StatusCode::SERVICE_UNAVAILABLE => format!(
            "not ready: {}",
            json_field(answer, "reason").unwrap_or_else(|| "no reason given".to_owned())
        ),
        StatusCode::NOT_FOUND => "the app there does not run it (404)".to_owned(),
        status => format!("answered {status}"),
    }
}

/// To the millisecond: logs read better without the nanoseconds.
fn round(elapsed: Duration) -> Duration {
    Duration::from_millis(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}
