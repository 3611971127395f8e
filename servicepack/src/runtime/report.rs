//! What [`Runner::run`](crate::Runner::run) hands back: the exit code and why.

use std::fmt::Write as _;
use std::time::Duration;

use crate::runtime::catch::Chain;
use crate::{Error, PlanError, format_duration};

/// Something that makes a run exit non-zero, naming the service it happened to.
///
/// Every variant's `source` (where there is one) is the error the user's code returned,
/// or `panicked: <message>` for a caught panic.
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
/// use servicepack::{RunError, Runner, ServiceDef};
///
/// struct Broken;
/// impl Service for Broken {
///     async fn run(&self, _ctx: Context) -> Result<()> {
///         Err("disk full".into())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let report = Runner::new().service(ServiceDef::new("writer", Broken)).run().await;
/// match &report.errors()[0] {
///     RunError::Failed { service, attempts, source } => {
///         assert_eq!(service, "writer");
///         assert_eq!(*attempts, 1);
///         assert_eq!(source.to_string(), "disk full");
///     }
///     other => panic!("unexpected {other}"),
/// }
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The services could not be planned (no service, a duplicate name, a cycle); nothing
    /// started.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A service's constructor returned an error or panicked.
    #[error("service {service} could not be constructed")]
    Construct {
        /// The service.
        service: String,
        /// What the constructor returned.
        #[source]
        source: Error,
    },
    /// A service failed for good (its retries were used up) and is not an allowed failure.
    #[error("service {service} failed after {attempts} {}", runs(*.attempts))]
    Failed {
        /// The service.
        service: String,
        /// How many times `run` was called.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: Error,
    },
    /// A service's `stop` returned an error or panicked.
    #[error("service {service} failed to stop")]
    StopFailed {
        /// The service.
        service: String,
        /// What `stop` returned.
        #[source]
        source: Error,
    },
    /// A service's `run` or `stop` had not returned when its stop deadline passed.
    #[error("service {service} did not stop within {}", format_duration(*.timeout))]
    StopTimedOut {
        /// The service.
        service: String,
        /// How long the runtime waited: the smaller of its `stop_timeout` and what was
        /// left of the shutdown budget.
        timeout: Duration,
    },
    /// Dropping a service (its `Drop` impl) panicked: cleanup may not have finished.
    #[error("service {service} panicked while it was dropped")]
    Drop {
        /// The service.
        service: String,
        /// The panic, as `panicked: <message>`.
        #[source]
        source: Error,
    },
    /// The shutdown budget ran out before every service had stopped.
    #[error(
        "shutdown budget of {} ran out; still stopping: {}",
        format_duration(*.budget),
        names(.still_stopping)
    )]
    ShutdownTimedOut {
        /// The shutdown budget (`RUNNER_SHUTDOWNTIMEOUT`).
        budget: Duration,
        /// Services that had not stopped, in registration order.
        still_stopping: Vec<String>,
    },
    /// A second shutdown request came while shutting down.
    #[error("forced exit: shutdown requested again while stopping; still stopping: {}", names(.still_stopping))]
    Forced {
        /// Services that had not stopped, in registration order.
        still_stopping: Vec<String>,
    },
}

fn runs(attempts: u32) -> &'static str {
    if attempts == 1 { "attempt" } else { "attempts" }
}

fn names(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Why shutdown began.
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
/// use servicepack::{Runner, ServiceDef, ShutdownCause};
///
/// struct Job;
/// impl Service for Job {
///     async fn run(&self, _ctx: Context) -> Result<()> {
///         Ok(()) // a one-shot job: when it is done, nothing is left running
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let report = Runner::new().service(ServiceDef::new("job", Job)).run().await;
/// assert_eq!(report.cause(), Some(&ShutdownCause::NothingLeftRunning));
/// assert_eq!(report.cause().unwrap().to_string(), "no service left running");
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownCause {
    /// [`ShutdownHandle::request`](crate::ShutdownHandle::request) (SIGINT or SIGTERM in
    /// an app).
    Requested,
    /// A service failed for good and is not an allowed failure.
    Failed {
        /// The service.
        service: String,
    },
    /// Every service had ended (returned, failed as an allowed failure, or was skipped).
    NothingLeftRunning,
}

impl std::fmt::Display for ShutdownCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Requested => f.write_str("shutdown requested"),
            Self::Failed { service } => write!(f, "service {service} failed"),
            Self::NothingLeftRunning => f.write_str("no service left running"),
        }
    }
}

/// The outcome of [`Runner::run`](crate::Runner::run): the process exit code and what
/// went wrong.
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
/// use servicepack::{Runner, ServiceDef};
///
/// struct Job;
/// impl Service for Job {
///     async fn run(&self, _ctx: Context) -> Result<()> {
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let report = Runner::new().service(ServiceDef::new("job", Job)).run().await;
/// assert_eq!(report.exit_code(), 0);
/// assert!(report.reason().is_none());
/// # });
/// ```
#[derive(Debug)]
pub struct Report {
    pub(crate) exit_code: u8,
    pub(crate) errors: Vec<RunError>,
    pub(crate) cause: Option<ShutdownCause>,
}

impl Report {
    pub(crate) fn from_errors(errors: Vec<RunError>, cause: Option<ShutdownCause>) -> Self {
        let exit_code = if errors.iter().any(|e| matches!(e, RunError::Forced { .. })) {
            130
        } else {
            u8::from(!errors.is_empty())
        };
        Self {
            exit_code,
            errors,
            cause,
        }
    }

    /// The process exit code: 0 when every service ended cleanly or as an allowed failure
    /// and every `stop` returned `Ok` in time; 1 for a start-up error, a fatal failure, a
    /// failed or late `stop`, or a shutdown that ran out of budget; 130 for a forced exit
    /// (a second shutdown request while stopping).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }

    /// One paragraph saying why the exit code is not 0 (`None` when it is): every error,
    /// with its causes, separated by `; `.
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let mut reason = String::new();
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                reason.push_str("; ");
            }
            let _ = write!(reason, "{}", Chain(error));
        }
        Some(reason)
    }

    /// Everything that made the exit code non-zero, in the order it happened.
    #[must_use]
    pub fn errors(&self) -> &[RunError] {
        &self.errors
    }

    /// Why shutdown began; `None` when nothing started (a start-up error).
    #[must_use]
    pub fn cause(&self) -> Option<&ShutdownCause> {
        self.cause.as_ref()
    }

    /// The services that had not stopped when the run ended: non-empty only when the
    /// shutdown budget ran out or the exit was forced.
    #[must_use]
    pub fn still_stopping(&self) -> &[String] {
        self.errors
            .iter()
            .find_map(|error| match error {
                RunError::ShutdownTimedOut { still_stopping, .. }
                | RunError::Forced { still_stopping } => Some(still_stopping.as_slice()),
                _ => None,
            })
            .unwrap_or_default()
    }
}
