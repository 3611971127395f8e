//! The command line: clap definitions and dispatch to one module per command.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::add::Dur;
use crate::error::Failure;
use crate::shared::validate::{self, Backoff, Restart, Retries};
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
    Add(Box<AddArgs>),
    /// Remove a service: its file and its module line
    Remove(RemoveArgs),
    /// List the services of the project, read from its source
    List(ProjectArg),
    /// Print a completion script for this command: `servicepack completions bash`
    Completions(CompletionsArgs),
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
    /// Depend on servicepack at this local path (kept relative to the project when given relative)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["servicepack_version", "servicepack_git"])]
    servicepack_path: Option<PathBuf>,
    /// Depend on servicepack from this git repository
    #[arg(long, value_name = "URL", conflicts_with = "servicepack_version")]
    servicepack_git: Option<String>,
    /// The servicepack version requirement on crates.io [default: the checkout this CLI was
    /// built from, by relative path, if it still exists; else this CLI's version, e.g. 0.1]
    #[arg(long, value_name = "VER")]
    servicepack_version: Option<String>,
    /// Do not create a git repository
    #[arg(long)]
    no_git: bool,
}

/// One flag per `#[service(...)]` argument; each value is checked by the code
/// `#[service]` checks it with, so a refusal has the compiler's words.
#[derive(Debug, Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per flag argument of `#[service]`"
)]
struct AddArgs {
    /// The service name, kebab-case: worker, http-api
    name: String,
    /// Failures retried before one counts: a number or "unlimited"
    #[arg(long, value_name = "N", value_parser = validate::retries_text, allow_negative_numbers = true)]
    retries: Option<Retries>,
    /// Wait before each retry, Go duration syntax: 500ms, 2s, 1m30s
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    delay: Option<Dur>,
    /// How the delay grows: constant or exponential (doubles after each retry)
    #[arg(long, value_name = "KIND", value_parser = validate::backoff)]
    backoff: Option<Backoff>,
    /// Cap for exponential backoff [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    max_delay: Option<Dur>,
    /// Randomise each delay by ±25 %
    #[arg(long)]
    jitter: bool,
    /// A run that lasted this long resets the failure count
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    retry_reset: Option<Dur>,
    /// When to run again: on-failure (the default), always (also after Ok), never
    #[arg(long, value_name = "WHEN", value_parser = validate::restart)]
    restart: Option<Restart>,
    /// Services of this project to start after (comma-separated names)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    depends_on: Vec<String>,
    /// Services to start after that this project does not define, by name (another
    /// crate's or another process's; comma-separated)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    depends_on_name: Vec<String>,
    /// A final failure is logged; the rest of the app keeps running
    #[arg(long)]
    allowed_failure: bool,
    /// Dependents wait for `ctx.ready()`
    #[arg(long)]
    notify_ready: bool,
    /// false: the service does not count towards the app's readiness
    #[arg(long, value_name = "BOOL", value_parser = validate::readiness)]
    readiness: Option<bool>,
    /// A notify-ready service not ready in time fails that attempt [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    ready_timeout: Option<Dur>,
    /// Bound on this service's stop [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    stop_timeout: Option<Dur>,
    /// Give the service its own subcommands: APP NAME status
    #[arg(long)]
    commands: bool,
    /// Build the service with a fallible constructor, `new = Self::new`, instead of Default
    #[arg(long = "new")]
    constructor: bool,
    /// Path of the servicepack crate, for a project that re-exports it
    #[arg(long = "crate", value_name = "PATH", value_parser = crate_path)]
    krate: Option<String>,
    #[command(flatten)]
    project: ProjectArg,
}

#[derive(Debug, Args)]
struct CompletionsArgs {
    /// The shell to complete in
    shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// The service name
    name: String,
    #[command(flatten)]
    project: ProjectArg,
}

fn duration(text: &str) -> Result<Dur, String> {
    validate::duration(text).map(|value| Dur {
        text: text.to_owned(),
        value,
    })
}

fn crate_path(text: &str) -> Result<String, String> {
    validate::path("crate", text).map(|()| text.to_owned())
}

fn names(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
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
                source: match (
                    args.servicepack_path,
                    args.servicepack_git,
                    args.servicepack_version,
                ) {
                    (Some(path), _, _) => new::Source::Path(path),
                    (None, Some(url), _) => new::Source::Git(url),
                    (None, None, Some(version)) => new::Source::Version(version),
                    (None, None, None) => new::Source::Default,
                },
                git: !args.no_git,
            }),
            Command::Add(args) => {
                let args = *args;
                add::run(&add::Options {
                    project: args.project.project,
                    name: args.name,
                    retries: args.retries,
                    delay: args.delay,
                    backoff: args.backoff,
                    max_delay: args.max_delay,
                    jitter: args.jitter,
                    retry_reset: args.retry_reset,
                    restart: args.restart,
                    depends_on: names(args.depends_on),
                    depends_on_name: names(args.depends_on_name),
                    allowed_failure: args.allowed_failure,
                    notify_ready: args.notify_ready,
                    readiness: args.readiness,
                    ready_timeout: args.ready_timeout,
                    stop_timeout: args.stop_timeout,
                    commands: args.commands,
                    constructor: args.constructor,
                    krate: args.krate,
                })
            }
            Command::Remove(args) => remove::run(&remove::Options {
                project: args.project.project,
                name: args.name,
            }),
            Command::List(args) => list::run(args.project.as_deref()),
            Command::Completions(args) => {
                let mut command = Self::command();
                clap_complete::generate(
                    args.shell,
                    &mut command,
                    "servicepack",
                    &mut std::io::stdout(),
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn values_are_checked_by_the_attribute_code() {
        assert_eq!(validate::retries_text("3"), Ok(Retries::Limited(3)));
        assert_eq!(duration("1m30s").unwrap().text, "1m30s");
        assert!(duration("1x").is_err());
        assert_eq!(crate_path("::servicepack"), Ok("::servicepack".to_owned()));
        assert!(crate_path("not a path").is_err());
        assert_eq!(names(vec![" a ".into(), String::new()]), ["a"]);
    }
}
