//! systemd: `<app>-<svc>.service` per service and `<app>.target` that wants them all.
//!
//! `Type=notify`: the app sends `READY=1` once its one service is ready, so `After=`
//! means "after it is ready", not "after it was forked". `Requires=` (or `Wants=` for an
//! allowed failure) with `After=` gives the start order, and systemd stops units in the
//! reverse of that order, dependents first.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Restart;

use super::Artifact;
use super::model::{Model, Unit, seconds_or_millis};

/// `WatchdogSec=`: the app pings every half of it while its event loop answers.
const WATCHDOG: &str = "30s";

/// What a start may take beyond the service's own policy: systemd's default.
const APP_START: Duration = Duration::from_secs(90);

pub(super) fn render(model: &Model) -> Vec<Artifact> {
    let mut files: Vec<Artifact> = model
        .units
        .iter()
        .map(|unit| {
            Artifact::file(
                format!("{}.service", model.unit_name(&unit.name)),
                service(model, unit),
            )
        })
        .collect();
    files.push(Artifact::file(
        format!("{}.target", model.app),
        target(model),
    ));
    files
}

fn target(model: &Model) -> String {
    let wants: Vec<String> = model
        .units
        .iter()
        .map(|unit| format!("{}.service", model.unit_name(&unit.name)))
        .collect();
    let mut text = format!(
        "# {}\n[Unit]\nDescription={}: every deployed service\n",
        model.header(),
        model.app
    );
    if !wants.is_empty() {
        let _ = writeln!(text, "Wants={}", wants.join(" "));
    }
    text.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    text
}

fn service(model: &Model, unit: &Unit) -> String {
    // Writing to a String cannot fail.
    let mut text = String::new();
    let _ = writeln!(text, "# {}", model.header());
    let _ = writeln!(text, "[Unit]");
    let _ = writeln!(text, "Description={}: {}", model.app, unit.name);
    let _ = writeln!(text, "PartOf={}.target", model.app);
    let deps = |allowed: bool| -> Vec<String> {
        unit.depends_on
            .iter()
            .filter(|dep| dep.allowed_failure == allowed)
            .map(|dep| format!("{}.service", model.unit_name(&dep.name)))
            .collect()
    };
    let (required, wanted) = (deps(false), deps(true));
    let after: Vec<&String> = required.iter().chain(&wanted).collect();
    if !after.is_empty() {
        let after: Vec<&str> = after.iter().map(|name| name.as_str()).collect();
        let _ = writeln!(text, "After={}", after.join(" "));
    }
    if !required.is_empty() {
        let _ = writeln!(text, "Requires={}", required.join(" "));
    }
    if !wanted.is_empty() {
        let _ = writeln!(text, "Wants={}", wanted.join(" "));
    }

    let _ = writeln!(text, "\n[Service]");
    let _ = writeln!(text, "Type=notify");
    let _ = writeln!(text, "NotifyAccess=main");
    let _ = writeln!(text, "ExecStart={} run", model.binary);
    for (key, value) in model.env(unit, "127.0.0.1") {
        let _ = writeln!(text, "Environment={key}={value}");
    }
    let _ = writeln!(text, "SyslogIdentifier={}", model.unit_name(&unit.name));
    let restart = match unit.policy.restart {
        Restart::OnFailure => "on-failure",
        Restart::Always => "always",
        Restart::Never => "no",
    };
    let _ = writeln!(text, "Restart={restart}");
    let _ = writeln!(text, "RestartSec={}", seconds_or_millis(unit.delay()));
    let start = unit.start_budget().map_or_else(
        || "infinity".to_owned(),
        |budget| {
            // systemd's default start timeout for the app itself and its pre-run hooks,
            // on top of what the policy allows the service.
            seconds_or_millis(budget + APP_START)
        },
    );
    let _ = writeln!(text, "TimeoutStartSec={start}");
    let _ = writeln!(
        text,
        "TimeoutStopSec={}",
        seconds_or_millis(model.stop_timeout())
    );
    let _ = writeln!(text, "KillSignal=SIGTERM");
    let _ = writeln!(text, "WatchdogSec={WATCHDOG}");
    let _ = writeln!(text, "\n[Install]");
    let _ = writeln!(text, "WantedBy={}.target", model.app);
    text
}
