//! The writer side of the status: one cell per service, each behind its own uncontended
//! mutex (never held across an await), a readiness count kept in step with the cells,
//! and a change counter with a `Notify` that is only touched when somebody waits.

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use super::{
    AppIdentity, AppState, AppStatus, LastError, ServiceStatus, State, StatusHandle, Timestamp,
};
use crate::runtime::plan::Plan;

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

impl Phase {
    const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Running,
            1 => Self::Draining,
            2 => Self::Stopping,
            _ => Self::Stopped,
        }
    }
}

/// One service's recorded status (64 bytes: every idle service pays for it).
struct Cell {
    state: State,
    counts: bool,
    allowed_failure: bool,
    attempt: u32,
    restarts: u32,
    failures: u32,
    /// Milliseconds since the Unix epoch (8 bytes where a `SystemTime` takes 16).
    since: Millis,
    /// The last error, the reason and the next attempt: rare, and big next to the rest,
    /// so boxed together (48 bytes a cell instead of 56).
    extra: Option<Box<Extra>>,
    /// The rate limit of its repeated log lines: the second they were counted in, how
    /// many were logged in it, and how many were not.
    window: u32,
    lines: u16,
    suppressed: u32,
}

/// The rare parts of a [`Cell`].
#[derive(Default)]
struct Extra {
    last_error: Option<LastError>,
    /// What a `pending` service waits for beyond its local dependencies (a peer).
    reason: Option<Box<str>>,
    /// When a `retrying` service's next attempt starts, like `since`; 0 for none.
    next_attempt_at: Millis,
}

/// A wall-clock time in milliseconds since the Unix epoch.
type Millis = u64;

fn millis(time: SystemTime) -> Millis {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

fn from_millis(millis: Millis) -> Timestamp {
    Timestamp(UNIX_EPOCH + Duration::from_millis(millis))
}

/// The most repeated lifecycle lines one service logs in a second.
pub(crate) const LINES_PER_SECOND: u16 = 10;

/// Whether a repeated lifecycle line is logged.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    Log,
    /// Log it, after a summary of the lines suppressed in the last window.
    LogAfterSummary(u32),
    Suppress,
}

/// The per-service cells, set once the plan is known; names and edges are the plan's.
struct Services {
    plan: Arc<Plan>,
    cells: Box<[Entry]>,
}

/// One service's cell, and when its shutdown stop began (`0`: not yet), set before the
/// first poll of `stop`. That `stopping` is recorded only after the poll (with
/// `stopped`, when the poll ends the stop: [`Logged`](crate::runtime::lifecycle::Logged)),
/// and the poll may block its thread for as long as `stop` likes: meanwhile a snapshot
/// shows the service `stopping` from this, and so the watchdog names it. Beside the
/// cell, whose cache line the record after the poll takes anyway.
struct Entry {
    cell: Mutex<Cell>,
    stop_began: AtomicU64,
}

/// A value alone on its cache line.
#[repr(align(64))]
struct CacheLine<T>(T);

/// A reader waiting for the next change; counted in `waiting` while it lives.
pub(super) struct Registered(pub(super) Arc<StatusBoard>);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One recorded state change, kept only when a test asked for the history.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transition {
    pub(crate) node: usize,
    pub(crate) state: State,
    pub(crate) at: tokio::time::Instant,
}

/// An instant of the runtime's clock with its wall-clock milliseconds
/// ([`StatusBoard::stamp`]).
#[derive(Clone, Copy)]
pub(crate) struct Stamp {
    at: tokio::time::Instant,
    millis: Millis,
}

/// The writer side of the status; the runtime owns it, readers get [`StatusHandle`]s.
pub(crate) struct StatusBoard {
    /// Every state change in order, once [`keep_history`](Self::keep_history) was called.
    history: OnceLock<Mutex<Vec<Transition>>>,
    info: Mutex<AppIdentity>,
    started_at: Timestamp,
    started: std::time::Instant,
    /// The runtime's clock when `started_at` was read: state times are counted from
    /// here, so one clock reading can serve a caller and the board.
    epoch: tokio::time::Instant,
    /// `started_at` in milliseconds, computed once.
    epoch_millis: Millis,
    pid: u32,
    services: OnceLock<Services>,
    phase: AtomicU8,
    /// Services that count towards readiness and are not ready (kept while the app runs
    /// or drains, the phases whose state derives from it). On its own cache line: every
    /// readiness change of every service writes it.
    not_ready: CacheLine<AtomicUsize>,
    /// Every change recorded (on its own cache line, away from `not_ready`).
    version: CacheLine<AtomicU64>,
    /// Live `changed()` futures: with none, a change does not touch `notify`.
    waiting: AtomicUsize,
    notify: Notify,
}

impl StatusBoard {
    pub(crate) fn new() -> Arc<Self> {
        let started_at = Timestamp::now();
        Arc::new(Self {
            history: OnceLock::new(),
            info: Mutex::new(AppIdentity::default()),
            started_at,
            started: std::time::Instant::now(),
            epoch: tokio::time::Instant::now(),
            epoch_millis: millis(started_at.0),
            pid: std::process::id(),
            services: OnceLock::new(),
            phase: AtomicU8::new(Phase::Running as u8),
            not_ready: CacheLine(AtomicUsize::new(0)),
            version: CacheLine(AtomicU64::new(0)),
            waiting: AtomicUsize::new(0),
            notify: Notify::new(),
        })
    }

    pub(crate) fn handle(self: &Arc<Self>) -> StatusHandle {
        StatusHandle {
            board: Arc::clone(self),
        }
    }

    /// From now on, keeps every state change (for `servicepack::testing`).
    pub(crate) fn keep_history(&self) {
        let _ = self.history.set(Mutex::new(Vec::new()));
    }

    /// The state changes kept so far, with the plan to name them.
    pub(crate) fn history(&self) -> (Vec<Transition>, Option<Arc<Plan>>) {
        let history = self
            .history
            .get()
            .map_or_else(Vec::new, |history| lock(history).clone());
        (
            history,
            self.services.get().map(|services| services.plan.clone()),
        )
    }

    pub(crate) fn set_info(&self, info: AppIdentity) {
        *self.info.lock().unwrap_or_else(PoisonError::into_inner) = info;
        self.changed();
    }

    /// Sets the services of the run, every one `pending`: per node of `plan`, whether
    /// its final failure is allowed and whether it counts towards readiness. Once; later
    /// calls are ignored.
    pub(crate) fn plan(&self, plan: Arc<Plan>, flags: impl IntoIterator<Item = (bool, bool)>) {
        let now = millis(SystemTime::now());
        let mut not_ready = 0;
        let cells = flags
            .into_iter()
            .map(|(allowed_failure, counts)| {
                not_ready += usize::from(counts);
                let cell = Mutex::new(Cell {
                    state: State::Pending,
                    counts,
                    allowed_failure,
                    attempt: 0,
                    restarts: 0,
                    failures: 0,
                    since: now,
                    extra: None,
                    window: 0,
                    lines: 0,
                    suppressed: 0,
                });
                Entry {
                    cell,
                    stop_began: AtomicU64::new(0),
                }
            })
            .collect();
        if self.services.set(Services { plan, cells }).is_ok() {
            self.not_ready.0.store(not_ready, Ordering::Release);
            self.changed();
        }
    }

    /// Service `node`'s shutdown stop begins at `at`; its `stopping` is recorded later
    /// (see [`Entry`]).
    pub(crate) fn stop_began(&self, node: usize, at: Stamp) {
        if let Some(services) = self.services.get() {
            services.cells[node]
                .stop_began
                .store(at.millis.max(1), Ordering::Release);
        }
    }

    /// Whether [`plan`](Self::plan) has been called.
    pub(crate) fn is_planned(&self) -> bool {
        self.services.get().is_some()
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
        self.changed();
    }

    pub(crate) fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// Records a change of service `node`: `update` edits its cell (the new state, an
    /// attempt number, an error), under the cell's lock, which is never held across an
    /// await. Keeps the readiness count in step.
    /// Returns what `update` returns (`None` before the plan is known).
    #[cfg(test)]
    pub(crate) fn record<R>(
        &self,
        node: usize,
        update: impl FnOnce(&mut CellUpdate<'_>) -> R,
    ) -> Option<R> {
        self.record_at(node, None, update)
    }

    /// A clock reading `at` as the board records it: kept by a caller that records
    /// two changes at the same instant, so the conversion is made once.
    pub(crate) fn stamp(&self, at: tokio::time::Instant) -> Stamp {
        let elapsed = at.saturating_duration_since(self.epoch).as_millis();
        Stamp {
            at,
            millis: self
                .epoch_millis
                .saturating_add(u64::try_from(elapsed).unwrap_or(0)),
        }
    }

    /// Records a change of service `node`'s cell through `update`, at `at` (a clock
    /// reading the caller has anyway) or now; what `update` returns (`None` before the
    /// plan is known).
    pub(crate) fn record_at<R>(
        &self,
        node: usize,
        at: Option<Stamp>,
        update: impl FnOnce(&mut CellUpdate<'_>) -> R,
    ) -> Option<R> {
        self.edit(node, None::<(Stamp, fn(&mut CellUpdate<'_>))>, at, update)
    }

    /// [`record_at`](Self::record_at), after `first` (made at its stamp) in the same edit
    /// of the cell: two changes, kept in the history and counted in the version as two,
    /// for one lock of the cell and one update of the counts.
    pub(crate) fn record_after<R>(
        &self,
        node: usize,
        first: (Stamp, impl FnOnce(&mut CellUpdate<'_>)),
        at: Option<Stamp>,
        update: impl FnOnce(&mut CellUpdate<'_>) -> R,
    ) -> Option<R> {
        self.edit(node, Some(first), at, update)
    }

    fn edit<R>(
        &self,
        node: usize,
        first: Option<(Stamp, impl FnOnce(&mut CellUpdate<'_>))>,
        at: Option<Stamp>,
        update: impl FnOnce(&mut CellUpdate<'_>) -> R,
    ) -> Option<R> {
        let services = self.services.get()?;
        let at = at.unwrap_or_else(|| self.stamp(tokio::time::Instant::now()));
        let mut cell = lock(&services.cells[node].cell);
        let counted = cell.counts && !cell.state.is_ready();
        let mut changes = 0;
        if let Some((first_at, first)) = first {
            changes += u64::from(self.step(node, &mut cell, first_at, first).1);
        }
        let (result, dirty) = self.step(node, &mut cell, at, update);
        changes += u64::from(dirty);
        if changes == 0 {
            return Some(result);
        }
        let counts = cell.counts && !cell.state.is_ready();
        drop(cell);
        // Once the app is stopping, its state no longer derives from the services', and
        // the count is left as it is: every service's stop would write it.
        let derived = matches!(self.phase(), Phase::Running | Phase::Draining);
        match (counted && derived, counts && derived) {
            (true, false) => {
                self.not_ready.0.fetch_sub(1, Ordering::AcqRel);
            }
            (false, true) => {
                self.not_ready.0.fetch_add(1, Ordering::AcqRel);
            }
            _ => {}
        }
        self.changed_by(changes);
        Some(result)
    }

    /// One change of an edit: `update` on the locked `cell`, at `at`, with the history
    /// kept; what `update` returns and whether anything readers see changed.
    fn step<R>(
        &self,
        node: usize,
        cell: &mut Cell,
        Stamp { at, millis: now }: Stamp,
        update: impl FnOnce(&mut CellUpdate<'_>) -> R,
    ) -> (R, bool) {
        let state = cell.state;
        let mut edit = CellUpdate {
            cell,
            now,
            dirty: false,
        };
        let result = update(&mut edit);
        let dirty = edit.dirty;
        if dirty && cell.state != state {
            cell.since = now;
            if let Some(history) = self.history.get() {
                lock(history).push(Transition {
                    node,
                    state: cell.state,
                    at,
                });
            }
        }
        (result, dirty)
    }

    /// The current (or last) attempt of service `node`.
    pub(crate) fn attempt(&self, node: usize) -> u32 {
        self.services
            .get()
            .map_or(0, |services| lock(&services.cells[node].cell).attempt)
    }

    fn changed(&self) {
        self.changed_by(1);
    }

    /// `changes` changes were made.
    fn changed_by(&self, changes: u64) {
        self.version.0.fetch_add(changes, Ordering::SeqCst);
        // A reader registers in `waiting` before it reads the version: either this sees
        // it waiting, or it sees this change.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }

    pub(super) fn version(&self) -> u64 {
        self.version.0.load(Ordering::SeqCst)
    }

    /// Registers a reader for the next change (until the returned guard is dropped) and
    /// reads the version.
    pub(super) fn register(self: &Arc<Self>) -> (Registered, u64) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let registered = Registered(Arc::clone(self));
        (registered, self.version())
    }

    /// Resolves once the version is no longer `seen`.
    pub(super) async fn wait_for_change(&self, seen: u64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.version() != seen {
                return;
            }
            notified.await;
        }
    }

    pub(super) fn app_state(&self) -> AppState {
        match self.phase() {
            Phase::Running
                if self.services.get().is_some()
                    && self.not_ready.0.load(Ordering::Acquire) == 0 =>
            {
                AppState::Ready
            }
            Phase::Running => AppState::Starting,
            Phase::Draining => AppState::Draining,
            Phase::Stopping => AppState::Stopping,
            Phase::Stopped => AppState::Stopped,
        }
    }

    /// The services that have not finished: not stopped, not skipped, and not failed
    /// before their first run (those have nothing to stop), in start order.
    pub(super) fn still_stopping(&self) -> Vec<String> {
        let Some(services) = self.services.get() else {
            return Vec::new();
        };
        services
            .plan
            .order()
            .iter()
            .filter(|&&node| {
                let cell = lock(&services.cells[node].cell);
                let done = matches!(cell.state, State::Stopped | State::Skipped)
                    || (cell.state == State::Failed && cell.attempt == 0);
                !done
            })
            .map(|&node| services.plan.name(node).to_owned())
            .collect()
    }

    pub(super) fn snapshot(&self) -> AppStatus {
        let info = lock(&self.info).clone();
        let services = self.services.get().map_or_else(Vec::new, |services| {
            let plan = &services.plan;
            plan.order()
                .iter()
                .map(|&node| {
                    let cell = lock(&services.cells[node].cell);
                    let (state, since) =
                        match services.cells[node].stop_began.load(Ordering::Acquire) {
                            began
                                if began > 0
                                    && !matches!(cell.state, State::Stopping | State::Stopped) =>
                            {
                                (State::Stopping, began)
                            }
                            _ => (cell.state, cell.since),
                        };
                    let depends_on = plan
                        .dependencies(node)
                        .iter()
                        .map(|&dep| plan.name(dep))
                        .chain(plan.external_of(node))
                        .map(str::to_owned)
                        .collect();
                    ServiceStatus {
                        name: plan.name(node).to_owned(),
                        state,
                        ready: state.is_ready(),
                        attempt: cell.attempt,
                        restarts: cell.restarts,
                        since: from_millis(since),
                        depends_on,
                        allowed_failure: cell.allowed_failure,
                        counts_for_readiness: cell.counts,
                        last_error: cell
                            .extra
                            .as_ref()
                            .and_then(|extra| extra.last_error.clone()),
                        next_attempt_at: cell
                            .extra
                            .as_ref()
                            .map(|extra| extra.next_attempt_at)
                            .filter(|&at| at > 0)
                            .map(from_millis),
                        failures: cell.failures,
                        reason: cell
                            .extra
                            .as_ref()
                            .and_then(|extra| extra.reason.as_deref().map(str::to_owned)),
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The edit of one service's cell inside [`StatusBoard::record_at`].
pub(crate) struct CellUpdate<'a> {
    cell: &'a mut Cell,
    /// The wall clock, read once for the edit.
    now: Millis,
    /// Whether anything readers see changed.
    dirty: bool,
}

impl CellUpdate<'_> {
    /// Whether the service may log one more repeated lifecycle line now: at most
    /// [`LINES_PER_SECOND`] in a second of the wall clock, then the count of those left
    /// out, with the next line logged.
    pub(crate) fn admit(&mut self) -> Admit {
        let cell = &mut *self.cell;
        let second = u32::try_from(self.now / 1000).unwrap_or(u32::MAX);
        if cell.window != second {
            cell.window = second;
            cell.lines = 1;
            return match std::mem::take(&mut cell.suppressed) {
                0 => Admit::Log,
                suppressed => Admit::LogAfterSummary(suppressed),
            };
        }
        if cell.lines < LINES_PER_SECOND {
            cell.lines += 1;
            Admit::Log
        } else {
            cell.suppressed = cell.suppressed.saturating_add(1);
            Admit::Suppress
        }
    }

    /// The last line of a crash loop: logged, after the count of the lines left out
    /// and not summarised yet.
    pub(crate) fn last_line(&mut self) -> Admit {
        match std::mem::take(&mut self.cell.suppressed) {
            0 => Admit::Log,
            suppressed => Admit::LogAfterSummary(suppressed),
        }
    }

    /// The state the service is in before this edit (or after an earlier part of it).
    pub(crate) fn current(&self) -> State {
        self.cell.state
    }

    /// The attempt the cell has recorded last (0: none yet).
    pub(crate) fn current_attempt(&self) -> u32 {
        self.cell.attempt
    }

    /// The service enters `state`; leaving `retrying` clears `next_attempt_at`.
    pub(crate) fn state(&mut self, state: State) -> &mut Self {
        self.dirty = true;
        self.cell.state = state;
        if let Some(extra) = &mut self.cell.extra {
            extra.reason = None;
            if state != State::Retrying {
                extra.next_attempt_at = 0;
            }
        }
        self
    }

    /// Why the service is in its state (set after [`state`](Self::state), which clears
    /// it).
    pub(crate) fn reason(&mut self, reason: String) -> &mut Self {
        self.dirty = true;
        self.cell.extra.get_or_insert_default().reason = Some(reason.into_boxed_str());
        self
    }

    /// Attempt `attempt` begins; every attempt after the first counts as a restart.
    pub(crate) fn attempt(&mut self, attempt: u32) -> &mut Self {
        self.dirty = true;
        if self.cell.attempt > 0 {
            self.cell.restarts = self.cell.restarts.saturating_add(1);
        }
        self.cell.attempt = attempt;
        self
    }

    /// An attempt failed with `message`.
    pub(crate) fn failure(&mut self, attempt: u32, message: String) -> &mut Self {
        self.dirty = true;
        self.cell.failures = self.cell.failures.saturating_add(1);
        self.cell.extra.get_or_insert_default().last_error = Some(LastError {
            message,
            attempt,
            at: Timestamp::now(),
        });
        self
    }

    /// The next attempt starts after `delay`.
    pub(crate) fn retry_in(&mut self, delay: Duration) -> &mut Self {
        self.dirty = true;
        let delay = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.cell.extra.get_or_insert_default().next_attempt_at =
            self.now.saturating_add(delay).max(1);
        self
    }

    /// Takes the service out of the readiness count (an allowed failure that failed for
    /// good).
    pub(crate) fn stop_counting(&mut self) -> &mut Self {
        self.dirty = true;
        self.cell.counts = false;
        self
    }

    /// It counts towards readiness again (a restarted allowed failure).
    pub(crate) fn start_counting(&mut self) -> &mut Self {
        self.dirty = true;
        self.cell.counts = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(names: &[(&'static str, bool)]) -> Arc<StatusBoard> {
        let board = StatusBoard::new();
        let plan = Plan::new(names.iter().map(|&(name, _)| (name, [""; 0]))).unwrap();
        board.plan(
            Arc::new(plan),
            names.iter().map(|&(_, counts)| (false, counts)),
        );
        board
    }

    #[test]
    fn a_cell_stays_small() {
        assert!(std::mem::size_of::<Mutex<Cell>>() <= 56);
    }

    #[test]
    fn repeated_lines_are_limited_per_second() {
        let board = board(&[("a", true)]);
        let admit = |second: u64| {
            let services = board.services.get().unwrap();
            let mut cell = lock(&services.cells[0].cell);
            CellUpdate {
                cell: &mut cell,
                now: second * 1000 + 500,
                dirty: false,
            }
            .admit()
        };
        let admitted: Vec<Admit> = (0..15).map(|_| admit(7)).collect();
        assert_eq!(
            admitted
                .iter()
                .filter(|admit| **admit == Admit::Log)
                .count(),
            10
        );
        assert_eq!(admitted[14], Admit::Suppress);
        assert_eq!(admit(8), Admit::LogAfterSummary(5));
        assert_eq!(admit(8), Admit::Log);
        #[expect(
            clippy::redundant_closure_for_method_calls,
            reason = "the method path is not general over the lifetime"
        )]
        let last = board.record(0, |cell| cell.last_line());
        assert_eq!(last, Some(Admit::Log));
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
    fn still_stopping_names_what_has_not_finished() {
        let board = board(&[("a", true), ("b", true), ("c", true)]);
        board.record(0, |cell| {
            cell.attempt(1).state(State::Stopping);
        });
        board.record(1, |cell| {
            cell.state(State::Skipped);
        });
        assert_eq!(board.handle().still_stopping(), ["a", "c"]);
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

    #[test]
    fn a_reason_is_shown_until_the_state_changes() {
        let board = board(&[("a", true)]);
        board.record(0, |cell| {
            cell.state(State::Pending)
                .reason("waiting for peer db".into());
        });
        let json = serde_json::to_value(board.handle().snapshot()).unwrap();
        assert_eq!(json["services"][0]["reason"], "waiting for peer db");
        assert_eq!(
            board.handle().snapshot().not_ready_reason().as_deref(),
            Some("a is pending (waiting for peer db)")
        );
        board.record(0, |cell| {
            cell.attempt(1).state(State::Ready);
        });
        let json = serde_json::to_value(board.handle().snapshot()).unwrap();
        assert!(json["services"][0].get("reason").is_none(), "{json}");
    }

    #[test]
    fn the_version_counts_every_change_and_nothing_else() {
        let board = board(&[("a", true)]);
        let handle = board.handle();
        let before = handle.version();
        board.record(0, |cell| {
            cell.state(State::Ready);
        });
        assert_eq!(handle.version(), before + 1);
        // Nothing readers see changed: no new version.
        let _ = board.record(0, |cell| cell.current());
        assert_eq!(handle.version(), before + 1);
    }

    #[test]
    fn two_changes_in_one_edit_are_two_in_the_history_and_the_version() {
        let board = board(&[("a", true), ("b", true)]);
        board.keep_history();
        let handle = board.handle();
        let before = handle.version();
        let epoch = tokio::time::Instant::now();
        let (first, second) = (
            board.stamp(epoch),
            board.stamp(epoch + Duration::from_secs(3)),
        );
        board.record_after(
            0,
            (first, |cell: &mut CellUpdate<'_>| {
                cell.attempt(1).state(State::Starting);
            }),
            Some(second),
            |cell| {
                assert_eq!(
                    cell.current(),
                    State::Starting,
                    "the first change is made first"
                );
                cell.state(State::Ready);
            },
        );
        assert_eq!(handle.version(), before + 2);
        let (history, _) = board.history();
        let changes: Vec<_> = history
            .iter()
            .map(|t| (t.node, t.state, t.at - epoch))
            .collect();
        assert_eq!(
            changes,
            [
                (0, State::Starting, Duration::ZERO),
                (0, State::Ready, Duration::from_secs(3)),
            ]
        );
        // Counted out of the readiness count once: `b` is the one left.
        assert_eq!(
            handle.snapshot().not_ready_reason().as_deref(),
            Some("b is pending")
        );
        board.record(1, |cell| {
            cell.state(State::Ready);
        });
        assert!(handle.is_ready());
        let a = handle.snapshot().services[0].clone();
        assert_eq!((a.state, a.attempt), (State::Ready, 1));
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
        let changed = tokio::spawn(handle.changed());
        tokio::task::yield_now().await;
        board.set_phase(Phase::Stopping);
        tokio::time::timeout(Duration::from_secs(5), changed)
            .await
            .expect("changed() resolved while waiting")
            .unwrap();
    }

    /// What `StatusHandle::changed`'s docs warn of: a change before the call does not
    /// wake it, so a loop must take it before it looks.
    #[tokio::test(start_paused = true)]
    async fn changed_does_not_count_a_change_before_the_call() {
        let board = board(&[("a", true)]);
        let handle = board.handle();
        board.record(0, |cell| {
            cell.state(State::Ready);
        });
        let changed = handle.changed();
        assert!(
            tokio::time::timeout(Duration::from_secs(60), changed)
                .await
                .is_err(),
            "changed() resolved on a change made before it was called"
        );
    }
}
