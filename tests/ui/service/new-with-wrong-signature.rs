use servicepack::prelude::*;

#[service(new = Worker::open)]
struct Worker;

impl Worker {
    fn open() -> Self {
        Worker
    }
}

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
