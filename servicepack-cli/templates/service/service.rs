//! The `{{name}}` service.

use servicepack::prelude::*;

/// The `{{name}}` service.
#[service{{args}}]
#[derive(Default)]
pub struct {{type}} {
    // State, shared by every attempt and by `stop` (they get `&self`): change it
    // through atomics or locks.
}

impl Service for {{type}} {
    async fn run(&self, ctx: Context) -> Result<()> {
        // Set up here (connect, bind, load): an error returned with `?` is a failed attempt.
        {{ready}}
        tracing::info!("running");
        ctx.cancelled().await;
        Ok(())
    }
}
{{constructor}}
{{commands}}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use servicepack::{Runner, ServiceDef};

    use super::{{type}};

    #[tokio::test(start_paused = true)]
    async fn runs_until_shutdown() {
        let runner = Runner::new().service(ServiceDef::new("{{name}}", {{type}}::default()));
        let shutdown = runner.shutdown_handle();
        let (report, ()) = tokio::join!(runner.run(), async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            shutdown.request();
        });
        assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    }
    {{command_test}}
}
