//! Controlling a running [`Runner`](crate::Runner) (SPEC §8): [`Control`] restarts one
//! service, drains, shuts down, and dispatches commands into running services.
//!
//! A restart goes through the service's own supervisor (`supervisor.rs`): with a
//! `Control` taken, every attempt runs under a child of the service's token, which a
//! restart cancels; the supervisor then calls `stop` for that attempt as shutdown would
//! and starts a fresh one. Dispatched commands (`commands.rs`) are tracked here, so that
//! shutdown refuses new ones and waits for those running.

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};

use crate::runtime::commands::Dispatch;
use crate::runtime::shared::Shared;
use crate::runtime::shutdown::ShutdownHandle;
use crate::runtime::status::{Phase, StatusBoard};

/// Controls a running [`Runner`](crate::Runner): restart one service, drain, shut down.
/// Taken from [`Runner::control`](crate::Runner::control) before `run`; cheap to clone,
/// `Send + Sync`. Before `run` has planned the services (and after it returned),
/// [`restart`](Control::restart) answers [`ControlError::NotRunning`].
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
/// use servicepack::{Runner, ServiceDef, State};
///
/// struct Worker;
/// impl Service for Worker {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let runner = Runner::new().service(ServiceDef::new("worker", Worker));
/// let (control, status) = (runner.control(), runner.status());
/// let run = tokio::spawn(runner.run());
/// // `changed()` is taken before each look, so a change in between is not missed.
/// loop {
///     let changed = status.changed();
///     if status.is_ready() {
///         break;
///     }
///     changed.await;
/// }
/// control.restart("worker").unwrap();
/// loop {
///     let changed = status.changed();
///     if status.snapshot().services[0].restarts > 0 {
///         break;
///     }
///     changed.await;
/// }
/// assert_eq!(status.snapshot().services[0].attempt, 2);
/// control.shutdown();
/// assert_eq!(run.await.unwrap().exit_code(), 0);
/// # });
/// ```
#[derive(Clone)]
pub struct Control {
    pub(crate) inner: Arc<ControlInner>,
}

pub(crate) struct ControlInner {
    /// The running services, once `run` has planned them.
    pub(crate) shared: OnceLock<Weak<Shared>>,
    pub(crate) handle: ShutdownHandle,
    pub(crate) board: Arc<StatusBoard>,
    pub(crate) dispatch: Dispatch,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

/// Why [`Control::restart`] did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// `run` has not planned the services yet, or has returned.
    #[error("the app is not running")]
    NotRunning,
    /// No service of that name runs here.
    #[error("no service named {0:?} is enabled here")]
    UnknownService(String),
    /// The app is stopping: nothing starts any more.
    #[error("the app is stopping")]
    Stopping,
    /// The service has not started its first attempt yet (it waits for its
    /// dependencies, or was skipped).
    #[error("{0} has not started yet")]
    NotStarted(String),
}

impl Control {
    pub(crate) fn new(handle: ShutdownHandle, board: Arc<StatusBoard>) -> Self {
        Self {
            inner: Arc::new(ControlInner {
                shared: OnceLock::new(),
                handle,
                board,
                dispatch: Dispatch::new(),
            }),
        }
    }

    /// The running services, and the index of `name` among them.
    pub(crate) fn find(&self, name: &str) -> Result<(Arc<Shared>, usize), ControlError> {
        let shared = self
            .inner
            .shared
            .get()
            .and_then(Weak::upgrade)
            .ok_or(ControlError::NotRunning)?;
        let plan = shared.plan();
        let node = (0..plan.len())
            .find(|&node| plan.name(node) == name)
            .ok_or_else(|| ControlError::UnknownService(name.to_owned()))?;
        Ok((shared, node))
    }

    /// Restarts one service: its current attempt's token is cancelled and its `stop`
    /// called at once, within its `stop_timeout`, then a fresh attempt starts (the
    /// status shows `stopping`, then `starting` or `ready`; `restarts` goes up by one).
    /// Its dependents keep running. A service that had ended (exited, or failed for good
    /// as an allowed failure) starts again. At shutdown, `stop` is called once more,
    /// for the attempt running then. Returns at once: the restart happens in the
    /// service's supervisor.
    ///
    /// # Errors
    ///
    /// [`ControlError`]: the app is not running, no such service, the app is stopping,
    /// or the service has not started yet.
    pub fn restart(&self, service: &str) -> Result<(), ControlError> {
        let (shared, node) = self.find(service)?;
        if shared.shutdown_began() || self.inner.handle.is_requested() {
            return Err(ControlError::Stopping);
        }
        if !shared.slot(node).restart() {
            return Err(ControlError::NotStarted(service.to_owned()));
        }
        Ok(())
    }

    /// Drains: the app's state becomes `draining` (readiness probes answer 503) while
    /// every service keeps running, until shutdown. Idempotent.
    pub fn drain(&self) {
        if self.inner.board.phase() == Phase::Running {
            self.inner.board.set_phase(Phase::Draining);
            tracing::info!("draining: not ready from now on; services keep running");
        }
    }

    /// Begins the graceful shutdown, as the first SIGTERM does (the drain delay, then
    /// the reverse-order stop); the same as [`ShutdownHandle::request`].
    /// Idempotent: a second call does not force the exit (a second signal does).
    pub fn shutdown(&self) {
        if !self.inner.handle.is_requested() {
            self.inner.handle.request();
        }
    }
}
