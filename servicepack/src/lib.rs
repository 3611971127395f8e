//! Run many services in one binary.
//!
//! Write each service as a struct with `#[service(...)]` and an `impl Service`; write
//! `#[servicepack::main] fn main() {}`; get a command-line app whose `run` starts every
//! service in dependency order, retries failures, and shuts down gracefully in reverse
//! order. See the README for the whole tour.

mod app;
mod cli;
mod config;
mod catch;
mod context;
mod duration;
mod error;
mod plan;
mod policy;
pub mod prelude;
mod registry;
mod report;
mod retry;
mod runner;
mod service;
mod shared;
mod signals;
mod shutdown;
mod supervisor;
mod telemetry;

pub use app::App;
pub use context::Context;
pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{Error, Result};
pub use plan::PlanError;
pub use policy::{Backoff, Policy, Restart, Retries};
pub use registry::ServiceDef;
pub use report::{Report, RunError, ShutdownCause};
pub use runner::Runner;
pub use shutdown::ShutdownHandle;
pub use service::{Commander, Service};
pub use servicepack_macros::{main, service};

// Not public API: what the macros' expansions name.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::app::{AppInfo, main};
    pub use crate::registry::{CommandsEntry, Entry, Registered, SERVICES};
    pub use crate::service::{BoxFuture, DynService};
    pub use crate::{Backoff, Policy, Restart, Retries};
    pub use core::time::Duration;
}
