//! The same binary without `services_from`: `billing` is a dependency of the package, but
//! nothing in this binary names it, so rustc does not link it and its services are
//! missing. This is the failure `services_from` exists for.

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

#[servicepack::main]
fn main() {}
