//! What supervisors and the coordinator share: the [`Shared`] state, the per-service
//! readiness [`Gate`]s that dependents wait on, the stop walk (`shutdown.rs`) that
//! supervisors drive themselves, and the [`Event`]s supervisors send.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tracing::{Instrument as _, Span};

use crate::context::{Extra, Name};
use crate::runtime::catch;
use crate::runtime::lifecycle;
use crate::runtime::peers::Peers;
use crate::runtime::plan::Plan;
use crate::runtime::retry::JitterSource;
use crate::runtime::runner;
use crate::runtime::shutdown::StopWalk;
use crate::runtime::shutdown::stop_deadline;
use crate::runtime::signal::Signal;
use crate::runtime::status::{Stamp, StatusBoard};
use crate::{Context, RunError};

mod slot;

use slot::service_span;
pub(crate) use slot::{Claim, RunGuard, TaskSlot};

/// The run's state as one share of the supervisors holds it: every supervisor spawned by
/// the same task (the coordinator, or one of its helpers: `runner::shares`) holds the
/// same `Share`, and the share holds the tracker's token. A supervisor's clone and drop
/// of it write a count that mostly one worker writes (the one starting, then the one
/// stopping, that share), where every supervisor wrote [`Shared`]'s count twice and the
/// tracker's once, counts that every worker wrote for every service.
pub(crate) struct Share {
    shared: Arc<Shared>,
    /// Dropped with the share's last supervisor (and the task that spawned them): the
    /// tracker empties when every share has.
    _tracked: TaskTrackerToken,
}

impl Share {
    /// A share of `shared` for the supervisors one task spawns.
    pub(crate) fn new(shared: &Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            _tracked: shared.track(),
            shared: Arc::clone(shared),
        })
    }

    /// The state itself, to hand to tasks beyond the share's supervisors.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl std::ops::Deref for Share {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// State every supervisor shares with the coordinator, behind methods: the per-service
/// gates, stop holds, slots and status cells (the stop signals are in the plan's names),
/// the shutdown news, the stop contexts' token, and the tracker of the supervisor tasks.
pub(crate) struct Shared {
    events: UnboundedSender<Event>,
    /// The lifecycle as data, for whoever reads it.
    status: Arc<StatusBoard>,
    plan: Arc<Plan>,
    /// Per service with dependents: its readiness, which they wait for.
    gates: Vec<Option<Gate>>,
    /// Per service: what still holds its stop back.
    walk: StopWalk,
    /// Per service: its supervisor task, while it runs.
    tasks: Box<[TaskSlot]>,
    /// The span current when the run was planned: the parent of every service's span.
    parent_span: Span,
    /// Cancelled when shutdown begins: no run starts after that.
    shutdown: CancellationToken,
    /// The same news as `shutdown`, for the hot checks: an atomic load instead of the
    /// token's lock, which every supervisor would contend for at start-up.
    shutting_down: AtomicBool,
    /// When shutdown began and when its budget runs out; set before any token is
    /// cancelled.
    shutdown_window: OnceLock<(Instant, Instant)>,
    /// When the stop walk began, as the status records it: the moment the turn to stop
    /// came for every service that no other depends on.
    walk_began: OnceLock<Stamp>,
    /// The token of every `stop` context: cancelled when the runtime stops waiting for
    /// all of them (the budget ran out, or `run` returned).
    stop_token: CancellationToken,
    jitter: Mutex<JitterSource>,
    /// What finished supervisors had to report (a failed or late stop, say); the
    /// coordinator collects it when it writes the report.
    problems: Mutex<Vec<RunError>>,
    /// The supervisor tasks not finished yet: each [`Share`] holds a token until its
    /// last supervisor is done.
    tracker: TaskTracker,
    /// The dependencies that run in other processes (SPEC §9.3).
    peers: Peers,
    /// Whether services may be restarted one by one ([`Control`](crate::Control)): then
    /// each attempt runs under a child of the service's token, which a restart cancels.
    restartable: bool,
}

impl Shared {
    /// The dependencies that run in other processes.
    pub(crate) fn peers(&self) -> &Peers {
        &self.peers
    }

    pub(crate) fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    pub(crate) fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// `node`'s readiness gate, if it has dependents.
    pub(crate) fn gate(&self, node: usize) -> Option<&Gate> {
        self.gates[node].as_ref()
    }

    /// The token of `node`'s runs (made on first use); cancelled when its turn to stop
    /// comes.
    pub(crate) fn token(&self, node: usize) -> &CancellationToken {
        self.signal(node).token()
    }

    /// `node`'s stop signal: set when its turn to stop comes.
    pub(crate) fn signal(&self, node: usize) -> &Signal {
        self.plan.names().signal(node)
    }

    pub(crate) fn slot(&self, node: usize) -> &TaskSlot {
        &self.tasks[node]
    }

    /// Service `node`'s `service` span: every event it logs is in it. A child of the span
    /// that was current when the run was planned, whoever makes it first.
    pub(crate) fn span(&self, node: usize) -> &Span {
        self.tasks[node].span(|| service_span(&self.parent_span, self.plan.name(node)))
    }

    /// Whether each attempt runs under a token of its own, for restarts.
    pub(crate) fn restartable(&self) -> bool {
        self.restartable
    }

    /// Makes every service restartable (before any supervisor is spawned).
    pub(crate) fn make_restartable(&mut self) {
        self.restartable = true;
    }

    /// Tells the coordinator (gone only when the run is over: then nobody is left to
    /// tell).
    pub(crate) fn tell(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// When shutdown began and when its budget runs out, once set.
    pub(crate) fn shutdown_window(&self) -> Option<(Instant, Instant)> {
        self.shutdown_window.get().copied()
    }

    /// Sets the shutdown window, before any token is cancelled. Once.
    pub(crate) fn set_shutdown_window(&self, began: Instant, end: Instant) {
        let _ = self.shutdown_window.set((began, end));
    }

    /// Resolves when shutdown begins.
    pub(crate) async fn shutdown_begins(&self) {
        self.shutdown.cancelled().await;
    }

    /// The token of every `stop` context.
    pub(crate) fn stop_token(&self) -> &CancellationToken {
        &self.stop_token
    }

    /// The runtime stops waiting for the stops: their contexts are cancelled.
    pub(crate) fn cancel_stops(&self) {
        self.stop_token.cancel();
    }

    /// A token for supervisor tasks; the run is over when every one is dropped.
    pub(crate) fn track(&self) -> TaskTrackerToken {
        self.tracker.token()
    }

    /// Every supervisor has been spawned (or none will be).
    pub(crate) fn all_spawned(&self) {
        self.tracker.close();
    }

    /// Whether every supervisor task has finished.
    pub(crate) fn all_finished(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Resolves when every supervisor task has finished (after `all_spawned`).
    pub(crate) fn wait_all_finished(&self) -> impl Future<Output = ()> + '_ {
        self.tracker.wait()
    }

    /// Gives up on the services still stopping: no further stop begins, and their tasks
    /// are aborted.
    pub(crate) fn abandon(&self) {
        self.walk.abandon();
        for task in &self.tasks {
            task.abort();
        }
    }

    /// The state for running `plan`: a gate for every service with dependents, no
    /// supervisor running yet.
    pub(crate) fn new(
        plan: Arc<Plan>,
        events: UnboundedSender<Event>,
        jitter: JitterSource,
        status: Arc<StatusBoard>,
    ) -> Self {
        let gates = (0..plan.len())
            .map(|node| (!plan.dependents(node).is_empty()).then(Gate::new))
            .collect();
        Self {
            events,
            status,
            walk: StopWalk::new(&plan),
            tasks: (0..plan.len()).map(|_| TaskSlot::new()).collect(),
            parent_span: Span::current(),
            plan,
            gates,
            shutdown: CancellationToken::new(),
            shutting_down: AtomicBool::new(false),
            shutdown_window: OnceLock::new(),
            walk_began: OnceLock::new(),
            stop_token: CancellationToken::new(),
            jitter: Mutex::new(jitter),
            problems: Mutex::new(Vec::new()),
            tracker: TaskTracker::new(),
            peers: Peers::default(),
            restartable: false,
        }
    }

    /// The same, with these peers.
    pub(crate) fn with_peers(mut self, peers: Peers) -> Self {
        self.peers = peers;
        self
    }

    /// Shutdown has begun: no run may start any more.
    pub(crate) fn shutdown_began(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Shutdown has begun: releases the walk's hold on every service, so those that no
    /// unfinished dependent holds stop now (the window must be set before).
    ///
    /// With many services, one helper task per worker releases a share each
    /// (`runner::shares`), as at start, [`runner::BATCH`] at a time, yielding to its
    /// worker in between: each worker stops the services it woke from its own run queue,
    /// while they are hot in its cache, before it wakes more. One thread's ten thousand
    /// wake-ups left the other worker stealing them from its queue (flat 10,000 stopped in
    /// 1.57x raw tokio's time, then 1.44x with the coordinator and one helper releasing a
    /// share each at once, medians of 36 interleaved runs; in batches, 3.58 ms instead of
    /// 3.99, medians of eight processes).
    pub(crate) fn begin_stop_walk(self: &Arc<Self>) {
        let _ = self.walk_began.set(self.status.stamp(Instant::now()));
        let (first, later) = runner::shares(self.plan.len());
        let mut later = later.peekable();
        if later.peek().is_none() {
            self.walk
                .begin(&self.plan, first, |node| self.after_cancel(node));
            return;
        }
        for nodes in later.chain(std::iter::once(first)) {
            let shared = Arc::clone(self);
            // Until the helper is done, the tracker cannot look empty.
            let tracked = shared.track();
            drop(tokio::spawn(async move {
                let mut from = nodes.start;
                while from < nodes.end {
                    let to = nodes.end.min(from + runner::BATCH);
                    let batch = from..to;
                    shared
                        .walk
                        .begin(&shared.plan, batch, |node| shared.after_cancel(node));
                    from = to;
                    if from < nodes.end {
                        tokio::task::yield_now().await;
                    }
                }
                drop(tracked);
            }));
        }
    }

    /// When `node`'s turn to stop came, if that was when the walk began: for a service
    /// no other depends on, whose `stopping` is then recorded without a clock reading of
    /// its own (ten thousand of them stop at once). `None` for the others, which the walk
    /// reaches later.
    pub(crate) fn turn_came(&self, node: usize) -> Option<Stamp> {
        if self.plan.dependents(node).is_empty() {
            self.walk_began.get().copied()
        } else {
            None
        }
    }

    /// `node`'s supervisor has finished: its dependencies may stop once nothing else
    /// holds them.
    pub(crate) fn finished_walk(self: &Arc<Self>, node: usize) {
        self.walk
            .finished(&self.plan, node, |dep| self.after_cancel(dep));
    }

    /// `node`'s turn to stop has come: sets its signal. Its supervisor calls `stop` when
    /// it sees that, unless it is inside a poll of `run`, which may be blocking its
    /// thread: then a watcher task checks again after [`RESCUE_GRACE`], and if the
    /// supervisor is still in that same poll, calls `stop` on a task of its own (SPEC
    /// §4.7).
    fn after_cancel(self: &Arc<Self>, node: usize) {
        let slot = &self.tasks[node];
        // The signal's flag is set before its token is cancelled (if it has one): a `run`
        // that returns because it saw its token cancelled is seen as interrupted, not as
        // having exited by itself. The flag's write and the poll count's read below are
        // sequentially consistent, as are the supervisor's count and its read of the
        // flag in `RunGuard::poll` (one total order for the four): either the supervisor
        // sees the flag before it polls `run`, or this sees it polling.
        self.signal(node).set();
        slot.wake_watcher();
        let polls = self.tasks[node].polls.load(Ordering::SeqCst);
        if polls.is_multiple_of(2) {
            return;
        }
        let shared = Arc::clone(self);
        drop(tokio::spawn(async move {
            let mut seen = polls;
            loop {
                tokio::time::sleep(RESCUE_GRACE).await;
                let now = shared.tasks[node].polls.load(Ordering::SeqCst);
                if now.is_multiple_of(2) {
                    // Out of the poll: the supervisor sees its token and stops.
                    return;
                }
                if now == seen {
                    return shared.rescue(node);
                }
                seen = now;
            }
        }));
    }

    /// Calls `node`'s `stop` on a task of its own, unless its supervisor got there first.
    fn rescue(&self, node: usize) {
        self.tasks[node].rescue(|service, stop_timeout| {
            let span = self.span(node).clone();
            span.in_scope(|| lifecycle::emit_rescue_stopping(&self.status, node));
            let deadline = stop_deadline(stop_timeout, self.shutdown_window.get().copied()).0;
            let ctx = Context::new(
                Name::of(self.plan.names(), node),
                self.status.attempt(node),
                self.stop_token.clone(),
                Some(Extra::deadline(Some(deadline))),
            );
            let stop = async move {
                // `stop` of a hand-written impl may panic before it returns its future.
                match catch::call(|| Ok(service.stop(ctx))) {
                    Ok(stop) => {
                        let mut stop = std::pin::pin!(Some(stop));
                        catch::drive(stop.as_mut()).await
                    }
                    Err(error) => Err(error),
                }
            };
            (
                AbortOnDropHandle::new(tokio::spawn(stop.instrument(span))),
                deadline,
            )
        });
    }

    /// Marks the beginning of shutdown for every supervisor.
    pub(crate) fn begin_shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shutdown.cancel();
        // Whoever still waits for a dependency gives up (and reports itself skipped).
        for node in 0..self.gates.len() {
            self.settle_gate(node, GateState::Skipped);
        }
    }

    /// Settles `node`'s gate as `state` (unless it has settled already) and wakes the
    /// dependents waiting on it.
    pub(crate) fn settle_gate(&self, node: usize, state: GateState) {
        if let Some(gate) = self.gate(node)
            && gate.settle(state)
        {
            for &dependent in self.plan.dependents(node) {
                self.tasks[dependent].wake_watcher();
            }
        }
    }

    pub(crate) fn jitter(&self) -> f64 {
        let mut source = self.jitter.lock().unwrap_or_else(PoisonError::into_inner);
        source()
    }

    /// Keeps what a finished supervisor has to report, for the coordinator.
    pub(crate) fn report(&self, problems: Vec<RunError>) {
        if !problems.is_empty() {
            let mut kept = self.problems.lock().unwrap_or_else(PoisonError::into_inner);
            kept.extend(problems);
        }
    }

    /// What finished supervisors have reported so far.
    pub(crate) fn take_problems(&self) -> Vec<RunError> {
        let mut kept = self.problems.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *kept)
    }
}

/// How long a supervisor may stay inside one poll of `run` after its token was cancelled
/// before `stop` is called from another task: long enough that a `run` which merely
/// happens to be running is not overtaken, short next to any stop deadline.
pub(crate) const RESCUE_GRACE: Duration = Duration::from_millis(20);

/// What the dependents of one service wait for: it settles once, ready or not. A
/// dependent waits through its task slot's waker ([`Shared::settle_gate`] wakes them),
/// so a gate is one byte.
pub(crate) struct Gate {
    state: AtomicU8,
}

/// How a [`Gate`] settled (or not yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum GateState {
    Pending,
    /// The service is ready (or returned `Ok(())`): dependents may start.
    Ready,
    /// The service failed for good before it was ready.
    Failed,
    /// The service never started, or ended without being ready.
    Skipped,
}

impl GateState {
    const fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Ready,
            2 => Self::Failed,
            3 => Self::Skipped,
            _ => Self::Pending,
        }
    }
}

impl Gate {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU8::new(GateState::Pending as u8),
        }
    }

    /// Settles the gate as `state`, unless it is settled already; whether it did.
    fn settle(&self, state: GateState) -> bool {
        self.state
            .compare_exchange(
                GateState::Pending as u8,
                state as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// How the gate settled, or [`GateState::Pending`].
    pub(crate) fn state(&self) -> GateState {
        GateState::from_u8(self.state.load(Ordering::Acquire))
    }
}

/// A message from a supervisor to the coordinator: the service ended (no further run
/// of it will start). Sent only while the coordinator counts what is left running, that
/// is before shutdown, and for a fatal failure at any time; finishing (stopped, or never
/// ran) needs no message: the stop walk and the `running` counter carry that news.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) node: usize,
    pub(crate) ending: Ending,
}

#[derive(Debug)]
pub(crate) enum Ending {
    /// `run` returned `Ok(())` and is not restarted.
    Clean,
    /// The last attempt failed; `fatal` is the error when the failure is not allowed.
    Failed { fatal: Option<RunError> },
    /// Never started: a dependency failed (or was skipped) before it was ready.
    Skipped,
    /// Shutdown began before the next run (or the supervisor itself failed).
    Abandoned,
    /// Not an ending: a restart ([`Control::restart`](crate::Control::restart)) runs
    /// the ended service again, so it counts as running once more.
    Revived,
}
