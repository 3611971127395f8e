//! Shutdown: the reverse-edge walk over the graph, and stopping one service.
//!
//! The walk ([`StopOrder`]) counts, for every service, the dependents that still have to
//! stop; a service whose count is zero may stop, and each service that finishes stopping
//! decrements its dependencies' counts. Independent services thus stop concurrently, and
//! a dependency always outlives its dependents. Only services whose supervisor is alive
//! take part: one that never ran has nothing to stop and does not hold anyone back.
//!
//! Stopping one service ([`stop_service`]) happens in its own supervisor task once the walk
//! cancels its token: `stop` is called at once, not after `run` returns, so `stop` can
//! unblock a `run` that ignores the token. Both futures are then polled together until
//! both have returned or the deadline passes (the smaller of `stop_timeout` and what is
//! left of the shutdown budget); at the deadline both are dropped.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::catch::{self, CatchPanic};
use crate::context::Name;
use crate::plan::Plan;
use crate::service::{BoxFuture, DynService};
use crate::supervisor::RunFuture;
use crate::{Context, Result};

/// The reverse-edge walk: `waiting_on[node]` is the number of `node`'s dependents that
/// have not stopped yet.
#[derive(Debug)]
pub(crate) struct StopOrder {
    waiting_on: Vec<usize>,
}

impl StopOrder {
    /// Starts the walk over the services for which `live` is true; returns it with the
    /// services that may stop at once.
    pub(crate) fn new(plan: &Plan, live: impl Fn(usize) -> bool) -> (Self, Vec<usize>) {
        let mut waiting_on = vec![0; plan.len()];
        for node in (0..plan.len()).filter(|&node| live(node)) {
            for &dep in plan.dependencies(node) {
                waiting_on[dep] += 1;
            }
        }
        let first = (0..plan.len())
            .filter(|&node| live(node) && waiting_on[node] == 0)
            .collect();
        (Self { waiting_on }, first)
    }

    /// `node` has stopped; returns its dependencies that may stop now.
    pub(crate) fn stopped<'a>(
        &'a mut self,
        plan: &'a Plan,
        node: usize,
    ) -> impl Iterator<Item = usize> + 'a {
        plan.dependencies(node).iter().filter_map(|&dep| {
            let left = &mut self.waiting_on[dep];
            *left = left.saturating_sub(1);
            (*left == 0).then_some(dep)
        })
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
    /// How long the runtime was prepared to wait.
    pub(crate) timeout: Duration,
}

impl Stopped {
    pub(crate) fn timed_out(&self) -> bool {
        matches!(self.stop, Finished::TimedOut) || matches!(self.run, Some(Finished::TimedOut))
    }
}

/// Calls `stop` at once and drives it together with `run` (the attempt the cancellation
/// interrupted, if any) until both return or the deadline passes.
pub(crate) fn stop_service<'a>(
    service: &'a dyn DynService,
    name: Name,
    attempt: u32,
    token: CancellationToken,
    run: Option<RunFuture<'a>>,
    stop_timeout: Duration,
    window: Option<(Instant, Instant)>,
) -> impl Future<Output = Stopped> + Send + 'a {
    // The synchronous part runs when the caller first polls, which is when the stop
    // begins; only what the wait needs is carried into the future.
    tracing::info!("stopping");
    // The deadline is the smaller of `stop_timeout` from now and the budget's end. When
    // `stop_timeout` is longer than the whole budget (the defaults: 30 s and 10 s), the
    // budget decides without reading the clock, which matters when thousands stop.
    let mut began = None;
    let deadline = match window {
        Some((start, end)) if start.checked_add(stop_timeout).is_none_or(|t| t >= end) => end,
        _ => {
            let now = Instant::now();
            began = Some(now);
            let own = now
                .checked_add(stop_timeout)
                .unwrap_or_else(|| far_future(now));
            window.map_or(own, |(_, end)| own.min(end))
        }
    };
    let ctx = Context::new(name, attempt, token, None, Some(deadline));
    let had_run = run.is_some();
    // `stop` of a hand-written impl may panic before it returns its future.
    let stop = catch::call(|| Ok(service.stop_boxed(ctx)))
        .unwrap_or_else(|error| Box::pin(std::future::ready(Err(error))));
    let mut both = Both {
        stop: Some(CatchPanic::new(stop)),
        run,
        stop_result: None,
        run_result: None,
    };
    async move {
        // Most stops finish in their first poll: only the others need a timer (and the
        // boxed wait that holds it, which would otherwise enlarge every idle supervisor).
        let first = poll_fn(|cx| Poll::Ready(both.poll(cx))).await;
        if first.is_pending() {
            began.get_or_insert_with(Instant::now);
            let wait = poll_fn(|cx| both.poll(cx));
            let _ = Box::pin(tokio::time::timeout_at(deadline, wait)).await;
        }
        let finished =
            |result: Option<Result<()>>| result.map_or(Finished::TimedOut, Finished::Returned);
        Stopped {
            run: had_run.then(|| finished(both.run_result)),
            stop: finished(both.stop_result),
            timeout: began.map_or(Duration::ZERO, |began| {
                deadline.saturating_duration_since(began)
            }),
        }
    }
}

/// `stop` and the interrupted `run`, polled together.
struct Both<'a> {
    stop: Option<CatchPanic<BoxFuture<'a, Result<()>>>>,
    run: Option<RunFuture<'a>>,
    stop_result: Option<Result<()>>,
    run_result: Option<Result<()>>,
}

impl Both<'_> {
    /// Polls what has not returned; ready when both have.
    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if let Some(stop) = &mut self.stop
            && let Poll::Ready(result) = Pin::new(stop).poll(cx)
        {
            self.stop_result = Some(result);
            self.stop = None;
        }
        if let Some(run) = &mut self.run
            && let Poll::Ready(result) = Pin::new(run).poll(cx)
        {
            self.run_result = Some(result);
            self.run = None;
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
