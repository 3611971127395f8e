//! What a running service sees of the runtime.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    attempt: u32,
    token: CancellationToken,
    ready: CancellationToken,
    deadline: Option<Instant>,
}

impl Context {
    /// A context attached to no runtime, for calling a service by hand (in a test, say).
    /// Cancel it with `ctx.token().cancel()`.
    #[must_use]
    pub fn detached(name: impl Into<Arc<str>>) -> Self {
        Self::new(
            name.into(),
            1,
            CancellationToken::new(),
            CancellationToken::new(),
            None,
        )
    }

    pub(crate) fn new(
        name: Arc<str>,
        attempt: u32,
        token: CancellationToken,
        ready: CancellationToken,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                attempt,
                token,
                ready,
                deadline,
            }),
        }
    }

    /// Resolves when the service should shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future and calling `cancelled` again loses nothing.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.inner.token.cancelled()
    }

    /// Whether shutdown has been requested.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.inner.token.is_cancelled()
    }

    /// The cancellation token behind [`Context::cancelled`], to hand to libraries.
    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.inner.token
    }

    /// Tells the runtime that this service is ready: its dependents may start. Calling it
    /// again does nothing. Services without `notify_ready` are ready as soon as `run` is
    /// called, so for them this changes nothing.
    pub fn ready(&self) {
        self.inner.ready.cancel();
    }

    /// The service name, as given by `#[service(name = ...)]` or derived from the type.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The run number, starting at 1; retries count up from there. In `stop` and in a
    /// command it is the number of the last run (or 1).
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// In `stop`: when the runtime stops waiting for this service. `None` in `run`.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    pub(crate) fn ready_token(&self) -> &CancellationToken {
        &self.inner.ready
    }
}
