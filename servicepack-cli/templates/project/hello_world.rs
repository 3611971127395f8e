//! `hello-world`: logs a heartbeat every 5 seconds until shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use servicepack::prelude::*;
use tokio::time::{Instant, interval_at};

/// Time between two heartbeats.
const PERIOD: Duration = Duration::from_secs(5);

/// Logs a heartbeat every 5 seconds until shutdown.
#[service]
#[derive(Default)]
pub struct HelloWorld {
    /// Heartbeats so far; an `Arc` so that a test can watch it.
    beats: Arc<AtomicU64>,
}

impl Service for HelloWorld {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("hello, world");
        let mut ticks = interval_at(Instant::now() + PERIOD, PERIOD);
        loop {
            tokio::select! {
                () = ctx.cancelled() => return Ok(()),
                _ = ticks.tick() => {
                    let beat = self.beats.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::info!(beat, "heartbeat");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use servicepack::testing::{State, TestRun};
    use servicepack::{Context, Service};

    use super::HelloWorld;

    // As the app runs it: with the policy of its `#[service]` attribute, on tokio's
    // paused clock (the minute passes at once).
    #[tokio::test(start_paused = true)]
    async fn runs_until_shutdown() {
        let run = TestRun::of::<(HelloWorld,)>();
        run.wait_for("hello-world", State::Ready).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let report = run.shutdown().await; // as SIGTERM would
        assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
        assert!(run.happened_before(("hello-world", State::Ready), ("hello-world", State::Stopped)));
    }

    // The service on its own: 12 seconds are exactly two heartbeats.
    #[tokio::test(start_paused = true)]
    async fn beats_every_five_seconds() {
        let service = HelloWorld::default();
        let ctx = Context::detached("hello-world");
        let stop = ctx.token();
        let (result, ()) = tokio::join!(service.run(ctx), async {
            tokio::time::sleep(Duration::from_secs(12)).await;
            stop.cancel();
        });
        result.unwrap();
        assert_eq!(service.beats.load(Ordering::Relaxed), 2);
    }
}
