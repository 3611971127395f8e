//! `jitter`: each delay is randomised by ±25 %, so that many instances that failed
//! together do not retry together.
//!
//! Watch the `retrying` lines: every delay is between 15ms and 25ms around the 20ms of
//! `delay`, and no two runs of the app print the same sequence.

use servicepack::prelude::*;

/// Fails 30 times in a row: enough delays to see the spread.
#[service(retries = 30, delay = "20ms", jitter, allowed_failure)]
#[derive(Default)]
pub(crate) struct Jitter;

impl Service for Jitter {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Err("the upstream is overloaded".into())
    }
}
