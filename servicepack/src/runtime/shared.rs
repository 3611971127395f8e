//! What supervisors and the coordinator share: the [`Shared`] state, the per-service
//! readiness [`Gate`]s that dependents wait on, the stop walk (`shutdown.rs`) that
//! supervisors drive themselves, and the [`Event`]s supervisors send.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tracing::{Instrument as _, Span};

use crate::context::{Extra, Name};
use crate::runtime::catch;
use crate::runtime::erased;
use crate::runtime::lifecycle::{self, Lifecycle};
use crate::runtime::peers::Peers;
use crate::runtime::plan::Plan;
use crate::runtime::retry::JitterSource;
use crate::runtime::shutdown::StopWalk;
use crate::runtime::shutdown::stop_deadline;
use crate::runtime::status::StatusBoard;
use crate::{Context, Result, RunError};

/// State every supervisor shares with the coordinator, behind methods: the per-service
/// gates, tokens, slots and status cells, the shutdown news, the stop contexts' token,
/// and the tracker of the supervisor tasks.
pub(crate) struct Shared {
    events: UnboundedSender<Event>,
    /// The lifecycle as data, for whoever reads it.
    status: Arc<StatusBoard>,
    plan: Arc<Plan>,
    /// Per service with dependents: its readiness, which they wait for.
    gates: Vec<Option<Gate>>,
    /// Per service: its token, and what still holds its stop back.
    walk: StopWalk,
    /// Per service: its supervisor task, while it runs.
    tasks: Box<[TaskSlot]>,
    /// Cancelled when shutdown begins: no run starts after that.
    shutdown: CancellationToken,
    /// The same news as `shutdown`, for the hot checks: an atomic load instead of the
    /// token's lock, which every supervisor would contend for at start-up.
    shutting_down: AtomicBool,
    /// When shutdown began and when its budget runs out; set before any token is
    /// cancelled.
    shutdown_window: OnceLock<(Instant, Instant)>,
    /// The token of every `stop` context: cancelled when the runtime stops waiting for
    /// all of them (the budget ran out, or `run` returned).
    stop_token: CancellationToken,
    jitter: Mutex<JitterSource>,
    /// What finished supervisors had to report (a failed or late stop, say); the
    /// coordinator collects it when it writes the report.
    problems: Mutex<Vec<RunError>>,
    /// The supervisor tasks not finished yet: each holds a token until it is done.
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

    /// The token of `node`'s runs; cancelled when its turn to stop comes.
    pub(crate) fn token(&self, node: usize) -> &CancellationToken {
        self.walk.token(node)
    }

    pub(crate) fn slot(&self, node: usize) -> &TaskSlot {
        &self.tasks[node]
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

    /// A token for one supervisor task; the run is over when every one is dropped.
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

    /// The state for running `plan`: a gate for every service with dependents, a token
    /// for every service, no supervisor running yet.
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
            tasks: (0..plan.len())
                .map(|node| TaskSlot::new(service_span(plan.name(node))))
                .collect(),
            plan,
            gates,
            shutdown: CancellationToken::new(),
            shutting_down: AtomicBool::new(false),
            shutdown_window: OnceLock::new(),
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
    pub(crate) fn begin_stop_walk(self: &Arc<Self>) {
        self.walk.begin(&self.plan, |node| self.after_cancel(node));
    }

    /// `node`'s supervisor has finished: its dependencies may stop once nothing else
    /// holds them.
    pub(crate) fn finished_walk(self: &Arc<Self>, node: usize) {
        self.walk
            .finished(&self.plan, node, |dep| self.after_cancel(dep));
    }

    /// `node`'s turn to stop has come: cancels its token. Its supervisor calls `stop` when
    /// it sees that, unless it is inside a poll of `run`, which may be blocking its
    /// thread: then a watcher task checks again after [`RESCUE_GRACE`], and if the
    /// supervisor is still in that same poll, calls `stop` on a task of its own (SPEC
    /// §4.7).
    fn after_cancel(self: &Arc<Self>, node: usize) {
        let slot = &self.tasks[node];
        // The flag before the token: a `run` that returns because it saw its token
        // cancelled is seen as interrupted, not as having exited by itself.
        slot.cancelled.store(true, Ordering::SeqCst);
        // Pairs with the fence in `RunGuard::poll`: either the supervisor sees the
        // cancellation before it polls `run`, or this sees it polling.
        fence(Ordering::SeqCst);
        self.walk.token(node).cancel();
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
            let span = self.tasks[node].span().clone();
            span.in_scope(|| lifecycle::emit(&self.status, node, &Lifecycle::Stopping));
            let deadline = stop_deadline(stop_timeout, self.shutdown_window.get().copied()).0;
            let ctx = Context::new(
                Name::of(self.plan.names(), node),
                self.status.attempt(node),
                self.stop_token.clone(),
                Extra::deadline(Some(deadline)),
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

/// One service's supervisor task as others see it: its handle, so that the coordinator can
/// abort the stragglers when it stops waiting for them; the service, once constructed,
/// and who calls its `stop`. The task takes its service back when it finishes (and drops
/// it there); the handle stays until the run's state is dropped, off the critical path,
/// so a finished task's memory is freed there too, not by the worker that is stopping
/// the next service.
pub(crate) struct TaskSlot {
    /// Counts the supervisor's polls of `run`, twice each (odd: inside one; wrapping
    /// keeps the parity).
    polls: AtomicU32,
    /// Set when the service's token is cancelled (the token's own check takes a lock).
    cancelled: AtomicBool,
    /// Set when a restart cancels the current attempt's token; cleared when the next
    /// attempt begins.
    restarted: AtomicBool,
    /// Who calls `stop`: [`OPEN`], then [`CLAIMED`] by the supervisor or [`RESCUED`]
    /// (set under the lock, with the rescue stored) by another task. Lock-free for the
    /// supervisor in the common case.
    claim: AtomicU8,
    inner: Mutex<SlotInner>,
    /// The service's `service` span, entered around every poll of its supervisor (here,
    /// not in the task: 40 bytes would take the task cell from 256 to 384 bytes).
    span: Span,
}

#[derive(Default)]
struct SlotInner {
    /// The task's handle (`None` before it is spawned, or once aborted).
    task: Option<JoinHandle<()>>,
    /// The supervisor, while it waits for its dependencies or watches a running attempt:
    /// woken when a dependency settles or the attempt is interrupted (its token
    /// cancelled). Here rather than a wait on a token inside the task, which would cost
    /// every idle supervisor 72 bytes.
    watcher: Option<std::task::Waker>,
    finished: bool,
    /// The constructor until the task takes it (kept here, not in the task: every
    /// byte of the task counts), then the service until the task finishes.
    held: Held,
    /// The service's `stop_timeout` in nanoseconds, for a `stop` called from elsewhere.
    stop_timeout: u64,
    /// What only some services need, boxed: 8 bytes for every other service.
    cold: Option<Box<ColdSlot>>,
}

/// The rarely used part of a [`SlotInner`].
#[derive(Default)]
struct ColdSlot {
    /// When the current (or last) attempt started (only kept with `retry_reset`).
    attempt_started: Option<Instant>,
    /// A `stop` called from another task, and its deadline.
    rescued: Option<(AbortOnDropHandle<Result<()>>, Instant)>,
    /// The token of the current attempt, when services are restartable: a restart
    /// cancels it.
    restart: Option<CancellationToken>,
}

impl SlotInner {
    fn cold(&mut self) -> &mut ColdSlot {
        self.cold.get_or_insert_default()
    }
}

#[derive(Default)]
enum Held {
    #[default]
    Nothing,
    Construct(erased::Construct),
    Service(erased::Shared),
}

const OPEN: u8 = 0;
const CLAIMED: u8 = 1;
const RESCUED: u8 = 2;

/// How the supervisor's stop goes: it calls `stop` itself, or another task did.
pub(crate) enum Claim {
    Mine,
    /// `stop` runs on this task, against this deadline.
    Rescued(AbortOnDropHandle<Result<()>>, Instant),
}

/// The span every event of service `name` is logged in.
fn service_span(name: &str) -> Span {
    tracing::error_span!("service", service = %name)
}

impl TaskSlot {
    fn new(span: Span) -> Self {
        Self {
            polls: AtomicU32::new(0),
            cancelled: AtomicBool::new(false),
            restarted: AtomicBool::new(false),
            claim: AtomicU8::new(OPEN),
            inner: Mutex::default(),
            span,
        }
    }

    /// The service's `service` span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns the task (through `spawn`), keeping the constructor for it and its handle,
    /// under one lock: the task, which takes the constructor first thing, waits for it.
    pub(crate) fn spawn(
        &self,
        construct: erased::Construct,
        spawn: impl FnOnce() -> JoinHandle<()>,
    ) {
        let mut inner = self.lock();
        inner.held = Held::Construct(construct);
        inner.task = Some(spawn());
    }

    /// The task has finished (called by the task itself). Returns the service, so the
    /// task drops it where a panic in its `Drop` is caught.
    pub(crate) fn finished(&self) -> Option<erased::Shared> {
        let mut inner = self.lock();
        inner.finished = true;
        let held = std::mem::take(&mut inner.held);
        drop(inner);
        match held {
            Held::Service(service) => Some(service),
            Held::Nothing | Held::Construct(_) => None,
        }
    }

    /// Whether the task was spawned and has not finished.
    pub(crate) fn is_running(&self) -> bool {
        let inner = self.lock();
        inner.task.is_some() && !inner.finished
    }

    /// Aborts the task if it is still running.
    pub(crate) fn abort(&self) {
        // Outside the lock: the aborted task's state, when dropped, clears this slot.
        let task = {
            let mut inner = self.lock();
            inner.finished = true;
            inner.task.take()
        };
        if let Some(handle) = task {
            handle.abort();
        }
    }

    /// Keeps the constructor until the task takes it.
    #[cfg(test)]
    pub(crate) fn keep_construct(&self, construct: erased::Construct) {
        self.lock().held = Held::Construct(construct);
    }

    /// The constructor, for the task to call.
    pub(crate) fn take_construct(&self) -> Option<erased::Construct> {
        match std::mem::take(&mut self.lock().held) {
            Held::Construct(construct) => Some(construct),
            Held::Nothing | Held::Service(_) => None,
        }
    }

    /// The service is constructed: another task may call its `stop` from now on.
    pub(crate) fn constructed(&self, service: erased::Shared, stop_timeout: Duration) {
        let mut inner = self.lock();
        inner.held = Held::Service(service);
        inner.stop_timeout = u64::try_from(stop_timeout.as_nanos()).unwrap_or(u64::MAX);
    }

    /// An attempt starts now (kept only with `retry_reset`).
    pub(crate) fn set_attempt_started(&self, at: Instant) {
        self.lock().cold().attempt_started = Some(at);
    }

    /// When the current (or last) attempt started, with `retry_reset`.
    pub(crate) fn attempt_started(&self) -> Option<Instant> {
        self.lock()
            .cold
            .as_ref()
            .and_then(|cold| cold.attempt_started)
    }

    /// The service, once constructed and until its task finishes.
    #[cfg_attr(
        not(feature = "ops"),
        allow(dead_code, reason = "only the ops endpoint dispatches commands")
    )]
    pub(crate) fn service(&self) -> Option<erased::Shared> {
        match &self.lock().held {
            Held::Service(service) => Some(service.clone()),
            Held::Nothing | Held::Construct(_) => None,
        }
    }

    /// Keeps the token of the attempt that begins, for [`TaskSlot::restart`].
    pub(crate) fn attempt_began(&self, token: CancellationToken) {
        let mut inner = self.lock();
        inner.cold().restart = Some(token);
        self.restarted.store(false, Ordering::SeqCst);
    }

    /// Asks the supervisor for a fresh attempt: cancels the current attempt's token.
    /// `false` when no attempt has begun yet (or the task has finished).
    pub(crate) fn restart(&self) -> bool {
        let mut inner = self.lock();
        let restart = inner.cold.as_ref().and_then(|cold| cold.restart.as_ref());
        match (restart, inner.finished) {
            (Some(token), false) => {
                // The flag first, as for the turn to stop (`Shared::after_cancel`).
                self.restarted.store(true, Ordering::SeqCst);
                token.cancel();
                if let Some(watcher) = inner.watcher.take() {
                    drop(inner);
                    watcher.wake();
                }
                true
            }
            _ => false,
        }
    }

    /// Whether the service's turn to stop has come (its token is cancelled, or about to
    /// be): an atomic read, where the token's own check takes a lock.
    pub(crate) fn turn_to_stop(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Whether the service's token was cancelled (its turn to stop), or, with
    /// `restarts`, a restart cancelled the current attempt's.
    fn interrupted(&self, restarts: bool) -> bool {
        self.cancelled.load(Ordering::SeqCst) || (restarts && self.restarted.load(Ordering::SeqCst))
    }

    /// Ready once the service's turn to stop has come (or, with `restarts`, the current
    /// attempt was restarted); until then, the task of `cx` is woken when it is.
    pub(crate) fn poll_interrupted(
        &self,
        cx: &mut std::task::Context<'_>,
        restarts: bool,
    ) -> Poll<()> {
        if self.interrupted(restarts) {
            return Poll::Ready(());
        }
        self.register_watcher(cx);
        // An interruption that took the (empty) watcher before it was stored has set
        // its flag before that: it is seen here.
        if self.interrupted(restarts) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Has the task of `cx` woken at the next interruption or settled dependency (whoever
    /// wakes it has changed what it checks first; it checks again after this).
    pub(crate) fn register_watcher(&self, cx: &mut std::task::Context<'_>) {
        let mut inner = self.lock();
        match &mut inner.watcher {
            Some(watcher) if watcher.will_wake(cx.waker()) => {}
            watcher => *watcher = Some(cx.waker().clone()),
        }
    }

    /// Wakes the supervisor if it waits (after what it waits for has changed).
    fn wake_watcher(&self) {
        let watcher = self.lock().watcher.take();
        if let Some(watcher) = watcher {
            watcher.wake();
        }
    }

    /// The supervisor is about to poll `run`, or has polled it.
    pub(crate) fn count_poll(&self) {
        self.polls.fetch_add(1, Ordering::SeqCst);
    }

    /// The supervisor's turn to stop: it calls `stop`, unless another task already did.
    pub(crate) fn claim_stop(&self) -> Claim {
        if self.claim.swap(CLAIMED, Ordering::AcqRel) == OPEN {
            return Claim::Mine;
        }
        // Rescued: the rescue stored its task under the lock before it let go.
        match self.lock().cold().rescued.take() {
            Some((handle, deadline)) => Claim::Rescued(handle, deadline),
            None => Claim::Mine,
        }
    }

    /// Calls `stop` through `spawn` (given the service and its `stop_timeout`), unless
    /// the supervisor claimed it first.
    fn rescue(
        &self,
        spawn: impl FnOnce(erased::Shared, Duration) -> (AbortOnDropHandle<Result<()>>, Instant),
    ) {
        let mut inner = self.lock();
        let Held::Service(service) = &inner.held else {
            return;
        };
        if self
            .claim
            .compare_exchange(OPEN, RESCUED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let service = service.clone();
        let stop_timeout = Duration::from_nanos(inner.stop_timeout);
        inner.cold().rescued = Some(spawn(service, stop_timeout));
    }
}

/// What the supervisor holds around every poll of `run`, so that a `run` that blocks its
/// thread does not keep `stop` from being called.
#[derive(Clone, Copy)]
pub(crate) struct RunGuard<'a> {
    pub(crate) slot: &'a TaskSlot,
}

impl RunGuard<'_> {
    /// Polls the run in `run` unless the token is cancelled (then `Pending`: the caller
    /// watches the token and stops). The first poll of an attempt always happens: `run`
    /// was called, so it begins before its `stop`.
    pub(crate) fn poll(
        self,
        run: std::pin::Pin<&mut Option<crate::runtime::supervisor::RunFuture<'_>>>,
        cx: &mut std::task::Context<'_>,
        first: bool,
    ) -> std::task::Poll<Option<Result<()>>> {
        self.slot.count_poll();
        // Pairs with the fence in `Shared::after_cancel`.
        fence(Ordering::SeqCst);
        if !first && self.slot.cancelled.load(Ordering::SeqCst) {
            self.slot.count_poll();
            return std::task::Poll::Pending;
        }
        let poll = catch::poll_slot(run, cx);
        self.slot.count_poll();
        poll
    }
}

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
