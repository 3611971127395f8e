
/// The subcommands of `{{name}}`: `<app> {{name}} <command>`.
#[derive(Debug, clap::Subcommand)]
pub enum {{type}}Command {
    /// Prints the state of the service.
    Status,
}

impl Commander for {{type}} {
    type Command = {{type}}Command;

    async fn command(&self, cmd: {{type}}Command, ctx: Context) -> Result<()> {
        match cmd {
            {{type}}Command::Status => println!("{}: ok", ctx.name()),
        }
        Ok(())
    }
}
