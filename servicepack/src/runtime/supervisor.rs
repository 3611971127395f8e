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
//! and loops over attempts: each calls `run` with a fresh [`Context`](crate::Context) and drives the
//! future (inside `catch_unwind`, so a panic is an error) until it returns, until the
//! service's stop signal is set, or, for `notify_ready` services, until `ready_timeout`
//! passes without `ctx.ready()`. The retry arithmetic lives in `retry.rs`.
//!
//! Before shutdown, the task tells the coordinator when its service ends (no further
//! run will start) with a message on one unbounded channel: the coordinator counts what
//! is left running, and a fatal failure begins shutdown. After its last run the task
//! idles until its turn to stop: the reverse-edge walk (`shutdown.rs`) sets the
//! service's stop signal (`signal.rs`: a flag, and the token if one was made) and wakes
//! the task through the slot's waker; the task then calls `stop` at once, concurrently
//! with a `run` that may still be going (a service that keeps the default `stop` has
//! nothing to call). When the
//! task finishes (which it notes when its state is dropped, so even an aborted or
//! panicking task does), it leaves its problems in a shared list, releases its holds on
//! its dependencies' stops, and lets go of its share of the run's state (`Share`, one
//! per task that spawned supervisors), which holds a `TaskTracker` token; the tracker
//! wakes the coordinator when the last share goes. Ten thousand services stopping at
//! once thus send no message. The finished task then parks (`in_span.rs`): its empty
//! shell is reaped with the run's state, after `run` has returned.
//!
//! The supervisor is one type for every service: it sees the service only through
//! [`ErasedService`] (`erased.rs`), whose `run` and `stop` futures come boxed, so the
//! attempt loop, the readiness wait, the retry wait, the stop path and all the logging
//! are compiled once, however many service types the binary has (per type there is only
//! the constructor and two boxing shims). The service is shared (`Arc`): if `run` blocks
//! its thread when its token is cancelled, the task that cancelled it calls `stop` from a
//! task of its own (`shared.rs`, SPEC §4.7), since this one is stuck inside `run`. Every
//! poll of `run` goes through a [`RunGuard`] that makes this visible, and once the token
//! is cancelled `run` is not polled again before `stop` is called. Every lifecycle event
//! goes through `lifecycle::emit`, which logs it and records it on the status board.
//!
//! Every idle service costs one of these tasks, so the future is kept small (a unit test
//! holds the task's future to 152 bytes, a 256-byte tokio cell, raw tokio's size for a
//! bare task): the rare phases (a readiness wait past the first poll, the retry wait, a
//! stop that takes more than one poll) are boxed, the first poll of an attempt and of a
//! stop happen synchronously, the waits for the token and the dependencies go through the
//! task slot's waker, the span lives in the slot, the policy is shared, and the state is
//! built before the task is spawned.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::context::Name;
use crate::runtime::catch;
use crate::runtime::erased::{self, ErasedService};
use crate::runtime::lifecycle::{self, Lifecycle, Logged, Skip};
use crate::runtime::retry::{AfterExit, AfterFailure, Attempts};
use crate::runtime::shared::{Claim, Ending, Event, GateState, RunGuard, Share, Shared, TaskSlot};
use crate::runtime::shutdown::{Finished, StopContext, StopRequest, StopWait, Stopped};
use crate::runtime::signal::Signal;
use crate::runtime::state::{ServiceState, TransitionToDone, TransitionToEnded, TransitionToReady};
use crate::service::BoxFuture;
use crate::{Error, Policy, Result, RunError};

mod attempt;
mod in_span;
mod restart;
mod start;

use attempt::{Attempt, now};
use in_span::InServiceSpan;

/// A running attempt of `run`, boxed (see the module docs).
pub(crate) type RunFuture<'a> = BoxFuture<'a, Result<()>>;

/// How the first poll of an attempt went.
enum Begun {
    /// It ended already (or `run` panicked before it returned its future).
    Ended(Drive),
    /// It is running, and ready (or its readiness does not depend on it).
    Running,
    /// A `notify_ready` attempt that has not called `ctx.ready()` yet.
    AwaitingReady,
}

/// How one drive of a run future ended.
enum Drive {
    Returned(Result<()>),
    /// The service's stop signal was set: its turn to stop has come.
    Interrupted,
}

/// One service's supervisor, ready to be spawned.
pub(crate) struct Supervisor {
    pub(crate) node: usize,
    pub(crate) policy: Arc<Policy>,
    pub(crate) shared: Arc<Share>,
}

impl Supervisor {
    /// Spawns the supervisor task inside the service's `service` span.
    pub(crate) fn spawn(self) -> JoinHandle<()> {
        let Self {
            node,
            policy,
            shared,
        } = self;
        let node = u32::try_from(node).expect("fewer than 2^32 services");
        let life = Life {
            node,
            run_token: None,
            shared: shared.clone(),
            state: ServiceState::new(),
            slot_released: false,
            attempts: Attempts::new(policy),
        };
        // Always the span wrapper, even when no subscriber wants the span (entering a
        // disabled one is a branch): one task type for every service.
        tokio::spawn(InServiceSpan::new(shared, node, supervise(life)))
    }
}

/// The supervisor task of one service: one type for every service, so compiled once.
/// Its future is what every idle service costs; what is rare (waiting for readiness,
/// waiting to retry, a stop that does not finish at once) is boxed and awaited, and the
/// state is built before the task starts: an async block uses its captures in place,
/// where an `async fn` would hold its arguments twice.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` would store `life` twice (rust-lang/rust#62958)"
)]
fn supervise(mut life: Life) -> impl Future<Output = ()> + Send {
    async move {
        if !life.may_start().await {
            return;
        }
        // Boxed: rare, and the supervisor future of every service would carry it.
        if life.shared.peers().any_of(life.node()) && !Box::pin(life.may_start_after_peers()).await
        {
            return;
        }
        let Some(construct) = life.slot().take_construct() else {
            return;
        };
        let service = match catch::call(|| construct.build()) {
            Ok(service) => service,
            Err(source) => return life.construct_failed(source),
        };
        let stop_timeout = life.attempts.policy.stop_timeout;
        life.slot().constructed(service.clone(), stop_timeout);
        // A block: the run slot borrows the service, which `finish` drops.
        let problems = {
            // The running attempt, kept here for the rest of the task: `stop` drives an
            // interrupted one on. `run`'s future is boxed: inline, a typical one (~160
            // bytes) would push the task cell from 256 to 384 bytes, and the aligned
            // allocation of that cell, made by the threads that spawn the supervisors,
            // costs start-up more than the box costs the worker that polls the attempt.
            // Not pinned in place: a boxed future is `Unpin`, and a pinned local would
            // keep a pointer to it in the task as well.
            let mut run: Option<RunFuture<'_>> = None;
            // The outer loop goes round again only for a restart (`control.rs`).
            loop {
                // The attempt loop lives here, not in a nested future, so that the state
                // of an idle service is just the running future and the wait for its token.
                let interrupted = loop {
                    if life.shared.shutdown_began() {
                        break false;
                    }
                    // Called and first polled in the first poll of `Attempt`. Matched at
                    // once, not bound: a named `Drive` would stay in the task's state
                    // across the waits below (rustc keeps a partly moved local).
                    let result = match Attempt::new(&mut life, &*service, &mut run).await {
                        Drive::Returned(result) => result,
                        Drive::Interrupted => break true,
                    };
                    // Normally empty already; a readiness timeout leaves the attempt to drop.
                    run = None;
                    let Some(delay) = life.judge(result) else {
                        break false;
                    };
                    if !Box::pin(wait(delay, &life.shared, life.token())).await {
                        if life.restart_wanted() {
                            // Restarted while waiting to retry: the fresh attempt starts now.
                            life.emit(&Lifecycle::Restarting {
                                running: false,
                                counts: false,
                            });
                            continue;
                        }
                        break false;
                    }
                };
                if interrupted && !life.turn_to_stop() {
                    // A restart ended the attempt: `stop` as at shutdown, then a fresh one
                    // (or, if shutdown began meanwhile, the wait for this service's turn).
                    Box::pin(life.restart_stop(&*service, Pin::new(&mut run))).await;
                    continue;
                }
                if !life.ran() {
                    break None;
                }
                if !interrupted {
                    run = None;
                    // Until this service's turn to stop, or a restart (through the slot:
                    // a wait on the token would cost every supervisor 72 bytes).
                    poll_fn(|cx| life.poll_interrupted(cx, true)).await;
                    if life.restart_wanted() && life.revive() {
                        continue;
                    }
                    poll_fn(|cx| life.poll_interrupted(cx, false)).await;
                }
                // `stop` is called, and polled once with `run`, in this poll of the task;
                // only a stop that does not finish there waits (boxed) for its deadline.
                // Matched at once, like the attempt's end above.
                let slot = Pin::new(&mut run);
                let wait = match now(|cx| {
                    let (mut stop, stopping) = life.begin_stop(&*service, slot);
                    match stop.poll_first(cx) {
                        Poll::Ready(()) => Ok(life.stopped(stop.first_done(), stopping)),
                        Poll::Pending => {
                            if let Some(stopping) = stopping {
                                stopping.record(life.shared.status(), life.node());
                            }
                            Err(Box::pin(stop.wait()))
                        }
                    }
                })
                .await
                {
                    Ok(problems) => break Some(problems),
                    Err(wait) => wait,
                };
                let outcome = wait.await;
                break Some(life.stopped(outcome, None));
            }
        };
        life.finish(service, problems);
    }
}

impl Life {
    /// The service's turn to stop: calls `stop` (unless another task did because `run`
    /// was blocking its thread), to be polled together with the interrupted `run`; and
    /// `stopping`, logged, for [`stopped`](Self::stopped) to record (with `stopped`, if
    /// the first poll ends the stop) unless another task has said so.
    fn begin_stop<'s, 'r>(
        &self,
        service: &'s dyn ErasedService,
        run: Pin<&'r mut Option<RunFuture<'s>>>,
    ) -> (StopWait<'s, 'r>, Option<Logged>) {
        let claim = self.slot().claim_stop();
        let mut stopping = None;
        if matches!(claim, Claim::Mine) {
            let board = self.shared.status();
            let at = self
                .shared
                .turn_came(self.node())
                .unwrap_or_else(|| board.stamp(tokio::time::Instant::now()));
            // Seen by readers at once, though recorded after the first poll of `stop`,
            // which may block this thread.
            board.stop_began(self.node(), at);
            stopping = Some(lifecycle::log_ahead(Lifecycle::Stopping, at));
        }
        let request = StopRequest {
            service,
            context: self.stop_context(service),
            stop_timeout: self.attempts.policy.stop_timeout,
            window: self.shared.shutdown_window(),
            claim,
        };
        (StopWait::begin(request, run), stopping)
    }

    /// The task is over: drops the service where a panic in its `Drop` is caught (that
    /// is the service's failure too), and reports the task done.
    fn finish(&mut self, service: erased::Shared, problems: Option<Vec<RunError>>) {
        let mut problems = problems.unwrap_or_default();
        // The slot's copy first, so that the last one is dropped here.
        drop(self.slot().finished());
        self.slot_released = true;
        if let Err(source) = catch::call(move || {
            drop(service);
            Ok(())
        }) {
            self.emit(&Lifecycle::DropPanicked(&source));
            problems.push(RunError::Drop {
                service: self.name().to_owned(),
                source,
            });
        }
        self.transition_to_done(problems);
    }
}

/// A supervisor task's state while the service lives. Dropping it marks the task
/// finished, so even an aborted or panicking task releases its dependencies.
pub(crate) struct Life {
    /// Dropped after `Drop::drop` has left the problems, so the coordinator, which waits
    /// for the tracker to empty (when the last supervisor of every share is done), finds
    /// them.
    shared: Arc<Share>,
    /// `u32`, next to `state`: every byte of the task counts.
    node: u32,
    state: ServiceState,
    /// Whether the task has taken the service back from its slot (`finish`).
    slot_released: bool,
    attempts: Attempts,
    /// With restartable services, the token of the current attempt: a child of the
    /// service's own token, which a restart cancels. `None`: the service's own stop
    /// signal, which run contexts read without a token.
    run_token: Option<CancellationToken>,
}

impl Drop for Life {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        if std::thread::panicking() && !self.state.is_done() {
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
    fn node(&self) -> usize {
        self.node as usize
    }

    fn name(&self) -> &str {
        self.shared.plan().name(self.node())
    }

    /// Logs a lifecycle event and records it in the status.
    fn emit(&self, event: &Lifecycle<'_>) {
        lifecycle::emit(self.shared.status(), self.node(), event);
    }

    /// The name for a `Context`: the plan and an index, no copy.
    fn ctx_name(&self) -> Name {
        Name::of(self.shared.plan().names(), self.node())
    }

    /// What a context for `service`'s `stop` is made of, unless it keeps the default
    /// `stop` (not called: no context is made).
    fn stop_context(&self, service: &dyn ErasedService) -> Option<StopContext> {
        service.has_stop().then(|| StopContext {
            name: self.ctx_name(),
            attempt: self.attempts.runs(),
            token: self.shared.stop_token().clone(),
        })
    }

    /// The token of the current attempt; cancelled when the service's turn to stop
    /// comes, or by a restart.
    fn token(&self) -> &CancellationToken {
        self.run_token.as_ref().unwrap_or_else(|| self.walk_token())
    }

    /// The service's own token (made on first use); cancelled when its turn to stop
    /// comes.
    fn walk_token(&self) -> &CancellationToken {
        self.shared.token(self.node())
    }

    fn slot(&self) -> &TaskSlot {
        self.shared.slot(self.node())
    }

    /// The service's stop signal: set when its turn to stop comes.
    fn signal(&self) -> &Signal {
        self.shared.signal(self.node())
    }

    /// Whether the service's turn to stop has come.
    fn turn_to_stop(&self) -> bool {
        self.signal().is_set()
    }

    /// Ready once the service's turn to stop has come or, with `restarts`, the current
    /// attempt was restarted; until then the task of `cx` is woken when it is.
    fn poll_interrupted(&self, cx: &mut std::task::Context<'_>, restarts: bool) -> Poll<()> {
        self.guard().poll_interrupted(cx, restarts)
    }

    /// What every poll of `run` goes through.
    fn guard(&self) -> RunGuard<'_> {
        RunGuard {
            slot: self.slot(),
            signal: self.signal(),
        }
    }

    /// No further run will start: settles the gate (if not ready, dependents give up)
    /// and tells the coordinator, once.
    fn ended(&mut self, ending: Ending) {
        let TransitionToEnded::Ended { was_ready } = self.state.transition_to_ended() else {
            return;
        };
        if !was_ready {
            self.settle(match ending {
                Ending::Failed { .. } => GateState::Failed,
                _ => GateState::Skipped,
            });
        }
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
            self.shared.tell(Event {
                node: self.node(),
                ending,
            });
        }
    }

    fn settle(&self, state: GateState) {
        self.shared.settle_gate(self.node(), state);
    }

    fn transition_to_done(&mut self, problems: Vec<RunError>) {
        self.ended(Ending::Abandoned);
        if self.state.transition_to_done() == TransitionToDone::AlreadyDone {
            return;
        }
        let shared = &self.shared;
        shared.report(problems);
        shared.shared().finished_walk(self.node());
        if !self.slot_released {
            // The service (if the task did not take it already) goes with the slot.
            drop(shared.slot(self.node()).finished());
        }
        // The share, dropped with `Life` (and the span wrapper's), tells the coordinator
        // last.
    }

    fn ran_for(&self) -> Duration {
        self.slot()
            .attempt_started()
            .map_or(Duration::ZERO, |started| started.elapsed())
    }

    fn mark_ready(&mut self) {
        if self.state.transition_to_ready() == TransitionToReady::Ready {
            self.settle(GateState::Ready);
        }
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
            self.emit(&Lifecycle::Skipped(Skip::ShutdownBegan));
            return false;
        }
        true
    }

    /// Judges how an attempt ended: the delay before the next one, or `None` when no
    /// further run will start (and the coordinator has been told).
    fn judge(&mut self, result: Result<()>) -> Option<Duration> {
        let attempt = self.attempts.runs();
        let after_exit = result.is_ok();
        let delay = match result {
            Ok(()) => {
                // A clean return counts as ready: a one-shot job gates its dependents.
                self.mark_ready();
                let jitter = || self.shared.jitter();
                let after = self.attempts.transition_to_exited(jitter);
                let restart = matches!(after, AfterExit::Restart { .. });
                self.emit(&Lifecycle::Exited { attempt, restart });
                match after {
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
                        self.emit(&Lifecycle::AttemptFailed {
                            attempt,
                            error: &error,
                        });
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
        self.emit(&Lifecycle::Retrying {
            attempt: attempt + 1,
            delay,
            after_exit,
        });
        Some(delay)
    }

    /// Logs a final failure; `true` when it is fatal (not an allowed failure).
    fn final_failure(&self, attempts: u32, error: &Error) -> bool {
        let allowed = self.attempts.policy.allowed_failure;
        self.emit(&Lifecycle::Failed {
            attempts,
            error,
            allowed,
        });
        !allowed
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

    /// Judges and logs how the stop went (recording `stopping` first, if it is not yet);
    /// the problems to report.
    fn stopped(&mut self, outcome: Stopped, mut stopping: Option<Logged>) -> Vec<RunError> {
        let mut problems = Vec::new();
        let ended = outcome.ended;
        let timed_out = outcome.timed_out().then(|| outcome.timeout());
        let failed = matches!(outcome.run, Some(Finished::Returned(Err(_))))
            || matches!(outcome.stop, Finished::Returned(Err(_)));
        if failed || timed_out.is_some() {
            // What is recorded next sees the service `stopping`.
            if let Some(stopping) = stopping.take() {
                stopping.record(self.shared.status(), self.node());
            }
        }
        if let Some(Finished::Returned(result)) = outcome.run {
            let attempt = self.attempts.runs();
            match result {
                // A `stopping` service stays so: nothing to record.
                Ok(()) => lifecycle::log_only(&Lifecycle::Exited {
                    attempt,
                    restart: false,
                }),
                Err(error) => match self.attempts.count_failure(self.ran_for()) {
                    // Shutdown overtook the retry, so this failure is not final.
                    AfterFailure::Retry { .. } => {
                        self.emit(&Lifecycle::AttemptFailed {
                            attempt,
                            error: &error,
                        });
                    }
                    AfterFailure::Final => {
                        problems.extend(self.fatal(attempt, error));
                    }
                },
            }
        }
        let mut clean = true;
        if let Finished::Returned(Err(source)) = outcome.stop {
            self.emit(&Lifecycle::StopFailed(&source));
            problems.push(RunError::StopFailed {
                service: self.name().to_owned(),
                source,
            });
            clean = false;
        }
        if let Some(timeout) = timed_out {
            self.emit(&Lifecycle::StopTimedOut(timeout));
            problems.push(RunError::StopTimedOut {
                service: self.name().to_owned(),
                timeout,
            });
            clean = false;
        }
        let stopped = Lifecycle::Stopped { clean };
        let board = self.shared.status();
        let at = Some(board.stamp(ended));
        match stopping {
            Some(stopping) => stopping.record_with(board, self.node(), &stopped, at),
            None => lifecycle::emit_at(board, self.node(), &stopped, at),
        }
        problems
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
        () = shared.shutdown_begins() => false,
        () = token.cancelled() => false,
    }
}

#[cfg(test)]
mod size {
    use super::*;
    use crate::runtime::plan::Plan;
    use crate::runtime::retry::default_jitter;
    use crate::runtime::status::StatusBoard;
    use crate::{Context, Service};

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
        let shared = Arc::new(Shared::new(
            plan,
            events,
            default_jitter(),
            StatusBoard::new(),
        ));
        Life {
            node: 0,
            run_token: None,
            shared: Share::new(&shared),
            state: ServiceState::new(),
            slot_released: false,
            attempts: Attempts::new(Arc::new(Policy::new())),
        }
    }

    fn run_size<S: Service>(service: &S) -> usize {
        std::mem::size_of_val(&Service::run(service, Context::detached("x")))
    }

    /// Every idle service costs one supervisor task, so its future must stay small: at
    /// most 152 bytes keeps tokio's task cell at 256 bytes (header, scheduler, trailer and
    /// the 128-byte alignment take the rest; 153 bytes would make it 384). A regression
    /// here (a big local kept across an await) costs memory and start-up time per
    /// service. One future type serves every service type, and `run`'s future is boxed: a
    /// big one does not enlarge it.
    #[test]
    fn supervisor_future_stays_small() {
        let life = life();
        life.slot().keep_construct(erased::lazy(|| Ok(Big)));
        let task = InServiceSpan::new(life.shared.clone(), life.node, supervise(life));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 152, "the supervisor future grew to {size} bytes");
        // However big a `run` future is, it lives in its box.
        assert!(run_size(&Big) > 4096);
    }
}
