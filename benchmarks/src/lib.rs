//! The shared parts of the servicepack benchmarks.
//!
//! A service runtime's cost is the time and memory it adds around the user's services.
//! To see that cost, every shape is run twice in the same process: once through the
//! framework ([`framework`]: `ServiceDef` + `Policy`, run by `Runner`) and once as the
//! least raw tokio can do for the same job ([`baseline`]: a `TaskTracker` and one
//! `CancellationToken` per task). Both sides run the same [`shape::Shape`] and report
//! through the same [`probe::Probe`], so the only difference is the runtime.
//!
//! The `servicepack-bench` binary prints the side-by-side figures; `benches/micro.rs`
//! holds divan micro-benchmarks of the hot pieces.

pub mod baseline;
pub mod framework;
pub mod peer;
pub mod probe;
pub mod shape;
pub mod sys;

use std::time::Duration;

/// How long one start-and-stop of a shape took.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From the start of the run until the last service was running.
    pub start: Duration,
    /// From the shutdown request until everything had stopped.
    pub stop: Duration,
    /// From the shutdown request until the last service's `run` saw the cancellation
    /// (the rest of `stop` is the runtime's wrap-up).
    pub left: Option<Duration>,
}
