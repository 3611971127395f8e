//! A binary that names the `billing` fixture crate only in `services_from`: its services
//! (one of them in a nested module) are registered.

use servicepack::prelude::*;

/// A service of the binary itself.
#[service]
#[derive(Default)]
struct Storefront;

impl Service for Storefront {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

#[servicepack::main(services_from = [billing])]
fn main() {}
