//! `example-optional`: a failure the app can live without.

use servicepack::prelude::*;

/// Fails at once, every time.
///
/// `allowed_failure`: the runtime logs the failure and the rest of the app keeps
/// running. Its `stop` is still called at shutdown, since its `run` was.
#[service(allowed_failure)]
#[derive(Default)]
pub(crate) struct ExampleOptional;

impl Service for ExampleOptional {
    async fn run(&self, _ctx: Context) -> Result<()> {
        tracing::error!("failing on purpose");
        Err("optional service failed".into())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("optional service stopping (it failed earlier; nothing to clean up)");
        Ok(())
    }
}
