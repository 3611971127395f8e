//! `restart-always` and `restart-never`: what happens after a run ends.
//!
//! `restart = "always"` runs the service again after a clean `Ok(())` too (a poller, a
//! batch job on a loop): watch `exited`, `retrying`, `starting` with a growing `attempt`.
//! `restart = "never"` runs it exactly once: watch a single `starting` and the failure,
//! with no `retrying`.

use std::time::Duration;

use servicepack::prelude::*;

/// How long each run of `restart-always` works before returning `Ok(())`.
const BATCH: Duration = Duration::from_millis(100);

/// Does a short batch, returns `Ok(())`, and is started again 250ms later.
///
/// A cycle (350ms) writes three lifecycle lines (`starting`, `exited`, `retrying`), so
/// the log keeps them all: the runtime keeps at most ten a second per service.
#[service(name = "restart-always", restart = "always", delay = "250ms")]
#[derive(Default)]
pub(crate) struct RestartAlways;

impl Service for RestartAlways {
    async fn run(&self, ctx: Context) -> Result<()> {
        tokio::select! {
            () = ctx.cancelled() => {}
            () = tokio::time::sleep(BATCH) => {
                tracing::info!(batch = ctx.attempt(), "batch done");
            }
        }
        Ok(())
    }
}

/// Fails once and is never run again (`restart = "never"` turns retries off).
#[service(name = "restart-never", restart = "never", allowed_failure)]
#[derive(Default)]
pub(crate) struct RestartNever;

impl Service for RestartNever {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Err("a one-shot job that must not run twice".into())
    }
}
