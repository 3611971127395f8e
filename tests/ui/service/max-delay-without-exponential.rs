use servicepack::prelude::*;

#[service(retries = 3, delay = "1s", max_delay = "1m")]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
