use servicepack::prelude::*;

#[service(retries = 1)]
struct Worker {
    port: u16,
}

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        let _ = self.port;
        Ok(())
    }
}

fn main() {}
