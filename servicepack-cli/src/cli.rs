//! The command line: clap definitions and dispatch to one module per command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Failure;
use crate::{add, list, new, remove};

/// Start a servicepack project, add and remove its services.
#[derive(Debug, Parser)]
#[command(name = "servicepack", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a project: Cargo.toml, main, a hello-world service with a test, a git repository
    New(NewArgs),
    /// Add a service to the project: src/services/NAME.rs, wired into src/services/mod.rs
    Add(AddArgs),
    /// Remove a service: its file and its module line
    Remove(RemoveArgs),
    /// List the services of the project, read from its source
    List(ProjectArg),
}

#[derive(Debug, Args)]
struct ProjectArg {
    /// The project directory [default: the nearest one upward with a Cargo.toml]
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct NewArgs {
    /// The directory to create (it may exist if it is empty)
    path: PathBuf,
    /// The package name [default: the directory name]
    #[arg(long)]
    name: Option<String>,
    /// Depend on servicepack at this local path instead of crates.io
    #[arg(long, value_name = "DIR", conflicts_with = "servicepack_version")]
    servicepack_path: Option<PathBuf>,
    /// The servicepack version requirement [default: this CLI's, e.g. 0.1]
    #[arg(long, value_name = "VER")]
    servicepack_version: Option<String>,
    /// Do not create a git repository
    #[arg(long)]
    no_git: bool,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The service name, kebab-case: worker, http-api
    name: String,
    /// Failures retried before one counts: a number or "unlimited"
    #[arg(long, value_name = "N", value_parser = parse_retries)]
    retries: Option<add::Retries>,
    /// Wait before each retry, Go duration syntax: 500ms, 2s, 1m30s
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    delay: Option<String>,
    /// Services of this project to start after (comma-separated names)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    depends_on: Vec<String>,
    /// A final failure is logged; the rest of the app keeps running
    #[arg(long)]
    allowed_failure: bool,
    /// Dependents wait for `ctx.ready()`
    #[arg(long)]
    notify_ready: bool,
    /// Give the service its own subcommands: APP NAME status
    #[arg(long)]
    commands: bool,
    #[command(flatten)]
    project: ProjectArg,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// The service name
    name: String,
    #[command(flatten)]
    project: ProjectArg,
}

fn parse_retries(value: &str) -> Result<add::Retries, String> {
    if value == "unlimited" {
        return Ok(add::Retries::Unlimited);
    }
    value
        .parse()
        .map(add::Retries::Limited)
        .map_err(|_| "expected a whole number like 2, or `unlimited`".to_owned())
}

fn parse_delay(value: &str) -> Result<String, String> {
    crate::duration::parse_duration(value)
        .map(|_| value.to_owned())
        .map_err(|e| e.to_string())
}

impl Cli {
    /// Runs the chosen command.
    ///
    /// # Errors
    ///
    /// The command's refusal or failure.
    pub(crate) fn run(self) -> Result<(), Failure> {
        match self.command {
            Command::New(args) => new::run(&new::Options {
                path: args.path,
                name: args.name,
                source: match (args.servicepack_path, args.servicepack_version) {
                    (Some(path), _) => new::Source::Path(path),
                    (None, Some(version)) => new::Source::Version(version),
                    (None, None) => new::Source::Version(new::default_version()),
                },
                git: !args.no_git,
            }),
            Command::Add(args) => add::run(&add::Options {
                project: args.project.project,
                name: args.name,
                retries: args.retries,
                delay: args.delay,
                depends_on: args
                    .depends_on
                    .into_iter()
                    .map(|name| name.trim().to_owned())
                    .filter(|name| !name.is_empty())
                    .collect(),
                allowed_failure: args.allowed_failure,
                notify_ready: args.notify_ready,
                commands: args.commands,
            }),
            Command::Remove(args) => remove::run(&remove::Options {
                project: args.project.project,
                name: args.name,
            }),
            Command::List(args) => list::run(args.project.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn retries_and_delay_are_checked() {
        assert_eq!(parse_retries("3"), Ok(add::Retries::Limited(3)));
        assert_eq!(parse_retries("unlimited"), Ok(add::Retries::Unlimited));
        assert!(parse_retries("-1").is_err());
        assert_eq!(parse_delay("1m30s"), Ok("1m30s".to_owned()));
        assert!(parse_delay("1x").is_err());
    }
}
