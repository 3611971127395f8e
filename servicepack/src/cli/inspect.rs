//! What `services`, `graph` and `check` print: renderers over the registration, which
//! construct no service.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use clap::Command;

use super::{NO_SERVICE, duplicates};
use crate::registry::Entry;
use crate::runtime::plan::Plan;
use crate::{Backoff, Restart, Retries, format_duration};

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

pub(super) fn services_table(entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
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

pub(super) fn services_json(entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
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
pub(super) fn graph_text(entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
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
pub(super) fn graph_dot(bin_name: &str, entries: &[&Entry], out: &mut dyn Write) -> io::Result<()> {
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

/// Writes the findings to `out`; the inner error is the one-paragraph reason for exit 1,
/// the outer one a failed write.
pub(super) fn check(entries: &[&Entry], out: &mut dyn Write) -> io::Result<Result<(), String>> {
    let mut problems = Vec::new();
    if entries.is_empty() {
        problems.push(NO_SERVICE.to_owned());
    } else {
        problems.extend(duplicates(entries.iter().copied()));
        // Cycles among the first registration of each name; duplicates are reported above.
        let mut names = HashSet::new();
        let unique: Vec<&Entry> = entries
            .iter()
            .copied()
            .filter(|entry| names.insert(entry.name))
            .collect();
        match Plan::new(unique.iter().map(|entry| (entry.name, entry.depends_on))) {
            Ok(plan) => {
                let external: Vec<(&str, &str)> = plan.external().collect();
                if !external.is_empty() {
                    writeln!(
                        out,
                        "external dependencies (not registered here; expected to run in another process):"
                    )?;
                    for (service, dep) in external {
                        writeln!(out, "    {service} -> {dep}")?;
                    }
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
    }
    if problems.is_empty() {
        let count = entries.len();
        let services = if count == 1 { "service" } else { "services" };
        writeln!(
            out,
            "ok: {count} {services}, no duplicate names, no dependency cycles"
        )?;
        return Ok(Ok(()));
    }
    for problem in &problems {
        writeln!(out, "error: {problem}")?;
    }
    Ok(Err(format!("check failed: {}", problems.join("; "))))
}
