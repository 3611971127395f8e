//! `ready-timeout`: a `notify_ready` service must call `ctx.ready()` within
//! `ready_timeout`, or that attempt fails (and is retried per the policy).
//!
//! Attempt 1 never says it is ready: after 200ms it fails with a timeout. Attempt 2 calls
//! `ctx.ready()` at once: watch `ready` follow the `retrying` line.

use servicepack::prelude::*;

/// Hangs before readiness on its first attempt, is ready at once on the second.
#[service(
    name = "ready-timeout",
    notify_ready,
    ready_timeout = "200ms",
    retries = 1,
    delay = "50ms"
)]
#[derive(Default)]
pub(crate) struct ReadyTimeout;

impl Service for ReadyTimeout {
    async fn run(&self, ctx: Context) -> Result<()> {
        if ctx.attempt() > 1 {
            ctx.ready();
        } else {
            tracing::info!("warming a cache that never fills");
        }
        ctx.cancelled().await;
        Ok(())
    }
}
