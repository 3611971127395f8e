//! Run many services in one binary.
//!
//! Write each service as a struct with `#[service(...)]` and an `impl Service`, write
//! `#[servicepack::main] fn main() {}`, and get a command-line app whose `run` starts
//! every service once its own dependencies are ready, retries failures per policy, and
//! shuts down gracefully in reverse dependency order.
//!
//! ```no_run
//! use servicepack::prelude::*;
//!
//! /// Ready after it connects; dependents wait for it.
//! #[service(retries = 2, delay = "2s", notify_ready)]
//! #[derive(Default)]
//! struct Database;
//!
//! impl Service for Database {
//!     async fn run(&self, ctx: Context) -> Result<()> {
//!         ctx.ready();
//!         ctx.cancelled().await;
//!         Ok(())
//!     }
//! }
//!
//! /// Starts once `Database` is ready, stops before it.
//! #[service(depends_on = [Database])]
//! #[derive(Default)]
//! struct Api;
//!
//! impl Service for Api {
//!     async fn run(&self, ctx: Context) -> Result<()> {
//!         tracing::info!("serving");
//!         ctx.cancelled().await;
//!         Ok(())
//!     }
//! }
//!
//! #[servicepack::main]
//! fn main() {}
//! ```
//!
//! `./app run` runs them, `./app services` lists them, `SERVICES_ENABLED=api ./app run`
//! runs one alone. The same runtime runs hand-assembled services through [`Runner`] and
//! [`ServiceDef`], without the macros. The README has the whole tour: every
//! `#[service]` argument, the command line, the environment, and how `run` behaves.

mod app;
// The reserved command names, shared as source with `servicepack-macros`.
mod builtin;
mod cli;
mod context;
#[cfg(feature = "deploy")]
mod deploy;
mod duration;
mod entry;
mod error;
mod ops;
mod policy;
pub mod prelude;
mod probe;
mod registry;
mod runtime;
mod service;
pub mod sv;
pub mod testing;

pub use app::App;
pub use context::{Cancelled, Context};
pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{Error, Result};
/// The [`metrics`](https://docs.rs/metrics) facade, re-exported: what a service records
/// with it appears on the ops endpoint's `/metrics` (SPEC §6.2) once `OPS_ADDR` is set.
///
/// Counters get the `_total` suffix Prometheus expects, names are made valid (`.` becomes
/// `_`), histograms use the Prometheus default buckets (5 ms to 10 s), and names starting
/// with `servicepack_` or `process_` are left out (the framework's own). Without the `ops`
/// feature (or without `OPS_ADDR`) the macros still compile and record nothing.
///
/// # Examples
///
/// ```
/// use servicepack::metrics::{counter, describe_counter, gauge, histogram};
///
/// describe_counter!("jobs_done_total", "Jobs the worker finished.");
/// counter!("jobs_done_total", "queue" => "emails").increment(1);
/// gauge!("queue_depth").set(12.0);
/// histogram!("job_duration_seconds").record(0.25);
/// ```
pub use metrics;
pub use policy::{Backoff, Policy, Restart, Retries};
pub use registry::ServiceDef;
pub use runtime::control::{Control, ControlError};
pub use runtime::plan::PlanError;
pub use runtime::report::{Report, RunError, ShutdownCause};
pub use runtime::runner::Runner;
pub use runtime::shutdown::ShutdownHandle;
pub use runtime::status::{
    AppState, AppStatus, LastError, ServiceStatus, State, StatusHandle, Timestamp,
};
pub use service::{Commander, Service};
pub use servicepack_macros::{main, service};

// Not public API: what the macros' expansions name.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::app::AppInfo;
    pub use crate::entry::main;
    #[cfg(feature = "ops")]
    pub use crate::ops::bench as ops;
    pub use crate::registry::{CommandsEntry, DispatchFn, Entry, Registered, SERVICES};
    pub use crate::runtime::erased::Instance;
    pub use crate::service::BoxFuture;
    pub use crate::{Backoff, Policy, Restart, Retries};
    pub use core::time::Duration;

    /// Installs the global subscriber that `./app run` installs, from `LOG_LEVEL`,
    /// `LOG_FORMAT` and `LOG_ADD_SOURCE`, writing to stderr (nothing if a global
    /// subscriber was already set). For `servicepack-bench`, which times the logs of the
    /// real app path in a fresh process.
    ///
    /// # Errors
    ///
    /// A variable has a value that cannot be used.
    pub fn init_app_logging() -> Result<(), String> {
        let config = crate::app::config::Config::from_env().map_err(|errors| {
            let errors: Vec<String> = errors.errors.iter().map(ToString::to_string).collect();
            errors.join("; ")
        })?;
        crate::app::telemetry::init(&config.log, Vec::new());
        Ok(())
    }
}
