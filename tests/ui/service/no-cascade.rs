// A mistake in one attribute is reported once: the service that depends on the broken
// one still compiles.
use servicepack::prelude::*;

#[service(retries = "a few")]
#[derive(Default)]
struct Database;

#[service(depends_on = [Database])]
#[derive(Default)]
struct Worker;

impl Service for Database {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
