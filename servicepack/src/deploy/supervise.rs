//! runit, daemontools and s6: one service directory `<app>-<svc>/` per service, in the
//! layout the three share (`run`, `finish`, `log/run`, `env/`), with what each adds.
//!
//! - `run` sends stderr (the app's logs) into the log pipe and starts the binary with the
//!   variables of `env/`, through the supervisor's own envdir tool (`chpst -e`, `envdir`,
//!   `s6-envdir`).
//! - `finish` sleeps the retry delay: the supervisor restarts `run` when `finish` returns.
//! - `log/run` writes timestamped logs to `log/main/` with the supervisor's logger.
//! - runit gets a `check` script that asks `health`, so `sv -w N up` waits for readiness;
//!   s6 gets `notification-fd` (the app writes a newline to `READY_FD` when ready),
//!   `timeout-kill` (SIGKILL after drain + budget + 5 s) and `timeout-finish`.

use std::fmt::Write as _;

use super::model::{Model, Unit, whole_seconds};
use super::{Artifact, Target};

/// The descriptor s6-supervise gives the app for its readiness notification.
const NOTIFICATION_FD: u8 = 3;

/// s6-supervise kills a `finish` that outlives this (its default is 5 s).
const FINISH_MARGIN_SECS: u64 = 5;

pub(super) fn render(model: &Model) -> Vec<Artifact> {
    model
        .units
        .iter()
        .flat_map(|unit| directory(model, unit))
        .collect()
}

fn directory(model: &Model, unit: &Unit) -> Vec<Artifact> {
    let dir = model.unit_name(&unit.name);
    let header = format!("#!/bin/sh\n# {}\n", model.header());
    let envdir = match model.target {
        Target::Runit => "chpst -e",
        Target::Daemontools => "envdir",
        _ => "s6-envdir",
    };
    let logger = match model.target {
        Target::Runit => "svlogd -tt",
        Target::Daemontools => "multilog t",
        _ => "s6-log T",
    };
    let delay = whole_seconds(unit.delay());
    // runit and s6 pass the exit status and the signal; the line lands in the log.
    let mut finish = match model.target {
        Target::Runit | Target::S6 => "echo \"finish: run exited with status $1, signal $2\"\n",
        _ => "",
    }
    .to_owned();
    if delay == 0 {
        finish.push_str("exit 0");
    } else {
        let _ = write!(
            finish,
            "# The retry delay of the service's policy.\nexec sleep {delay}"
        );
    }
    let mut files = vec![
        Artifact::script(
            format!("{dir}/run"),
            format!(
                "{header}exec 2>&1\nexec {envdir} ./env {} run\n",
                model.binary
            ),
        ),
        Artifact::script(format!("{dir}/finish"), format!("{header}{finish}\n")),
        Artifact::script(
            format!("{dir}/log/run"),
            format!("{header}mkdir -p ./main\nexec {logger} ./main\n"),
        ),
    ];
    let mut env = model.env(unit, "127.0.0.1");
    if model.target == Target::S6 {
        env.push(("READY_FD", NOTIFICATION_FD.to_string()));
    }
    for (key, value) in env {
        files.push(Artifact::file(
            format!("{dir}/env/{key}"),
            format!("{value}\n"),
        ));
    }
    match model.target {
        Target::Runit => files.push(Artifact::script(
            format!("{dir}/check"),
            format!(
                "{header}exec {} health --addr 127.0.0.1:{}\n",
                model.binary, unit.port
            ),
        )),
        Target::S6 => {
            files.push(Artifact::file(
                format!("{dir}/notification-fd"),
                format!("{NOTIFICATION_FD}\n"),
            ));
            files.push(Artifact::file(
                format!("{dir}/timeout-kill"),
                format!("{}\n", model.stop_timeout().as_millis()),
            ));
            files.push(Artifact::file(
                format!("{dir}/timeout-finish"),
                format!("{}\n", (delay + FINISH_MARGIN_SECS) * 1000),
            ));
        }
        _ => {}
    }
    files
}
