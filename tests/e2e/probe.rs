//! `./app health` and `./app status` (SPEC §7) against the real showcase's ops endpoint,
//! run as a runit check or a Docker `HEALTHCHECK` runs them: a separate process of the
//! same binary, with nothing in its environment but what the test gives.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ops::start;
use crate::support::{PATIENCE, showcase};

/// `showcase <args>` with an empty environment, to its end (killed after 2 × PATIENCE).
fn probe(args: &[&str]) -> Output {
    probe_with(args, &[])
}

/// `showcase <args>` with only `env` in its environment.
fn probe_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = Command::new(showcase())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the showcase starts");
    let id = child.id();
    // A safety net, not a speed check: a hung probe fails the test instead of hanging it.
    std::thread::spawn(move || {
        std::thread::sleep(PATIENCE * 2);
        let _ = Command::new("kill")
            .args(["-KILL", &id.to_string()])
            .status();
    });
    child
        .wait_with_output()
        .expect("the probe can be waited for")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `args` every 50 ms until `done` holds (at most [`PATIENCE`]).
fn poll(args: &[&str], what: &str, done: impl Fn(&Output) -> bool) -> Output {
    poll_with(args, &[], what, done)
}

fn poll_with(
    args: &[&str],
    env: &[(&str, &str)],
    what: &str,
    done: impl Fn(&Output) -> bool,
) -> Output {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let output = probe_with(args, env);
        if done(&output) {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "`{}`: not {what} after {PATIENCE:?}; the last: {output:?}",
            args.join(" ")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[test]
fn health_and_status_follow_the_showcase_from_starting_to_draining() {
    let (app, addr) = start(
        "127.0.0.1:0",
        &[
            (
                "SERVICES_ENABLED",
                "example-database,hello-world,example-optional",
            ),
            ("RUNNER_DRAINDELAY", "4s"),
        ],
    );
    let addr = addr.to_string();
    let health = ["health", "--addr", addr.as_str()];

    // The database takes 2 s to connect: until then `health` says what it waits for.
    let first = probe(&health);
    if first.status.code() == Some(1) {
        let stderr = text(&first.stderr);
        assert!(stderr.contains("the app is not ready: "), "{stderr}");
    }
    let ready = poll(&health, "ready", |output| output.status.success());
    assert_eq!(text(&ready.stdout), "the app is ready\n");
    assert!(ready.stderr.is_empty(), "{}", text(&ready.stderr));

    let one = probe(&["health", "--addr", &addr, "--service", "example-database"]);
    assert_exit(&one, 0);
    assert_eq!(text(&one.stdout), "service example-database is ready\n");
    let unknown = probe(&["health", "--addr", &addr, "--service", "example-api"]);
    assert_exit(&unknown, 1);
    assert!(
        text(&unknown.stderr).contains("service example-api is not enabled in the app at"),
        "{}",
        text(&unknown.stderr)
    );

    let json = probe(&["status", "--addr", &addr, "--json"]);
    assert_exit(&json, 0);
    let status: Value = serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(status["app"], "showcase");
    assert_eq!(status["ready"], true);
    let names: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| service["name"].as_str().unwrap())
        .collect();

    let table = probe(&["status", "--addr", &addr]);
    assert_exit(&table, 0);
    let table = text(&table.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "showcase 0.1.0 (prod), pid {}: ready, up ",
            status["pid"]
        )),
        "{table}"
    );
    assert!(
        lines[1].starts_with("NAME") && lines[1].ends_with("LAST ERROR"),
        "{table}"
    );
    let rows: Vec<&str> = lines[2..]
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(rows, names, "one row per service, in start order:\n{table}");
    let optional = lines
        .iter()
        .find(|line| line.starts_with("example-optional"))
        .unwrap();
    assert!(
        optional.contains("failed") && optional.contains("no (not counted)"),
        "{table}"
    );
    assert!(optional.contains("attempt 1: "), "the last error: {table}");

    // On SIGTERM the app drains for 4 s: not ready at once, services still running.
    app.signal("TERM");
    let draining = poll(&health, "draining", |output| {
        output.status.code() == Some(1)
    });
    assert_eq!(
        text(&draining.stderr)
            .lines()
            .last()
            .map(|line| line.contains("the app is not ready: draining")),
        Some(true),
        "{}",
        text(&draining.stderr)
    );
    let table = probe(&["status", "--addr", &addr]);
    assert_exit(&table, 1);
    assert!(
        text(&table.stdout)
            .lines()
            .next()
            .unwrap()
            .contains(": draining, up ")
    );
    app.finish().assert_code(0);

    let gone = probe(&health);
    assert_exit(&gone, 1);
    assert!(
        text(&gone.stderr).contains("cannot reach the app at"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn the_probes_use_ops_addr_when_no_address_is_given() {
    let (app, addr) = start("127.0.0.1:0", &[("SERVICES_ENABLED", "hello-world")]);
    let env = [("OPS_ADDR", addr.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // hello-world is ready once it runs; the first probes may come before that.
    poll_with(&["health"], &env, "ready", |output| output.status.success());
    assert_exit(&probe_with(&["status", "--json"], &env), 0);
    assert_exit(
        &probe_with(&["health", "--service", "hello-world"], &env),
        0,
    );
    app.signal("TERM");
    app.finish().assert_code(0);
}

#[test]
fn status_on_a_wildcard_address_needs_the_token_and_sends_ops_token() {
    use crate::ops::TOKEN;

    // Inside a container the app listens on 0.0.0.0 and the HEALTHCHECK runs with the
    // same OPS_ADDR: the probes reach it there.
    let (app, addr) = start("0.0.0.0:0", &[("SERVICES_ENABLED", "hello-world")]);
    let wildcard = format!("0.0.0.0:{}", addr.port());
    let env = [("OPS_ADDR", wildcard.as_str())];
    poll_with(&["health"], &env, "ready", |output| output.status.success());
    let forbidden = probe_with(&["status"], &env);
    assert_exit(&forbidden, 1);
    assert!(
        text(&forbidden.stderr).contains(
            "refused /status (403): set OPS_TOKEN to serve /status on a non-loopback address"
        ),
        "{}",
        text(&forbidden.stderr)
    );
    app.signal("TERM");
    app.finish().assert_code(0);

    let (app, addr) = start(
        "0.0.0.0:0",
        &[("SERVICES_ENABLED", "hello-world"), ("OPS_TOKEN", TOKEN)],
    );
    let wildcard = format!("0.0.0.0:{}", addr.port());
    let env = [("OPS_ADDR", wildcard.as_str())];
    poll_with(&["health"], &env, "ready", |output| output.status.success());
    let unauthorized = probe_with(&["status"], &env);
    assert_exit(&unauthorized, 1);
    assert!(
        text(&unauthorized.stderr).contains("(401): set OPS_TOKEN to the app's token"),
        "{}",
        text(&unauthorized.stderr)
    );
    let with_token = [env[0], ("OPS_TOKEN", TOKEN)];
    let table = probe_with(&["status"], &with_token);
    assert_exit(&table, 0);
    assert!(
        text(&table.stdout).contains("hello-world"),
        "{}",
        text(&table.stdout)
    );
    assert!(!text(&table.stderr).contains(TOKEN), "the token was echoed");
    app.signal("TERM");
    app.finish().assert_code(0);
}
