use servicepack::prelude::*;

#[service(name = "sv", commands)]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
