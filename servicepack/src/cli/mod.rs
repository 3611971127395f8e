//! The command line: `run`, `services`, `graph`, `check`, `completions`, one command per
//! service with `commands`, and the app's custom commands.
//!
//! Order of work in [`main`]: command-name collisions (a bug in the app, exit 1), then
//! clap (usage errors exit 2; `--help` and `--version` work whatever the environment
//! says), then the environment (exit 2), then logging, then the command. Everything
//! but `run`, a service command and a custom command reads only the registration, so
//! it constructs no service.

mod inspect;

use std::collections::{HashMap, hash_map};
use std::io::{self, IsTerminal as _, Write};

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::ServiceDef;
use crate::app::config::{Color, Config, ConfigErrors, LogFormat};
use crate::app::exec;
use crate::app::exit::Exit;
use crate::app::telemetry;
use crate::app::{App, AppInfo, CustomCommand, Hook};
use crate::probe;
use crate::registry::Entry;
use crate::runtime::plan::Plan;
use inspect::{check, graph_dot, graph_text, services_json, services_table};

const RUN: &str = "run";
const SERVICES: &str = "services";
const GRAPH: &str = "graph";
const CHECK: &str = "check";
const COMPLETIONS: &str = "completions";
/// The commands every app has (SPEC section 3, the one list `#[service(commands)]` checks
/// too); no service with commands and no custom command may take these names.
const BUILT_IN: [&str; 11] = crate::builtin::BUILT_IN_COMMANDS;
const SV: &str = crate::sv::cli::NAME;
#[cfg(feature = "deploy")]
const DEPLOY: &str = "deploy";

/// Said by `run` and `check` when the binary has no service at all.
pub(crate) const NO_SERVICE: &str = "no service is registered in this binary: add `#[service]` to a struct that implements `Service`, and name the library crates that define services in `#[servicepack::main(services_from = [my_lib])]`";

/// Parses the command line and runs the command.
pub(crate) fn main(
    info: AppInfo,
    app: App,
    entries: &'static [Entry],
    config: Result<Config, ConfigErrors>,
) -> Exit {
    // Link order is arbitrary; every listing and every check goes by name.
    let entries = &sorted(entries);
    let (format, color) = match &config {
        Ok(config) => (config.log.format, config.log.color),
        Err(errors) => (errors.format, errors.color),
    };
    let App {
        pre_run,
        post_stop,
        commands: custom,
        layers,
    } = app;
    if let Err(reason) = check_names(entries, &custom) {
        return Exit::Failure.because(format, &reason);
    }
    let matches = match command(info, entries, &custom).try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return clap_error(&error, format, color),
    };
    let config = match config {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.errors {
                let _ = Exit::Usage.because(format, &error.to_string());
            }
            return Exit::Usage;
        }
    };
    telemetry::init(&config.log, layers);

    let Some((name, sub)) = matches.subcommand() else {
        // `subcommand_required` makes clap refuse a bare `./app`.
        return Exit::Usage;
    };
    let mut out = io::stdout();
    let written = match name {
        RUN => return run(info, entries, &config, (pre_run, post_stop)),
        SERVICES => {
            let listed = if sub.get_flag("json") {
                services_json(entries, &mut out)
            } else {
                services_table(entries, &mut out)
            };
            if let Err(error) = listed.and_then(|()| out.flush()) {
                return write_failed(&error, format);
            }
            // Listed, so the user sees both; refused like `run` and `check` refuse them.
            let duplicates = duplicates(entries.iter().copied());
            return if duplicates.is_empty() {
                Exit::Success
            } else {
                Exit::Failure.because(format, &duplicates.join("; "))
            };
        }
        GRAPH if sub.get_flag("dot") => graph_dot(info.bin_name, entries, &mut out),
        GRAPH => graph_text(entries, &mut out),
        CHECK => {
            return match check(entries, &mut out) {
                Ok(Ok(())) => Exit::Success,
                Ok(Err(problems)) => Exit::Failure.because(format, &problems),
                Err(error) => write_failed(&error, format),
            };
        }
        probe::HEALTH | probe::STATUS => return probe::run(name, sub, format),
        #[cfg(feature = "ops")]
        probe::ctl::CTL => return probe::run(name, sub, format),
        COMPLETIONS => {
            let shell = *sub
                .get_one::<clap_complete::Shell>("shell")
                .expect("`shell` is a required argument");
            let mut command = command(info, entries, &custom);
            // Into a buffer: `generate` panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, info.bin_name, &mut script);
            out.write_all(&script)
        }
        SV => return crate::sv::cli::run(sub, format),
        #[cfg(feature = "deploy")]
        DEPLOY => return crate::deploy::cli::main(info, entries, sub, &config),
        _ => return user_command(name, sub, entries, custom, format),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Exit::Success,
        Err(error) => write_failed(&error, format),
    }
}

/// A write to stdout failed: a closed pipe (`./app services | head -1`) is the reader's
/// choice (exit 0); anything else (`> /dev/full`) is exit 1 with the reason.
fn write_failed(error: &io::Error, format: LogFormat) -> Exit {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Exit::Success
    } else {
        Exit::Failure.because(format, &format!("cannot write to stdout: {error}"))
    }
}

/// `./app run`, after checking the registry and `SERVICES_ENABLED`.
fn run(
    info: AppInfo,
    entries: &[&'static Entry],
    config: &Config,
    hooks: (Vec<Hook>, Vec<Hook>),
) -> Exit {
    match plan_run(entries, config) {
        Ok(enabled) => {
            tracing::info!(
                env = %config.env,
                version = info.version,
                services = enabled.len(),
                "running app"
            );
            let commands = enabled
                .iter()
                .filter_map(|entry| entry.commands.map(|commands| (entry.name, commands)))
                .collect();
            let defs = enabled.into_iter().map(ServiceDef::from_entry).collect();
            exec::run(info, hooks, defs, commands, config)
        }
        Err((exit, reason)) => exit.because(config.log.format, &reason),
    }
}

/// A custom command, or a service's command (which constructs only that service).
fn user_command(
    name: &str,
    matches: &ArgMatches,
    entries: &[&'static Entry],
    mut custom: Vec<CustomCommand>,
    format: LogFormat,
) -> Exit {
    let matches = matches.clone();
    if let Some(index) = custom.iter().position(|c| c.command.get_name() == name) {
        let CustomCommand { handler, .. } = custom.swap_remove(index);
        return exec::command(name, None, move |ctx| handler(matches, ctx), format);
    }
    let Some((entry, commands)) = entries
        .iter()
        .find_map(|&entry| Some((entry, entry.commands?)).filter(|(e, _)| e.name == name))
    else {
        // clap only matches the subcommands that `command` added.
        unreachable!("clap matched an unknown command `{name}`")
    };
    let label = match matches.subcommand_name() {
        Some(subcommand) => format!("{} {subcommand}", entry.name),
        None => entry.name.to_owned(),
    };
    exec::command(
        &label,
        Some(entry.name),
        move |ctx| (commands.run)(matches, ctx),
        format,
    )
}

/// The clap app: the built-in commands, one command per service with `commands`, then
/// the custom ones.
fn command(info: AppInfo, entries: &[&Entry], custom: &[CustomCommand]) -> Command {
    let mut root = Command::new(info.bin_name)
        .version(info.version)
        .about(if info.description.is_empty() {
            "Runs the services of this binary; see `run`"
        } else {
            info.description
        })
        .after_help(
            "Environment: SERVICES_ENABLED (names to run, default all), RUNNER_SHUTDOWNTIMEOUT (default 10s), \
             LOG_LEVEL (default info; RUST_LOG when unset), LOG_FORMAT (text|json), LOG_ADD_SOURCE (true|false), \
             ENV (default prod), NO_COLOR, CLICOLOR_FORCE",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(Command::new(RUN).about("Run the enabled services until shutdown (SIGINT, SIGTERM or SIGHUP)"))
        .subcommand(
            Command::new(SERVICES)
                .about("List the registered services and their policies")
                .arg(flag("json", "Print a JSON array instead of a table")),
        )
        .subcommand(
            Command::new(GRAPH)
                .about("Print the dependency graph (an arrow points at what a service depends on)")
                .arg(flag("dot", "Print a Graphviz digraph")),
        )
        .subcommand(
            Command::new(CHECK)
                .about("Check the registry: duplicate names and dependency cycles fail, external dependencies are listed"),
        )
        .subcommands(probe::commands())
        .subcommand(
            Command::new(COMPLETIONS)
                .about("Print a shell completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(clap::value_parser!(clap_complete::Shell)),
                ),
        )
        .subcommand(crate::sv::cli::command());
    #[cfg(feature = "deploy")]
    {
        root = root.subcommand(crate::deploy::cli::command());
    }
    for entry in entries {
        if let Some(commands) = entry.commands {
            let service = Command::new(entry.name)
                .about(format!("Commands of the {} service", entry.name))
                .subcommand_required(true)
                .arg_required_else_help(true);
            root = root.subcommand((commands.augment)(service));
        }
    }
    for custom in custom {
        root = root.subcommand(custom.command.clone());
    }
    root
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

/// Prints what clap has to say (help and version on stdout, usage errors on stderr,
/// coloured when that stream is a terminal and `NO_COLOR` does not say otherwise) and
/// returns its exit status: success for `--help` and `--version`, usage for an error.
/// With `LOG_FORMAT=json`, what would go to stderr becomes one JSON line.
fn clap_error(error: &clap::Error, format: LogFormat, color: Color) -> Exit {
    let exit = if error.exit_code() == 0 {
        Exit::Success
    } else {
        Exit::Usage
    };
    let rendered = error.render();
    if error.use_stderr() {
        if format == LogFormat::Json {
            return exit.because(format, rendered.to_string().trim_end());
        }
        let mut err = io::stderr();
        let text = if color.enabled(err.is_terminal()) {
            rendered.ansi().to_string()
        } else {
            rendered.to_string()
        };
        // Nothing sensible is left to do when stderr is closed.
        let _ = err.write_all(text.as_bytes());
        return exit;
    }
    let mut out = io::stdout();
    let text = if color.enabled(out.is_terminal()) {
        rendered.ansi().to_string()
    } else {
        rendered.to_string()
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => exit,
        Err(error) => write_failed(&error, format).or(exit),
    }
}

/// Who holds a command name.
#[derive(Clone, Copy)]
enum Holder<'a> {
    BuiltIn,
    Service { name: &'a str, type_name: &'a str },
    Custom,
}

impl Holder<'_> {
    fn describe(self, name: &str) -> String {
        match self {
            Self::BuiltIn => format!("the built-in command `{name}`"),
            Self::Service { name, type_name } => {
                format!("the commands of service `{name}` ({type_name})")
            }
            Self::Custom => format!("the custom command `{name}`"),
        }
    }

    /// What to rename, for a clash between `self` (registered later) and `first`.
    fn fix(self, first: Self, name: &str) -> String {
        match (self, first) {
            (Self::Custom, Self::Custom) => {
                format!("give one of the custom commands `{name}` another name")
            }
            (Self::Custom, _) | (_, Self::Custom) => {
                format!("rename the custom command `{name}` (`clap::Command::new(\"...\")`)")
            }
            (Self::Service { type_name, .. }, _) | (_, Self::Service { type_name, .. }) => {
                format!("rename the service {type_name} with `#[service(name = \"...\")]`")
            }
            _ => format!("rename `{name}`"),
        }
    }
}

/// Command names must be unique: a clash is a bug in the app, reported before anything
/// else (exit 1), each with the fix that applies to it.
fn check_names(entries: &[&Entry], custom: &[CustomCommand]) -> Result<(), String> {
    let mut taken: Vec<(&str, Holder<'_>)> = BUILT_IN
        .iter()
        .map(|&name| (name, Holder::BuiltIn))
        .collect();
    let mut clashes = Vec::new();
    let services = entries.iter().filter(|e| e.commands.is_some()).map(|e| {
        (
            e.name,
            Holder::Service {
                name: e.name,
                type_name: e.type_name,
            },
        )
    });
    let customs = custom
        .iter()
        .map(|c| (c.command.get_name(), Holder::Custom));
    for (name, holder) in services.chain(customs) {
        if let Some(&(_, first)) = taken.iter().find(|(known, _)| *known == name) {
            clashes.push(format!(
                "{} and {} are both named `{name}`: {}",
                holder.describe(name),
                first.describe(name),
                holder.fix(first, name)
            ));
        } else {
            taken.push((name, holder));
        }
    }
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(format!("command names clash: {}", clashes.join("; ")))
    }
}

/// The services `run` runs, after checking the registry and `SERVICES_ENABLED`; the error
/// carries the exit (usage for a bad `SERVICES_ENABLED`, failure otherwise) and the reason.
fn plan_run(
    entries: &[&'static Entry],
    config: &Config,
) -> Result<Vec<&'static Entry>, (Exit, String)> {
    if entries.is_empty() {
        return Err((Exit::Failure, NO_SERVICE.to_owned()));
    }
    let names: Vec<&str> = entries.iter().map(|entry| entry.name).collect();
    let enabled = config
        .enabled(&names)
        .map_err(|error| (Exit::Usage, error.to_string()))?;
    config
        .peers
        .check_registered(&names)
        .map_err(|error| (Exit::Usage, error.to_string()))?;
    let enabled: Vec<&'static Entry> = entries
        .iter()
        .zip(enabled)
        .filter_map(|(&entry, on)| on.then_some(entry))
        .collect();
    if let Some(duplicate) = duplicates(enabled.iter().copied()).into_iter().next() {
        return Err((Exit::Failure, duplicate));
    }
    Plan::new(enabled.iter().map(|entry| (entry.name, entry.depends_on)))
        .map_err(|error| (Exit::Failure, error.to_string()))?;
    Ok(enabled)
}

/// One message per name registered more than once, naming the types.
fn duplicates<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<String> {
    // First-seen order for the messages, an index to find a name again: a linear search
    // here made every start of a 1,000-service app compare names a million times.
    let mut seen: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for entry in entries {
        match index.entry(entry.name) {
            hash_map::Entry::Occupied(at) => seen[*at.get()].1.push(entry.type_name),
            hash_map::Entry::Vacant(at) => {
                at.insert(seen.len());
                seen.push((entry.name, vec![entry.type_name]));
            }
        }
    }
    seen.into_iter()
        .filter(|(_, types)| types.len() > 1)
        .map(|(name, types)| {
            format!(
                "duplicate service name `{name}`: {} all use it; service names must be unique, rename all but one with `#[service(name = \"...\")]`",
                types.join(", ")
            )
        })
        .collect()
}

/// Entries sorted by name (link order is arbitrary), stably: two registrations of one
/// name keep their link order.
fn sorted(entries: &[Entry]) -> Vec<&Entry> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|entry| entry.name);
    sorted
}

#[cfg(test)]
mod tests;
