//! One module per service, mirroring the Go original's `internal/pkg/services/`.
//!
//! `#[service]` registers each struct at link time, so nothing here lists them: adding a
//! module with a service in it is all it takes.

use std::time::Duration;

use servicepack::Context;

pub(crate) mod example_api;
pub(crate) mod example_crasher;
pub(crate) mod example_database;
pub(crate) mod example_flaky;
pub(crate) mod example_migrator;
pub(crate) mod example_nested;
pub(crate) mod example_optional;
pub(crate) mod hello_world;

/// Waits `duration`, or less if shutdown begins first. Returns `true` when the whole
/// `duration` passed, `false` when the service was cancelled.
pub(crate) async fn pause(ctx: &Context, duration: Duration) -> bool {
    tokio::select! {
        () = ctx.cancelled() => false,
        () = tokio::time::sleep(duration) => true,
    }
}

/// Logs `message` every `period` until shutdown; returns how many times it logged.
///
/// This is the "serve until told to stop" loop most of the examples share.
pub(crate) async fn heartbeat(ctx: &Context, period: Duration, message: &str) -> u64 {
    // A user metric: on the ops endpoint's /metrics once OPS_ADDR is set.
    servicepack::metrics::describe_counter!(
        "showcase_heartbeats_total",
        "Heartbeats logged, per service."
    );
    let counter = servicepack::metrics::counter!("showcase_heartbeats_total", "service" => ctx.name().to_owned());
    let mut beats = 0;
    while pause(ctx, period).await {
        beats += 1;
        counter.increment(1);
        tracing::info!(beats, "{message}");
    }
    beats
}
