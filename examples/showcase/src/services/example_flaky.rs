//! `example-flaky`: a service that fails twice before it works.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use servicepack::prelude::*;

use super::heartbeat;

/// How many runs fail before the service settles.
const FAILURES: u32 = 2;

/// Fails its first two runs, then stays up.
///
/// `retries = 2` allows exactly those two failures (three runs in all), one second
/// apart. The failure count lives in the instance: the runtime calls every attempt on
/// the same value, so an atomic field is all the state it needs (the Go original kept
/// it in a file under `/tmp`, shared by every process on the machine).
#[service(retries = 2, delay = "1s", notify_ready)]
#[derive(Default)]
pub(crate) struct ExampleFlaky {
    /// Runs started so far.
    runs: AtomicU32,
}

impl Service for ExampleFlaky {
    async fn run(&self, ctx: Context) -> Result<()> {
        let run = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        if run <= FAILURES {
            tracing::warn!(run, max_runs = FAILURES + 1, "simulating failure");
            return Err(format!("run {run}/{}: flaky failure", FAILURES + 1).into());
        }
        tracing::info!(run, "finally stable");
        ctx.ready();
        heartbeat(&ctx, Duration::from_secs(10), "flaky heartbeat").await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!(
            runs = self.runs.load(Ordering::Relaxed),
            "flaky service stopping"
        );
        Ok(())
    }
}
