//! What supervisors and the coordinator share: the [`Shared`] state, the per-service
//! readiness [`Gate`]s that dependents wait on, and the [`Event`]s supervisors send.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::RunError;
use crate::plan::Plan;
use crate::retry::JitterSource;

/// State every supervisor shares with the coordinator.
pub(crate) struct Shared {
    pub(crate) events: UnboundedSender<Event>,
    pub(crate) plan: Arc<Plan>,
    /// Per service with dependents: its readiness, which they wait for.
    pub(crate) gates: Vec<Option<Gate>>,
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
    /// Supervisor tasks not finished yet.
    pub(crate) running: AtomicUsize,
    /// Per service: its supervisor task has finished without a `Done` message.
    pub(crate) finished_quietly: Vec<AtomicBool>,
    /// Notified when `running` reaches zero.
    pub(crate) all_finished: Notify,
}

impl Shared {
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
        let mut source = self
            .jitter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        source()
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

/// A message from a supervisor to the coordinator.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) node: usize,
    pub(crate) kind: EventKind,
}

#[derive(Debug)]
pub(crate) enum EventKind {
    /// No further run of the service will start.
    Ended(Ending),
    /// The task is finished (the service stopped, or never ran); what went wrong on the way.
    Done(Vec<RunError>),
}

#[derive(Debug)]
pub(crate) enum Ending {
    /// `run` returned `Ok(())` and is not restarted.
    Clean,
    /// The last attempt failed; `fatal` is the error when the failure is not allowed.
    Failed { fatal: Option<RunError> },
    /// Never started: a dependency failed (or was skipped) before it was ready.
    Skipped,
    /// Shutdown began before the next run.
    Abandoned,
}
