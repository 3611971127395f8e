//! Running services in tests the way the app would (SPEC §11), best on tokio's paused
//! clock: [`TestRun`] starts them with their `#[service]` policies (or hand-built
//! [`ServiceDef`]s), records every state change of SPEC §5 in order, and shuts them down
//! as SIGTERM would.
//!
//! ```standalone_crate
//! use servicepack::prelude::*;
//! use servicepack::testing::{State, TestRun};
//!
//! #[service(notify_ready)]
//! #[derive(Default)]
//! struct ExampleDatabase;
//!
//! impl Service for ExampleDatabase {
//!     async fn run(&self, ctx: Context) -> Result<()> {
//!         tokio::time::sleep(std::time::Duration::from_secs(2)).await; // connecting
//!         ctx.ready();
//!         ctx.cancelled().await;
//!         Ok(())
//!     }
//! }
//!
//! #[service(depends_on = [ExampleDatabase])]
//! #[derive(Default)]
//! struct ExampleApi;
//!
//! impl Service for ExampleApi {
//!     async fn run(&self, ctx: Context) -> Result<()> {
//!         ctx.cancelled().await;
//!         Ok(())
//!     }
//! }
//!
//! # #[cfg(any())]
//! #[tokio::test(start_paused = true)]
//! async fn api_waits_for_the_database() {
//! # }
//! # async fn api_waits_for_the_database() {
//!     let run = TestRun::of::<(ExampleDatabase, ExampleApi)>();   // with their #[service] policies
//!     run.wait_for("example-api", State::Ready).await;
//!     assert!(run.happened_before(("example-database", State::Ready), ("example-api", State::Ready)));
//!     let report = run.shutdown().await;                          // as SIGTERM would
//!     assert_eq!(report.exit_code(), 0);
//! }
//! # tokio::runtime::Builder::new_current_thread()
//! #     .enable_all()
//! #     .start_paused(true)
//! #     .build()
//! #     .unwrap()
//! #     .block_on(api_waits_for_the_database());
//! ```

use std::fmt;
use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::registry::Registered;
pub use crate::runtime::status::State;
use crate::{
    AppState, AppStatus, Report, RunError, Runner, ServiceDef, ShutdownHandle, StatusHandle,
};

/// One state change of one service, as [`TestRun::events`] lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The service.
    pub service: String,
    /// The state it entered.
    pub state: State,
    /// When, since the run began (exact on the paused clock).
    pub at: Duration,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {} {}", self.at, self.service, self.state)
    }
}

/// A set of `#[service]` types, for [`TestRun::of`]: one type, or a tuple of up to 12.
pub trait Services {
    /// Their definitions, with the policies their attributes give.
    fn defs() -> Vec<ServiceDef>;
}

macro_rules! tuple_services {
    ($($ty:ident),+) => {
        impl<$($ty: Registered),+> Services for ($($ty,)+) {
            fn defs() -> Vec<ServiceDef> {
                vec![$(ServiceDef::of::<$ty>()),+]
            }
        }
    };
}

/// One `#[service]` type alone: `TestRun::of::<ExampleDatabase>()`.
impl<T: Registered> Services for T {
    fn defs() -> Vec<ServiceDef> {
        vec![ServiceDef::of::<T>()]
    }
}

tuple_services!(A);
tuple_services!(A, B);
tuple_services!(A, B, C);
tuple_services!(A, B, C, D);
tuple_services!(A, B, C, D, E);
tuple_services!(A, B, C, D, E, F);
tuple_services!(A, B, C, D, E, F, G);
tuple_services!(A, B, C, D, E, F, G, H);
tuple_services!(A, B, C, D, E, F, G, H, I);
tuple_services!(A, B, C, D, E, F, G, H, I, J);
tuple_services!(A, B, C, D, E, F, G, H, I, J, K);
tuple_services!(A, B, C, D, E, F, G, H, I, J, K, L);

/// Services running in a test, as `./app run` would run them: per-edge start, retries,
/// readiness, reverse-order shutdown, the same [`Report`].
///
/// Every wait is driven by the services' own timers, so on tokio's paused clock
/// (`#[tokio::test(start_paused = true)]`) a test of minutes of retries takes no time.
pub struct TestRun {
    status: StatusHandle,
    shutdown: ShutdownHandle,
    start: Instant,
    task: Mutex<JoinHandle<Report>>,
    report: OnceCell<Report>,
}

impl fmt::Debug for TestRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRun")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl TestRun {
    /// Runs the `#[service]` types of the tuple `T` with their attribute policies and
    /// dependencies (a dependency outside the tuple is external, as in an app that does
    /// not enable it), with the default shutdown budget of 10 s.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[must_use]
    pub fn of<T: Services>() -> Self {
        Self::new(T::defs())
    }

    /// Runs hand-built (or [`ServiceDef::of`]) definitions.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use servicepack::prelude::*;
    /// use servicepack::ServiceDef;
    /// use servicepack::testing::{State, TestRun};
    ///
    /// struct Job;
    /// impl Service for Job {
    ///     async fn run(&self, _ctx: Context) -> Result<()> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
    /// let run = TestRun::new([ServiceDef::new("job", Job)]);
    /// // Nothing left running: the run ends by itself.
    /// assert_eq!(run.report().await.exit_code(), 0);
    /// let states: Vec<State> = run.events().iter().map(|event| event.state).collect();
    /// assert_eq!(states, [State::Ready, State::Exited, State::Stopping, State::Stopped]);
    /// # });
    /// ```
    #[must_use]
    pub fn new(defs: impl IntoIterator<Item = ServiceDef>) -> Self {
        Self::with_runner(Runner::new().services(defs))
    }

    /// Runs a configured [`Runner`] (a shutdown budget, a drain delay, a jitter source).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[must_use]
    pub fn with_runner(runner: Runner) -> Self {
        let runner = runner.keep_history();
        let status = runner.status();
        let shutdown = runner.shutdown_handle();
        let start = Instant::now();
        let task = tokio::spawn(runner.run());
        Self {
            status,
            shutdown,
            start,
            task: Mutex::new(task),
            report: OnceCell::new(),
        }
    }

    /// The status now (SPEC §5).
    #[must_use]
    pub fn status(&self) -> AppStatus {
        self.status.snapshot()
    }

    /// The live status handle, to await changes.
    #[must_use]
    pub fn status_handle(&self) -> &StatusHandle {
        &self.status
    }

    /// Every state change so far, in order (a service's first event is its first change
    /// from `pending`).
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        let (history, plan) = self.status.history();
        let Some(plan) = plan else {
            return Vec::new();
        };
        history
            .into_iter()
            .map(|change| Event {
                service: plan.name(change.node).to_owned(),
                state: change.state,
                at: change.at.saturating_duration_since(self.start),
            })
            .collect()
    }

    /// Whether `first` happened before `then`: service `first.0` entered state `first.1`
    /// (the first time) before `then.0` entered `then.1` (the first time). `false` when
    /// either never happened.
    #[must_use]
    pub fn happened_before(&self, first: (&str, State), then: (&str, State)) -> bool {
        let events = self.events();
        let find = |(name, state): (&str, State)| {
            events
                .iter()
                .position(|event| event.service == name && event.state == state)
        };
        matches!((find(first), find(then)), (Some(a), Some(b)) if a < b)
    }

    /// Waits until service `name` is in `state`, or has entered it since the call (a
    /// state passed through while the test was not looking counts).
    ///
    /// # Panics
    ///
    /// When `name` is not one of the services, or when the run ends without the service
    /// ever entering `state` (the message lists what happened).
    pub async fn wait_for(&self, name: &str, state: State) {
        let seen = self.status.history().0.len();
        loop {
            let changed = self.status.changed();
            let snapshot = self.status.snapshot();
            let Some(service) = snapshot.service(name) else {
                assert!(
                    snapshot.services.is_empty(),
                    "no service `{name}` in this run"
                );
                changed.await;
                continue;
            };
            if service.state == state
                || self.events()[seen..]
                    .iter()
                    .any(|event| event.service == name && event.state == state)
            {
                return;
            }
            if self.is_over() {
                let events: Vec<String> = self.events().iter().map(ToString::to_string).collect();
                panic!(
                    "the run ended and `{name}` never was {state}; it is {}; events:\n{}",
                    service.state,
                    events.join("\n")
                );
            }
            changed.await;
        }
    }

    /// Whether the run is over (the runner sets `stopped` before `run` returns).
    fn is_over(&self) -> bool {
        self.status.app_state() == AppState::Stopped
    }

    /// Asks for a graceful shutdown, as the first SIGTERM would, and waits for the
    /// [`Report`].
    pub async fn shutdown(&self) -> &Report {
        self.shutdown.request();
        self.report().await
    }

    /// Two shutdown requests at once, as two signals would: the exit is forced (exit code
    /// 130, naming the services still stopping).
    pub async fn signal_twice(&self) -> &Report {
        self.shutdown.request();
        self.shutdown.request();
        self.report().await
    }

    /// Waits until the run ends by itself (nothing left running, or a fatal failure) and
    /// returns its [`Report`]; after [`shutdown`](Self::shutdown), the same report.
    pub async fn report(&self) -> &Report {
        self.report
            .get_or_init(|| async {
                // Awaited by reference: a caller that gives up leaves it to the next.
                let mut task = self.task.lock().await;
                match (&mut *task).await {
                    Ok(report) => report,
                    Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                    // Only a runtime that shuts down cancels the task.
                    Err(_) => Report::from_errors(
                        vec![RunError::Forced {
                            still_stopping: Vec::new(),
                        }],
                        None,
                    ),
                }
            })
            .await
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        // A test that ends early leaves no services behind.
        self.task.get_mut().abort();
    }
}
