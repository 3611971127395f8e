//! `counter`: a service with its own subcommands (`commands`), run without the app.
//!
//! `patterns counter count --to 3` constructs only this service, prints 1 to 3 and
//! exits 0: no other service is constructed, none runs. `patterns counter --help`
//! lists the subcommands.

use std::time::Duration;

use servicepack::prelude::*;

/// The subcommands of `counter`: `patterns counter <command>`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CounterCommand {
    /// Count from 1, one number a line, and stop early on Ctrl-C.
    Count {
        /// The last number.
        #[arg(long, default_value_t = 3)]
        to: u32,
    },
}

/// Counts ticks while the app runs; its command counts on demand.
#[service(commands)]
#[derive(Default)]
pub(crate) struct Counter;

impl Service for Counter {
    async fn run(&self, ctx: Context) -> Result<()> {
        let mut ticks = tokio::time::interval(Duration::from_millis(500));
        let mut count = 0_u64;
        loop {
            tokio::select! {
                () = ctx.cancelled() => return Ok(()),
                _ = ticks.tick() => {
                    count += 1;
                    tracing::debug!(count, "tick");
                }
            }
        }
    }
}

impl Commander for Counter {
    type Command = CounterCommand;

    async fn command(&self, cmd: CounterCommand, ctx: Context) -> Result<()> {
        let CounterCommand::Count { to } = cmd;
        for n in 1..=to {
            if ctx.is_cancelled() {
                return Err(format!("interrupted at {n}").into());
            }
            println!("{n}");
        }
        Ok(())
    }
}
