//! `hello-world`: the smallest useful service, a heartbeat every five seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use servicepack::prelude::*;

use super::heartbeat;

/// Logs `hello world heartbeat` every five seconds until shutdown.
///
/// No policy at all: no retries, ready as soon as it starts, no dependencies.
#[service]
#[derive(Default)]
pub(crate) struct HelloWorld {
    /// Heartbeats logged so far, reported by `stop`.
    beats: AtomicU64,
}

impl Service for HelloWorld {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("hello world, a heartbeat every 5s");
        let beats = heartbeat(&ctx, Duration::from_secs(5), "hello world heartbeat").await;
        self.beats.fetch_add(beats, Ordering::Relaxed);
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!(
            heartbeats = self.beats.load(Ordering::Relaxed),
            "goodbye world"
        );
        Ok(())
    }
}
