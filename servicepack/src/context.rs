//! What a running service sees of the runtime.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::runtime::plan::{Names, Roster};
use crate::runtime::signal::{self, Signal};

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
    // is a few reference-count increments. 32 bytes: a `run` future holds its context
    // twice (rustc keeps an `async fn`'s arguments as well as their moved copies), so
    // every byte here is two in every service's boxed `run`.
    /// The names of the run's services (one of its own for a detached context)…
    names: Names,
    /// …and which one is this service's.
    node: u32,
    attempt: u32,
    /// The token it is cancelled with; `None`: its service's own stop signal, in `names`
    /// (most run contexts: no token is made unless one is asked for).
    token: Option<CancellationToken>,
    /// `None` in a run context; in any other (a `stop`'s, a command's) what it carries:
    /// its deadline, if any.
    extra: Option<Arc<Extra>>,
}

/// What contexts other than run contexts carry, behind one pointer.
#[derive(Debug)]
pub(crate) struct Extra {
    /// When the runtime stops waiting for a `stop` (or a command, or a post-stop hook).
    deadline: Option<Instant>,
}

impl Extra {
    /// What a context that is not a run context carries: its deadline, if any.
    pub(crate) fn deadline(deadline: Option<Instant>) -> Arc<Self> {
        Arc::new(Self { deadline })
    }
}

/// The "ready" of a `notify_ready` service: the last attempt that said so, and the waker
/// of the supervisor waiting for it (a waker, not a `Notify`: the supervisor polls it by
/// hand, next to the attempt and the readiness timeout). One per service, kept with the
/// names of the run ([`Roster::latch`]) that every run context reaches anyway: no
/// allocation per attempt, and a context of an earlier attempt says nothing about a
/// later one.
#[derive(Debug, Default)]
pub(crate) struct ReadyLatch {
    ready: AtomicU32,
    waiter: Mutex<Option<Waker>>,
}

impl ReadyLatch {
    /// Attempt `attempt` is ready.
    fn set(&self, attempt: u32) {
        if self.ready.fetch_max(attempt, Ordering::AcqRel) < attempt {
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

    /// Whether attempt `attempt` said it is ready.
    pub(crate) fn is_set(&self, attempt: u32) -> bool {
        self.ready.load(Ordering::Acquire) >= attempt
    }

    /// Ready once attempt `attempt` is; until then the task of `cx` is woken when it is.
    pub(crate) fn poll_set(&self, cx: &mut std::task::Context<'_>, attempt: u32) -> Poll<()> {
        if self.is_set(attempt) {
            return Poll::Ready(());
        }
        {
            let mut waiter = self.waiter.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *waiter {
                Some(waiter) if waiter.will_wake(cx.waker()) => {}
                waiter => *waiter = Some(cx.waker().clone()),
            }
        }
        // A `set` that took the (empty) waiter before it was stored set the value first.
        if self.is_set(attempt) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A service's name: an index into the run's names (no copy of the text per service),
/// or a list of its own for a detached context.
#[derive(Clone, Debug)]
pub(crate) struct Name {
    names: Names,
    node: u32,
}

impl Name {
    /// Service `node` of `names`.
    pub(crate) fn of(names: &Names, node: usize) -> Self {
        Self {
            names: names.clone(),
            node: u32::try_from(node).expect("fewer than 2^32 services"),
        }
    }

    fn own(name: Cow<'static, str>) -> Self {
        Self {
            names: Arc::new(Roster::unsignalled(vec![name])),
            node: 0,
        }
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self::own(Cow::Owned(name.to_owned()))
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self::own(Cow::Owned(name))
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Self {
        Self::own(Cow::Owned(name.as_ref().to_owned()))
    }
}

impl Context {
    /// A context attached to no runtime, for calling a service by hand (in a test, say).
    /// Cancel it with `ctx.token().cancel()`.
    #[must_use]
    pub fn detached(name: impl Into<Arc<str>>) -> Self {
        Self::new(Name::from(name.into()), 1, CancellationToken::new(), None)
    }

    /// The runtime's constructor: `extra` is `None` for a run context, and what a `stop`'s
    /// or a command's context carries ([`Extra::deadline`]) for any other.
    pub(crate) fn new(
        name: Name,
        attempt: u32,
        token: CancellationToken,
        extra: Option<Arc<Extra>>,
    ) -> Self {
        Self {
            names: name.names,
            node: name.node,
            attempt,
            token: Some(token),
            extra,
        }
    }

    /// A context cancelled with its service's own stop signal, in the names of `name`
    /// (which must be a plan's, [`Name::of`]: only those have signals): a run context of
    /// a service that is not restarted one attempt at a time.
    pub(crate) fn of_service(name: Name, attempt: u32) -> Self {
        Self {
            names: name.names,
            node: name.node,
            attempt,
            token: None,
            extra: None,
        }
    }

    /// The service's own stop signal, for a context without a token of its own.
    fn signal(&self) -> &Signal {
        self.names.signal(self.node as usize)
    }

    /// Resolves when the service should shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future and calling `cancelled` again loses nothing.
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            ctx: self,
            wait: None,
        }
    }

    /// Whether shutdown has been requested.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        match &self.token {
            Some(token) => token.is_cancelled(),
            None => self.signal().is_set(),
        }
    }

    /// The cancellation token behind [`Context::cancelled`] (a clone: cheap, and cancelled
    /// together with the original), to hand to libraries or move into spawned tasks.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        match &self.token {
            Some(token) => token.clone(),
            None => self.signal().token().clone(),
        }
    }

    /// The token [`Cancelled`] waits on when it has to register (made on first use for a
    /// context with its service's own signal).
    fn wait_token(&self) -> &CancellationToken {
        match &self.token {
            Some(token) => token,
            None => self.signal().token(),
        }
    }

    /// Tells the runtime that this service is ready: its dependents may start. Calling it
    /// again does nothing. Services without `notify_ready` are ready as soon as `run` is
    /// called, so for them this changes nothing.
    pub fn ready(&self) {
        // Only a run context says so; its service has a latch if it is `notify_ready`.
        if self.extra.is_none()
            && let Some(latch) = self.names.latch(self.node as usize)
        {
            latch.set(self.attempt);
        }
    }

    /// The service name, as given by `#[service(name = ...)]` or derived from the type.
    #[must_use]
    pub fn name(&self) -> &str {
        self.names.name(self.node as usize)
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
        self.extra.as_deref().and_then(|extra| extra.deadline)
    }
}

/// The future of [`Context::cancelled`]: resolves when the service should shut down.
///
/// Inside `run`, polled by the service's supervisor (an `await` in `run` itself, or in a
/// `select!` there), it reads a flag and registers nothing: the supervisor is woken when
/// the service's turn to stop comes anyway. Polled anywhere else (a task `run` spawned, a
/// nested executor) it waits on the context's token, like
/// [`CancellationToken::cancelled`].
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    ctx: &'a Context,
    /// The wait on the token, once it registered there (it stays registered). Boxed: a
    /// `run` future that awaits `cancelled()`, as nearly every one does, holds this
    /// future, and every idle service keeps its `run` future; inline, the wait's 72 bytes
    /// would be in every one of them, for the path the supervisor's own polls never take.
    wait: Option<Pin<Box<WaitForCancellationFuture<'a>>>>,
}

impl std::fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancelled")
            .field("service", &self.ctx.name())
            .finish_non_exhaustive()
    }
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.wait.is_none() && this.ctx.token.is_none() {
            let signal = this.ctx.signal();
            if signal.is_set() {
                return Poll::Ready(());
            }
            if signal::supervised_here(signal, cx.waker()) {
                return Poll::Pending;
            }
        }
        let ctx = this.ctx;
        this.wait
            .get_or_insert_with(|| Box::pin(ctx.wait_token().cancelled()))
            .as_mut()
            .poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `run` future holds its context twice, and every idle service keeps its `run`
    /// future: each byte here is two in every service's memory.
    #[test]
    fn context_stays_small() {
        assert!(std::mem::size_of::<Context>() <= 32);
    }

    /// Nearly every `run` future holds a `Cancelled` across its last await, and every
    /// idle service keeps its `run` future: the wait on the token, which only the slow
    /// path needs, is boxed, not inline (72 bytes).
    #[test]
    fn cancelled_stays_small() {
        assert!(std::mem::size_of::<Cancelled<'static>>() <= 16);
    }

    #[tokio::test]
    async fn cancelled_is_send_and_resolves_with_the_token() {
        fn send<T: Send>(value: T) -> T {
            value
        }
        let ctx = Context::detached("worker");
        let token = ctx.token();
        let waiting = tokio::spawn({
            let ctx = ctx.clone();
            async move { send(ctx.cancelled()).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        token.cancel();
        waiting.await.unwrap();
        assert!(ctx.is_cancelled());
    }

    #[test]
    fn a_detached_context_has_its_name_and_no_deadline() {
        let ctx = Context::detached("worker");
        assert_eq!(ctx.name(), "worker");
        assert_eq!(ctx.attempt(), 1);
        assert_eq!(ctx.deadline(), None);
        // `ready` of a context without a latch changes nothing.
        ctx.ready();
        assert!(!ctx.is_cancelled());
        ctx.token().cancel();
        assert!(ctx.is_cancelled());
    }

    #[test]
    fn a_stop_context_carries_its_deadline_and_a_run_context_its_latch() {
        let plan = crate::runtime::plan::Plan::new([("db", [""; 0])]).unwrap();
        let deadline = Instant::now();
        let stop = Context::new(
            Name::of(plan.names(), 0),
            3,
            CancellationToken::new(),
            Some(Extra::deadline(Some(deadline))),
        );
        assert_eq!((stop.name(), stop.attempt()), ("db", 3));
        assert_eq!(stop.deadline(), Some(deadline));
        // No latch until the service's supervisor asks for one.
        stop.ready();
        assert!(plan.names().latch(0).is_none());
        let latch = plan.names().latch_of(0);
        // Not a run context: a `stop` (or a command) saying "ready" changes nothing.
        stop.ready();
        assert!(!latch.is_set(1));
        let first = Context::of_service(Name::of(plan.names(), 0), 1);
        let second = Context::new(Name::of(plan.names(), 0), 2, CancellationToken::new(), None);
        assert_eq!(second.deadline(), None);
        first.clone().ready();
        assert!(latch.is_set(1));
        // An earlier attempt's context says nothing about a later attempt.
        assert!(!latch.is_set(2));
        second.ready();
        assert!(latch.is_set(2));
        first.ready();
        assert!(latch.is_set(2), "a later attempt stays ready");
    }

    #[test]
    fn a_detached_context_has_no_latch() {
        let ctx = Context::detached("worker");
        ctx.ready();
        assert!(ctx.names.latch(0).is_none());
    }
}
