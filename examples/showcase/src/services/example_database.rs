//! `example-database`: a dependency that needs time to become ready.

use std::time::Duration;

use servicepack::prelude::*;

use super::{heartbeat, pause};

/// How long "connecting" takes.
const STARTUP_DELAY: Duration = Duration::from_secs(2);

/// Pretends to connect to a database for two seconds, then says it is ready.
///
/// `notify_ready`: its dependents (`example-api`, `example-migrator`) start only once
/// `run` calls `ctx.ready()`, not as soon as `run` is called. `new = ...` shows a
/// fallible constructor: the connection URL comes from the environment.
#[service(retries = 2, delay = "2s", notify_ready, new = ExampleDatabase::new)]
pub(crate) struct ExampleDatabase {
    /// Where the (simulated) database lives.
    url: String,
}

impl ExampleDatabase {
    /// Reads `DATABASE_URL` (default `postgres://localhost/example`).
    ///
    /// Called only when the service is about to run, never for `--help`, `services`
    /// or another service's command.
    fn new() -> Result<Self> {
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://localhost/example".to_owned());
        if !url.contains("://") {
            return Err(
                format!("DATABASE_URL={url:?} is not a URL (expected scheme://host/db)").into(),
            );
        }
        tracing::debug!(%url, "database client configured");
        Ok(Self { url })
    }
}

impl Service for ExampleDatabase {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!(url = %self.url, startup_delay = "2s", "connecting to database");
        if !pause(&ctx, STARTUP_DELAY).await {
            // Shut down while still connecting: never ready, nothing to clean up.
            return Ok(());
        }
        tracing::info!("database ready, accepting connections");
        ctx.ready();
        heartbeat(&ctx, Duration::from_secs(10), "database heartbeat").await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!(url = %self.url, "closing database connections");
        Ok(())
    }
}
