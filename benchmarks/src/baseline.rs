//! The baseline: the least raw tokio can do for the same job, a `TaskTracker` of tasks
//! with one child `CancellationToken` each.
//!
//! For graphs, readiness and ordered shutdown cost something even without a framework:
//! each task waits on its dependencies' readiness tokens before it "runs", and at
//! shutdown waits for its dependents' "stopped" tokens before it stops, so a dependency
//! outlives its dependents, as the framework guarantees.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Timing;
use crate::probe::Probe;
use crate::shape::Shape;

/// `n` independent tasks, each waiting on its own child token; started, then all
/// cancelled at once.
pub async fn flat(n: usize, probe: Arc<Probe>) -> Timing {
    let began = Instant::now();
    let root = CancellationToken::new();
    let tracker = TaskTracker::new();
    spawn_flat(n, &probe, &root, &tracker);
    measure(began, &probe, &root, &tracker).await
}

fn spawn_flat(n: usize, probe: &Arc<Probe>, root: &CancellationToken, tracker: &TaskTracker) {
    for _ in 0..n {
        let token = root.child_token();
        let probe = probe.clone();
        tracker.spawn(async move {
            probe.enter();
            token.cancelled().await;
            probe.leave();
        });
    }
    tracker.close();
}

/// Like [`flat`], but leaves the tasks running until `until` resolves and returns its
/// output; for measuring the memory of idle tasks.
pub async fn hold_flat<T>(n: usize, probe: Arc<Probe>, until: impl Future<Output = T>) -> T {
    let root = CancellationToken::new();
    let tracker = TaskTracker::new();
    spawn_flat(n, &probe, &root, &tracker);
    probe.all_entered().await;
    let held = until.await;
    root.cancel();
    tracker.wait().await;
    held
}

/// The tasks of `shape`: each waits until its dependencies are ready, runs (and is ready
/// at once), and at shutdown waits for its dependents to stop before it stops itself.
pub async fn graph(shape: &Shape, probe: Arc<Probe>) -> Timing {
    let n = shape.len();
    let began = Instant::now();
    let root = CancellationToken::new();
    let tracker = TaskTracker::new();
    let ready: Arc<[CancellationToken]> = (0..n).map(|_| CancellationToken::new()).collect();
    let stopped: Arc<[CancellationToken]> = (0..n).map(|_| CancellationToken::new()).collect();
    let dependents = shape.dependents();
    for (node, dependents) in dependents.into_iter().enumerate() {
        let deps: Box<[usize]> = shape.dependencies(node).into();
        let token = root.child_token();
        let (ready, stopped, probe) = (ready.clone(), stopped.clone(), probe.clone());
        tracker.spawn(async move {
            for &dep in &deps {
                ready[dep].cancelled().await;
            }
            probe.enter();
            ready[node].cancel();
            token.cancelled().await;
            // Its "run" ends only once everything that depends on it has stopped.
            for &dependent in &dependents {
                stopped[dependent].cancelled().await;
            }
            probe.leave();
            stopped[node].cancel();
        });
    }
    tracker.close();
    measure(began, &probe, &root, &tracker).await
}

/// Waits until every task has entered, then cancels them all and waits until they are
/// gone: the start and stop figures of a run that began at `began`.
async fn measure(
    began: Instant,
    probe: &Probe,
    root: &CancellationToken,
    tracker: &TaskTracker,
) -> Timing {
    let running = probe.all_entered().await;
    let stopping = Instant::now();
    root.cancel();
    tracker.wait().await;
    Timing {
        start: running - began,
        stop: stopping.elapsed(),
        left: probe.all_left().map(|left| left - stopping),
    }
}
