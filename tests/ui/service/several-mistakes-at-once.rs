use servicepack::prelude::*;

#[service(retries = -1, delay = "soon", jiter, name = 5, retries = 2, restart = "sometimes")]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
