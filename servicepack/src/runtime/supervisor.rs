//! One service's whole life in one task: wait for dependencies, construct, run, retry,
//! stop.
//!
//! The coordinator (`runner.rs`) spawns every supervisor at start-up. A supervisor first
//! waits, per edge, for each dependency's gate (`shared.rs`: a one-shot "settled" token
//! plus an atomic state: ready, failed before ready, or skipped), so a dependent starts
//! the moment its own dependencies are ready, with no round trip through the coordinator;
//! a gate that settles without readiness, or the beginning of shutdown, makes it skip
//! its service.
//! Then it constructs the service (lazily: a service that never starts is never built)
//! and loops over attempts: each calls `run` with a fresh [`Context`] and drives the
//! future (inside `catch_unwind`, so a panic is an error) until it returns, until the
//! service's token is cancelled, or, for `notify_ready` services, until `ready_timeout`
//! passes without `ctx.ready()`. The retry arithmetic lives in `retry.rs`.
//!
//! Before shutdown, the task tells the coordinator when its service ends (no further
//! run will start) with a message on one unbounded channel: the coordinator counts what
//! is left running, and a fatal failure begins shutdown. After its last run the task
//! idles on its token; when the reverse-edge walk cancels the token (`shutdown.rs`), the
//! task calls `stop` at once, concurrently with a `run` that may still be going. When the
//! task finishes (which it notes when its state is dropped, so even an aborted or
//! panicking task does), it leaves its problems in a shared list, releases its holds on
//! its dependencies' stops, and decrements the count of running tasks; only the last one
//! wakes the coordinator. Ten thousand services stopping at once thus send no message.
//!
//! The supervisor is generic over the service type (a `ServiceDef` carries a boxed
//! `Launch`, implemented for each `S: Service`, instead of an `Arc<dyn ...>`): the task
//! owns the service, and `run` and `stop` borrow it from there, concurrently during a
//! stop, without a reference count or a virtual call. `stop`'s future is held inline (the
//! default one is a byte). `run`'s future is boxed on purpose: held inline, a typical one
//! (a `Context` and a wait on its token, ~230 bytes) pushes the task cell past tokio's
//! 512-byte step to 640, and allocating that 128-aligned cell, on the one thread that
//! spawns every supervisor, cost a flat 10,000-service start ~25 % (measured), more than
//! the box costs the worker that polls the attempt. A service with a huge `run` future
//! thus costs its box, not a huge task. Boxed anyway, `run`'s future is type-erased, so
//! the attempt loop's waits, the readiness wait and all the logging are not generic:
//! each service type adds only its constructor, its `stop` and a thin loop to the binary.
//!
//! Every idle service costs one of these tasks, so the future is kept small (a unit test
//! holds a trivial service's supervisor to 368 bytes, the 512-byte cell): the rare phases
//! (readiness wait, retry wait, a stop that takes more than one poll) are boxed, the
//! policy is shared, and the state is built before the task is spawned.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::context::{Name, ReadyLatch};
use crate::runtime::catch::{self, NotReady, chain};
use crate::runtime::retry::{AfterExit, AfterFailure, Attempts};
use crate::runtime::shared::{Ending, Event, FAILED, READY, SKIPPED, Shared};
use crate::runtime::shutdown::{self, Finished, Stopped};
use crate::service::BoxFuture;
use crate::{Context, Error, Policy, Result, RunError, Service, format_duration};

/// A service's supervisor, typed by the service, before it is spawned: what a
/// [`ServiceDef`](crate::ServiceDef) carries instead of a type-erased service.
pub(crate) trait Launch: Send {
    /// Spawns the supervisor task inside `span`.
    fn spawn(self: Box<Self>, life: Life, span: tracing::Span) -> AbortHandle;
}

/// The [`Launch`] of a service built by `construct` (called in the task, lazily).
pub(crate) struct Lazy<S, F> {
    construct: F,
    service: PhantomData<fn() -> S>,
}

impl<S, F> Lazy<S, F> {
    pub(crate) const fn new(construct: F) -> Self {
        Self {
            construct,
            service: PhantomData,
        }
    }
}

impl<S, F> Launch for Lazy<S, F>
where
    S: Service,
    F: FnOnce() -> Result<S> + Send + 'static,
{
    fn spawn(self: Box<Self>, life: Life, span: tracing::Span) -> AbortHandle {
        // Always the span wrapper, even when no subscriber wants the span (entering a
        // disabled one is a branch): one task type per service type instead of two, since
        // tokio's task code is generic over it, and the wrapper's 40 bytes stay under the
        // 512-byte step of the task cell.
        tokio::spawn(supervise(life, self.construct).instrument(span)).abort_handle()
    }
}

/// A running attempt of `run`, boxed (see the module docs).
pub(crate) type RunFuture<'a> = BoxFuture<'a, Result<()>>;

/// How one drive of a run future ended.
enum Drive {
    Returned(Result<()>),
    /// The service's token was cancelled: its turn to stop has come.
    Interrupted,
}

/// One service's supervisor, ready to be spawned.
pub(crate) struct Supervisor {
    pub(crate) node: usize,
    pub(crate) policy: Arc<Policy>,
    pub(crate) launch: Box<dyn Launch>,
    pub(crate) shared: Arc<Shared>,
}

impl Supervisor {
    /// Spawns the supervisor task inside the service's `service` span.
    pub(crate) fn spawn(self) -> AbortHandle {
        let span = tracing::error_span!("service", service = %self.shared.plan.name(self.node));
        let Self {
            node,
            policy,
            launch,
            shared,
        } = self;
        let life = Life {
            node,
            shared,
            ended: false,
            done: false,
            attempts: Attempts::new(policy),
            started: None,
        };
        launch.spawn(life, span)
    }
}

/// The supervisor task of a service of type `S`. Its future is what every idle service
/// costs. The service itself lives in it, and so does `stop`'s future; `run`'s future is
/// boxed (see the module docs for why). What is rare (waiting for readiness, waiting to
/// retry, a stop that does not finish at once) is boxed and awaited, and the state is
/// built before the task starts: an async block uses its captures in place, where an
/// `async fn` would hold its arguments twice.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` would store `life` twice (rust-lang/rust#62958)"
)]
fn supervise<S: Service>(
    mut life: Life,
    construct: impl FnOnce() -> Result<S> + Send,
) -> impl Future<Output = ()> + Send {
    async move {
        // What does not depend on `S` lives in `Life`'s methods: one copy in the binary,
        // however many service types there are.
        if !life.may_start().await {
            return;
        }
        let service = match catch::call(construct) {
            Ok(service) => service,
            Err(source) => return life.construct_failed(source),
        };
        let service = &service;
        // The running attempt, kept here for the rest of the task: `stop` drives an
        // interrupted one on. `run` and `stop` both borrow the service, which the task
        // owns. `run`'s future is boxed: inline, a typical one (~230 bytes) would push
        // the task cell from 512 to 640 bytes, and the aligned allocation of that cell,
        // made by the one thread that spawns every supervisor, costs start-up more than
        // the box costs the worker that polls the attempt.
        let mut run = pin!(None);
        // The attempt loop lives here, not in a nested future, so that the state of an
        // idle service is just the running future and the wait for its token.
        let interrupted = loop {
            if life.shared.shutdown_began() {
                break false;
            }
            let start = |ctx| -> RunFuture<'_> { Box::pin(service.run(ctx)) };
            let returned = life.begin_attempt(&start, run.as_mut()).await;
            let drive = match returned {
                Some(drive) => drive,
                None => watch(run.as_mut(), life.token()).await,
            };
            let result = match drive {
                Drive::Returned(result) => result,
                Drive::Interrupted => break true,
            };
            // Normally empty already; a readiness timeout leaves the attempt to drop.
            run.set(None);
            let Some(delay) = life.judge(result) else {
                break false;
            };
            if !Box::pin(wait(delay, &life.shared, life.token())).await {
                break false;
            }
        };
        if !life.ran() {
            return;
        }
        if !interrupted {
            run.set(None);
            life.token().cancelled().await;
        }
        let outcome = shutdown::stop_service(
            service,
            life.ctx_name(),
            life.attempts.runs(),
            life.shared.stop_token.clone(),
            run,
            life.attempts.policy.stop_timeout,
            life.shared.shutdown_window.get().copied(),
        )
        .await;
        life.stopped(outcome);
    }
}

/// A supervisor task's state while the service lives. Dropping it marks the task
/// finished, so even an aborted or panicking task releases its dependencies.
pub(crate) struct Life {
    node: usize,
    shared: Arc<Shared>,
    /// Whether the service has ended (no further run will start).
    ended: bool,
    /// Whether the task has finished.
    done: bool,
    attempts: Attempts,
    /// When the current (or last) attempt started (only kept with `retry_reset`).
    started: Option<Instant>,
}

impl Drop for Life {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        if std::thread::panicking() && !self.done {
            // Only a bug in the runtime (or a panicking `Drop` of a user future) gets
            // here; still, the exit code must not say all went well.
            problems.push(RunError::Failed {
                service: self.name().to_owned(),
                attempts: self.attempts.runs(),
                source: "the service's supervisor panicked".into(),
            });
        }
        self.transition_to_done(problems);
    }
}

impl Life {
    fn name(&self) -> &str {
        self.shared.plan.name(self.node)
    }

    /// The name for a `Context`: the plan and an index, no copy.
    fn ctx_name(&self) -> Name {
        Name::Plan {
            plan: self.shared.plan.clone(),
            node: self.node,
        }
    }

    /// The token of this service's runs; cancelled when its turn to stop comes.
    fn token(&self) -> &CancellationToken {
        self.shared.walk.token(self.node)
    }

    /// No further run will start: settles the gate (if not ready, dependents give up)
    /// and tells the coordinator, once.
    fn ended(&mut self, ending: Ending) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.settle(match ending {
            Ending::Failed { .. } => FAILED,
            _ => SKIPPED,
        });
        let news = match &ending {
            Ending::Failed { fatal: Some(_) } => {
                // Stop every start at once; the coordinator does the rest when it reads
                // the message.
                self.shared.begin_shutdown();
                true
            }
            // During shutdown nobody counts what ends.
            _ => !self.shared.shutdown_began(),
        };
        if news {
            // The coordinator only goes away when the run is over; nobody is left to tell.
            let _ = self.shared.events.send(Event {
                node: self.node,
                ending,
            });
        }
    }

    fn settle(&self, state: u8) {
        if let Some(gate) = &self.shared.gates[self.node] {
            gate.settle(state);
        }
    }

    /// Waits until every dependency is ready; the reason to skip this service if one
    /// will never be, or if shutdown begins first.
    async fn wait_for_dependencies(&self) -> Result<(), String> {
        let shared = &*self.shared;
        for &dep in shared.plan.dependencies(self.node) {
            let Some(gate) = &shared.gates[dep] else {
                continue;
            };
            // Shutdown settles every pending gate, so one wait covers both.
            gate.settled.cancelled().await;
            let name = shared.plan.name(dep);
            match gate.state.load(Ordering::Acquire) {
                READY => {}
                FAILED => return Err(format!("dependency {name} failed before it was ready")),
                _ if shared.shutdown_began() => return Err("shutdown began".to_owned()),
                _ => return Err(format!("dependency {name} was skipped")),
            }
        }
        Ok(())
    }

    /// The task is finished: ends the service (if it has not ended yet), leaves the
    /// problems for the coordinator, lets its dependencies stop once nothing else holds
    /// them, and wakes the coordinator if it was the last task. Once.
    fn transition_to_done(&mut self, problems: Vec<RunError>) {
        self.ended(Ending::Abandoned);
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let shared = &*self.shared;
        shared.report(problems);
        shared.walk.finished(&shared.plan, self.node);
        shared.tasks[self.node].finished();
        // Last: once this reaches zero, the coordinator takes the problems and any
        // message sent, and returns.
        if shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.all_finished.notify_one();
        }
    }

    fn ran_for(&self) -> Duration {
        self.started
            .map_or(Duration::ZERO, |started| started.elapsed())
    }

    fn mark_ready(&mut self) {
        if self.attempts.transition_to_ready() {
            self.settle(READY);
        }
    }

    /// Starts an attempt: calls `run` (through `start`) into `slot`, polls it once, and
    /// for `notify_ready` services waits for readiness. Returns how the attempt ended if
    /// it did already; `None` leaves it running in `slot`.
    fn begin_attempt<'a, 's>(
        &'a mut self,
        start: &dyn Fn(Context) -> RunFuture<'s>,
        mut slot: Pin<&'a mut Option<RunFuture<'s>>>,
    ) -> impl Future<Output = Option<Drive>> + Send + use<'a, 's> {
        // The synchronous part runs at the first poll of the returned future, which the
        // caller awaits at once; only what the readiness wait needs is carried inside.
        let attempt = self.attempts.transition_to_running();
        tracing::info!(attempt, "starting");
        let policy = &self.attempts.policy;
        let latch = policy.notify_ready.then(Arc::<ReadyLatch>::default);
        if policy.retry_reset.is_some() {
            // Only `retry_reset` needs the time; reading the clock is not free.
            self.started = Some(Instant::now());
        }
        let ctx = Context::new(
            self.ctx_name(),
            attempt,
            self.token().clone(),
            latch.clone(),
            None,
        );
        // `run` of a hand-written impl may panic before it returns its future.
        let called = match catch::call(|| Ok(start(ctx))) {
            Ok(run) => {
                slot.set(Some(run));
                None
            }
            Err(error) => Some(Drive::Returned(Err(error))),
        };
        async move {
            // The first poll: `run` has begun (a plain service is ready now), and a
            // `notify_ready` service that calls `ctx.ready()` at once needs no timer and
            // no boxed wait.
            let mut returned = called;
            if returned.is_none() {
                let first =
                    std::future::poll_fn(|cx| Poll::Ready(catch::poll_slot(slot.as_mut(), cx)));
                if let Poll::Ready(result) = first.await {
                    returned = result.map(Drive::Returned);
                }
            }
            match latch {
                None => {
                    self.mark_ready();
                    returned
                }
                Some(latch) => {
                    let mut drive = returned;
                    if drive.is_none() && !latch.is_set() {
                        let timeout = self.attempts.policy.ready_timeout;
                        let token = self.token();
                        drive = Box::pin(wait_ready(slot, token, &latch, timeout)).await;
                    }
                    if latch.is_set() {
                        // Ready, possibly in the very poll that ended the wait: it made it.
                        tracing::info!("ready");
                        self.mark_ready();
                        if let Some(Drive::Returned(Err(error))) = &drive
                            && error.is::<NotReady>()
                        {
                            drive = None;
                        }
                    }
                    drive
                }
            }
        }
    }

    /// Whether the service may start: its dependencies are ready and shutdown has not
    /// begun. If not, it is reported skipped.
    async fn may_start(&mut self) -> bool {
        if !self.shared.plan.dependencies(self.node).is_empty()
            && let Err(reason) = self.wait_for_dependencies().await
        {
            tracing::warn!(reason, "skipped");
            self.ended(Ending::Skipped);
            return false;
        }
        if self.shared.shutdown_began() {
            tracing::warn!(reason = "shutdown began", "skipped");
            self.ended(Ending::Skipped);
            return false;
        }
        true
    }

    /// The constructor failed (or panicked): a final failure, not retried.
    fn construct_failed(&mut self, source: Error) {
        let fatal = self.final_failure(0, &source).then(|| RunError::Construct {
            service: self.name().to_owned(),
            source,
        });
        self.ended(Ending::Failed { fatal });
    }

    /// After the attempt loop: whether the service ran, and so has a `stop` to call. One
    /// that never did was spawned just as shutdown began: it is reported skipped.
    fn ran(&mut self) -> bool {
        self.ended(Ending::Abandoned);
        if self.attempts.runs() == 0 {
            tracing::warn!(reason = "shutdown began", "skipped");
            return false;
        }
        true
    }

    /// Judges how an attempt ended: the delay before the next one, or `None` when no
    /// further run will start (and the coordinator has been told).
    fn judge(&mut self, result: Result<()>) -> Option<Duration> {
        let attempt = self.attempts.runs();
        let delay = match result {
            Ok(()) => {
                // A clean return counts as ready: a one-shot job gates its dependents.
                self.mark_ready();
                tracing::info!(attempt, "exited");
                let jitter = || self.shared.jitter();
                match self.attempts.transition_to_exited(jitter) {
                    AfterExit::Restart { delay } => delay,
                    AfterExit::End => {
                        self.ended(Ending::Clean);
                        return None;
                    }
                }
            }
            Err(error) => {
                let ran_for = self.ran_for();
                let jitter = || self.shared.jitter();
                match self.attempts.transition_to_failed(ran_for, jitter) {
                    AfterFailure::Retry { delay } => {
                        tracing::warn!(attempt, error = %chain(&error), "attempt failed");
                        delay
                    }
                    AfterFailure::Final => {
                        let fatal = self.fatal(attempt, error);
                        self.ended(Ending::Failed { fatal });
                        return None;
                    }
                }
            }
        };
        if self.shared.shutdown_began() {
            return None;
        }
        tracing::warn!(attempt = attempt + 1, delay = %format_duration(delay), "retrying");
        Some(delay)
    }

    /// Logs a final failure; `true` when it is fatal (not an allowed failure).
    fn final_failure(&self, attempts: u32, error: &Error) -> bool {
        if self.attempts.policy.allowed_failure {
            tracing::warn!(attempts, error = %chain(error), "failed (allowed failure)");
            false
        } else {
            tracing::error!(attempts, error = %chain(error), "failed");
            true
        }
    }

    /// Logs a final failure; the error when it is fatal.
    fn fatal(&self, attempts: u32, source: Error) -> Option<RunError> {
        self.final_failure(attempts, &source)
            .then(|| RunError::Failed {
                service: self.name().to_owned(),
                attempts,
                source,
            })
    }

    /// Judges and logs how the stop went, and reports the task done.
    fn stopped(&mut self, outcome: Stopped) {
        let mut problems = Vec::new();
        let timed_out = outcome.timed_out();
        if let Some(Finished::Returned(result)) = outcome.run {
            let attempt = self.attempts.runs();
            match result {
                Ok(()) => tracing::info!(attempt, "exited"),
                Err(error) => match self.attempts.transition_to_failed(self.ran_for(), || 0.5) {
                    // Shutdown overtook the retry, so this failure is not final.
                    AfterFailure::Retry { .. } => {
                        tracing::warn!(attempt, error = %chain(&error), "attempt failed");
                    }
                    AfterFailure::Final => {
                        problems.extend(self.fatal(attempt, error));
                    }
                },
            }
        }
        let mut clean = true;
        if let Finished::Returned(Err(source)) = outcome.stop {
            tracing::error!(error = %chain(&source), "stop failed");
            problems.push(RunError::StopFailed {
                service: self.name().to_owned(),
                source,
            });
            clean = false;
        }
        if timed_out {
            tracing::error!(timeout = %format_duration(outcome.timeout), "stop timed out");
            problems.push(RunError::StopTimedOut {
                service: self.name().to_owned(),
                timeout: outcome.timeout,
            });
            clean = false;
        }
        if clean {
            tracing::info!("stopped");
        }
        self.transition_to_done(problems);
    }
}

/// Drives a running attempt until it returns or the service's token is cancelled.
async fn watch(run: Pin<&mut Option<RunFuture<'_>>>, token: &CancellationToken) -> Drive {
    tokio::select! {
        biased;
        result = catch::drive(run) => Drive::Returned(result),
        () = token.cancelled() => Drive::Interrupted,
    }
}

/// The readiness wait of a `notify_ready` attempt: it must call `ctx.ready()` within
/// `ready_timeout`, or it fails (and the caller drops the run future, still in `run`).
/// Returns how the attempt ended if it did, `None` when it is ready and still running.
async fn wait_ready(
    run: Pin<&mut Option<RunFuture<'_>>>,
    token: &CancellationToken,
    latch: &ReadyLatch,
    ready_timeout: Duration,
) -> Option<Drive> {
    tokio::select! {
        biased;
        result = catch::drive(run) => Some(Drive::Returned(result)),
        () = latch.wait() => None,
        () = token.cancelled() => Some(Drive::Interrupted),
        () = tokio::time::sleep(ready_timeout) => {
            Some(Drive::Returned(Err(NotReady { timeout: ready_timeout }.into())))
        }
    }
}

/// Sleeps `delay` before a retry; `false` when shutdown began first.
async fn wait(delay: Duration, shared: &Shared, token: &CancellationToken) -> bool {
    if delay.is_zero() {
        // Let other tasks run even when a service fails (or restarts) in a tight loop.
        tokio::task::yield_now().await;
        return !shared.shutdown_began();
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => !shared.shutdown_began(),
        () = shared.shutdown.cancelled() => false,
        () = token.cancelled() => false,
    }
}

#[cfg(test)]
mod size {
    use super::*;
    use crate::runtime::plan::Plan;
    use crate::runtime::retry::default_jitter;

    /// The common case: a service that waits for its token.
    struct Idle;

    impl Service for Idle {
        async fn run(&self, ctx: Context) -> Result<()> {
            ctx.cancelled().await;
            Ok(())
        }
    }

    /// A service whose `run` keeps a big buffer across an await.
    struct Big;

    impl Service for Big {
        async fn run(&self, ctx: Context) -> Result<()> {
            let buffer = [0_u8; 4096];
            ctx.cancelled().await;
            Err(format!("{}", buffer.len()).into())
        }
    }

    fn life() -> Life {
        let (events, _inbox) = tokio::sync::mpsc::unbounded_channel();
        let plan = Arc::new(Plan::new([("x", ["y"])]).unwrap());
        let shared = Arc::new(Shared::new(plan, events, default_jitter()));
        shared.running.store(1, Ordering::Release);
        Life {
            node: 0,
            shared,
            ended: false,
            done: false,
            attempts: Attempts::new(Arc::new(Policy::new())),
            started: None,
        }
    }

    fn run_size<S: Service>(service: &S) -> usize {
        std::mem::size_of_val(&service.run(Context::detached("x")))
    }

    /// Every idle service costs one supervisor task, so its future must stay small: at
    /// most 368 bytes keeps tokio's task cell at 512 bytes (header, scheduler, trailer and
    /// the 128-byte alignment take the rest). A regression here (a big local kept across
    /// an await) costs memory and start-up time per service.
    #[test]
    fn supervisor_future_stays_small() {
        let task = supervise(life(), || Ok(Idle)).instrument(tracing::Span::none());
        let size = std::mem::size_of_val(&task);
        assert!(
            size <= 368,
            "the supervisor future of a trivial service grew to {size} bytes"
        );
        // `run`'s future is boxed: a big one does not enlarge the task.
        let big = supervise(life(), || Ok(Big)).instrument(tracing::Span::none());
        let big = std::mem::size_of_val(&big);
        assert!(run_size(&Big) > 4096);
        assert_eq!(big, size, "a big `run` future made the supervisor grow");
    }
}
