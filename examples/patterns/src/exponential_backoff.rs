//! `exponential-backoff`: the delay doubles after each failure, up to `max_delay`.
//!
//! Watch the `retrying` lines: `delay=150ms`, `300ms`, `600ms`, then `1s` (the 1.2s that
//! doubling asks for, capped by `max_delay`), then the final failure. Without
//! `backoff = "exponential"` every delay would be 150ms.
//!
//! The timings keep every line in the log: each attempt writes three lifecycle lines
//! (`starting`, `attempt failed`, `retrying`), and the runtime keeps at most ten a second
//! per service (see `crash-loop`). With a 150ms base, four attempts take 1.05s, so no
//! second ever holds more than ten of them.

use servicepack::prelude::*;

/// Fails every attempt, so that all four retries and their delays show.
///
/// `allowed_failure` keeps the app running after the last one.
#[service(
    name = "exponential-backoff",
    retries = 4,
    delay = "150ms",
    backoff = "exponential",
    max_delay = "1s",
    allowed_failure
)]
#[derive(Default)]
pub(crate) struct ExponentialBackoff;

impl Service for ExponentialBackoff {
    async fn run(&self, ctx: Context) -> Result<()> {
        Err(format!("attempt {} cannot reach the upstream", ctx.attempt()).into())
    }
}
