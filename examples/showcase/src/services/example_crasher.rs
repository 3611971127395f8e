//! `example-crasher`: a fatal failure that takes the whole app down.

use std::time::Duration;

use servicepack::prelude::*;

use super::pause;

/// How long each run lasts before it crashes.
const LIFETIME: Duration = Duration::from_secs(10);

/// Crashes ten seconds into every run.
///
/// `retries = 2, delay = "3s"`: three runs, three seconds apart, so the last crash comes
/// about 36 s after start. It is not an allowed failure, so that last crash shuts the
/// whole app down and the process exits with status 1.
#[service(retries = 2, delay = "3s")]
#[derive(Default)]
pub(crate) struct ExampleCrasher;

impl Service for ExampleCrasher {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!(attempt = ctx.attempt(), "running, crashing in 10s");
        if !pause(&ctx, LIFETIME).await {
            return Ok(());
        }
        tracing::error!(attempt = ctx.attempt(), "crashing on purpose");
        Err("simulated crash: something went badly wrong".into())
    }

    async fn stop(&self, ctx: Context) -> Result<()> {
        tracing::info!(attempts = ctx.attempt(), "crasher stopping");
        Ok(())
    }
}
