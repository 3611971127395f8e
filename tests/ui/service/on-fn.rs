use servicepack::prelude::*;

#[service]
async fn worker(_ctx: Context) -> Result<()> {
    Ok(())
}

fn main() {}
