//! The command line: `run`, `services`, `graph`, `check`, `completions`, one command per
//! service with `commands`, and the app's custom commands.
//!
//! Order of work in [`main`]: command-name collisions (a bug in the app, exit 1), then
//! clap (usage errors exit 2; `--help` and `--version` work whatever the environment
//! says), then the environment (exit 2), then logging, then the command. Everything
//! but `run`, a service command and a custom command reads only the registration, so
//! it constructs no service.

use std::fmt::Write as _;
use std::io::{self, Write};

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::app::config::{Config, ConfigErrors, LogFormat};
use crate::app::telemetry;
use crate::app::{self, App, AppInfo, CustomCommand};
use crate::probe;
use crate::registry::Entry;
use crate::runtime::plan::Plan;
use crate::{Backoff, Restart, Retries, ServiceDef, format_duration};

const RUN: &str = "run";
const SERVICES: &str = "services";
const GRAPH: &str = "graph";
const CHECK: &str = "check";
const COMPLETIONS: &str = "completions";
/// The commands every app has (SPEC section 3, the one list `#[service(commands)]` checks
/// too); no service with commands and no custom command may take these names.
const BUILT_IN: [&str; 11] = crate::builtin::BUILT_IN_COMMANDS;
const SV: &str = crate::sv::cli::NAME;

/// Said by `run` and `check` when the binary has no service at all.
const NO_SERVICE: &str = "no service is registered in this binary: add `#[service]` to a struct that implements `Service`, and name the library crates that define services in `#[servicepack::main(services_from = [my_lib])]`";

/// Parses the command line and runs the command; returns the exit status.
pub(crate) fn main(
    info: AppInfo,
    app: App,
    entries: &'static [Entry],
    config: Result<Config, ConfigErrors>,
) -> u8 {
    // Link order is arbitrary; every listing and every check goes by name.
    let entries = &sorted(entries);
    let format = match &config {
        Ok(config) => config.log.format,
        Err(errors) => errors.format,
    };
    let App {
        pre_run,
        post_stop,
        commands: custom,
        layers,
    } = app;
    if let Err(reason) = check_names(entries, &custom) {
        telemetry::exit_reason(format, 1, &reason);
        return 1;
    }
    let matches = match command(info, entries, &custom).try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return clap_error(&error, format),
    };
    let config = match config {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.errors {
                telemetry::exit_reason(format, 2, &error.to_string());
            }
            return 2;
        }
    };
    telemetry::init(&config.log, layers);

    let Some((name, sub)) = matches.subcommand() else {
        // `subcommand_required` makes clap refuse a bare `./app`.
        return 2;
    };
    let mut out = io::stdout();
    let written = match name {
        RUN => return run(info, entries, &config, pre_run, post_stop),
        SERVICES if sub.get_flag("json") => services_json(entries, &mut out),
        SERVICES => services_table(entries, &mut out),
        GRAPH if sub.get_flag("dot") => graph_dot(info.bin_name, entries, &mut out),
        GRAPH => graph_text(entries, &mut out),
        CHECK => {
            return match check(entries, &mut out) {
                Ok(()) => 0,
                Err(problems) => {
                    telemetry::exit_reason(format, 1, &problems);
                    1
                }
            };
        }
        probe::HEALTH | probe::STATUS => return probe::run(name, sub, format),
        COMPLETIONS => {
            let shell = *sub
                .get_one::<clap_complete::Shell>("shell")
                .expect("`shell` is a required argument");
            let mut command = command(info, entries, &custom);
            clap_complete::generate(shell, &mut command, info.bin_name, &mut out);
            Ok(())
        }
        SV => return crate::sv::cli::run(sub, format),
        _ => return user_command(name, sub, entries, custom, format),
    };
    match written {
        // A closed stdout (`./app services | head -1`) is the reader's choice.
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            telemetry::exit_reason(format, 1, &format!("cannot write to stdout: {error}"));
            1
        }
        _ => 0,
    }
}

/// `./app run`, after checking the registry and `SERVICES_ENABLED`.
fn run(
    info: AppInfo,
    entries: &[&'static Entry],
    config: &Config,
    pre_run: Vec<app::Hook>,
    post_stop: Vec<app::Hook>,
) -> u8 {
    match plan_run(entries, config) {
        Ok(enabled) => {
            tracing::info!(
                env = %config.env,
                version = info.version,
                services = enabled.len(),
                "running app"
            );
            let defs = enabled.into_iter().map(ServiceDef::from_entry).collect();
            app::run(info, pre_run, post_stop, defs, config)
        }
        Err((code, reason)) => {
            telemetry::exit_reason(config.log.format, code, &reason);
            code
        }
    }
}

/// A custom command, or a service's command (which constructs only that service).
fn user_command(
    name: &str,
    matches: &ArgMatches,
    entries: &[&'static Entry],
    mut custom: Vec<CustomCommand>,
    format: LogFormat,
) -> u8 {
    let matches = matches.clone();
    if let Some(index) = custom.iter().position(|c| c.command.get_name() == name) {
        let CustomCommand { handler, .. } = custom.swap_remove(index);
        return app::command(name, None, move |ctx| handler(matches, ctx), format);
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
    app::command(
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
             LOG_LEVEL (default info), LOG_FORMAT (text|json), LOG_ADD_SOURCE (true|false), ENV (default prod)",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(Command::new(RUN).about("Run the enabled services until shutdown (SIGINT or SIGTERM)"))
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

/// Prints what clap has to say and returns its exit status (0 for `--help` and
/// `--version`, 2 for a usage error). With `LOG_FORMAT=json`, what would go to stderr
/// becomes one JSON line.
fn clap_error(error: &clap::Error, format: LogFormat) -> u8 {
    let code = u8::try_from(error.exit_code()).unwrap_or(2);
    if format == LogFormat::Json && error.use_stderr() {
        telemetry::exit_reason(format, code, error.render().to_string().trim_end());
    } else {
        // Nothing sensible is left to do when stdout or stderr is closed.
        let _ = error.print();
    }
    code
}

/// Command names must be unique: a clash is a bug in the app, reported before anything
/// else (exit 1).
fn check_names(entries: &[&Entry], custom: &[CustomCommand]) -> Result<(), String> {
    let mut taken: Vec<(&str, String)> = BUILT_IN
        .iter()
        .map(|&name| (name, format!("the built-in command `{name}`")))
        .collect();
    let mut clashes = Vec::new();
    let services = entries.iter().filter(|e| e.commands.is_some()).map(|e| {
        (
            e.name,
            format!("the commands of service `{}` ({})", e.name, e.type_name),
        )
    });
    let customs = custom.iter().map(|c| {
        let name = c.command.get_name();
        (name, format!("the custom command `{name}`"))
    });
    for (name, what) in services.chain(customs) {
        if let Some((_, first)) = taken.iter().find(|(known, _)| *known == name) {
            clashes.push(format!("{what} and {first} are both named `{name}`"));
        } else {
            taken.push((name, what));
        }
    }
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "command names clash: {}; rename the service with `#[service(name = \"...\")]` or the custom command",
            clashes.join("; ")
        ))
    }
}

/// The services `run` runs, after checking the registry and `SERVICES_ENABLED`; the error
/// carries the exit status (2 for a bad `SERVICES_ENABLED`, 1 otherwise) and the reason.
fn plan_run(
    entries: &[&'static Entry],
    config: &Config,
) -> Result<Vec<&'static Entry>, (u8, String)> {
    if entries.is_empty() {
        return Err((1, NO_SERVICE.to_owned()));
    }
    let names: Vec<&str> = entries.iter().map(|entry| entry.name).collect();
    let enabled = config
        .enabled(&names)
        .map_err(|error| (2, error.to_string()))?;
    config
        .peers
        .check_registered(&names)
        .map_err(|error| (2, error.to_string()))?;
    let enabled: Vec<&'static Entry> = entries
        .iter()
        .zip(enabled)
        .filter_map(|(&entry, on)| on.then_some(entry))
        .collect();
    if let Some(duplicate) = duplicates(enabled.iter().copied()).into_iter().next() {
        return Err((1, duplicate));
    }
    Plan::new(enabled.iter().map(|entry| (entry.name, entry.depends_on)))
        .map_err(|error| (1, error.to_string()))?;
    Ok(enabled)
}

/// One message per name registered more than once, naming the types.
fn duplicates<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<String> {
    let mut seen: Vec<(&str, Vec<&str>)> = Vec::new();
    for entry in entries {
        match seen.iter_mut().find(|(name, _)| *name == entry.name) {
            Some((_, types)) => types.push(entry.type_name),
            None => seen.push((entry.name, vec![entry.type_name])),
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

/// The names of a service's subcommands, read from its clap definition.
fn subcommands(entry: &Entry) -> Vec<String> {
    entry.commands.map_or_else(Vec::new, |commands| {
        (commands.augment)(Command::new(entry.name))
            .get_subcommands()
            .map(|sub| sub.get_name().to_owned())
            .collect()
    })
}

fn retries(retries: Retries) -> String {
    match retries {
        Retries::Limited(count) => count.to_string(),
        Retries::Unlimited => "unlimited".to_owned(),
    }
}

fn restart(restart: Restart) -> &'static str {
    match restart {
        Restart::OnFailure => "on-failure",
        Restart::Always => "always",
        Restart::Never => "never",
    }
}

fn services_table(entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "{NO_SERVICE}");
    }
    let header = [
        "NAME",
        "DEPENDS ON",
        "RETRIES",
        "DELAY",
        "RESTART",
        "READY",
        "ON FAILURE",
        "COMMANDS",
    ];
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|entry| {
            let policy = &entry.policy;
            let delay = match policy.backoff {
                Backoff::Constant => format_duration(policy.delay),
                Backoff::Exponential { max_delay } => format!(
                    "{} exp. to {}",
                    format_duration(policy.delay),
                    format_duration(max_delay)
                ),
            };
            let commands = subcommands(entry);
            [
                entry.name.to_owned(),
                or_dash(entry.depends_on.join(", ")),
                retries(policy.retries),
                if policy.jitter {
                    format!("{delay} ±25%")
                } else {
                    delay
                },
                restart(policy.restart).to_owned(),
                if policy.notify_ready {
                    "notify"
                } else {
                    "on start"
                }
                .to_owned(),
                if policy.allowed_failure {
                    "allowed"
                } else {
                    "fatal"
                }
                .to_owned(),
                or_dash(commands.join(", ")),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

/// The JSON of `services --json`: every registration field that says how a service runs.
fn service_json(entry: &Entry) -> serde_json::Value {
    let policy = &entry.policy;
    let (backoff, max_delay) = match policy.backoff {
        Backoff::Constant => ("constant", None),
        Backoff::Exponential { max_delay } => ("exponential", Some(format_duration(max_delay))),
    };
    let retries = match policy.retries {
        Retries::Limited(count) => serde_json::Value::from(count),
        Retries::Unlimited => serde_json::Value::from("unlimited"),
    };
    serde_json::json!({
        "name": entry.name,
        "type": entry.type_name,
        "depends_on": entry.depends_on,
        "retries": retries,
        "delay": format_duration(policy.delay),
        "backoff": backoff,
        "max_delay": max_delay,
        "jitter": policy.jitter,
        "retry_reset": policy.retry_reset.map(format_duration),
        "restart": restart(policy.restart),
        "allowed_failure": policy.allowed_failure,
        "notify_ready": policy.notify_ready,
        "counts_for_readiness": policy.counts_for_readiness,
        "ready_timeout": format_duration(policy.ready_timeout),
        "stop_timeout": format_duration(policy.stop_timeout),
        "commands": entry.commands.is_some(),
        "subcommands": subcommands(entry),
    })
}

fn services_json(entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
    let services: Vec<serde_json::Value> =
        entries.iter().map(|entry| service_json(entry)).collect();
    serde_json::to_writer_pretty(&mut *out, &services)?;
    writeln!(out)
}

/// Whether `dep` is not registered.
fn is_external(entries: &[&Entry], dep: &str) -> bool {
    !entries.iter().any(|entry| entry.name == dep)
}

/// One line per service, dependencies first when the graph allows an order:
/// `api -> db, cache (external)`.
fn graph_text(entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
    let order: Vec<&Entry> =
        match Plan::new(entries.iter().map(|entry| (entry.name, entry.depends_on))) {
            Ok(plan) => plan.order().iter().map(|&node| entries[node]).collect(),
            Err(_) => entries.to_vec(),
        };
    for entry in order {
        let mut line = entry.name.to_owned();
        for (i, dep) in entry.depends_on.iter().enumerate() {
            line.push_str(if i == 0 { " -> " } else { ", " });
            line.push_str(dep);
            if is_external(entries, dep) {
                line.push_str(" (external)");
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// A Graphviz digraph; edges point from a service to what it depends on, external
/// dependencies are dashed.
fn graph_dot(bin_name: &str, entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "digraph {} {{", dot_id(bin_name))?;
    for entry in entries {
        writeln!(out, "    {};", dot_id(entry.name))?;
    }
    let mut externals: Vec<&str> = Vec::new();
    for entry in entries {
        for dep in entry.depends_on {
            if is_external(entries, dep) {
                writeln!(
                    out,
                    "    {} -> {} [style=dashed];",
                    dot_id(entry.name),
                    dot_id(dep)
                )?;
                if !externals.contains(dep) {
                    externals.push(dep);
                }
            } else {
                writeln!(out, "    {} -> {};", dot_id(entry.name), dot_id(dep))?;
            }
        }
    }
    for external in externals {
        writeln!(
            out,
            "    {} [style=dashed, label={}];",
            dot_id(external),
            dot_id(&format!("{external} (external)"))
        )?;
    }
    writeln!(out, "}}")
}

/// A quoted DOT identifier.
fn dot_id(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes the findings to `out`; the error is the one-paragraph reason for exit 1.
fn check(entries: &[&Entry], out: &mut dyn Write) -> Result<(), String> {
    let mut problems = Vec::new();
    if entries.is_empty() {
        problems.push(NO_SERVICE.to_owned());
    } else {
        problems.extend(duplicates(entries.iter().copied()));
        // Cycles among the first registration of each name; duplicates are reported above.
        let mut unique: Vec<&Entry> = Vec::new();
        for &entry in entries {
            if !unique.iter().any(|known| known.name == entry.name) {
                unique.push(entry);
            }
        }
        match Plan::new(unique.iter().map(|entry| (entry.name, entry.depends_on))) {
            Ok(plan) => {
                let external: Vec<(&str, &str)> = plan.external().collect();
                if !external.is_empty() {
                    let _ = writeln!(
                        out,
                        "external dependencies (not registered here; expected to run in another process):"
                    );
                    for (service, dep) in external {
                        let _ = writeln!(out, "    {service} -> {dep}");
                    }
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
    }
    if problems.is_empty() {
        let count = entries.len();
        let services = if count == 1 { "service" } else { "services" };
        let _ = writeln!(
            out,
            "ok: {count} {services}, no duplicate names, no dependency cycles"
        );
        return Ok(());
    }
    for problem in &problems {
        let _ = writeln!(out, "error: {problem}");
    }
    Err(format!("check failed: {}", problems.join("; ")))
}

#[cfg(test)]
mod tests;
