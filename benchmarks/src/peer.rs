//! The peer: the same shapes with tokio-graceful-shutdown, the most used Rust crate for
//! the same job.
//!
//! Flat: one root subsystem starts `n` subsystems, each awaiting
//! `on_shutdown_requested`. Chain: each subsystem starts the next one as its own nested
//! child, so a dependent lives inside its dependency and stops before it (the crate's
//! way to order shutdown; it has no readiness, so a child starts once its parent runs).
//! The subsystems carry the same names as the framework's services.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
use tokio_util::sync::CancellationToken;

use crate::Timing;
use crate::probe::Probe;
use crate::shape::Shape;

/// Far longer than any shutdown here takes: the figures never hit it.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

type Subsystem<'a> = Pin<Box<dyn Future<Output = Result<(), Infallible>> + Send + 'a>>;

/// A leaf: it says it is running and waits for shutdown.
async fn idle(handle: &mut SubsystemHandle, probe: Arc<Probe>) -> Result<(), Infallible> {
    probe.enter();
    handle.on_shutdown_requested().await;
    probe.leave();
    Ok(())
}

/// Link `node` of a chain of `n`: running, it starts link `node + 1` inside itself.
fn link(handle: &mut SubsystemHandle, node: usize, n: usize, probe: Arc<Probe>) -> Subsystem<'_> {
    Box::pin(async move {
        probe.enter();
        if node + 1 < n {
            let next = probe.clone();
            handle.start(SubsystemBuilder::new(
                Shape::name(node + 1),
                async move |handle: &mut SubsystemHandle| link(handle, node + 1, n, next).await,
            ));
        }
        handle.on_shutdown_requested().await;
        probe.leave();
        Ok(())
    })
}

/// A toplevel whose root starts `n` idle subsystems (flat) or the head of a chain.
fn toplevel(chain: bool, n: usize, probe: &Arc<Probe>, token: CancellationToken) -> Toplevel {
    let probe = probe.clone();
    Toplevel::new_with_shutdown_token(
        async move |root: &mut SubsystemHandle| {
            if chain {
                root.start(SubsystemBuilder::new(
                    Shape::name(0),
                    async move |handle: &mut SubsystemHandle| link(handle, 0, n, probe).await,
                ));
            } else {
                for node in 0..n {
                    let probe = probe.clone();
                    root.start(SubsystemBuilder::new(
                        Shape::name(node),
                        async move |handle: &mut SubsystemHandle| idle(handle, probe).await,
                    ));
                }
            }
        },
        token,
    )
}

/// `n` subsystems started by one root (or a nested chain of `n`), started, then shut
/// down through the toplevel's token.
///
/// # Errors
///
/// The toplevel's error, when the shutdown did not end cleanly.
pub async fn start_stop(chain: bool, n: usize, probe: Arc<Probe>) -> Result<Timing, String> {
    let token = CancellationToken::new();
    let began = Instant::now();
    let top = toplevel(chain, n, &probe, token.clone());
    let run = tokio::spawn(top.handle_shutdown_requests(SHUTDOWN_TIMEOUT));
    let running = probe.all_entered().await;
    let stopping = Instant::now();
    token.cancel();
    run.await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("tokio-graceful-shutdown: {error}"))?;
    Ok(Timing {
        start: running - began,
        stop: stopping.elapsed(),
        left: probe.all_left().map(|left| left - stopping),
    })
}

/// Starts `n` flat subsystems and leaves them running until `until` resolves; for
/// measuring the memory of idle subsystems.
///
/// # Errors
///
/// The toplevel's error, when the shutdown did not end cleanly.
pub async fn hold_flat<T>(
    n: usize,
    probe: Arc<Probe>,
    until: impl Future<Output = T>,
) -> Result<T, String> {
    let token = CancellationToken::new();
    let top = toplevel(false, n, &probe, token.clone());
    let run = tokio::spawn(top.handle_shutdown_requests(SHUTDOWN_TIMEOUT));
    probe.all_entered().await;
    let held = until.await;
    token.cancel();
    run.await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("tokio-graceful-shutdown: {error}"))?;
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chain: bool, n: usize) -> Timing {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        runtime
            .block_on(start_stop(chain, n, Probe::new(n)))
            .expect("tokio-graceful-shutdown shuts down cleanly")
    }

    #[test]
    fn every_flat_subsystem_starts_and_sees_the_shutdown() {
        // `left` is set only once all of them have left their `run`.
        assert!(run(false, 200).left.is_some());
    }

    #[test]
    fn every_link_of_a_nested_chain_starts_and_sees_the_shutdown() {
        assert!(run(true, 50).left.is_some());
    }
}
