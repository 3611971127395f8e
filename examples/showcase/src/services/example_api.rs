//! `example-api`: a service with dependencies.

use std::time::Duration;

use servicepack::prelude::*;

use super::example_database::ExampleDatabase;
use super::example_flaky::ExampleFlaky;
use super::heartbeat;

/// Serves (simulated) requests once the database and the flaky service are ready.
///
/// `depends_on` names the two types, so a typo is a compile error. Both are
/// `notify_ready`, so the API really waits for the database to accept connections and
/// for the flaky service to get through its failures (in the Go original the wait for
/// flaky only happened to line up). At shutdown it stops before both of them.
#[service(depends_on = [ExampleDatabase, ExampleFlaky])]
#[derive(Default)]
pub(crate) struct ExampleApi;

impl Service for ExampleApi {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("database and flaky service are ready, api serving requests");
        heartbeat(&ctx, Duration::from_secs(10), "api heartbeat").await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("api draining in-flight requests");
        Ok(())
    }
}
