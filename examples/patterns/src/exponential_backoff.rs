//! `exponential-backoff`: the delay doubles after each failure, up to `max_delay`.
//!
//! Watch the `retrying` lines: `delay=50ms`, `100ms`, `200ms`, `400ms`, then the final
//! failure. Without `backoff = "exponential"` every delay would be 50ms.

use servicepack::prelude::*;

/// Fails every attempt, so that all four retries and their delays show.
///
/// `allowed_failure` keeps the app running after the last one.
#[service(
    name = "exponential-backoff",
    retries = 4,
    delay = "50ms",
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
