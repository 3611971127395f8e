use servicepack::prelude::*;

#[service(retries = 3, delay = "10s", backoff = "exponential", max_delay = "5s")]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
