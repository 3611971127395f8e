//! The public runtime: [`Runner`], [`ShutdownHandle`], and the coordinator behind `run`.
//!
//! `run` spawns one coordinator task (spawning from inside the runtime is much cheaper
//! than from the `block_on` thread). It checks the [`Plan`], then spawns one supervisor
//! per service at once (`supervisor.rs`; with many services, helper tasks spawn a share
//! each, in batches); supervisors wait for their own dependencies
//! through per-service gates, so starting is per edge and needs no coordinator round trip.
//! The coordinator keeps the bookkeeping that needs one place: what is left running
//! (nothing left: shut down, exit 0), fatal failures (shut down, exit 1), the shutdown
//! budget, and the errors for the [`Report`]. Before shutdown, supervisors tell it when
//! their service ends over one unbounded channel, drained in batches. Stopping needs no
//! coordinator either: when shutdown begins, it only releases the walk's "not yet" hold
//! on every service (helpers take shares of that, as of the spawns, when there are
//! many), and the supervisors walk the reverse edges themselves (`shutdown.rs`);
//! the last supervisor to finish wakes it. Nothing polls and nothing is quadratic: each
//! edge is looked at a constant number of times.
//!
//! When every supervisor has finished, `run` returns the report at once and leaves the
//! freeing of the per-service state, and the reaping of the finished supervisors' parked
//! tasks, to a blocking-pool thread.
//!
//! Cancellation tokens are one per service and deliberately not children of a common
//! root: the walk cancels them one at a time, in reverse-edge order, which a tree would
//! short-circuit. A shared `shutdown` token (and an atomic flag for the hot checks)
//! tells supervisors that no new run may start.

use std::borrow::Cow;
use std::fmt;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;

use crate::runtime::control::Control;
use crate::runtime::erased::Construct;
use crate::runtime::lifecycle::{self, Lifecycle, Skip};
use crate::runtime::peers::{PeerWaiter, Peers};
use crate::runtime::plan::Plan;
use crate::runtime::report::{Report, RunError, ShutdownCause};
use crate::runtime::retry::{JitterSource, default_jitter};
use crate::runtime::shared::{Ending, Event, Share, Shared};
use crate::runtime::shutdown::{ShutdownHandle, far_future};
use crate::runtime::status::{AppIdentity, Phase, StatusBoard, StatusHandle};
use crate::runtime::supervisor::Supervisor;
use crate::{Policy, ServiceDef};

mod control;

/// Runs a set of services: starts each once its dependencies are ready, retries failures
/// per policy, and shuts down in reverse dependency order. `#[servicepack::main]` builds
/// one from the registered services; use it directly to run services without the macros
/// (in tests, say).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use servicepack::prelude::*;
/// use servicepack::{Policy, Runner, ServiceDef};
///
/// struct Database;
/// impl Service for Database {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         ctx.ready(); // connected
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// struct Api;
/// impl Service for Api {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let runner = Runner::new()
///     .service(ServiceDef::new("database", Database).policy(Policy::new().notify_ready(true)))
///     .service(ServiceDef::new("api", Api).depends_on(["database"]))
///     .shutdown_timeout(Duration::from_secs(5));
/// let shutdown = runner.shutdown_handle();
/// tokio::spawn(async move {
///     tokio::time::sleep(Duration::from_millis(10)).await;
///     shutdown.request(); // what SIGTERM does in an app
/// });
/// let report = runner.run().await;
/// assert_eq!(report.exit_code(), 0);
/// # });
/// ```
pub struct Runner {
    defs: Vec<ServiceDef>,
    budget: Duration,
    drain: Duration,
    jitter: Option<JitterSource>,
    handle: ShutdownHandle,
    board: Arc<StatusBoard>,
    /// Set by [`Runner::peer`] (`peers.rs`).
    pub(super) peers: Vec<(String, PeerWaiter)>,
    /// Set by [`Runner::peer_timeout`] (`peers.rs`).
    pub(super) peer_timeout: Duration,
    /// Set once [`Runner::control`] was called: only then are services restartable.
    control: OnceLock<Control>,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("services", &self.defs)
            .field("shutdown_timeout", &self.budget)
            .field("drain_delay", &self.drain)
            .field(
                "peers",
                &self.peers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("peer_timeout", &self.peer_timeout)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// The default shutdown budget: 10 s.
    pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

    /// A runner with no services and a 10 s shutdown budget.
    #[must_use]
    pub fn new() -> Self {
        Self {
            defs: Vec::new(),
            budget: Self::DEFAULT_SHUTDOWN_TIMEOUT,
            drain: Duration::ZERO,
            jitter: None,
            handle: ShutdownHandle::new(),
            board: StatusBoard::new(),
            peers: Vec::new(),
            peer_timeout: Duration::ZERO,
            control: OnceLock::new(),
        }
    }

    /// Adds one service.
    #[must_use]
    pub fn service(mut self, def: ServiceDef) -> Self {
        self.defs.push(def);
        self
    }

    /// Adds services.
    #[must_use]
    pub fn services(mut self, defs: impl IntoIterator<Item = ServiceDef>) -> Self {
        self.defs.extend(defs);
        self
    }

    /// Sets the shutdown budget: the most time every shutdown (requested, after a fatal
    /// failure, or because nothing is left running) may take. No `stop` gets longer than
    /// what is left of it.
    #[must_use]
    pub fn shutdown_timeout(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the drain delay (`RUNNER_DRAINDELAY` in an app, SPEC §6.4): on a shutdown
    /// request the app becomes `draining` at once (not ready, so load balancers stop
    /// sending traffic) while every service keeps running, and the first service is
    /// stopped only after `delay`. The shutdown budget starts when the drain ends. A
    /// fatal failure, or nothing left running, does not drain; a second request during
    /// the drain forces the exit as usual. The default is zero: no drain.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicepack::prelude::*;
    /// use servicepack::{AppState, Runner, ServiceDef};
    ///
    /// struct Api;
    /// impl Service for Api {
    ///     async fn run(&self, ctx: Context) -> Result<()> {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
    /// let runner = Runner::new()
    ///     .service(ServiceDef::new("api", Api))
    ///     .drain_delay(Duration::from_secs(5));
    /// let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    /// let run = tokio::spawn(runner.run());
    /// tokio::time::sleep(Duration::from_secs(1)).await;
    /// shutdown.request();
    /// tokio::time::sleep(Duration::from_secs(1)).await;
    /// assert_eq!(status.app_state(), AppState::Draining);
    /// assert_eq!(run.await.unwrap().exit_code(), 0);
    /// # });
    /// ```
    #[must_use]
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.drain = delay;
        self
    }

    /// Sets what the status calls the app: its name, version and environment (`dev` or
    /// `prod`). `#[servicepack::main]` sets them from the binary and `ENV`; the defaults
    /// are `servicepack`, an empty version and `prod`.
    ///
    /// # Examples
    ///
    /// ```
    /// use servicepack::Runner;
    ///
    /// let runner = Runner::new().app_info("billing", "1.4.0", "dev");
    /// let status = runner.status().snapshot();
    /// assert_eq!((status.app.as_str(), status.version.as_str()), ("billing", "1.4.0"));
    /// assert_eq!(status.env, "dev");
    /// ```
    #[must_use]
    pub fn app_info(
        self,
        app: impl Into<String>,
        version: impl Into<String>,
        env: impl Into<String>,
    ) -> Self {
        self.board.set_info(AppIdentity::new(app, version, env));
        self
    }

    /// A read-only handle on the lifecycle of this runner's services (SPEC §5): the state
    /// of every service and of the app, readiness, and a future for the next change.
    /// Callable before [`run`](Runner::run) (the app is `starting`, with no services
    /// until `run` plans them) and still valid after it returned (`stopped`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicepack::prelude::*;
    /// use servicepack::{Runner, ServiceDef, State};
    ///
    /// struct Api;
    /// impl Service for Api {
    ///     async fn run(&self, ctx: Context) -> Result<()> {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runner = Runner::new().service(ServiceDef::new("api", Api));
    /// let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    /// let run = tokio::spawn(runner.run());
    /// // `changed()` is taken before the look, so a change in between is not missed.
    /// loop {
    ///     let changed = status.changed();
    ///     if status.is_ready() {
    ///         break;
    ///     }
    ///     changed.await;
    /// }
    /// assert_eq!(status.snapshot().services[0].state, State::Ready);
    /// shutdown.request();
    /// assert_eq!(run.await.unwrap().exit_code(), 0);
    /// # });
    /// ```
    #[must_use]
    pub fn status(&self) -> StatusHandle {
        self.board.handle()
    }

    /// Keeps every state change of the run, in order, for `servicepack::testing`.
    pub(crate) fn keep_history(self) -> Self {
        self.board.keep_history();
        self
    }

    /// Replaces the random source of `jitter`: a function returning numbers in `[0, 1)`
    /// (values outside are clamped). `0.5` means no change; `0.0` shortens a delay by
    /// 25 %, values near `1.0` lengthen it by up to 25 %. For deterministic tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicepack::{Policy, Retries, Runner, ServiceDef};
    /// use servicepack::prelude::*;
    ///
    /// struct Flaky;
    /// impl Service for Flaky {
    ///     async fn run(&self, _ctx: Context) -> Result<()> {
    ///         Err("connection refused".into())
    ///     }
    /// }
    ///
    /// let policy = Policy::new()
    ///     .retries(Retries::Limited(1))
    ///     .delay(Duration::from_secs(4))
    ///     .jitter(true);
    /// // Always the shortest delay: 4 s × 0.75 = 3 s.
    /// let runner = Runner::new()
    ///     .service(ServiceDef::new("flaky", Flaky).policy(policy))
    ///     .jitter_source(|| 0.0);
    /// # let _ = runner;
    /// ```
    #[must_use]
    pub fn jitter_source(mut self, source: impl FnMut() -> f64 + Send + 'static) -> Self {
        self.jitter = Some(Box::new(source));
        self
    }

    /// A handle that asks this runner to shut down, from anywhere (a signal handler, a
    /// test, an admin endpoint).
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Runs every service until shutdown and reports how it went. Never fails: every
    /// problem, including a bad dependency graph, ends up in the [`Report`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime. Panics in services are caught and reported, never
    /// propagated.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future aborts every service task at once, without
    /// calling `stop`. Use [`ShutdownHandle::request`] to shut down gracefully.
    pub async fn run(self) -> Report {
        let mut task = AbortOnDropHandle::new(tokio::spawn(coordinate(self)));
        match (&mut task).await {
            Ok(report) => report,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Only a runtime that is shutting down cancels the task; then nobody waits here.
            Err(_) => Report::from_errors(
                vec![RunError::Forced {
                    still_stopping: Vec::new(),
                }],
                None,
            ),
        }
    }
}

struct Coordinator {
    plan: Arc<Plan>,
    /// Per service: whether it has ended (no further run will start).
    ended: Vec<bool>,
    shared: Arc<Shared>,
    /// Services that may still run: spawned and not ended.
    alive: usize,
    budget: Duration,
    drain: Duration,
    budget_end: Option<Instant>,
    cause: Option<ShutdownCause>,
    errors: Vec<RunError>,
    control: Option<Control>,
    /// The definitions' dependency lists, freed with the rest of the run's state after
    /// it (their names are in the plan): one or two frees per service with dependencies,
    /// off the start, whose spawning loop a chain of services follows closely.
    depends_on: Vec<Vec<Cow<'static, str>>>,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.shared.cancel_stops();
        // Normally every task is done; after a forced exit or an exhausted budget, the
        // stragglers are abandoned, and no further stop begins.
        if self.shared.all_finished() {
            return;
        }
        self.shared.abandon();
    }
}

async fn coordinate(runner: Runner) -> Report {
    let handle = runner.handle.clone();
    let (mut this, mut inbox) = match Coordinator::new(runner) {
        Ok(started) => started,
        Err(report) => return report,
    };
    let (graceful, forced) = (handle.graceful(), handle.forced());
    let mut forced = pin!(forced.cancelled());
    let mut graceful = pin!(graceful.cancelled());
    let mut budget_timer = pin!(tokio::time::sleep_until(far_future(Instant::now())));
    let mut drain_timer = pin!(tokio::time::sleep_until(far_future(Instant::now())));
    let mut draining = false;
    // Set while a requested shutdown waits for dispatched commands: since when.
    let mut commands_wait: Option<Instant> = None;
    let mut commands_timer = pin!(tokio::time::sleep_until(far_future(Instant::now())));
    let mut timer_armed = false;
    let mut timer_fired = false;
    let mut batch = Vec::with_capacity(1024);
    loop {
        if let (Some(end), false) = (this.budget_end, timer_armed) {
            budget_timer.as_mut().reset(end);
            timer_armed = true;
        }
        if this.cause.is_some() {
            // The budget is judged before the news: a service that finished at the very
            // end of the budget does not decide between "stopped" and "timed out" by the
            // order in which tasks happened to be polled.
            if this.budget_end.is_some_and(|end| Instant::now() >= end) {
                let still_stopping = this.still_stopping();
                if !still_stopping.is_empty() {
                    return this.budget_exhausted(still_stopping);
                }
            }
            if this.shared.all_finished() {
                // Every task has finished, and sent what it had to before it said so.
                while let Ok(event) = inbox.try_recv() {
                    this.handle(event);
                }
                tracing::info!("all services stopped");
                let report = this.finish(None);
                this.shared.cancel_stops();
                // Every task is done: the per-service state (tokens, gates, task slots,
                // the plan) and the event buffer are freed off the path to `run`
                // returning, and the parked supervisor tasks reaped with their slots;
                // for ten thousand services that took most of a millisecond.
                // (The buffer too: the free of its 57 KB there made the allocator merge
                // the thousands of small blocks the stops had just freed.)
                drop(tokio::task::spawn_blocking(move || {
                    drop((this, inbox, batch));
                }));
                return report;
            }
        }
        let all_finished = this.shared.wait_all_finished();
        tokio::select! {
            biased;
            () = &mut forced => {
                let still_stopping = this.still_stopping();
                return this.finish(Some(RunError::Forced { still_stopping }));
            }
            _ = inbox.recv_many(&mut batch, 1024) => {
                if this.budget_end.is_some_and(|end| Instant::now() >= end) {
                    // Judged at the top of the loop, before this news.
                    let still_stopping = this.still_stopping();
                    if !still_stopping.is_empty() {
                        return this.budget_exhausted(still_stopping);
                    }
                }
                for event in batch.drain(..) {
                    this.handle(event);
                }
            }
            () = &mut graceful, if this.cause.is_none() && !draining && commands_wait.is_none() => {
                if let Some(control) = &this.control {
                    control.inner.dispatch.close();
                }
                if this.drain.is_zero() {
                    this.request_stop(&mut commands_wait, commands_timer.as_mut());
                } else {
                    // Services keep running; readers see `draining` at once.
                    draining = true;
                    this.shared.status().set_phase(Phase::Draining);
                    drain_timer.as_mut().reset(Instant::now() + this.drain);
                }
            }
            () = &mut drain_timer, if draining && this.cause.is_none() && commands_wait.is_none() => {
                this.request_stop(&mut commands_wait, commands_timer.as_mut());
            }
            () = control::commands_idle(this.control.as_ref()), if commands_wait.is_some() && this.cause.is_none() => {
                let since = commands_wait.take().unwrap_or_else(Instant::now);
                this.begin_shutdown_from(ShutdownCause::Requested, since);
            }
            () = &mut commands_timer, if commands_wait.is_some() && this.cause.is_none() => {
                // The budget ran out while commands were running: they are cancelled.
                if let Some(control) = &this.control {
                    control.inner.dispatch.cancel_all();
                }
                let since = commands_wait.take().unwrap_or_else(Instant::now);
                this.begin_shutdown_from(ShutdownCause::Requested, since);
            }
            // Judged at the top of the loop.
            () = &mut budget_timer, if timer_armed && !timer_fired => timer_fired = true,
            () = all_finished => {}
        }
    }
}

impl Coordinator {
    /// Plans the services and spawns every supervisor (or, when shutdown was requested
    /// before `run`, none); the report instead when the plan is not valid.
    fn new(runner: Runner) -> Result<(Self, UnboundedReceiver<Event>), Report> {
        let Runner {
            mut defs,
            budget,
            drain,
            jitter,
            handle,
            board,
            peers,
            peer_timeout,
            control,
        } = runner;
        let control = control.into_inner();
        // The names move into the plan: no copy per service.
        let nodes = defs.iter_mut().map(|def| {
            let ServiceDef {
                name, depends_on, ..
            } = def;
            (std::mem::take(name), depends_on.iter())
        });
        let plan = match Plan::new(nodes) {
            Ok(plan) => Arc::new(plan),
            Err(error) => return Err(Report::from_errors(vec![error.into()], None)),
        };
        let (events, inbox) = mpsc::unbounded_channel();
        let jitter = jitter.unwrap_or_else(default_jitter);
        board.plan(
            plan.clone(),
            defs.iter().map(|def| {
                let policy = &def.policy;
                (policy.allowed_failure, policy.counts_for_readiness)
            }),
        );
        let peers = Peers::new(&plan, peers, peer_timeout);
        let mut shared = Shared::new(plan.clone(), events, jitter, board).with_peers(peers);
        if control.is_some() {
            shared.make_restartable();
        }
        let shared = Arc::new(shared);
        if let Some(control) = &control {
            let _ = control.inner.shared.set(Arc::downgrade(&shared));
        }
        let mut this = Self {
            alive: plan.len(),
            ended: vec![false; plan.len()],
            plan,
            shared,
            budget,
            drain,
            budget_end: None,
            cause: None,
            errors: Vec::new(),
            control,
            depends_on: Vec::new(),
        };
        for (service, dependency) in this.plan.external() {
            let span = tracing::error_span!("service", service = %service);
            if this.shared.peers().is_peer(dependency) {
                span.in_scope(|| {
                    tracing::info!(
                        dependency,
                        "dependency runs in another process; waiting for it as a peer"
                    );
                });
            } else {
                span.in_scope(|| tracing::warn!(dependency, "dependency not in process, skipping"));
            }
        }
        tracing::info!(count = this.plan.len(), "running services");
        if handle.is_requested() {
            this.alive = 0;
            for node in 0..this.plan.len() {
                this.shared.span(node).in_scope(|| {
                    let skipped = Lifecycle::Skipped(Skip::ShutdownBegan);
                    lifecycle::emit(this.shared.status(), node, &skipped);
                });
            }
            this.shared.all_spawned();
            this.begin_shutdown(ShutdownCause::Requested);
        } else {
            this.start_all(&mut defs);
        }
        this.depends_on = defs
            .iter_mut()
            .filter(|def| !def.depends_on.is_empty())
            .map(|def| std::mem::take(&mut def.depends_on))
            .collect();
        Ok((this, inbox))
    }

    /// Spawns every supervisor; each waits for its own dependencies (per edge) before it
    /// constructs and runs its service. Dependencies first, so that a single-threaded
    /// runtime polls them first. On a multi-thread runtime a large set is spawned by one
    /// task per worker, each a contiguous share of the start order: spawning is most of
    /// the start-up of many services, and one thread would do it alone.
    fn start_all(&mut self, defs: &mut [ServiceDef]) {
        let (first, later) = shares(self.plan.len());
        let mut later = later.peekable();
        if later.peek().is_none() {
            let share = Share::new(&self.shared);
            for (node, policy, launch) in starts(&self.plan, defs, first) {
                start(&share, node, policy, launch);
            }
        } else {
            // The later shares first: the last task spawned is the one this worker runs
            // next, the others are there for the other workers to take.
            for positions in later.chain(std::iter::once(first)) {
                spawn_share(&self.shared, starts(&self.plan, defs, positions).collect());
            }
        }
        self.shared.all_spawned();
    }

    /// The report: the errors seen so far (the coordinator's, then what finished
    /// supervisors left), and `last` if the run ends early.
    fn finish(&mut self, last: Option<RunError>) -> Report {
        let mut errors = std::mem::take(&mut self.errors);
        errors.extend(self.shared.take_problems());
        errors.extend(last);
        self.shared.status().set_phase(Phase::Stopped);
        Report::from_errors(errors, self.cause.take())
    }

    fn budget_exhausted(&mut self, still_stopping: Vec<String>) -> Report {
        self.finish(Some(RunError::ShutdownTimedOut {
            budget: self.budget,
            still_stopping,
        }))
    }

    /// The services whose supervisor was spawned and has not finished.
    fn still_stopping(&self) -> Vec<String> {
        (0..self.plan.len())
            .filter(|&node| self.shared.slot(node).is_running())
            .map(|node| self.plan.name(node).to_owned())
            .collect()
    }

    /// A service ended (no further run of it will start): one fewer left running, and a
    /// fatal failure begins shutdown.
    fn handle(&mut self, Event { node, ending }: Event) {
        if matches!(ending, Ending::Revived) {
            if std::mem::replace(&mut self.ended[node], false) {
                self.alive += 1;
            }
            return;
        }
        if std::mem::replace(&mut self.ended[node], true) {
            return;
        }
        self.alive -= 1;
        if let Ending::Failed { fatal: Some(error) } = ending {
            self.errors.push(error);
            self.begin_shutdown(ShutdownCause::Failed {
                service: self.plan.name(node).to_owned(),
            });
        }
        if self.alive == 0 {
            self.begin_shutdown(ShutdownCause::NothingLeftRunning);
        }
    }

    fn begin_shutdown(&mut self, cause: ShutdownCause) {
        self.begin_shutdown_from(cause, Instant::now());
    }

    /// Begins shutdown with a budget that started at `now` (earlier than the present
    /// when a requested shutdown waited for commands first).
    fn begin_shutdown_from(&mut self, cause: ShutdownCause, now: Instant) {
        if self.cause.is_some() {
            return;
        }
        tracing::info!(reason = %cause, "shutting down");
        self.cause = Some(cause);
        if let Some(control) = &self.control {
            control.inner.dispatch.close();
        }
        let end = now
            .checked_add(self.budget)
            .unwrap_or_else(|| far_future(now));
        self.budget_end = Some(end);
        self.shared.status().set_phase(Phase::Stopping);
        self.shared.set_shutdown_window(now, end);
        // No run starts from here on; services still waiting for their dependencies
        // give up (and report themselves skipped).
        self.shared.begin_shutdown();
        // The supervisors walk the reverse edges from here: every service that no
        // unfinished dependent holds back stops now, the others when their dependents
        // have finished.
        self.shared.begin_stop_walk();
    }
}

/// One supervisor to spawn: its node, policy and constructor.
type Start = (usize, Arc<Policy>, Construct);

/// How many supervisors a helper spawns, or wakes for their stop, before it lets its
/// worker poll them.
pub(super) const BATCH: usize = 64;

/// Spawns the supervisors of one share from a helper task, in order, yielding to its
/// worker after every [`BATCH`]: the worker polls what was just spawned (the first
/// poll of a supervisor, hot in its cache) before it spawns more. Spawning takes a few
/// locks and counts of tokio's that every worker shares (the task list, the task ids,
/// the idle workers' state), and two workers spawning all the time took each spawn twice
/// as long as one alone: in batches, a worker spawns while the other mostly polls (flat
/// 10,000 started in 5.24 ms instead of 6.23, medians of eight processes). The helper's
/// hold on its share keeps the tracker from looking empty before the supervisors it
/// spawns hold it.
fn spawn_share(shared: &Arc<Shared>, starts: Vec<Start>) {
    let share = Share::new(shared);
    drop(tokio::spawn(async move {
        for (spawned, (node, policy, launch)) in starts.into_iter().enumerate() {
            start(&share, node, policy, launch);
            if (spawned + 1) % BATCH == 0 {
                tokio::task::yield_now().await;
            }
        }
    }));
}

/// Below this many services one thread does the per-service loops that begin a start
/// (the spawns, in the start order exactly) and a stop (the walk's first releases): they
/// are short there (about a millisecond for 1,000 spawns, a twentieth of it for 1,000
/// releases), and helpers gained nothing measurable for the start (flat 1,000 started in
/// 1.11 ms with them against 1.14 ms without, medians of eight interleaved rounds).
const PARALLEL_MIN: usize = 2048;

/// How a per-service loop over `services` nodes (or positions) is split between the
/// coordinator and its helper tasks: the first share, and one more share per further
/// worker of a multi-thread runtime (none below [`PARALLEL_MIN`], nor on a
/// single-threaded runtime, so tests on a paused clock see one order). Unsplit, the
/// coordinator does the loop itself; split, every share goes to a helper task.
pub(super) fn shares(
    services: usize,
) -> (
    std::ops::Range<usize>,
    impl Iterator<Item = std::ops::Range<usize>>,
) {
    let runtime = tokio::runtime::Handle::current();
    let helpers = if services < PARALLEL_MIN
        || runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread
    {
        0
    } else {
        runtime.metrics().num_workers().saturating_sub(1)
    };
    let share = services.div_ceil(helpers + 1).max(1);
    let later = (share..services)
        .step_by(share)
        .map(move |from| from..services.min(from + share));
    (0..share.min(services), later)
}

/// What spawns the services at `positions` of the start order, taken out of `defs`.
/// Services in a row with the same policy share it (a policy is ~100 bytes).
fn starts<'a>(
    plan: &'a Plan,
    defs: &'a mut [ServiceDef],
    positions: std::ops::Range<usize>,
) -> impl Iterator<Item = Start> + 'a {
    let mut last_policy: Option<Arc<Policy>> = None;
    plan.order()[positions].iter().map(move |&node| {
        let def = &mut defs[node];
        let launch = def
            .launch
            .take()
            .expect("the start order names every service once");
        let policy = match last_policy.take() {
            Some(last) if *last == def.policy => last,
            _ => Arc::new(def.policy),
        };
        last_policy = Some(policy.clone());
        (node, policy, launch)
    })
}

/// Spawns service `node`'s supervisor.
fn start(share: &Arc<Share>, node: usize, policy: Arc<Policy>, launch: Construct) {
    let supervisor = Supervisor {
        node,
        policy,
        shared: Arc::clone(share),
    };
    share.slot(node).spawn(launch, || supervisor.spawn());
}
