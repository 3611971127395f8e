//! Run many services in one binary.
//!
//! Write each service as a struct with `#[service(...)]` and an `impl Service`; write
//! `#[servicepack::main] fn main() {}`; get a command-line app whose `run` starts every
//! service in dependency order, retries failures, and shuts down gracefully in reverse
//! order. See the README for the whole tour.

mod context;
mod duration;
mod error;
mod policy;
pub mod prelude;
mod registry;
mod service;

pub use context::Context;
pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{Error, Result};
pub use policy::{Backoff, Policy, Restart, Retries};
pub use registry::ServiceDef;
pub use service::{Commander, Service};
pub use servicepack_macros::{main, service};

// Not public API: what the macros' expansions name.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::registry::{CommandsEntry, Entry, Registered, SERVICES};
    pub use crate::service::{BoxFuture, DynService};
    pub use crate::{Backoff, Policy, Restart, Retries};
    pub use core::time::Duration;
}
