//! The showcase's failure stories on a short clock, for the end-to-end tests.
//!
//! Pick the services of one story with `SERVICES_ENABLED`:
//! - `example-database,example-crasher`: the crasher fails three times, 100 ms apart,
//!   and takes the app down (exit 1).
//! - `slow-stop`: a service whose `stop` never finishes, for the forced exit (130).
//! - `panicker`: a service that panics, for panics reported through the logger.
//! - `database-client`: depends on `example-database` and retries twice, 100 ms apart,
//!   for a peer (`SERVICES_PEERS`) that is never ready within `RUNNER_PEERTIMEOUT`.

use std::time::Duration;

use servicepack::prelude::*;

/// Waits `duration`, or less if shutdown begins first; `true` when the whole time passed.
async fn pause(ctx: &Context, duration: Duration) -> bool {
    tokio::select! {
        () = ctx.cancelled() => false,
        () = tokio::time::sleep(duration) => true,
    }
}

/// Ready 100 ms after it starts, then runs until shutdown.
#[service(notify_ready)]
#[derive(Default)]
struct ExampleDatabase;

impl Service for ExampleDatabase {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("connecting to database");
        if pause(&ctx, Duration::from_millis(100)).await {
            tracing::info!("database ready, accepting connections");
            ctx.ready();
            ctx.cancelled().await;
        }
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("closing database connections");
        Ok(())
    }
}

/// Crashes 200 ms into each of its three runs, 100 ms apart; the last crash is fatal.
#[service(retries = 2, delay = "100ms")]
#[derive(Default)]
struct ExampleCrasher;

impl Service for ExampleCrasher {
    async fn run(&self, ctx: Context) -> Result<()> {
        if !pause(&ctx, Duration::from_millis(200)).await {
            return Ok(());
        }
        tracing::error!(attempt = ctx.attempt(), "crashing on purpose");
        Err("simulated crash".into())
    }
}

/// Needs the database; retries twice, 100 ms apart.
#[service(depends_on = [ExampleDatabase], retries = 2, delay = "100ms")]
#[derive(Default)]
struct DatabaseClient;

impl Service for DatabaseClient {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("database client running");
        ctx.cancelled().await;
        Ok(())
    }
}

/// Runs until shutdown; its `stop` hangs for an hour.
#[service]
#[derive(Default)]
struct SlowStop;

impl Service for SlowStop {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("slow-stop running");
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("stop is hanging");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
}

/// Panics as soon as it runs.
#[service]
#[derive(Default)]
struct Panicker;

impl Service for Panicker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        panic!("boom on purpose");
    }
}

#[servicepack::main]
fn main() {}
