//! The framework side: the shapes as `ServiceDef`s with a `Policy`, run by `Runner`.

use std::sync::Arc;
use std::time::Instant;

use servicepack::{Context, Policy, Result, Runner, Service, ServiceDef};

use crate::Timing;
use crate::probe::Probe;
use crate::shape::Shape;

/// A trivial service: it says it is running, says it is ready, and waits for shutdown.
#[derive(Debug)]
pub struct Idle {
    probe: Arc<Probe>,
}

impl Service for Idle {
    async fn run(&self, ctx: Context) -> Result<()> {
        self.probe.enter();
        ctx.ready();
        ctx.cancelled().await;
        self.probe.leave();
        Ok(())
    }
}

/// The services of `shape`, each an [`Idle`] reporting to `probe`; with `notify_ready`
/// each one's dependents wait for its `ctx.ready()` (which it calls at once).
#[must_use]
pub fn defs(shape: &Shape, probe: &Arc<Probe>, notify_ready: bool) -> Vec<ServiceDef> {
    let policy = Policy::new().notify_ready(notify_ready);
    (0..shape.len())
        .map(|node| {
            let idle = Idle {
                probe: probe.clone(),
            };
            ServiceDef::new(Shape::name(node), idle)
                .policy(policy)
                .depends_on(shape.dependencies(node).iter().map(|&dep| Shape::name(dep)))
        })
        .collect()
}

/// Runs `defs` until every service is running (as `probe` sees it), then requests
/// shutdown and waits for `run` to return.
///
/// # Errors
///
/// The run's exit reason, when it did not end cleanly.
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn start_stop(defs: Vec<ServiceDef>, probe: Arc<Probe>) -> Result<Timing, String> {
    let runner = Runner::new().services(defs);
    let shutdown = runner.shutdown_handle();
    let began = Instant::now();
    let run = tokio::spawn(runner.run());
    let running = probe.all_entered().await;
    let stopping = Instant::now();
    shutdown.request();
    let report = run.await.map_err(|error| error.to_string())?;
    let stopped = stopping.elapsed();
    let left = probe.all_left().map(|left| left - stopping);
    if report.exit_code() != 0 {
        return Err(report
            .reason()
            .unwrap_or_else(|| format!("exit code {}", report.exit_code())));
    }
    Ok(Timing {
        start: running - began,
        stop: stopped,
        left,
    })
}

/// Starts `defs` and leaves them running until `until` resolves, then shuts down and
/// returns its output; for measuring the memory of idle services.
///
/// # Errors
///
/// The run's exit reason, when it did not end cleanly.
pub async fn hold<T>(
    defs: Vec<ServiceDef>,
    probe: Arc<Probe>,
    until: impl Future<Output = T>,
) -> Result<T, String> {
    let runner = Runner::new().services(defs);
    let shutdown = runner.shutdown_handle();
    let run = tokio::spawn(runner.run());
    probe.all_entered().await;
    let held = until.await;
    shutdown.request();
    let report = run.await.map_err(|error| error.to_string())?;
    match report.reason() {
        Some(reason) => Err(reason),
        None => Ok(held),
    }
}
