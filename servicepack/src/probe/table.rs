//! The `/status` JSON (SPEC §5) as `./app status` reads it, and the table it prints.
//!
//! Read into types of its own rather than [`AppStatus`](crate::AppStatus): the client
//! only needs what it shows, ignores fields it does not know (a newer app), and never
//! trusts the text it prints: error messages come from user code, so control characters
//! are escaped before they reach a terminal.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;

/// The app, as `/status` says.
#[derive(Debug, Deserialize)]
pub(super) struct Status {
    app: String,
    version: String,
    env: String,
    pid: u32,
    state: String,
    pub(super) ready: bool,
    uptime_seconds: f64,
    services: Vec<Service>,
}

/// One service, as `/status` says.
#[derive(Debug, Deserialize)]
struct Service {
    name: String,
    state: String,
    ready: bool,
    attempt: u32,
    restarts: u32,
    since: String,
    counts_for_readiness: bool,
    last_error: Option<LastError>,
    next_attempt_at: Option<String>,
    /// Present while it waits for a peer (SPEC §9.3).
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LastError {
    message: String,
    attempt: u32,
}

impl Status {
    /// What the app waits for, as `/readyz` would say it.
    pub(super) fn not_ready_reason(&self) -> String {
        if self.state != "starting" {
            return printable(&self.state);
        }
        self.services
            .iter()
            .find(|service| service.counts_for_readiness && !service.ready)
            .map_or_else(
                || "starting".to_owned(),
                |service| {
                    let mut reason = format!(
                        "{} is {}",
                        printable(&service.name),
                        printable(&service.state)
                    );
                    if let Some(why) = &service.reason {
                        let _ = write!(reason, " ({})", printable(why));
                    }
                    reason
                },
            )
    }
}

/// A header line, then one row per service: name, state, ready, attempt, restarts,
/// since, last error.
pub(super) fn render(status: &Status) -> String {
    let mut out = String::new();
    let uptime = Duration::try_from_secs_f64(status.uptime_seconds.max(0.0)).unwrap_or_default();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{} {} ({}), pid {}: {}, up {}",
        printable(&status.app),
        printable(&status.version),
        printable(&status.env),
        status.pid,
        printable(&status.state),
        crate::format_duration(Duration::from_secs(uptime.as_secs())),
    );
    let header = [
        "NAME",
        "STATE",
        "READY",
        "ATTEMPT",
        "RESTARTS",
        "SINCE",
        "LAST ERROR",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 7]> = status
        .services
        .iter()
        .map(|service| {
            let mut state = printable(&service.state);
            if let Some(next) = &service.next_attempt_at {
                // The time of day is enough: a retry delay is seconds to minutes.
                let time = next.split_once('T').map_or(next.as_str(), |(_, time)| time);
                let _ = write!(state, " (next at {})", printable(time));
            }
            let ready = match (service.ready, service.counts_for_readiness) {
                (true, _) => "yes",
                (false, true) => "no",
                (false, false) => "no (not counted)",
            };
            let last_error = service.last_error.as_ref().map_or_else(
                || "-".to_owned(),
                |error| format!("attempt {}: {}", error.attempt, printable(&error.message)),
            );
            [
                printable(&service.name),
                state,
                ready.to_owned(),
                service.attempt.to_string(),
                service.restarts.to_string(),
                printable(&service.since),
                last_error,
            ]
        })
        .collect();
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// `text` with control characters (newlines, escape sequences) escaped, so that what
/// user code put in an error message cannot rewrite the terminal.
pub(super) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
