//! `jitter`: each delay is randomised by ±25 %, so that many instances that failed
//! together do not retry together.
//!
//! Watch the `retrying` lines: every delay is between 75ms and 125ms around the 100ms of
//! `delay`, and no two runs of the app print the same sequence. Run it a few times to
//! see the spread: three retries a run write ten lifecycle lines, all of which the log
//! keeps (it keeps at most ten a second per service, see `crash-loop`).

use servicepack::prelude::*;

/// Fails four times in a row: three jittered delays a run.
#[service(retries = 3, delay = "100ms", jitter, allowed_failure)]
#[derive(Default)]
pub(crate) struct Jitter;

impl Service for Jitter {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Err("the upstream is overloaded".into())
    }
}
