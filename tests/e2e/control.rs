//! The control routes and `./app ctl` (SPEC §8) against the real showcase over loopback:
//! a command runs inside the running app, a restart, a drain, a shutdown, and the token
//! rules.

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::http::{Reply, exchange, get};
use crate::ops::{TOKEN, poll, start};
use crate::support::{Event, Match, PATIENCE, showcase};

/// `showcase ctl <args>` with only `OPS_TOKEN` (when given) and `OPS_ADDR`; killed if it
/// has not ended within [`PATIENCE`].
fn ctl(addr: SocketAddr, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(showcase());
    command
        .arg("ctl")
        .args(args)
        .env_clear()
        .env("OPS_ADDR", addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("OPS_TOKEN", token);
    }
    let mut child = command.spawn().expect("the showcase starts");
    let deadline = Instant::now() + PATIENCE;
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("ctl can be waited for")
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `POST path` with `body` and extra header lines.
fn post(addr: SocketAddr, path: &str, headers: &str, body: &str) -> Reply {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    exchange(addr, raw.as_bytes()).unwrap_or_else(|error| panic!("POST {path}: {error}"))
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

fn service(addr: SocketAddr, name: &str) -> serde_json::Value {
    let status = get(addr, "/status", "").json();
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|service| service["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn ctl_runs_a_command_inside_the_app_restarts_drains_and_shuts_down() {
    let (mut app, addr) = start("127.0.0.1:0", &[("OPS_TOKEN", TOKEN)]);
    poll(addr, "/readyz", "200", |reply| reply.status == 200);

    // The command runs in the app: its log line comes from the app's process, in the
    // running service's span.
    let command = ctl(
        addr,
        Some(TOKEN),
        &["command", "example-migrator", "status"],
    );
    assert_exit(&command, 0);
    let line = app.wait_for(&Match::event("example-migrator", "migration status"));
    let event = Event::parse(&line).unwrap();
    assert_eq!(event.service(), Some("example-migrator"), "{line}");
    app.wait_for(&Match::event("example-migrator", "command finished"));
    // Args that do not parse: clap's message, exit 1.
    let bad = ctl(
        addr,
        Some(TOKEN),
        &["command", "example-migrator", "sideways"],
    );
    assert_exit(&bad, 1);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unrecognized subcommand"),
        "{bad:?}"
    );
    // A service without commands.
    assert_exit(&ctl(addr, Some(TOKEN), &["command", "example-api", "x"]), 1);

    // Restart: a fresh attempt, counters kept, its dependent untouched.
    let before = service(addr, "example-flaky");
    let api_before = service(addr, "example-api");
    assert_exit(&ctl(addr, Some(TOKEN), &["restart", "example-flaky"]), 0);
    app.wait_for(&Match::event("example-flaky", "restarting"));
    let after = poll(addr, "/readyz/example-flaky", "ready again", |reply| {
        reply.status == 200
            && service(addr, "example-flaky")["restarts"]
                == before["restarts"].as_u64().unwrap() + 1
    });
    assert_eq!(after.status, 200);
    let flaky = service(addr, "example-flaky");
    assert_eq!(flaky["attempt"], before["attempt"].as_u64().unwrap() + 1);
    let api = service(addr, "example-api");
    assert_eq!(api["attempt"], api_before["attempt"]);
    assert_eq!(api["state"], "ready");
    assert_exit(&ctl(addr, Some(TOKEN), &["restart", "no-such-service"]), 1);

    let metrics = get(addr, "/metrics", "").body;
    assert!(
        metrics
            .contains("servicepack_commands_total{service=\"example-migrator\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("servicepack_commands_in_flight 0"),
        "{metrics}"
    );

    // Drain: not ready from now on, services keep running.
    assert_exit(&ctl(addr, Some(TOKEN), &["drain"]), 0);
    let drained = get(addr, "/readyz", "");
    assert_eq!(drained.status, 503);
    assert_eq!(
        drained.body,
        r#"{"status":"not_ready","reason":"draining"}"#
    );
    assert_eq!(service(addr, "example-api")["state"], "ready");

    // Shutdown: the graceful path, exit 0.
    assert_exit(&ctl(addr, Some(TOKEN), &["shutdown"]), 0);
    let run = app.finish();
    run.assert_code(0);
    let events = run.events();
    run.assert_before(
        &events,
        &Match::event("example-api", "stopped"),
        &Match::event("example-flaky", "stopped"),
    );
}

#[test]
fn the_control_routes_need_the_token_and_exist_only_with_it() {
    let (app, addr) = start(
        "127.0.0.1:0",
        &[("OPS_TOKEN", TOKEN), ("SERVICES_ENABLED", "hello-world")],
    );
    for path in [
        "/admin/shutdown",
        "/admin/drain",
        "/admin/services/hello-world/restart",
        "/admin/services/hello-world/commands",
    ] {
        let missing = post(addr, path, "", "");
        assert_eq!(missing.status, 401, "{path}: {missing:?}");
        assert!(missing.json()["error"].is_string());
        let wrong = post(addr, path, &bearer("e2e-token-0123456780"), "");
        assert_eq!(wrong.status, 401, "{path}: {wrong:?}");
    }
    assert_exit(&ctl(addr, Some("wrong-token-0123456789"), &["drain"]), 1);
    assert_exit(&ctl(addr, None, &["drain"]), 2);
    assert_eq!(get(addr, "/admin/drain", &bearer(TOKEN)).status, 405);
    let no_commands = post(
        addr,
        "/admin/services/hello-world/commands",
        &bearer(TOKEN),
        r#"{"args":["x"]}"#,
    );
    assert_eq!(no_commands.status, 404, "{no_commands:?}");
    let unknown = post(addr, "/admin/services/nope/restart", &bearer(TOKEN), "");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    // Ready (the services start after the endpoint listens), and nothing was drained: a
    // drain would keep it 503.
    poll(addr, "/readyz", "ready, nothing drained", |reply| {
        reply.status == 200
    });
    drop(app);

    let (app, addr) = start("127.0.0.1:0", &[("SERVICES_ENABLED", "hello-world")]);
    for path in [
        "/admin/shutdown",
        "/admin/drain",
        "/admin/services/hello-world/restart",
    ] {
        let absent = post(addr, path, &bearer(TOKEN), "");
        assert_eq!(absent.status, 404, "{path} without OPS_TOKEN: {absent:?}");
    }
    poll(addr, "/readyz", "ready", |reply| reply.status == 200);
    drop(app);
}

#[test]
fn bad_command_limits_exit_2_naming_the_variable() {
    for (variable, value) in [("OPS_COMMANDS_MAX", "0"), ("OPS_COMMAND_TIMEOUT", "soon")] {
        let run = crate::support::Launch::new(showcase(), &["run"])
            .env(variable, value)
            .run();
        run.assert_code(2);
        assert!(
            run.stderr_text().contains(variable),
            "{}",
            run.stderr_text()
        );
    }
}
