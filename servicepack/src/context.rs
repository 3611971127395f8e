//! What a running service sees of the runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::runtime::plan::Plan;

/// A service's handle on the runtime: its name, the attempt number, the shutdown signal,
/// and (for `notify_ready` services) the way to say "ready".
///
/// `Context` is cheap to clone and `Send + Sync`; every method takes `&self`.
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
///
/// #[derive(Default)]
/// struct Worker;
///
/// impl Service for Worker {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         tracing::info!(attempt = ctx.attempt(), "{} starting", ctx.name());
///         ctx.ready();
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let ctx = Context::detached("worker");
/// ctx.token().cancel();
/// Worker.run(ctx).await.unwrap();
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    // Plain fields, no `Arc` of its own: the runtime makes one per attempt, and a clone
    // is a few reference-count increments.
    name: Name,
    token: CancellationToken,
    /// The readiness latch of a `notify_ready` attempt; `None` when readiness does not
    /// depend on the service (it is ready as soon as `run` is called, or this is `stop`).
    ready: Option<Arc<ReadyLatch>>,
    deadline: Option<Instant>,
    attempt: u32,
}

/// The one-shot "ready" flag of a `notify_ready` attempt: an atomic to check, and the
/// waker of the supervisor waiting on it (a waker, not a `Notify`: the supervisor polls
/// it by hand, next to the attempt and the readiness timeout).
#[derive(Debug, Default)]
pub(crate) struct ReadyLatch {
    set: AtomicBool,
    waiter: Mutex<Option<Waker>>,
}

impl ReadyLatch {
    fn set(&self) {
        if !self.set.swap(true, Ordering::AcqRel) {
            let waiter = self
                .waiter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(waiter) = waiter {
                waiter.wake();
            }
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Ready once the flag is set; until then the task of `cx` is woken when it is.
    pub(crate) fn poll_set(&self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.is_set() {
            return Poll::Ready(());
        }
        {
            let mut waiter = self.waiter.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *waiter {
                Some(waiter) if waiter.will_wake(cx.waker()) => {}
                waiter => *waiter = Some(cx.waker().clone()),
            }
        }
        // A `set` that took the (empty) waiter before it was stored set the flag first.
        if self.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A service's name: an index into the runtime's plan (no copy of the text per service),
/// or its own text for a detached context.
#[derive(Clone, Debug)]
pub(crate) enum Name {
    Plan { plan: Arc<Plan>, node: usize },
    Own(Arc<str>),
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self::Own(name.into())
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self::Own(name.into())
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Self {
        Self::Own(name)
    }
}

impl Context {
    /// A context attached to no runtime, for calling a service by hand (in a test, say).
    /// Cancel it with `ctx.token().cancel()`.
    #[must_use]
    pub fn detached(name: impl Into<Arc<str>>) -> Self {
        Self::new(
            Name::Own(name.into()),
            1,
            CancellationToken::new(),
            None,
            None,
        )
    }

    /// The runtime's constructor: `ready` is the attempt's readiness latch (for
    /// `notify_ready` services), `deadline` is set for `stop`.
    pub(crate) fn new(
        name: Name,
        attempt: u32,
        token: CancellationToken,
        ready: Option<Arc<ReadyLatch>>,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            name,
            token,
            ready,
            deadline,
            attempt,
        }
    }

    /// Resolves when the service should shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future and calling `cancelled` again loses nothing.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Whether shutdown has been requested.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The cancellation token behind [`Context::cancelled`] (a clone: cheap, and cancelled
    /// together with the original), to hand to libraries or move into spawned tasks.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Tells the runtime that this service is ready: its dependents may start. Calling it
    /// again does nothing. Services without `notify_ready` are ready as soon as `run` is
    /// called, so for them this changes nothing.
    pub fn ready(&self) {
        if let Some(ready) = &self.ready {
            ready.set();
        }
    }

    /// The service name, as given by `#[service(name = ...)]` or derived from the type.
    #[must_use]
    pub fn name(&self) -> &str {
        match &self.name {
            Name::Plan { plan, node } => plan.name(*node),
            Name::Own(name) => name,
        }
    }

    /// The run number, starting at 1; retries count up from there. In `stop` and in a
    /// command it is the number of the last run (or 1).
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// In `stop`: when the runtime stops waiting for this service. `None` in `run`.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}
