//! The lifecycle as data: what every service is doing, recorded as it happens, for the
//! ops endpoint, the notifications, the status client and the tests (SPEC §5).
//!
//! The runtime writes through a [`StatusBoard`] (one cell per service, each behind its own
//! uncontended mutex, never held across an await; no allocation per transition but for
//! a failure's message); readers hold a [`StatusHandle`], the tonic-health pattern: the
//! serving side sees snapshots and a change signal, never the supervisors' internals.
//! Nobody reading costs one atomic increment and a `Notify::notify_waiters` with no
//! waiter per transition.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use tokio::sync::Notify;

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

    const fn from_u8(value: u8) -> Self {
        // Only values written by `as u8` reach here.
        Self::ALL[value as usize]
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
                        |service| format!("{} is {}", service.name, service.state),
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
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing; call again to wait for the next
    /// change.
    pub fn changed(&self) -> impl Future<Output = ()> + Send + 'static {
        let board = Arc::clone(&self.board);
        let seen = board.version.load(Ordering::Acquire);
        async move {
            loop {
                let notified = board.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if board.version.load(Ordering::Acquire) != seen {
                    return;
                }
                notified.await;
            }
        }
    }

    /// How many changes have been recorded so far (a counter that only grows).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.board.version.load(Ordering::Acquire)
    }
}

/// The app's phase as the runtime sets it; `Starting`/`Ready` are derived from the
/// services while the phase is `Running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    Running,
    Draining,
    Stopping,
    Stopped,
}

/// One service's recorded status.
struct Cell {
    state: State,
    attempt: u32,
    restarts: u32,
    failures: u32,
    since: Timestamp,
    counts: bool,
    last_error: Option<LastError>,
    next_attempt_at: Option<Timestamp>,
}

/// What the board knows of one service that never changes.
struct Fixed {
    name: Box<str>,
    depends_on: Box<[Box<str>]>,
    allowed_failure: bool,
}

/// The per-service cells, set once the plan is known.
struct Services {
    fixed: Box<[Fixed]>,
    cells: Box<[Mutex<Cell>]>,
    /// The state of each service, readable without its lock (for readiness).
    states: Box<[AtomicU8]>,
}

/// A service as the board learns it when the run is planned.
pub(crate) struct BoardEntry<'a> {
    pub(crate) name: &'a str,
    pub(crate) depends_on: &'a [&'a str],
    pub(crate) allowed_failure: bool,
    pub(crate) counts_for_readiness: bool,
}

/// The writer side of the status; the runtime owns it, readers get [`StatusHandle`]s.
pub(crate) struct StatusBoard {
    info: Mutex<AppIdentity>,
    started_at: Timestamp,
    started: std::time::Instant,
    pid: u32,
    services: OnceLock<Services>,
    phase: AtomicU8,
    /// Services that count towards readiness and are not ready.
    not_ready: AtomicUsize,
    version: AtomicU64,
    notify: Notify,
}

impl StatusBoard {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            info: Mutex::new(AppIdentity::default()),
            started_at: Timestamp::now(),
            started: std::time::Instant::now(),
            pid: std::process::id(),
            services: OnceLock::new(),
            phase: AtomicU8::new(Phase::Running as u8),
            not_ready: AtomicUsize::new(0),
            version: AtomicU64::new(0),
            notify: Notify::new(),
        })
    }

    pub(crate) fn handle(self: &Arc<Self>) -> StatusHandle {
        StatusHandle {
            board: Arc::clone(self),
        }
    }

    pub(crate) fn set_info(&self, info: AppIdentity) {
        *self.info.lock().unwrap_or_else(PoisonError::into_inner) = info;
        self.changed();
    }

    /// Sets the services of the run, every one `pending`. Once; later calls are ignored.
    pub(crate) fn plan<'a>(&self, entries: impl IntoIterator<Item = BoardEntry<'a>>) {
        let now = Timestamp::now();
        let mut fixed = Vec::new();
        let mut cells = Vec::new();
        let mut not_ready = 0;
        for entry in entries {
            not_ready += usize::from(entry.counts_for_readiness);
            fixed.push(Fixed {
                name: entry.name.into(),
                depends_on: entry.depends_on.iter().map(|&dep| dep.into()).collect(),
                allowed_failure: entry.allowed_failure,
            });
            cells.push(Mutex::new(Cell {
                state: State::Pending,
                attempt: 0,
                restarts: 0,
                failures: 0,
                since: now,
                counts: entry.counts_for_readiness,
                last_error: None,
                next_attempt_at: None,
            }));
        }
        let states = (0..cells.len())
            .map(|_| AtomicU8::new(State::Pending as u8))
            .collect();
        let services = Services {
            fixed: fixed.into(),
            cells: cells.into(),
            states,
        };
        if self.services.set(services).is_ok() {
            self.not_ready.store(not_ready, Ordering::Release);
            self.changed();
        }
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
        self.changed();
    }

    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Draining,
            2 => Phase::Stopping,
            _ => Phase::Stopped,
        }
    }

    /// Records a change of service `node`: `update` edits its cell (the new state, an
    /// attempt number, an error), under the cell's lock, which is never held across an
    /// await. Keeps the readiness count in step.
    pub(crate) fn record(&self, node: usize, update: impl FnOnce(&mut CellUpdate<'_>)) {
        let Some(services) = self.services.get() else {
            return;
        };
        let mut cell = services.cells[node]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (state, counted) = (cell.state, cell.counts && !cell.state.is_ready());
        update(&mut CellUpdate { cell: &mut cell });
        if cell.state != state {
            cell.since = Timestamp::now();
            services.states[node].store(cell.state as u8, Ordering::Release);
        }
        let counts = cell.counts && !cell.state.is_ready();
        drop(cell);
        match (counted, counts) {
            (true, false) => {
                self.not_ready.fetch_sub(1, Ordering::AcqRel);
            }
            (false, true) => {
                self.not_ready.fetch_add(1, Ordering::AcqRel);
            }
            _ => {}
        }
        self.changed();
    }

    /// The state of service `node` now.
    pub(crate) fn state(&self, node: usize) -> State {
        self.services.get().map_or(State::Pending, |services| {
            State::from_u8(services.states[node].load(Ordering::Acquire))
        })
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }

    fn app_state(&self) -> AppState {
        match self.phase() {
            Phase::Running
                if self.services.get().is_some() && self.not_ready.load(Ordering::Acquire) == 0 =>
            {
                AppState::Ready
            }
            Phase::Running => AppState::Starting,
            Phase::Draining => AppState::Draining,
            Phase::Stopping => AppState::Stopping,
            Phase::Stopped => AppState::Stopped,
        }
    }

    fn snapshot(&self) -> AppStatus {
        let info = self
            .info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let services = self.services.get().map_or_else(Vec::new, |services| {
            services
                .fixed
                .iter()
                .zip(services.cells.iter())
                .map(|(fixed, cell)| {
                    let cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
                    ServiceStatus {
                        name: fixed.name.to_string(),
                        state: cell.state,
                        ready: cell.state.is_ready(),
                        attempt: cell.attempt,
                        restarts: cell.restarts,
                        since: cell.since,
                        depends_on: fixed.depends_on.iter().map(ToString::to_string).collect(),
                        allowed_failure: fixed.allowed_failure,
                        counts_for_readiness: cell.counts,
                        last_error: cell.last_error.clone(),
                        next_attempt_at: cell.next_attempt_at,
                        failures: cell.failures,
                    }
                })
                .collect()
        });
        let state = self.app_state();
        AppStatus {
            app: info.app,
            version: info.version,
            env: info.env,
            pid: self.pid,
            state,
            ready: state == AppState::Ready,
            started_at: self.started_at,
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            services,
        }
    }
}

/// The edit of one service's cell inside [`StatusBoard::record`].
pub(crate) struct CellUpdate<'a> {
    cell: &'a mut Cell,
}

impl CellUpdate<'_> {
    /// The service enters `state`; leaving `retrying` clears `next_attempt_at`.
    pub(crate) fn state(&mut self, state: State) -> &mut Self {
        if state != State::Retrying {
            self.cell.next_attempt_at = None;
        }
        self.cell.state = state;
        self
    }

    /// Attempt `attempt` begins; every attempt after the first counts as a restart.
    pub(crate) fn attempt(&mut self, attempt: u32) -> &mut Self {
        if self.cell.attempt > 0 {
            self.cell.restarts += 1;
        }
        self.cell.attempt = attempt;
        self
    }

    /// An attempt failed with `message`.
    pub(crate) fn failure(&mut self, attempt: u32, message: String) -> &mut Self {
        self.cell.failures += 1;
        self.cell.last_error = Some(LastError {
            message,
            attempt,
            at: Timestamp::now(),
        });
        self
    }

    /// The next attempt starts after `delay`.
    pub(crate) fn retry_in(&mut self, delay: Duration) -> &mut Self {
        self.cell.next_attempt_at = Some(Timestamp(SystemTime::now() + delay));
        self
    }

    /// Takes the service out of the readiness count (an allowed failure that failed for
    /// good).
    pub(crate) fn stop_counting(&mut self) -> &mut Self {
        self.cell.counts = false;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(names: &[(&str, bool)]) -> Arc<StatusBoard> {
        let board = StatusBoard::new();
        board.plan(names.iter().map(|&(name, counts)| BoardEntry {
            name,
            depends_on: &[],
            allowed_failure: false,
            counts_for_readiness: counts,
        }));
        board
    }

    #[test]
    fn the_app_is_ready_when_every_counted_service_is() {
        let board = board(&[("a", true), ("b", true), ("c", false)]);
        let handle = board.handle();
        assert_eq!(handle.app_state(), AppState::Starting);
        board.record(0, |cell| {
            cell.attempt(1).state(State::Ready);
        });
        assert_eq!(
            handle.snapshot().not_ready_reason().as_deref(),
            Some("b is pending")
        );
        board.record(1, |cell| {
            cell.attempt(1).state(State::Exited);
        });
        assert!(handle.is_ready());
        board.record(0, |cell| {
            cell.state(State::Retrying).retry_in(Duration::from_secs(1));
        });
        assert!(!handle.is_ready());
        board.record(0, |cell| {
            cell.state(State::Failed).stop_counting();
        });
        assert!(handle.is_ready());
        board.set_phase(Phase::Draining);
        assert_eq!(
            handle.snapshot().not_ready_reason().as_deref(),
            Some("draining")
        );
    }

    #[test]
    fn attempts_after_the_first_are_restarts() {
        let board = board(&[("a", true)]);
        for attempt in 1..=3 {
            board.record(0, |cell| {
                cell.attempt(attempt).state(State::Starting);
            });
        }
        let status = board.handle().snapshot();
        assert_eq!(
            (status.services[0].attempt, status.services[0].restarts),
            (3, 2)
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let at = Timestamp(UNIX_EPOCH + Duration::from_millis(951_782_400_007));
        assert_eq!(at.to_string(), "2000-02-29T00:00:00.007Z");
        assert_eq!(
            Timestamp(UNIX_EPOCH).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn the_json_has_the_fields_of_the_contract() {
        let board = board(&[("a", true)]);
        board.record(0, |cell| {
            cell.attempt(1)
                .failure(1, "boom".into())
                .state(State::Retrying);
        });
        let json = serde_json::to_value(board.handle().snapshot()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        for key in [
            "app",
            "version",
            "env",
            "pid",
            "state",
            "ready",
            "started_at",
            "uptime_seconds",
            "services",
        ] {
            assert!(keys.iter().any(|k| k == key), "missing {key}");
        }
        let service = &json["services"][0];
        assert_eq!(service.as_object().unwrap().len(), 11);
        assert_eq!(service["state"], "retrying");
        assert_eq!(service["last_error"]["message"], "boom");
        assert_eq!(json["state"], "starting");
    }

    #[tokio::test]
    async fn changed_resolves_on_the_next_change() {
        let board = board(&[("a", true)]);
        let handle = board.handle();
        let changed = handle.changed();
        board.record(0, |cell| {
            cell.state(State::Ready);
        });
        tokio::time::timeout(Duration::from_secs(5), changed)
            .await
            .expect("changed() resolved");
    }
}
