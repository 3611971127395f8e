//! An app whose services depend on each other in a loop, for `check` and `run`.

use servicepack::prelude::*;

/// Depends on `Second`.
#[service(depends_on = [Second])]
#[derive(Default)]
struct First;

impl Service for First {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

/// Depends on `First`.
#[service(depends_on = [First])]
#[derive(Default)]
struct Second;

impl Service for Second {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

#[servicepack::main]
fn main() {}
