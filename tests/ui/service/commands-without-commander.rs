use servicepack::prelude::*;

#[service(retries = 1, commands)]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
