// `status` is reserved for the status client (SPEC section 7), not only the commands
// that exist today: a service with `commands` cannot take the name.
use servicepack::prelude::*;

#[derive(clap::Subcommand)]
enum StatusCommand {
    Show,
}

#[service(commands)]
#[derive(Default)]
struct Status;

impl Service for Status {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Commander for Status {
    type Command = StatusCommand;
    async fn command(&self, _cmd: StatusCommand, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
