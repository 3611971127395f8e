//! What supervisors and the coordinator share: the [`Shared`] state, the per-service
//! readiness [`Gate`]s that dependents wait on, the stop walk (`shutdown.rs`) that
//! supervisors drive themselves, and the [`Event`]s supervisors send.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::RunError;
use crate::runtime::plan::Plan;
use crate::runtime::retry::JitterSource;
use crate::runtime::shutdown::StopWalk;

/// State every supervisor shares with the coordinator.
pub(crate) struct Shared {
    pub(crate) events: UnboundedSender<Event>,
    pub(crate) plan: Arc<Plan>,
    /// Per service with dependents: its readiness, which they wait for.
    pub(crate) gates: Vec<Option<Gate>>,
    /// Per service: its token, and what still holds its stop back.
    pub(crate) walk: StopWalk,
    /// Per service: its supervisor task, while it runs.
    pub(crate) tasks: Box<[TaskSlot]>,
    /// Cancelled when shutdown begins: no run starts after that.
    pub(crate) shutdown: CancellationToken,
    /// The same news as `shutdown`, for the hot checks: an atomic load instead of the
    /// token's lock, which every supervisor would contend for at start-up.
    pub(crate) shutting_down: AtomicBool,
    /// When shutdown began and when its budget runs out; set before any token is
    /// cancelled.
    pub(crate) shutdown_window: OnceLock<(Instant, Instant)>,
    /// The token of every `stop` context: cancelled when the runtime stops waiting for
    /// all of them (the budget ran out, or `run` returned).
    pub(crate) stop_token: CancellationToken,
    pub(crate) jitter: Mutex<JitterSource>,
    /// What finished supervisors had to report (a failed or late stop, say); the
    /// coordinator collects it when it writes the report.
    pub(crate) problems: Mutex<Vec<RunError>>,
    /// Supervisor tasks not finished yet.
    pub(crate) running: AtomicUsize,
    /// Notified when `running` reaches zero.
    pub(crate) all_finished: Notify,
}

impl Shared {
    /// The state for running `plan`: a gate for every service with dependents, a token
    /// for every service, no supervisor running yet.
    pub(crate) fn new(
        plan: Arc<Plan>,
        events: UnboundedSender<Event>,
        jitter: JitterSource,
    ) -> Self {
        let gates = (0..plan.len())
            .map(|node| (!plan.dependents(node).is_empty()).then(Gate::new))
            .collect();
        Self {
            events,
            walk: StopWalk::new(&plan),
            tasks: (0..plan.len()).map(|_| TaskSlot::default()).collect(),
            plan,
            gates,
            shutdown: CancellationToken::new(),
            shutting_down: AtomicBool::new(false),
            shutdown_window: OnceLock::new(),
            stop_token: CancellationToken::new(),
            jitter: Mutex::new(jitter),
            problems: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            all_finished: Notify::new(),
        }
    }

    /// Shutdown has begun: no run may start any more.
    pub(crate) fn shutdown_began(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Marks the beginning of shutdown for every supervisor.
    pub(crate) fn begin_shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shutdown.cancel();
        // Whoever still waits for a dependency gives up (and reports itself skipped).
        for gate in self.gates.iter().flatten() {
            gate.settle(SKIPPED);
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

/// One supervisor task's abort handle, kept while the task runs so that the coordinator
/// can abort the stragglers when it stops waiting for them. The task clears its slot when
/// it finishes, so its memory is freed then, by the thread that ran it, not all at once
/// by the coordinator at the end.
#[derive(Default)]
pub(crate) struct TaskSlot(Mutex<Task>);

#[derive(Default)]
enum Task {
    #[default]
    Unspawned,
    Running(AbortHandle),
    Finished,
}

impl TaskSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Task> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The task was spawned: keeps its handle, unless it has finished already.
    pub(crate) fn spawned(&self, handle: AbortHandle) {
        let mut task = self.lock();
        if matches!(*task, Task::Unspawned) {
            *task = Task::Running(handle);
        }
    }

    /// The task has finished (called by the task itself).
    pub(crate) fn finished(&self) {
        let handle = std::mem::replace(&mut *self.lock(), Task::Finished);
        drop(handle);
    }

    /// Whether the task was spawned and has not finished.
    pub(crate) fn is_running(&self) -> bool {
        matches!(*self.lock(), Task::Running(_))
    }

    /// Aborts the task if it is still running.
    pub(crate) fn abort(&self) {
        // Outside the lock: the aborted task's state, when dropped, clears this slot.
        let task = std::mem::replace(&mut *self.lock(), Task::Finished);
        if let Task::Running(handle) = task {
            handle.abort();
        }
    }
}

/// What the dependents of one service wait for: it settles once, ready or not.
pub(crate) struct Gate {
    pub(crate) state: AtomicU8,
    pub(crate) settled: CancellationToken,
}

pub(crate) const PENDING: u8 = 0;
pub(crate) const READY: u8 = 1;
pub(crate) const FAILED: u8 = 2;
pub(crate) const SKIPPED: u8 = 3;

impl Gate {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU8::new(PENDING),
            settled: CancellationToken::new(),
        }
    }

    /// Settles the gate as `state`, unless it is settled already.
    pub(crate) fn settle(&self, state: u8) {
        let settled =
            self.state
                .compare_exchange(PENDING, state, Ordering::AcqRel, Ordering::Acquire);
        if settled.is_ok() {
            self.settled.cancel();
        }
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
}
