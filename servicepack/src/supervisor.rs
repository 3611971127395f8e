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
//! Every idle service costs one of these tasks, so the future is kept small: the rare
//! phases (readiness wait, retry wait, stop) are boxed, the policy is shared, and the
//! state is built before the task is spawned.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::catch::{self, CatchPanic, NotReady, chain};
use crate::context::{Name, ReadyLatch};
use crate::retry::{AfterExit, AfterFailure, Attempts};
use crate::service::{BoxFuture, DynService};
use crate::shared::{Ending, Event, FAILED, READY, SKIPPED, Shared};
use crate::shutdown::{self, Finished, Stopped};
use crate::{Context, Error, Policy, Result, RunError, format_duration};

/// What builds a service instance.
pub(crate) type Factory = Box<dyn FnOnce() -> Result<Arc<dyn DynService>> + Send>;
/// A running attempt of `run`.
pub(crate) type RunFuture<'a> = CatchPanic<BoxFuture<'a, Result<()>>>;

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
    pub(crate) factory: Factory,
    pub(crate) shared: Arc<Shared>,
}

impl Supervisor {
    /// Spawns the supervisor task inside the service's `service` span.
    pub(crate) fn spawn(self) -> tokio::task::AbortHandle {
        let span = tracing::error_span!("service", service = %self.shared.plan.name(self.node));
        let disabled = span.is_disabled();
        let Self {
            node,
            policy,
            factory,
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
        let task = supervise(life, factory);
        // Without a subscriber that wants the span, skip the wrapper: smaller tasks.
        if disabled {
            tokio::spawn(task).abort_handle()
        } else {
            tokio::spawn(task.instrument(span)).abort_handle()
        }
    }
}

/// The supervisor task. Its future is what every idle service costs, so what is rare
/// (waiting for readiness, waiting to retry, stopping) is boxed and awaited, and the
/// state is built before the task starts: an async block uses its captures in place,
/// where an `async fn` would hold its arguments twice.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` would store `life` twice (rust-lang/rust#62958)"
)]
fn supervise(mut life: Life, factory: Factory) -> impl Future<Output = ()> + Send {
    async move {
        if !life.shared.plan.dependencies(life.node).is_empty()
            && let Err(reason) = life.wait_for_dependencies().await
        {
            tracing::warn!(reason, "skipped");
            life.ended(Ending::Skipped);
            return;
        }
        if life.shared.shutdown_began() {
            tracing::warn!(reason = "shutdown began", "skipped");
            life.ended(Ending::Skipped);
            return;
        }
        let service = match catch::call(factory) {
            Ok(service) => service,
            Err(source) => {
                let fatal = life.final_failure(0, &source).then(|| RunError::Construct {
                    service: life.name().to_owned(),
                    source,
                });
                life.ended(Ending::Failed { fatal });
                return;
            }
        };
        // The attempt loop lives here, not in a nested future, so that the state of an
        // idle service is just the running future and the wait for its token.
        let interrupted = loop {
            if life.shared.shutdown_began() {
                break None;
            }
            let (mut run, returned) = life.begin_attempt(&*service).await;
            let drive = if let Some(drive) = returned {
                drive
            } else {
                tokio::select! {
                    biased;
                    result = &mut run => Drive::Returned(result),
                    () = life.token().cancelled() => Drive::Interrupted,
                }
            };
            let result = match drive {
                Drive::Returned(result) => result,
                Drive::Interrupted => break Some(run),
            };
            drop(run);
            let Some(delay) = life.judge(result) else {
                break None;
            };
            if !Box::pin(wait(delay, &life.shared, life.token())).await {
                break None;
            }
        };
        life.ended(Ending::Abandoned);
        if life.attempts.runs() == 0 {
            // Never ran, so no stop: it was spawned just as shutdown began.
            tracing::warn!(reason = "shutdown began", "skipped");
            return;
        }
        if interrupted.is_none() {
            life.token().cancelled().await;
        }
        let outcome = shutdown::stop_service(
            &*service,
            life.ctx_name(),
            life.attempts.runs(),
            life.shared.stop_token.clone(),
            interrupted,
            life.attempts.policy.stop_timeout,
            life.shared.shutdown_window.get().copied(),
        )
        .await;
        life.stopped(outcome);
    }
}

/// A supervisor task's state while the service lives. Dropping it marks the task
/// finished, so even an aborted or panicking task releases its dependencies.
struct Life {
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

    /// Starts an attempt: calls `run`, polls it once, and for `notify_ready` services
    /// waits for readiness. Returns the running future, and how the attempt ended if it
    /// did already.
    fn begin_attempt<'s>(
        &mut self,
        service: &'s dyn DynService,
    ) -> impl Future<Output = (RunFuture<'s>, Option<Drive>)> + Send + use<'_, 's> {
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
        let run = catch::call(|| Ok(service.run_boxed(ctx)))
            .unwrap_or_else(|error| Box::pin(std::future::ready(Err(error))));
        let mut run = CatchPanic::new(run);
        async move {
            // The first poll: `run` has begun (a plain service is ready now), and a
            // `notify_ready` service that calls `ctx.ready()` at once needs no timer and
            // no boxed wait.
            let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut run).poll(cx)));
            let returned = match first.await {
                Poll::Ready(result) => Some(Drive::Returned(result)),
                Poll::Pending => None,
            };
            let drive = match latch {
                None => {
                    self.mark_ready();
                    returned
                }
                Some(latch) => {
                    let mut drive = returned;
                    if drive.is_none() && !latch.is_set() {
                        let timeout = self.attempts.policy.ready_timeout;
                        drive = Box::pin(wait_ready(&mut run, self.token(), &latch, timeout)).await;
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
            };
            (run, drive)
        }
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

/// The readiness wait of a `notify_ready` attempt: it must call `ctx.ready()` within
/// `ready_timeout`, or it fails (and the caller drops the run future). Returns how the
/// attempt ended if it did, `None` when it is ready and still running.
async fn wait_ready(
    run: &mut RunFuture<'_>,
    token: &CancellationToken,
    latch: &ReadyLatch,
    ready_timeout: Duration,
) -> Option<Drive> {
    tokio::select! {
        biased;
        result = &mut *run => Some(Drive::Returned(result)),
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
    use crate::plan::Plan;
    use crate::retry::default_jitter;

    /// Every idle service costs one supervisor task, so its future must stay small; a
    /// regression here (a big local kept across an await) costs memory per service.
    #[test]
    fn supervisor_future_stays_small() {
        let (events, _inbox) = tokio::sync::mpsc::unbounded_channel();
        let plan = Arc::new(Plan::new([("x", ["y"])]).unwrap());
        let shared = Arc::new(Shared::new(plan, events, default_jitter()));
        shared.running.store(1, Ordering::Release);
        let life = Life {
            node: 0,
            shared,
            ended: false,
            done: false,
            attempts: Attempts::new(Arc::new(Policy::new())),
            started: None,
        };
        let task = supervise(life, Box::new(|| Err("unused".into())));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 512, "the supervisor future grew to {size} bytes");
    }
}
