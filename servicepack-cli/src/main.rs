//! `servicepack`: start a servicepack project, add and remove its services.
//!
//! ```text
//! servicepack new my-app
//! servicepack add worker --retries 2 --delay 1s --notify-ready
//! servicepack add api --depends-on worker
//! servicepack list
//! servicepack remove api
//! ```
//!
//! Refusals (a bad name, a taken name, an unknown dependency, a non-empty directory)
//! print `error: ...` naming the problem and the fix, and exit 1; usage errors exit 2.

mod add;
mod cli;
mod error;
mod lex;
mod list;
mod names;
mod new;
mod project;
mod remove;
mod scan;
// The source `#[service]` is checked with (a symlink to `servicepack-macros/src/shared`):
// the duration parser, the default-name rule, the reserved command names and every
// message about a bad value, so that `add` accepts and refuses exactly what the
// attribute will, in its words, and `list` shows the names the binary registers.
#[allow(dead_code, unreachable_pub)]
mod shared;
mod templates;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}
