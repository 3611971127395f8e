use servicepack::prelude::*;

#[derive(Default)]
struct Database;

#[service(depends_on = [Database, "cache"])]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
