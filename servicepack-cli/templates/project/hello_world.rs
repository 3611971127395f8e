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
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use servicepack::{Runner, ServiceDef};

    use super::HelloWorld;

    // The clock is paused: the 12 seconds pass at once, and exactly.
    #[tokio::test(start_paused = true)]
    async fn beats_every_five_seconds_until_shutdown() {
        let service = HelloWorld::default();
        let beats = Arc::clone(&service.beats);
        let runner = Runner::new().service(ServiceDef::new("hello-world", service));
        let shutdown = runner.shutdown_handle();
        let (report, ()) = tokio::join!(runner.run(), async {
            tokio::time::sleep(Duration::from_secs(12)).await;
            shutdown.request();
        });
        assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
        assert_eq!(beats.load(Ordering::Relaxed), 2);
    }
}
