//! `retry-reset`: a run that lasted at least `retry_reset` wipes the failure count, so a
//! service that fails once a day is not given up on after `retries` days.
//!
//! With `retries = 1`, two failures in a row are final. Attempt 1 fails at once (one
//! failure), attempt 2 runs for 700ms, longer than `retry_reset`, then fails: the count
//! starts again at one, so it is retried. Attempt 3 fails at once: two in a row, final.
//! Watch for the final failure after attempt 3, not 2.

use std::time::Duration;

use servicepack::prelude::*;

/// How long attempt 2 runs: longer than `retry_reset`.
const LONG_RUN: Duration = Duration::from_millis(700);

/// Fails fast, then after a long run, then fast again.
#[service(
    name = "retry-reset",
    retries = 1,
    delay = "20ms",
    retry_reset = "500ms",
    allowed_failure
)]
#[derive(Default)]
pub(crate) struct RetryReset;

impl Service for RetryReset {
    async fn run(&self, ctx: Context) -> Result<()> {
        if ctx.attempt() == 2 {
            tracing::info!(ran_for = ?LONG_RUN, "running long enough to reset the failure count");
            tokio::select! {
                () = ctx.cancelled() => return Ok(()),
                () = tokio::time::sleep(LONG_RUN) => {}
            }
            return Err("failed after a long run".into());
        }
        Err("failed at once".into())
    }
}
