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
    use servicepack::testing::{State, TestRun};

    use super::{{type}};

    // As the app runs it: with the policy of its `#[service]` attribute, on tokio's
    // paused clock. A dependency that is not in the tuple counts as running elsewhere.
    #[tokio::test(start_paused = true)]
    async fn runs_until_shutdown() {
        let run = TestRun::of::<({{type}},)>();
        run.wait_for("{{name}}", State::Ready).await;
        let report = run.shutdown().await; // as SIGTERM would
        assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    }
    {{command_test}}
}
