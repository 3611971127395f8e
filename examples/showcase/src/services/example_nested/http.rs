//! `example-nested-http`: a (simulated) HTTP server.

use std::time::Duration;

use servicepack::prelude::*;

use crate::services::heartbeat;

/// Pretends to serve HTTP, with a heartbeat every ten seconds.
#[service(name = "example-nested-http")]
#[derive(Default)]
pub(crate) struct Server;

impl Service for Server {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!(addr = "127.0.0.1:8080", "http server listening (simulated)");
        heartbeat(&ctx, Duration::from_secs(10), "http heartbeat").await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("http server closing listener");
        Ok(())
    }
}
