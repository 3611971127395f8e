//! What the runtime does around one service: retries, delays, readiness, timeouts.
//!
//! `#[service(...)]` turns its arguments into a [`Policy`]; services assembled by hand
//! build one with the same `const` builder methods.

use std::time::Duration;

/// How many failures are retried before a failure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// At most this many retries: `Limited(2)` means at most three runs.
    Limited(u32),
    /// Retry for ever.
    Unlimited,
}

/// How the delay between retries grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay before every retry.
    Constant,
    /// The delay doubles after each retry, up to `max_delay`.
    Exponential {
        /// The longest delay.
        max_delay: Duration,
    },
}

/// When a service whose `run` returned is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Restart after an error or a panic, within the retry budget (the default).
    OnFailure,
    /// Also restart after a clean `Ok(())` return, after the retry delay.
    Always,
    /// Never restart: the first failure counts.
    Never,
}

/// Everything the runtime needs to know about how to run one service.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use servicepack::{Backoff, Policy, Retries};
///
/// const POLICY: Policy = Policy::new()
///     .retries(Retries::Limited(2))
///     .delay(Duration::from_secs(2))
///     .backoff(Backoff::Exponential { max_delay: Duration::from_secs(60) })
///     .notify_ready(true);
///
/// assert_eq!(POLICY.max_runs(), Some(3));
/// assert!(!POLICY.allowed_failure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each flag is one `#[service]` argument; a public, documented field apiece"
)]
pub struct Policy {
    /// Failures retried before a failure counts.
    pub retries: Retries,
    /// Wait before each retry.
    pub delay: Duration,
    /// How the delay grows.
    pub backoff: Backoff,
    /// Randomise each delay by ±25 %.
    pub jitter: bool,
    /// A run that lasted this long resets the failure count.
    pub retry_reset: Option<Duration>,
    /// When a returned `run` starts again.
    pub restart: Restart,
    /// A final failure is logged and the rest of the app keeps running.
    pub allowed_failure: bool,
    /// Dependents wait for `ctx.ready()` (or a clean return) instead of the call to `run`.
    pub notify_ready: bool,
    /// A `notify_ready` service that is not ready in time fails that attempt.
    pub ready_timeout: Duration,
    /// Bound on this service's `stop` (and never past the shutdown budget).
    pub stop_timeout: Duration,
    /// Whether the service counts towards the app's readiness (SPEC §5);
    /// `#[service(readiness = false)]` turns it off.
    pub counts_for_readiness: bool,
}

impl Policy {
    /// The default `ready_timeout`: 60 s.
    pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default `stop_timeout`: 30 s.
    pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default `max_delay` of exponential backoff: 60 s.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);

    /// The defaults: no retries, no delay, ready as soon as `run` is called, a 60 s ready
    /// timeout and a 30 s stop timeout.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            retries: Retries::Limited(0),
            delay: Duration::ZERO,
            backoff: Backoff::Constant,
            jitter: false,
            retry_reset: None,
            restart: Restart::OnFailure,
            allowed_failure: false,
            notify_ready: false,
            ready_timeout: Self::DEFAULT_READY_TIMEOUT,
            stop_timeout: Self::DEFAULT_STOP_TIMEOUT,
            counts_for_readiness: true,
        }
    }

    /// Sets [`Policy::retries`].
    #[must_use]
    pub const fn retries(mut self, retries: Retries) -> Self {
        self.retries = retries;
        self
    }

    /// Sets [`Policy::delay`].
    #[must_use]
    pub const fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets [`Policy::backoff`].
    #[must_use]
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`Policy::jitter`].
    #[must_use]
    pub const fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`Policy::retry_reset`].
    #[must_use]
    pub const fn retry_reset(mut self, after: Duration) -> Self {
        self.retry_reset = Some(after);
        self
    }

    /// Sets [`Policy::restart`].
    #[must_use]
    pub const fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets [`Policy::allowed_failure`].
    #[must_use]
    pub const fn allowed_failure(mut self, allowed: bool) -> Self {
        self.allowed_failure = allowed;
        self
    }

    /// Sets [`Policy::notify_ready`].
    #[must_use]
    pub const fn notify_ready(mut self, notify: bool) -> Self {
        self.notify_ready = notify;
        self
    }

    /// Sets [`Policy::ready_timeout`].
    #[must_use]
    pub const fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Sets [`Policy::stop_timeout`].
    #[must_use]
    pub const fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Sets [`Policy::counts_for_readiness`]: `false` takes the service out of the app's
    /// readiness (a batch job, a cache warmer), so the app can be ready without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use servicepack::Policy;
    ///
    /// let policy = Policy::new().counts_for_readiness(false);
    /// assert!(!policy.counts_for_readiness);
    /// assert!(Policy::new().counts_for_readiness);
    /// ```
    #[must_use]
    pub const fn counts_for_readiness(mut self, counts: bool) -> Self {
        self.counts_for_readiness = counts;
        self
    }

    /// The most `run` calls a failing service gets: retries + 1, or `None` when unlimited.
    /// `restart = "never"` means one run whatever `retries` says.
    #[must_use]
    pub const fn max_runs(&self) -> Option<u64> {
        match (self.restart, self.retries) {
            (Restart::Never, _) => Some(1),
            (_, Retries::Limited(n)) => Some(n as u64 + 1),
            (_, Retries::Unlimited) => None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}
