//! The smallest servicepack app: one service, run with `cargo run -p hello -- run`.

use servicepack::prelude::*;

/// Says hello, then waits for Ctrl-C.
#[service]
#[derive(Default)]
struct Hello;

impl Service for Hello {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("hello, world");
        ctx.cancelled().await;
        tracing::info!("goodbye, world");
        Ok(())
    }
}

#[servicepack::main]
fn main() {}
