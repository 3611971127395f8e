//! The lifecycle as data: what every service is doing, recorded as it happens, for the
//! ops endpoint, the notifications, the status client and the tests (SPEC §5).
//!
//! The runtime writes through a [`StatusBoard`] (one cell per service, each behind its own
//! uncontended mutex, never held across an await; no allocation per transition but for
//! a failure's message); readers hold a [`StatusHandle`], the tonic-health pattern: the
//! serving side sees snapshots and a change signal, never the supervisors' internals.
//! Nobody reading costs one atomic increment and a `Notify::notify_waiters` with no
//! waiter per transition.

mod board;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

pub(crate) use board::{Admit, CellUpdate, Phase, Stamp, StatusBoard, Transition};

/// The state of one service (SPEC §5); serialized as the lowercase word.
///
/// # Examples
///
/// ```
/// use servicepack::State;
///
/// assert_eq!(State::Ready.as_str(), "ready");
/// assert!(State::Exited.is_ready());
/// assert!(!State::Retrying.is_ready());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum State {
    /// Enabled, waiting for its dependencies (or peers).
    Pending,
    /// `run` called; a `notify_ready` service that is not ready yet.
    Starting,
    /// Running and ready (a plain service is ready as soon as `run` is called).
    Ready,
    /// An attempt failed; waiting out the delay before the next one.
    Retrying,
    /// `run` returned `Ok(())` and is not restarted.
    Exited,
    /// Failed for good.
    Failed,
    /// Never started: a dependency failed, or shutdown began first.
    Skipped,
    /// Its token was cancelled and `stop` called; not finished yet.
    Stopping,
    /// `run` and `stop` have returned (or their deadline passed).
    Stopped,
}

impl State {
    /// Every state, in the order of SPEC §5.
    pub const ALL: [Self; 9] = [
        Self::Pending,
        Self::Starting,
        Self::Ready,
        Self::Retrying,
        Self::Exited,
        Self::Failed,
        Self::Skipped,
        Self::Stopping,
        Self::Stopped,
    ];

    /// The word used in JSON, metrics and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Retrying => "retrying",
            Self::Exited => "exited",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }

    /// Whether a service in this state counts as ready: `ready` or `exited`.
    #[must_use]
    pub const fn is_ready(self) -> bool {
        matches!(self, Self::Ready | Self::Exited)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of the whole app (SPEC §5); serialized as the lowercase word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppState {
    /// Not every service that counts towards readiness is ready yet.
    Starting,
    /// Every service that counts towards readiness is ready (or exited).
    Ready,
    /// A shutdown was requested (or a drain): `/readyz` answers 503; services still run.
    Draining,
    /// Services are being stopped.
    Stopping,
    /// Every service has stopped.
    Stopped,
}

impl AppState {
    /// The word used in JSON and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Draining => "draining",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A wall-clock time, serialized as RFC 3339 UTC with milliseconds
/// (`2026-12-01T16:00:00.000Z`).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use servicepack::Timestamp;
///
/// let at = Timestamp::from(UNIX_EPOCH + Duration::from_millis(1_764_604_800_123));
/// assert_eq!(at.to_string(), "2025-12-01T16:00:00.123Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

impl Timestamp {
    /// The time now.
    #[must_use]
    pub fn now() -> Self {
        Self(SystemTime::now())
    }

    /// The time as a `SystemTime`.
    #[must_use]
    pub const fn system_time(self) -> SystemTime {
        self.0
    }

    /// Seconds since the Unix epoch, with fractions.
    #[must_use]
    pub fn unix_seconds(self) -> f64 {
        self.since_epoch().as_secs_f64()
    }

    fn since_epoch(self) -> Duration {
        self.0.duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Self(time)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.since_epoch();
        let secs = since.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60,
            since.subsec_millis()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The last failure of a service's attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LastError {
    /// The error and its sources, `: `-joined (`panicked: <message>` for a panic).
    pub message: String,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// When it failed.
    pub at: Timestamp,
}

/// One service in an [`AppStatus`]; serialized field for field as SPEC §5 shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// The service name.
    pub name: String,
    /// What it is doing.
    pub state: State,
    /// Whether it counts as ready (`ready` or `exited`).
    pub ready: bool,
    /// The current (or last) attempt, 1-based; 0 before the first.
    pub attempt: u32,
    /// How often it was started again after the first attempt (retries, `restart =
    /// "always"`, restarts through the control routes).
    pub restarts: u32,
    /// When it entered `state`.
    pub since: Timestamp,
    /// The names of its dependencies.
    pub depends_on: Vec<String>,
    /// Whether its final failure is allowed.
    pub allowed_failure: bool,
    /// Whether it counts towards the app's readiness (an allowed failure that failed for
    /// good stops counting).
    pub counts_for_readiness: bool,
    /// The last failed attempt, once one has failed.
    pub last_error: Option<LastError>,
    /// When the next attempt starts, while `retrying`.
    pub next_attempt_at: Option<Timestamp>,
    /// What a `pending` service waits for besides its local dependencies (SPEC §9.3:
    /// `"waiting for peer example-database"`); absent from the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many attempts failed (not in the JSON of §5; for metrics).
    #[serde(skip)]
    pub failures: u32,
}

/// A snapshot of the whole app; serialized field for field as SPEC §5 shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AppStatus {
    /// The app (binary) name.
    pub app: String,
    /// The app's version.
    pub version: String,
    /// `ENV`: `dev` or `prod`.
    pub env: String,
    /// The process id.
    pub pid: u32,
    /// What the app is doing.
    pub state: AppState,
    /// Whether the app is ready (SPEC §5).
    pub ready: bool,
    /// When the runner was created.
    pub started_at: Timestamp,
    /// Seconds since `started_at`.
    pub uptime_seconds: f64,
    /// One entry per enabled service, in start order (the plan's order).
    pub services: Vec<ServiceStatus>,
}

impl AppStatus {
    /// The service called `name`.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&ServiceStatus> {
        self.services.iter().find(|service| service.name == name)
    }

    /// Why the app is not ready (`"example-database is starting"`, `"draining"`), or
    /// `None` when it is.
    #[must_use]
    pub fn not_ready_reason(&self) -> Option<String> {
        match self.state {
            AppState::Ready => None,
            AppState::Draining | AppState::Stopping | AppState::Stopped => {
                Some(self.state.as_str().to_owned())
            }
            AppState::Starting => Some(
                self.services
                    .iter()
                    .find(|service| service.counts_for_readiness && !service.ready)
                    .map_or_else(
                        || "starting".to_owned(),
                        |service| match &service.reason {
                            Some(reason) => {
                                format!("{} is {} ({reason})", service.name, service.state)
                            }
                            None => format!("{} is {}", service.name, service.state),
                        },
                    ),
            ),
        }
    }
}

/// What the app is known as in its status: set by the app layer, defaults for
/// [`Runner`](crate::Runner) users.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct AppIdentity {
    /// The app (binary) name.
    pub app: String,
    /// The app's version.
    pub version: String,
    /// `dev` or `prod`.
    pub env: String,
}

impl Default for AppIdentity {
    fn default() -> Self {
        Self {
            app: "servicepack".to_owned(),
            version: String::new(),
            env: "prod".to_owned(),
        }
    }
}

impl AppIdentity {
    /// An app called `app` at `version` in `env`.
    #[must_use]
    pub(crate) fn new(
        app: impl Into<String>,
        version: impl Into<String>,
        env: impl Into<String>,
    ) -> Self {
        Self {
            app: app.into(),
            version: version.into(),
            env: env.into(),
        }
    }
}

/// A read-only view of a running app's lifecycle: cheap to clone, usable from any task
/// or thread. Get one from [`Runner::status`](crate::Runner::status).
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
/// use servicepack::{AppState, Runner, ServiceDef, State};
///
/// struct Job;
/// impl Service for Job {
///     async fn run(&self, _ctx: Context) -> Result<()> {
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let runner = Runner::new().service(ServiceDef::new("job", Job));
/// let status = runner.status();
/// assert_eq!(status.app_state(), AppState::Starting);
/// let report = runner.run().await;
/// assert_eq!(report.exit_code(), 0);
/// let snapshot = status.snapshot();
/// assert_eq!(snapshot.state, AppState::Stopped);
/// assert_eq!(snapshot.services[0].state, State::Stopped);
/// # });
/// ```
#[derive(Clone)]
pub struct StatusHandle {
    board: Arc<StatusBoard>,
}

impl fmt::Debug for StatusHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusHandle")
            .field("state", &self.app_state())
            .finish_non_exhaustive()
    }
}

impl StatusHandle {
    /// The whole status now.
    #[must_use]
    pub fn snapshot(&self) -> AppStatus {
        self.board.snapshot()
    }

    /// Whether the app is ready now (SPEC §5), without building a snapshot.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.app_state() == AppState::Ready
    }

    /// The app's state now, without building a snapshot.
    #[must_use]
    pub fn app_state(&self) -> AppState {
        self.board.app_state()
    }

    /// Resolves on the next change after this call (a service's state, attempt or
    /// error, or the app's state).
    ///
    /// A change made before the call does not count, so take the future before looking
    /// at the status: in `while !status.is_ready() { status.changed().await }`, a change
    /// between `is_ready` and `changed` is missed, and if it was the last one the loop
    /// waits for ever.
    ///
    /// ```
    /// # async fn wait(status: servicepack::StatusHandle) {
    /// loop {
    ///     let changed = status.changed();
    ///     if status.is_ready() {
    ///         break;
    ///     }
    ///     changed.await;
    /// }
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing; call again to wait for the next
    /// change.
    pub fn changed(&self) -> impl Future<Output = ()> + Send + 'static {
        // Registered now, at the call: a change from here on wakes it.
        let (registered, seen) = self.board.register();
        async move {
            let board = &registered.0;
            board.wait_for_change(seen).await;
            drop(registered);
        }
    }

    /// Whether the runner has planned the services (until then, no service is known).
    pub(crate) fn is_planned(&self) -> bool {
        self.board.is_planned()
    }

    /// How many changes have been recorded so far (a counter that only grows).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.board.version()
    }

    /// The state changes recorded so far (only with a history kept) and the plan.
    pub(crate) fn history(&self) -> (Vec<Transition>, Option<Arc<crate::runtime::plan::Plan>>) {
        self.board.history()
    }

    /// The names of the services whose `stop` has begun and not finished, in start
    /// order: what a forced exit or an exhausted budget names.
    #[must_use]
    pub fn still_stopping(&self) -> Vec<String> {
        self.board.still_stopping()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let at = Timestamp(UNIX_EPOCH + Duration::from_millis(951_782_400_007));
        assert_eq!(at.to_string(), "2000-02-29T00:00:00.007Z");
        assert_eq!(
            Timestamp(UNIX_EPOCH).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
