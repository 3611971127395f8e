//! `crash-loop`: a service that fails at once, over and over, and what the log makes of
//! it.
//!
//! Each attempt writes three lifecycle lines (`starting`, `attempt failed`, `retrying`),
//! here about three hundred a second. The runtime keeps at most ten a second per
//! service: watch ten lines, then, at the start of the next second, one WARN
//! `lifecycle lines suppressed (more than 10 a second)` with `suppressed=<count>` for
//! the lines it left out, and so on until the final failure (which comes after the last
//! count). The status (`restarts`, `failures`) counts every attempt all the same.
//!
//! A short `delay` with many `retries` is what a misconfigured service looks like; a
//! real one wants a longer delay, exponential backoff and a cap on `retries`.

use servicepack::prelude::*;

/// Fails every attempt, 150 retries 10ms apart: a second and a half of crash loop.
#[service(name = "crash-loop", retries = 150, delay = "10ms", allowed_failure)]
#[derive(Default)]
pub(crate) struct CrashLoop;

impl Service for CrashLoop {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Err("the config file is missing".into())
    }
}
