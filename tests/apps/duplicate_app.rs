//! Two services registered under one name, for `services`, `check` and `run`.

use servicepack::prelude::*;

/// The first `worker`.
#[service(name = "worker")]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

/// Another `worker`.
#[service(name = "worker")]
#[derive(Default)]
struct OtherWorker;

impl Service for OtherWorker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

#[servicepack::main]
fn main() {}
