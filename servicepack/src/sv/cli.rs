//! `./app sv status DIR… [--json]` and `./app sv up|down|…|restart DIR…`.
//!
//! Every directory is handled even when an earlier one fails; each failure is reported
//! on stderr naming its directory, and any failure makes the exit status 1.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::{Control, Error, Status};
use crate::app::config::LogFormat;
use crate::app::exit::Exit;

/// The command's name.
pub(crate) const NAME: &str = "sv";
const STATUS: &str = "status";
const RESTART: &str = "restart";
/// runit's `sv` waits 7 seconds by default too.
const DEFAULT_TIMEOUT: &str = "7s";

/// The clap definition of `sv` and its subcommands.
pub(crate) fn command() -> Command {
    let mut sv = Command::new(NAME)
        .about("Status and control of runit, daemontools and s6 service directories")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new(STATUS)
                .about("Print the state, pid, seconds in that state, readiness (s6) and wants of each directory")
                .arg(dirs())
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print a JSON array of objects instead of a table"),
                ),
        );
    for control in Control::ALL {
        sv = sv.subcommand(
            Command::new(control.as_str())
                .about(help(control))
                .arg(dirs()),
        );
    }
    sv.subcommand(
        Command::new(RESTART)
            .about("Send down, wait for the down state (./finish included), then send up")
            .arg(dirs())
            .arg(
                Arg::new("timeout")
                    .long("timeout")
                    .value_name("DURATION")
                    .default_value(DEFAULT_TIMEOUT)
                    .value_parser(crate::parse_duration)
                    .help("How long to wait for the down state (Go duration: 500ms, 7s, 1m)"),
            ),
    )
}

fn dirs() -> Arg {
    Arg::new("dir")
        .value_name("DIR")
        .required(true)
        .num_args(1..)
        .value_parser(clap::value_parser!(PathBuf))
        .help("Service directories (the directory holding run and supervise/)")
}

fn help(control: Control) -> &'static str {
    match control {
        Control::Up => "Start the service, and restart it whenever it exits",
        Control::Down => "Send SIGTERM then SIGCONT, and do not restart it",
        Control::Once => "Start the service if it is down, and do not restart it when it exits",
        Control::Term => "Send SIGTERM",
        Control::Kill => "Send SIGKILL",
        Control::Hup => "Send SIGHUP",
        Control::Pause => "Send SIGSTOP",
        Control::Cont => "Send SIGCONT",
    }
}

/// Runs `sv …`.
pub(crate) fn run(matches: &ArgMatches, format: LogFormat) -> Exit {
    let Some((name, sub)) = matches.subcommand() else {
        // `subcommand_required` makes clap refuse a bare `sv`.
        return Exit::Usage;
    };
    let dirs = sub.get_many::<PathBuf>("dir").into_iter().flatten();
    let mut failed = false;
    let mut fail = |error: &Error| {
        failed = true;
        let _ = Exit::Failure.because(format, &error.to_string());
    };
    if name == STATUS {
        let mut statuses = Vec::new();
        for dir in dirs {
            match super::status(dir) {
                Ok(status) => statuses.push(status),
                Err(error) => fail(&error),
            }
        }
        let mut out = io::stdout().lock();
        let written = if sub.get_flag("json") {
            write_json(&statuses, &mut out)
        } else {
            write_table(&statuses, &mut out)
        };
        if let Err(error) = written.and_then(|()| out.flush()) {
            // A closed stdout (`… | head -1`) is the reader's choice.
            if error.kind() != io::ErrorKind::BrokenPipe {
                return Exit::Failure.because(format, &format!("cannot write to stdout: {error}"));
            }
        }
    } else if name == RESTART {
        let timeout = *sub
            .get_one::<Duration>("timeout")
            .expect("`timeout` has a default");
        for dir in dirs {
            if let Err(error) = super::restart(dir, timeout) {
                fail(&error);
            }
        }
    } else {
        let control = Control::ALL
            .into_iter()
            .find(|control| control.as_str() == name)
            .expect("clap matched only the subcommands `command` added");
        for dir in dirs {
            if let Err(error) = super::control(dir, control) {
                fail(&error);
            }
        }
    }
    if failed { Exit::Failure } else { Exit::Success }
}

/// One object per directory: the fields of SPEC §10, plus the supervisor, the
/// directory, the stamp as a time and whether it is normally up.
pub(crate) fn json(status: &Status) -> serde_json::Value {
    let record = &status.record;
    serde_json::json!({
        "name": status.name,
        "dir": status.dir.display().to_string(),
        "supervisor": record.supervisor.as_str(),
        "state": record.state.as_str(),
        "pid": record.pid,
        "seconds": status.seconds,
        "since": record.since_rfc3339(),
        "ready": record.ready,
        "want_up": record.want_up,
        "want_down": record.want_down,
        "normally_up": status.normally_up,
    })
}

fn write_json(statuses: &[Status], out: &mut dyn Write) -> io::Result<()> {
    let values: Vec<serde_json::Value> = statuses.iter().map(json).collect();
    serde_json::to_writer_pretty(&mut *out, &values)?;
    writeln!(out)
}

fn write_table(statuses: &[Status], out: &mut dyn Write) -> io::Result<()> {
    if statuses.is_empty() {
        return Ok(());
    }
    let header = [
        "NAME",
        "SUPERVISOR",
        "STATE",
        "PID",
        "SECONDS",
        "READY",
        "WANT",
        "NORMALLY",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 8]> = statuses
        .iter()
        .map(|status| {
            let record = &status.record;
            let want = match (record.want_up, record.want_down) {
                (true, _) => "up",
                (_, true) => "down",
                _ => "-",
            };
            [
                status.name.clone(),
                record.supervisor.to_string(),
                record.state.to_string(),
                record
                    .pid
                    .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
                status.seconds.to_string(),
                match record.ready {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
                .to_owned(),
                want.to_owned(),
                if status.normally_up { "up" } else { "down" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|cell| cell.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
