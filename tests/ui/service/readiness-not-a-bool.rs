use servicepack::prelude::*;

#[service(readiness = "no")]
#[derive(Default)]
struct Warmer;

impl Service for Warmer {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
