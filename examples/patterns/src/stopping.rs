//! `stop-timeout` and `hanging-stop`: a `stop` that takes too long.
//!
//! `stop-timeout`: `stop` takes 5s but `stop_timeout` is 200ms. On Ctrl-C, watch
//! `stopping`, then `stop timed out` 200ms later; the exit status is 1, because cleanup
//! that did not finish may have lost data.
//!
//! `hanging-stop`: `stop` never returns and has no `stop_timeout` of its own, so the
//! shutdown waits for the whole budget (`RUNNER_SHUTDOWNTIMEOUT`, 10s). A second Ctrl-C
//! exits at once with status 130 (128 + SIGINT), naming the service still stopping.

use std::time::Duration;

use servicepack::prelude::*;

/// What `stop-timeout`'s `stop` would need to finish.
const SLOW_CLEANUP: Duration = Duration::from_secs(5);

/// Runs until shutdown; its `stop` is cut short by `stop_timeout`.
#[service(name = "stop-timeout", stop_timeout = "200ms")]
#[derive(Default)]
pub(crate) struct StopTimeout;

impl Service for StopTimeout {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("running until shutdown; press Ctrl-C");
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!(needs = ?SLOW_CLEANUP, "flushing a large buffer");
        tokio::time::sleep(SLOW_CLEANUP).await;
        Ok(())
    }
}

/// Runs until shutdown; its `stop` waits for something that never happens.
#[service(name = "hanging-stop")]
#[derive(Default)]
pub(crate) struct HangingStop;

impl Service for HangingStop {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("running until shutdown; press Ctrl-C");
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("waiting for a peer that will never answer; press Ctrl-C again");
        std::future::pending::<()>().await;
        Ok(())
    }
}
