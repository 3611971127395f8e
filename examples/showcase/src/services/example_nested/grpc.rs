//! `example-nested-grpc`: a (simulated) gRPC server.

use std::time::Duration;

use servicepack::prelude::*;

use crate::services::heartbeat;

/// Pretends to serve gRPC, with a heartbeat every ten seconds.
#[service(name = "example-nested-grpc")]
#[derive(Default)]
pub(crate) struct Server;

impl Service for Server {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!(addr = "127.0.0.1:9090", "grpc server listening (simulated)");
        heartbeat(&ctx, Duration::from_secs(10), "grpc heartbeat").await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("grpc server closing listener");
        Ok(())
    }
}
