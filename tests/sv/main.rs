//! `servicepack::sv` and `./app sv` against the real supervisors (Debian `runit`,
//! `daemontools`, `s6`), unprivileged, in temporary directories: what we decode agrees
//! with `sv status`, `svstat` and `s6-svstat` on the same directory at the same moment,
//! and our control commands do what `sv`, `svc` and `s6-svc` do.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use servicepack::sv::{self, Control, Error, State, Supervisor};
use support::{RUN_NOTIFYING, Supervised, eventually, tool};

const CLI_APP: &str = env!("CARGO_BIN_EXE_cli-app");

#[test]
fn runit_up_paused_finishing_and_down_agree_with_sv_status() {
    let mut service = Supervised::start(Supervisor::Runit, "api", Some(3));
    let up = service.assert_agrees("up");
    assert_eq!(
        (up.record.state, up.record.supervisor),
        (State::Up, Supervisor::Runit)
    );
    sv::control(service.dir(), Control::Pause).unwrap();
    service.wait_for("paused", |status| status.record.state == State::Paused);
    service.assert_agrees("paused");
    sv::control(service.dir(), Control::Cont).unwrap();
    sv::control(service.dir(), Control::Down).unwrap();
    eventually("./finish to start", || service.has("finish-started"));
    // Between the two processes runsv shows state finish with pid 0 for a moment.
    let finishing = service.wait_for("finishing with the finish script's pid", |status| {
        status.record.state == State::Finishing && status.record.pid.is_some()
    });
    assert_ne!(finishing.record.pid, up.record.pid);
    assert!(
        finishing.record.want_down,
        "finishing after `down` wants down: {finishing:?}"
    );
    service.assert_agrees("finishing");
    let down = service.wait_for("down", |status| status.record.state == State::Down);
    assert!(
        service.has("finish-ended"),
        "down only after ./finish ended"
    );
    assert_eq!((down.record.pid, down.record.want_up), (None, false));
    service.assert_agrees("down");
}

#[test]
fn daemontools_up_paused_and_down_agree_with_svstat() {
    let mut service = Supervised::start(Supervisor::Daemontools, "api", None);
    service.assert_agrees("up");
    sv::control(service.dir(), Control::Pause).unwrap();
    service.wait_for("paused", |status| status.record.state == State::Paused);
    service.assert_agrees("paused");
    sv::control(service.dir(), Control::Cont).unwrap();
    sv::control(service.dir(), Control::Down).unwrap();
    let down = service.wait_for("down", |status| status.record.state == State::Down);
    assert_eq!(down.record.pid, None);
    service.assert_agrees("down");
    sv::control(service.dir(), Control::Up).unwrap();
    service.wait_for("up again", |status| status.record.state == State::Up);
    service.assert_agrees("up again");
    // `once` leaves daemontools with no preference (want byte 0).
    sv::control(service.dir(), Control::Once).unwrap();
    service.assert_agrees("once");
}

#[test]
fn s6_up_paused_finishing_down_and_ready_agree_with_s6_svstat() {
    let mut service = Supervised::start(Supervisor::S6, "api", Some(3));
    let up = service.assert_agrees("up");
    assert_eq!(up.record.supervisor, Supervisor::S6);
    sv::control(service.dir(), Control::Pause).unwrap();
    service.wait_for("paused", |status| status.record.state == State::Paused);
    service.assert_agrees("paused");
    sv::control(service.dir(), Control::Cont).unwrap();
    sv::control(service.dir(), Control::Down).unwrap();
    eventually("./finish to start", || service.has("finish-started"));
    let finishing = service.wait_for("finishing", |status| {
        status.record.state == State::Finishing
    });
    assert!(!service.has("finish-ended"), "{finishing:?}");
    service.assert_agrees("finishing");
    let down = service.wait_for("down", |status| status.record.state == State::Down);
    assert!(
        service.has("finish-ended"),
        "down only after ./finish ended: {down:?}"
    );
    service.assert_agrees("down");

    let files = [("notification-fd", "3\n")];
    let mut notifying = Supervised::start_with(Supervisor::S6, "db", RUN_NOTIFYING, None, &files);
    let ready = notifying.wait_for("ready", |status| status.record.ready == Some(true));
    assert_eq!(ready.record.state, State::Up);
    notifying.assert_agrees("ready");
}

#[test]
fn directories_under_runsvdir_svscan_and_s6_svscan_agree_too() {
    for supervisor in [Supervisor::Runit, Supervisor::Daemontools, Supervisor::S6] {
        let mut service = Supervised::start_scanned(supervisor, "api");
        let up = service.assert_agrees("up under the scanner");
        assert_eq!(up.record.supervisor, supervisor);
        sv::control(service.dir(), Control::Down).unwrap();
        service.wait_for("down", |status| status.record.state == State::Down);
        service.assert_agrees("down under the scanner");
    }
}

/// Runs each command on two identical services, ours on one and the real tool's on the
/// other; both must reach the outcome written beside it (state, want up, want down):
/// the real tool shows the table is right, ours that we do the same.
fn same_effect(supervisor: Supervisor, real: &str, flag: impl Fn(Control) -> Vec<String>) {
    // The `hup` step needs SIGHUP's default action in the supervised `sleep`, and an
    // ignored signal stays ignored across `exec`.
    assert!(
        !sighup_ignored(),
        "SIGHUP is ignored in this test process (started under `nohup`?), so `sleep` \
         would ignore `hup`: run the tests without it"
    );
    // runit and s6 record `once` as "want down"; daemontools as no preference at all.
    let once_wants_down = supervisor != Supervisor::Daemontools;
    let ours = Supervised::start(supervisor, "ours", None);
    let theirs = Supervised::start(supervisor, "theirs", None);
    // `term`, `hup` and `kill` end the process and the supervisor starts a new one;
    // `once` on a running process keeps it running.
    let steps = [
        (Control::Down, State::Down, false, false),
        (Control::Up, State::Up, false, false),
        (Control::Pause, State::Paused, false, false),
        (Control::Cont, State::Up, false, false),
        (Control::Term, State::Up, false, false),
        (Control::Hup, State::Up, false, false),
        (Control::Kill, State::Up, false, false),
        (Control::Once, State::Up, false, once_wants_down),
        (Control::Down, State::Down, false, false),
        (Control::Once, State::Up, false, once_wants_down),
    ];
    for (command, state, want_up, want_down) in steps {
        let restarts = matches!(command, Control::Term | Control::Hup | Control::Kill);
        let mut pending = Vec::new();
        for (service, who) in [(&ours, "ours"), (&theirs, real)] {
            pending.push((service, who, service.status().record.pid));
        }
        sv::control(ours.dir(), command).unwrap();
        let status = Command::new(tool(real))
            .args(flag(command))
            .arg(theirs.dir())
            .status()
            .expect("the real tool runs");
        assert!(status.success(), "{real} {command:?} failed: {status}");
        for (service, who, before) in pending {
            eventually(
                &format!(
                    "{who}: {command:?} to give {state} (want up {want_up}, want down {want_down})"
                ),
                || {
                    let record = service.status().record;
                    (record.state, record.want_up, record.want_down) == (state, want_up, want_down)
                        && (!restarts || record.pid != before)
                },
            );
        }
    }
}

/// Whether this process ignores SIGHUP (bit 0 of `SigIgn` in `/proc/self/status`).
fn sighup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mask = status
                .lines()
                .find_map(|line| line.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & 1 != 0)
}

#[test]
fn control_commands_do_what_sv_does() {
    same_effect(Supervisor::Runit, "sv", |command| {
        vec![command.as_str().to_owned()]
    });
}

#[test]
fn control_commands_do_what_svc_does() {
    same_effect(Supervisor::Daemontools, "svc", |command| {
        vec![format!("-{}", char::from(command.byte()))]
    });
}

#[test]
fn control_commands_do_what_s6_svc_does() {
    same_effect(Supervisor::S6, "s6-svc", |command| {
        vec![format!("-{}", char::from(command.byte()))]
    });
}

#[test]
fn restart_waits_for_finish_then_starts_a_new_process() {
    for supervisor in [Supervisor::Runit, Supervisor::S6] {
        let service = Supervised::start(supervisor, "api", Some(1));
        let old = service.status().record.pid;
        let status = sv::restart(service.dir(), Duration::from_secs(30)).unwrap();
        assert!(
            service.has("finish-ended"),
            "{supervisor}: up only after ./finish ended"
        );
        let taken = match status.record.state {
            State::Up | State::Paused => true,
            State::Down => status.record.want_up,
            State::Finishing => false,
        };
        assert!(
            taken,
            "{supervisor}: restart returns once the supervisor took `up`: {status:?}"
        );
        eventually("the new process", || {
            let status = service.status();
            status.record.state == State::Up && status.record.pid != old
        });
    }
}

#[test]
fn restart_past_its_timeout_is_an_error_and_still_sends_up() {
    let mut service = Supervised::start(Supervisor::Runit, "api", Some(4));
    let error = sv::restart(service.dir(), Duration::from_millis(300)).unwrap_err();
    assert!(matches!(error, Error::RestartTimeout { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&service.dir().display().to_string()),
        "{message}"
    );
    service.wait_for("up after the finish script", |status| {
        status.record.state == State::Up
    });
}

#[test]
fn a_dead_supervisor_is_an_error_naming_the_directory_not_a_stale_status() {
    for supervisor in [Supervisor::Runit, Supervisor::Daemontools, Supervisor::S6] {
        let mut service = Supervised::start(supervisor, "api", None);
        service.kill_supervisor();
        assert!(
            service.dir().join("supervise/status").exists(),
            "the stale status stays"
        );
        let error = sv::status(service.dir()).unwrap_err();
        assert!(
            matches!(error, Error::NotRunning { .. }),
            "{supervisor}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains(&service.dir().display().to_string()),
            "{supervisor}: {error}"
        );
        let error = sv::control(service.dir(), Control::Up).unwrap_err();
        assert!(
            matches!(error, Error::NotRunning { .. }),
            "{supervisor}: {error}"
        );
    }
}

#[test]
fn a_damaged_status_file_is_an_error_naming_it() {
    let service = Supervised::start(Supervisor::Runit, "api", None);
    let path = service.dir().join("supervise/status");
    std::fs::write(&path, b"garbage").unwrap();
    let error = sv::status(service.dir()).unwrap_err();
    assert!(
        matches!(error, Error::UnknownLayout { len: 7, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    std::fs::write(&path, [0xff; 20]).unwrap();
    let error = sv::status(service.dir()).unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert!(
        error.to_string().contains("restart the supervisor"),
        "{error}"
    );
}

#[test]
fn a_directory_never_supervised_is_an_error_saying_how_to_start_one() {
    let dir = std::env::temp_dir().join(format!("servicepack-sv-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let error = sv::status(&dir).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(error, Error::NotSupervised { .. }), "{error}");
    assert!(error.to_string().contains("runsv DIR"), "{error}");
}

fn app_sv(args: &[&str], dirs: &[&Path]) -> std::process::Output {
    Command::new(CLI_APP)
        .arg("sv")
        .args(args)
        .args(dirs)
        .env_remove("LOG_FORMAT")
        .env_remove("LOG_LEVEL")
        .output()
        .expect("the app runs")
}

#[test]
fn app_sv_status_json_prints_every_field_and_a_dead_supervisor_exits_1() {
    let runit = Supervised::start(Supervisor::Runit, "web", None);
    let s6 = Supervised::start(Supervisor::S6, "db", None);
    let output = app_sv(&["status", "--json"], &[runit.dir(), s6.dir()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {}; stderr: {stderr}",
        output.status
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    let array = json.as_array().expect("a JSON array");
    assert_eq!(array.len(), 2, "{json}");
    for (value, (name, supervisor, status)) in array
        .iter()
        .zip([("web", "runit", runit.status()), ("db", "s6", s6.status())])
    {
        assert_eq!(value["name"], name, "{value}");
        assert_eq!(value["supervisor"], supervisor, "{value}");
        assert_eq!(value["state"], "up", "{value}");
        assert_eq!(
            value["pid"],
            status.record.pid.expect("up has a pid"),
            "{value}"
        );
        assert!(value["seconds"].is_u64(), "{value}");
        assert_eq!(value["want_up"], false, "{value}");
        assert_eq!(value["want_down"], false, "{value}");
        assert_eq!(value["since"], status.record.since_rfc3339(), "{value}");
    }
    assert_eq!(array[0]["ready"], serde_json::Value::Null);
    assert!(array[1]["ready"].is_boolean());

    let mut dead = Supervised::start(Supervisor::Daemontools, "cache", None);
    dead.kill_supervisor();
    let output = app_sv(&["status"], &[runit.dir(), dead.dir()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(&dead.dir().display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("no supervisor is running it"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("NAME"),
        "the live directory is still shown: {stdout}"
    );
    assert!(stdout.contains("web"), "{stdout}");
    let output = app_sv(&["up"], &[dead.dir()]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn app_sv_control_commands_reach_the_supervisor() {
    let mut service = Supervised::start(Supervisor::Runit, "web", None);
    let output = app_sv(&["down"], &[service.dir()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    service.wait_for("down", |status| status.record.state == State::Down);
    let output = app_sv(&["restart", "--timeout", "10s"], &[service.dir()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    service.wait_for("up", |status| status.record.state == State::Up);
    let output = app_sv(&["restart", "--timeout", "soon"], &[service.dir()]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad duration is a usage error"
    );
}
