//! Shutdown: the reverse-edge walk over the graph, and stopping one service.
//!
//! The walk ([`StopWalk`]) is driven by the supervisors themselves, the stop-side twin of
//! the start gates: no message and no coordinator hop per service. Every service has a
//! stop signal (`signal.rs`) and an atomic count of what holds its stop back: one hold
//! per dependent, plus one for "shutdown has not begun". A supervisor that finishes (its
//! service stopped, or never ran, or failed to construct) releases one hold of each of
//! its dependencies; when shutdown begins, the coordinator releases the extra hold of
//! every service (with many services, one helper task per worker does, a share of the
//! nodes each, in batches). Whoever releases a service's last hold sets its signal, its
//! supervisor's cue to stop. So a service stops only after every service that depends
//! on it has finished stopping, independent services stop concurrently, and one that
//! never ran (or ended before shutdown without ever running) holds no one back: its
//! supervisor has finished, and released its holds, by then. A dependency chain hands
//! the stop from link to link directly, as a start does through the gates.
//!
//! The coordinator only learns when the last supervisor has finished (the `running`
//! counter in `shared.rs`); what went wrong on the way is left for it in a shared list.
//! To name the services still stopping (the budget ran out, or a forced exit), it asks
//! each supervisor task whether it has finished.
//!
//! Stopping one service ([`StopWait`]) happens in its own supervisor task once its turn
//! has come: `stop` is called at once, not after `run` returns, so `stop` can unblock a
//! `run` that ignores the token (the default `stop`, which does nothing, is not called).
//! Both futures are then polled together until both have returned or the deadline
//! passes (the smaller of `stop_timeout` and what is left of the shutdown budget); at
//! the deadline both are dropped. When both return in their first poll (a service that
//! honours its token), no timer is made and nothing is boxed; the clock is read once,
//! to tell a poll that blocked its thread past the deadline.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::context::{Extra, Name};
use crate::runtime::catch;
use crate::runtime::erased::ErasedService;
use crate::runtime::plan::Plan;
use crate::runtime::shared::Claim;
use crate::runtime::supervisor::RunFuture;
use crate::{Context, Result};

/// The reverse-edge walk, shared by every supervisor: per service, what holds its stop
/// back. (The signal a service's turn to stop sets is beside its name, in the plan's
/// names, where its contexts find it.)
#[derive(Debug)]
pub(crate) struct StopWalk {
    /// Per service: its dependents whose supervisor has not finished, plus one until
    /// shutdown begins.
    holds: Box<[AtomicU32]>,
    /// Set when the runtime gives up on the services still stopping (forced exit, budget
    /// exhausted, `run` dropped): the supervisors it aborts begin no further stops.
    abandoned: AtomicBool,
}

impl StopWalk {
    /// Every service held by each of its dependents and by shutdown not having begun.
    pub(crate) fn new(plan: &Plan) -> Self {
        Self {
            holds: (0..plan.len())
                .map(|node| {
                    // Fewer than 2^32 services (nodes are `u32`), so fewer dependents.
                    let holds = u32::try_from(plan.dependents(node).len() + 1);
                    AtomicU32::new(holds.expect("fewer than 2^32 services"))
                })
                .collect(),
            abandoned: AtomicBool::new(false),
        }
    }

    /// Shutdown has begun: releases the hold it had on each of `nodes`, so those that no
    /// unfinished dependent holds stop now: `stopped` is called for each, and sets its
    /// signal. Once per node and run, the nodes split in shares between tasks and in
    /// batches (unless the runtime has already given up on the stops); the shutdown window
    /// must be set before.
    pub(crate) fn begin(
        &self,
        plan: &Plan,
        nodes: std::ops::Range<usize>,
        mut stopped: impl FnMut(usize),
    ) {
        if self.abandoned.load(Ordering::Acquire) {
            // A helper's batch reached after a forced exit (or a dropped `run`).
            return;
        }
        for node in nodes {
            if plan.dependents(node).is_empty() {
                // Shutdown was its only hold: no need to count (one atomic write less
                // per service, which matters when ten thousand stop at once).
                stopped(node);
            } else if self.release(node) {
                stopped(node);
            }
        }
    }

    /// `node`'s supervisor has finished: releases its hold on each of its dependencies;
    /// `stopped` is called for each whose turn to stop came, and sets its signal. Once
    /// per supervisor.
    pub(crate) fn finished(&self, plan: &Plan, node: usize, mut stopped: impl FnMut(usize)) {
        for &dep in plan.dependencies(node) {
            if self.release(dep) {
                stopped(dep);
            }
        }
    }

    /// The runtime stops waiting: from now on no stop begins.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    /// Releases one hold on `node`; `true` when it was the last one. The
    /// release ordering makes everything the releasing dependents did happen before
    /// `node` stops.
    fn release(&self, node: usize) -> bool {
        self.holds[node].fetch_sub(1, Ordering::AcqRel) == 1
            && !self.abandoned.load(Ordering::Acquire)
    }
}

/// How a future ended within its deadline.
#[derive(Debug)]
pub(crate) enum Finished<T> {
    Returned(T),
    TimedOut,
}

/// What happened while stopping one service.
#[derive(Debug)]
pub(crate) struct Stopped {
    /// The run that was still going when the stop began, if any.
    pub(crate) run: Option<Finished<Result<()>>>,
    pub(crate) stop: Finished<Result<()>>,
    /// The stop's deadline, and when it began if the clock was read then.
    deadline: Instant,
    began: Option<Instant>,
    /// When the stop ended (read for the lateness check, reused for the status).
    pub(crate) ended: Instant,
}

impl Stopped {
    pub(crate) fn timed_out(&self) -> bool {
        matches!(self.stop, Finished::TimedOut) || matches!(self.run, Some(Finished::TimedOut))
    }

    /// How long the runtime was prepared to wait (computed only for a stop that timed
    /// out: a clock subtraction is not free when ten thousand stop).
    pub(crate) fn timeout(&self) -> Duration {
        self.deadline
            .saturating_duration_since(self.began.unwrap_or(self.deadline))
    }
}

/// Who calls `stop`, and the rest of what a stop needs.
pub(crate) struct StopRequest<'a> {
    pub(crate) service: &'a dyn ErasedService,
    /// What `stop`'s context is made of; `None` for a service with the default `stop`,
    /// which is not called.
    pub(crate) context: Option<StopContext>,
    pub(crate) stop_timeout: Duration,
    pub(crate) window: Option<(Instant, Instant)>,
    pub(crate) claim: Claim,
}

/// The name, attempt and token of a `stop` context.
pub(crate) struct StopContext {
    pub(crate) name: Name,
    pub(crate) attempt: u32,
    pub(crate) token: CancellationToken,
}

/// Calls `stop` at once (unless another task did already, because `run` was blocking
/// its thread) and drives it together with `run` (the attempt the cancellation
/// interrupted, if `run` holds one) until both return or the deadline passes.
pub(crate) async fn stop_service<'a>(
    request: StopRequest<'a>,
    run: Pin<&mut Option<RunFuture<'a>>>,
) -> Stopped {
    let mut stop = StopWait::begin(request, run);
    match poll_fn(|cx| Poll::Ready(stop.poll_first(cx))).await {
        Poll::Ready(()) => stop.first_done(),
        Poll::Pending => stop.wait().await,
    }
}

/// A stop under way: `stop` (or the task that called it) and the interrupted `run`, with
/// the deadline both must meet. Built and polled once in the same poll of the
/// supervisor ([`StopWait::begin`], [`StopWait::poll_first`]); most stops finish there
/// ([`StopWait::first_done`]), and only the others need a timer and the supervisor's
/// box around [`StopWait::wait`], so none of it lives in every idle supervisor.
pub(crate) struct StopWait<'a, 'r> {
    both: StopAndRun<'r, 'a>,
    deadline: Instant,
    /// When the stop began, if the clock was read.
    began: Option<Instant>,
    had_run: bool,
}

impl<'a, 'r> StopWait<'a, 'r> {
    /// Calls `stop` (unless another task has; then waits for that one) with a context
    /// bounded by the deadline: the smaller of `stop_timeout` and the rest of the budget.
    pub(crate) fn begin(request: StopRequest<'a>, run: Pin<&'r mut Option<RunFuture<'a>>>) -> Self {
        let StopRequest {
            service,
            context,
            stop_timeout,
            window,
            claim,
        } = request;
        let had_run = run.is_some();
        let (stop, stop_result, deadline, began) = match (claim, context) {
            (Claim::Mine, None) => {
                // The default `stop` does nothing: it has returned.
                let (deadline, began) = stop_deadline(stop_timeout, window);
                (None, Some(Ok(())), deadline, began)
            }
            (
                Claim::Mine,
                Some(StopContext {
                    name,
                    attempt,
                    token,
                }),
            ) => {
                let (deadline, began) = stop_deadline(stop_timeout, window);
                let ctx = Context::new(name, attempt, token, Some(Extra::deadline(Some(deadline))));
                // `stop` of a hand-written impl may panic before it returns its future.
                match catch::call(|| Ok(service.stop(ctx))) {
                    Ok(stop) => (Some(stop), None, deadline, began),
                    Err(error) => (None, Some(Err(error)), deadline, began),
                }
            }
            (Claim::Rescued(handle, deadline), _) => {
                let stop: RunFuture<'a> = Box::pin(async move {
                    handle
                        .await
                        .unwrap_or_else(|_| Err("`stop` was abandoned".into()))
                });
                (Some(stop), None, deadline, None)
            }
        };
        Self {
            both: StopAndRun {
                stop,
                run,
                stop_result,
                run_result: None,
            },
            deadline,
            // Without a clock reading at the start, the budget decided the deadline.
            began: began.or(window.map(|(start, _)| start)),
            had_run,
        }
    }

    /// The first poll of both; ready when both have returned.
    pub(crate) fn poll_first(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        self.both.poll(cx)
    }

    /// Both returned in the first poll: in time unless that poll blocked its thread past
    /// the deadline (the timer could not tell; the clock does).
    pub(crate) fn first_done(self) -> Stopped {
        let ended = Instant::now();
        let late = ended > self.deadline;
        self.finish(late, ended)
    }

    /// Drives both on until they return or the deadline passes. A `stop` (or `run`)
    /// that blocked its thread past the deadline returned "in time" as far as the timer
    /// could tell: the clock says whether the poll in which it returned began before the
    /// deadline and ended after it. (One that merely woke up with the deadline's timer is
    /// in time, as `timeout` says.)
    pub(crate) async fn wait(mut self) -> Stopped {
        self.began = Some(Instant::now());
        let deadline = self.deadline;
        let blocked = AtomicBool::new(false);
        let both = &mut self.both;
        let wait = poll_fn(|cx| {
            let start = Instant::now();
            let poll = both.poll(cx);
            if poll.is_ready() && start <= deadline && Instant::now() > deadline {
                blocked.store(true, Ordering::Relaxed);
            }
            poll
        });
        let _ = tokio::time::timeout_at(deadline, wait).await;
        let late = blocked.into_inner();
        self.finish(late, Instant::now())
    }

    /// What happened. At the deadline both are dropped, here, before the caller reports
    /// the service stopped (which lets its dependencies stop): the interrupted run lives
    /// in the caller's slot, which would otherwise keep it until the task ends.
    fn finish(self, late: bool, ended: Instant) -> Stopped {
        let Self {
            mut both,
            deadline,
            began,
            had_run,
        } = self;
        both.run.set(None);
        both.stop = None;
        let finished =
            |result: Option<Result<()>>| result.map_or(Finished::TimedOut, Finished::Returned);
        let stop_result = if late { None } else { both.stop_result };
        Stopped {
            run: had_run.then(|| finished(both.run_result)),
            stop: finished(stop_result),
            deadline,
            began,
            ended,
        }
    }
}

/// The deadline of a stop that begins now: the smaller of `stop_timeout` from now and
/// the budget's end, and when the stop began if the clock was read. When `stop_timeout`
/// is longer than the whole budget (the defaults: 30 s and 10 s), the budget decides
/// without reading the clock, which matters when thousands stop.
pub(crate) fn stop_deadline(
    stop_timeout: Duration,
    window: Option<(Instant, Instant)>,
) -> (Instant, Option<Instant>) {
    match window {
        Some((start, end)) if start.checked_add(stop_timeout).is_none_or(|t| t >= end) => {
            (end, None)
        }
        _ => {
            let now = Instant::now();
            let own = now
                .checked_add(stop_timeout)
                .unwrap_or_else(|| far_future(now));
            (window.map_or(own, |(_, end)| own.min(end)), Some(now))
        }
    }
}

/// `stop` (boxed, so it moves freely) and the interrupted `run` in its pinned slot,
/// polled together.
struct StopAndRun<'r, 'a> {
    stop: Option<RunFuture<'a>>,
    run: Pin<&'r mut Option<RunFuture<'a>>>,
    stop_result: Option<Result<()>>,
    run_result: Option<Result<()>>,
}

impl StopAndRun<'_, '_> {
    /// Polls what has not returned; ready when both have.
    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if let Poll::Ready(Some(result)) = catch::poll_slot(Pin::new(&mut self.stop), cx) {
            self.stop_result = Some(result);
        }
        if let Poll::Ready(Some(result)) = catch::poll_slot(self.run.as_mut(), cx) {
            self.run_result = Some(result);
        }
        if self.stop.is_none() && self.run.is_none() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// An instant later than any deadline a run can reach.
pub(crate) fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(86_400 * 365 * 30)
}

/// Asks a [`Runner`](crate::Runner) to shut down: the first
/// [`request`](ShutdownHandle::request) begins a graceful shutdown, the second forces
/// `run` to return at once (exit code 130).
///
/// Cheap to clone; `Send + Sync`.
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
/// use servicepack::{Runner, ServiceDef};
///
/// struct Forever;
/// impl Service for Forever {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let runner = Runner::new().service(ServiceDef::new("forever", Forever));
/// let handle = runner.shutdown_handle();
/// handle.request(); // before `run`: nothing starts
/// assert_eq!(runner.run().await.exit_code(), 0);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    requests: AtomicU32,
    graceful: CancellationToken,
    forced: CancellationToken,
}

impl ShutdownHandle {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(HandleInner {
                requests: AtomicU32::new(0),
                graceful: CancellationToken::new(),
                forced: CancellationToken::new(),
            }),
        }
    }

    /// Requests shutdown. The first call begins a graceful shutdown (if one is not already
    /// under way); any later call forces `run` to return at once with exit code 130,
    /// naming the services still stopping. After `run` returned it does nothing.
    pub fn request(&self) {
        if self.inner.requests.fetch_add(1, Ordering::AcqRel) == 0 {
            self.inner.graceful.cancel();
        } else {
            self.inner.forced.cancel();
        }
    }

    /// Cancelled by the first request.
    pub(crate) fn graceful(&self) -> &CancellationToken {
        &self.inner.graceful
    }

    /// Cancelled by the second request.
    pub(crate) fn forced(&self) -> &CancellationToken {
        &self.inner.forced
    }

    /// Whether shutdown has been requested at least once.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.inner.graceful.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a` and `b` depend on `c`; `d` stands alone.
    fn plan() -> Plan {
        Plan::new([
            ("a", vec!["c"]),
            ("b", vec!["c"]),
            ("c", vec![]),
            ("d", vec![]),
        ])
        .expect("a valid plan")
    }

    #[test]
    fn the_walk_begun_in_shares_stops_what_no_dependent_holds() {
        let plan = plan();
        let walk = StopWalk::new(&plan);
        let mut stopped = Vec::new();
        // Shares in either order: each node is released once.
        walk.begin(&plan, 2..4, |node| stopped.push(node));
        walk.begin(&plan, 0..2, |node| stopped.push(node));
        assert_eq!(stopped, [3, 0, 1], "`c` waits for `a` and `b`");
        walk.finished(&plan, 0, |node| stopped.push(node));
        assert_eq!(stopped, [3, 0, 1]);
        walk.finished(&plan, 1, |node| stopped.push(node));
        assert_eq!(stopped, [3, 0, 1, 2], "`c` stops after its last dependent");
    }

    #[test]
    fn a_share_begun_after_the_stops_were_abandoned_stops_nothing() {
        let plan = plan();
        let walk = StopWalk::new(&plan);
        let mut stopped = Vec::new();
        walk.begin(&plan, 0..2, |node| stopped.push(node));
        walk.abandon();
        walk.begin(&plan, 2..4, |node| stopped.push(node));
        assert_eq!(
            stopped,
            [0, 1],
            "a helper reached after a forced exit stops none"
        );
    }
}
