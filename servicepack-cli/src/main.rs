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
// The very parser the runtime and `#[service(delay = ...)]` use, so that `--delay`
// accepts exactly what the generated attribute will. It is linted in servicepack, where
// it lives; here only `parse_duration` is used.
#[path = "../../servicepack/src/duration.rs"]
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
mod duration;
mod error;
// The rule `#[service]` derives default names by, so that `list` shows the names the
// binary registers.
#[path = "../../servicepack-macros/src/kebab.rs"]
mod kebab;
mod lex;
mod list;
mod names;
mod new;
mod project;
mod remove;
mod scan;
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
