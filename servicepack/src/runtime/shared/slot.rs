//! One service's task slot: what the runtime knows of its supervisor task from outside
//! it (the handle, the service, who calls `stop`, the waker of its waits, its span), and
//! the guard around every poll of `run`.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Span;

use crate::Result;
use crate::runtime::catch;
use crate::runtime::erased;
use crate::runtime::signal::{self, Signal};

/// One service's supervisor task as others see it: its handle, so that the coordinator can
/// abort the stragglers when it stops waiting for them; the service, once constructed,
/// and who calls its `stop`. The task takes its service back when it finishes (and drops
/// it there), and then parks (`supervisor/in_span.rs`); the handle stays until the run's
/// state is dropped, off the critical path, and aborts the parked task there: its
/// completion (tokio's list of owned tasks) and its memory are dealt with then, not by
/// the worker that is stopping the next service.
pub(crate) struct TaskSlot {
    /// Counts the supervisor's polls of `run`, twice each (odd: inside one; wrapping
    /// keeps the parity).
    pub(super) polls: AtomicU32,
    /// Set when a restart cancels the current attempt's token; cleared when the next
    /// attempt begins.
    restarted: AtomicBool,
    /// Who calls `stop`: [`OPEN`], then [`CLAIMED`] by the supervisor or [`RESCUED`]
    /// (set under the lock, with the rescue stored) by another task. Lock-free for the
    /// supervisor in the common case.
    claim: AtomicU8,
    inner: Mutex<SlotInner>,
    /// The service's `service` span, entered around every poll of its supervisor (here,
    /// not in the task: 40 bytes would take the task cell from 256 to 384 bytes). Made
    /// on first use, by the supervisor's first poll on whichever worker runs it, not for
    /// every service before the first starts; boxed, and `None` when no subscriber wants
    /// it: 16 bytes a service instead of 40.
    span: OnceLock<Option<Box<Span>>>,
}

/// The span of a service no subscriber wants a span for.
static NO_SPAN: Span = Span::none();

#[derive(Default)]
struct SlotInner {
    /// The task's handle (`None` before it is spawned, or once aborted); dropping it
    /// aborts the task, so no parked one outlives the run's state.
    task: Option<AbortOnDropHandle<()>>,
    /// The supervisor, while it waits for its dependencies or watches a running attempt:
    /// woken when a dependency settles or the attempt is interrupted (its stop signal
    /// set, or a restart). Here rather than a wait on a token inside the task, which
    /// would cost every idle supervisor 72 bytes.
    watcher: Option<std::task::Waker>,
    finished: bool,
    /// Set by [`TaskSlot::abort`].
    aborted: bool,
    /// The constructor until the task takes it (kept here, not in the task: every
    /// byte of the task counts), then the service until the task finishes.
    held: Held,
    /// Whether a `Held::Service` is the constructed service (another task may call its
    /// `stop`), not one built ahead ([`erased::Construct::Built`]) that has not started:
    /// a flag beside it, where a variant of its own would take `Held` from 24 bytes to 32.
    constructed: bool,
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
    /// A lazy constructor.
    Construct(erased::Lazy),
    /// The service: built ahead, or constructed (see `SlotInner::constructed`).
    Service(erased::Shared),
}

impl SlotInner {
    /// Keeps `construct` for the task.
    fn keep(&mut self, construct: erased::Construct) {
        self.held = match construct {
            erased::Construct::Lazy(construct) => Held::Construct(construct),
            erased::Construct::Built(service) => Held::Service(service),
        };
        self.constructed = false;
    }

    /// The service, once constructed.
    fn service(&self) -> Option<&erased::Shared> {
        match &self.held {
            Held::Service(service) if self.constructed => Some(service),
            Held::Nothing | Held::Construct(_) | Held::Service(_) => None,
        }
    }
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

/// The span every event of service `name` is logged in, a child of `parent`.
pub(super) fn service_span(parent: &Span, name: &str) -> Span {
    tracing::error_span!(parent: parent, "service", service = %name)
}

impl TaskSlot {
    pub(super) fn new() -> Self {
        Self {
            polls: AtomicU32::new(0),
            restarted: AtomicBool::new(false),
            claim: AtomicU8::new(OPEN),
            inner: Mutex::default(),
            span: OnceLock::new(),
        }
    }

    /// The service's `service` span, made by `make` on first use. While no subscriber
    /// is installed, the span is a disabled one and nothing is kept: one atomic load.
    pub(super) fn span(&self, make: impl FnOnce() -> Span) -> &Span {
        if !tracing::level_enabled!(tracing::Level::ERROR) {
            return &NO_SPAN;
        }
        let span = self.span.get_or_init(|| {
            let span = make();
            (!span.is_disabled()).then(|| Box::new(span))
        });
        span.as_deref().unwrap_or(&NO_SPAN)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns the task (through `spawn`) and keeps its handle, with the constructor
    /// stored before: the task takes it first thing. The lock is not held while
    /// spawning: the new task may be polled on another worker at once, and would wait
    /// for it (in a chain of services, right behind the spawning loop, it did).
    pub(crate) fn spawn(
        &self,
        construct: erased::Construct,
        spawn: impl FnOnce() -> JoinHandle<()>,
    ) {
        self.lock().keep(construct);
        let handle = spawn();
        let mut inner = self.lock();
        if inner.aborted {
            // Aborted while being spawned: `abort` found no handle to abort.
            drop(inner);
            handle.abort();
        } else {
            inner.task = Some(AbortOnDropHandle::new(handle));
        }
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
            inner.aborted = true;
            inner.task.take()
        };
        if let Some(handle) = task {
            handle.abort();
        }
    }

    /// Keeps the constructor until the task takes it.
    #[cfg(test)]
    pub(crate) fn keep_construct(&self, construct: erased::Construct) {
        self.lock().keep(construct);
    }

    /// The constructor, for the task to call.
    pub(crate) fn take_construct(&self) -> Option<erased::Construct> {
        let mut inner = self.lock();
        if inner.constructed {
            return None;
        }
        match std::mem::take(&mut inner.held) {
            Held::Construct(construct) => Some(erased::Construct::Lazy(construct)),
            Held::Service(service) => Some(erased::Construct::Built(service)),
            Held::Nothing => None,
        }
    }

    /// The service is constructed: another task may call its `stop` from now on.
    pub(crate) fn constructed(&self, service: erased::Shared, stop_timeout: Duration) {
        let mut inner = self.lock();
        inner.held = Held::Service(service);
        inner.constructed = true;
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
        self.lock().service().cloned()
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

    /// Whether the service's turn to stop has come (`signal`, its stop signal, is set),
    /// or, with `restarts`, a restart cancelled the current attempt's token.
    fn interrupted(&self, signal: &Signal, restarts: bool) -> bool {
        signal.is_set() || (restarts && self.restarted.load(Ordering::SeqCst))
    }

    /// Ready once the service's turn to stop has come (its stop signal `signal` is set)
    /// or, with `restarts`, the current attempt was restarted; until then, the task of
    /// `cx` is woken when it is.
    pub(crate) fn poll_interrupted(
        &self,
        signal: &Signal,
        cx: &mut std::task::Context<'_>,
        restarts: bool,
    ) -> Poll<()> {
        if self.interrupted(signal, restarts) {
            return Poll::Ready(());
        }
        self.register_watcher(cx);
        // An interruption that took the (empty) watcher before it was stored has set
        // its flag before that: it is seen here.
        if self.interrupted(signal, restarts) {
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
    pub(super) fn wake_watcher(&self) {
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
    pub(super) fn rescue(
        &self,
        spawn: impl FnOnce(erased::Shared, Duration) -> (AbortOnDropHandle<Result<()>>, Instant),
    ) {
        let mut inner = self.lock();
        let Some(service) = inner.service() else {
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
    /// The service's stop signal.
    pub(crate) signal: &'a Signal,
}

impl RunGuard<'_> {
    /// [`TaskSlot::poll_interrupted`] with the service's signal.
    pub(crate) fn poll_interrupted(
        self,
        cx: &mut std::task::Context<'_>,
        restarts: bool,
    ) -> Poll<()> {
        self.slot.poll_interrupted(self.signal, cx, restarts)
    }

    /// Polls the run in `run` unless the service's signal is set (then `Pending`: the
    /// caller watches the signal and stops). The first poll of an attempt always happens:
    /// `run` was called, so it begins before its `stop`. The poll is marked as the
    /// supervisor's (`signal.rs`): a `ctx.cancelled()` inside it reads the flag and
    /// leaves the waking to the slot.
    pub(crate) fn poll(
        self,
        run: std::pin::Pin<&mut Option<crate::runtime::supervisor::RunFuture<'_>>>,
        cx: &mut std::task::Context<'_>,
        first: bool,
    ) -> std::task::Poll<Option<Result<()>>> {
        // The count and the flag's read are sequentially consistent, as the walk's write
        // of the flag and its read of the count are (`Shared::after_cancel`).
        self.slot.count_poll();
        if !first && self.signal.is_set() {
            self.slot.count_poll();
            return std::task::Poll::Pending;
        }
        let poll = signal::polling_run(self.signal, cx, |cx| catch::poll_slot(run, cx));
        self.slot.count_poll();
        poll
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::TaskSlot;
    use crate::runtime::erased;
    use crate::{Context, Result, Service};

    struct Idle;

    impl Service for Idle {
        async fn run(&self, ctx: Context) -> Result<()> {
            ctx.cancelled().await;
            Ok(())
        }
    }

    /// Every service has a slot from the start, so it must stay small: 104 bytes (it was
    /// 128 with the span inline).
    #[test]
    fn slot_stays_small() {
        let size = std::mem::size_of::<TaskSlot>();
        assert!(size <= 104, "the task slot grew to {size} bytes");
    }

    /// With no subscriber the span is not made at all; once one is installed, it is
    /// made on the next use, once. A span the subscriber does not want is not boxed.
    #[test]
    fn the_span_is_made_once_and_kept_only_when_wanted() {
        use tracing_subscriber::layer::SubscriberExt as _;

        let slot = TaskSlot::new();
        let make = || tracing::error_span!("service", service = "x");
        if !tracing::level_enabled!(tracing::Level::ERROR) {
            assert!(
                slot.span(|| unreachable!("made with no subscriber"))
                    .is_disabled()
            );
            assert!(slot.span.get().is_none());
        }
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let first = slot.span(make).id();
            let again = slot.span(|| unreachable!("made twice")).id();
            assert!(first.is_some());
            assert_eq!(first, again);
        });

        let not_services = tracing_subscriber::filter::filter_fn(|meta| meta.name() != "service");
        let filtered = tracing_subscriber::registry().with(not_services);
        tracing::subscriber::with_default(filtered, || {
            let slot = TaskSlot::new();
            assert!(slot.span(make).is_disabled());
            assert!(matches!(slot.span.get(), Some(None)));
        });
    }

    /// The handle is stored after the spawn, outside the lock: an abort that comes in
    /// between (a forced exit while a helper spawns its share) finds no handle, so the
    /// spawn aborts the task itself.
    #[tokio::test]
    async fn a_slot_aborted_while_its_task_is_spawned_aborts_the_task() {
        let slot = TaskSlot::new();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        slot.spawn(erased::lazy(|| Ok(Idle)), || {
            let task = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
            slot.abort();
            task
        });
        // A current-thread runtime: the task has not been polled yet; let it run if it
        // still may.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!ran.load(Ordering::SeqCst), "the aborted task ran");
        assert!(!slot.is_running());
    }

    /// A service built ahead (`ServiceDef::new`) is kept as the service itself, but is
    /// not the constructed service until its task says so: nobody may call its `stop`.
    #[test]
    fn a_service_built_ahead_is_handed_to_the_task_not_to_others() {
        let slot = TaskSlot::new();
        slot.keep_construct(erased::built(Idle));
        assert!(
            slot.service().is_none(),
            "not started: no service for others"
        );
        let Some(erased::Construct::Built(service)) = slot.take_construct() else {
            panic!("the task gets the built service");
        };
        assert!(slot.take_construct().is_none());
        slot.constructed(service, std::time::Duration::from_secs(1));
        assert!(slot.service().is_some());
        assert!(
            slot.take_construct().is_none(),
            "a constructed service is no constructor"
        );
        assert!(slot.finished().is_some());
    }

    #[tokio::test]
    async fn a_spawned_task_is_running_until_it_finishes() {
        let slot = TaskSlot::new();
        slot.spawn(erased::lazy(|| Ok(Idle)), || tokio::spawn(async {}));
        assert!(slot.is_running());
        assert!(
            slot.take_construct().is_some(),
            "the constructor is kept for the task"
        );
        drop(slot.finished());
        assert!(!slot.is_running());
    }
}
