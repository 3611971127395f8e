// `deploy` is reserved (SPEC section 9), also when the name is given with `name = ...`.
use servicepack::prelude::*;

#[service(name = "deploy", commands)]
#[derive(Default)]
struct Deployer;

impl Service for Deployer {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
