use servicepack::prelude::*;

#[service(retries = 1 delay = "1s")]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
