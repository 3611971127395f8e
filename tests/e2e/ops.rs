//! The ops endpoint of the real showcase over loopback (SPEC §6): readiness as the
//! database comes up and on drain, `/status` field for field, the access rules, the error
//! answers and the limits.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{Reply, exchange, get};
use crate::support::{Event, Launch, Match, PATIENCE, Running, showcase};

pub(crate) const TOKEN: &str = "e2e-token-0123456789";

/// The showcase with the endpoint on `addr`, JSON logs, and `env`; returns it with the
/// address it announced (port 0 resolved; a wildcard address reached through 127.0.0.1).
pub(crate) fn start(addr: &str, env: &[(&str, &str)]) -> (Running, SocketAddr) {
    let mut launch = Launch::new(showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("OPS_ADDR", addr);
    for (key, value) in env {
        launch = launch.env(key, value);
    }
    let mut app = launch.spawn();
    let line = app.wait_for(&Match::global("ops endpoint listening"));
    let event = Event::parse(&line).expect("a JSON log line");
    let mut announced: SocketAddr = event
        .field("addr")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no addr in {line}"));
    assert_ne!(announced.port(), 0, "the real port is announced: {line}");
    if announced.ip().is_unspecified() {
        announced.set_ip([127, 0, 0, 1].into());
    }
    (app, announced)
}

/// Polls `path` until `done` holds for an answer (every 50 ms, at most [`PATIENCE`]).
pub(crate) fn poll(
    addr: SocketAddr,
    path: &str,
    what: &str,
    done: impl Fn(&Reply) -> bool,
) -> Reply {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = get(addr, path, "");
        if done(&reply) {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path}: no answer {what} after {PATIENCE:?}; the last: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn readyz_turns_ready_with_the_database_and_drains_on_sigterm() {
    let (app, addr) = start(
        "127.0.0.1:0",
        &[
            ("SERVICES_ENABLED", "example-database,hello-world"),
            ("RUNNER_DRAINDELAY", "4s"),
        ],
    );
    // The database takes 2 s to connect: until then the answer is 503 naming it (before
    // the runner has planned the services, the reason is a plain "starting").
    let first = poll(addr, "/readyz", "naming the database", |reply| {
        assert_eq!(reply.status, 503, "ready before the database: {reply:?}");
        reply.body.contains("example-database is starting")
    });
    assert_eq!(
        first.body,
        r#"{"status":"not_ready","reason":"example-database is starting"}"#
    );
    assert_eq!(get(addr, "/readyz/example-database", "").status, 503);
    assert_eq!(get(addr, "/readyz/hello-world", "").status, 200);
    assert_eq!(
        get(addr, "/readyz/example-api", "").status,
        404,
        "not enabled here"
    );
    assert_eq!(get(addr, "/livez", "").body, r#"{"status":"ok"}"#);

    let ready = poll(addr, "/readyz", "200", |reply| reply.status == 200);
    assert_eq!(ready.body, r#"{"status":"ready"}"#);
    assert_eq!(get(addr, "/readyz/example-database", "").status, 200);
    assert_eq!(get(addr, "/status", "").json()["state"], "ready");

    app.signal("TERM");
    let draining = poll(addr, "/readyz", "503", |reply| reply.status == 503);
    assert_eq!(
        draining.body,
        r#"{"status":"not_ready","reason":"draining"}"#
    );
    let status = get(addr, "/status", "").json();
    assert_eq!(status["state"], "draining");
    assert_eq!(status["ready"], false);
    // Services still run during the drain.
    assert!(
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "ready"),
        "{status}"
    );
    let run = app.finish();
    run.assert_code(0);
    let events = run.events();
    run.assert_before(
        &events,
        &Match::global("ops endpoint listening"),
        &Match::event("example-database", "starting"),
    );
}

#[test]
fn status_matches_the_contract_field_for_field() {
    let (app, addr) = start("127.0.0.1:0", &[]);
    // example-flaky fails twice before it settles: wait for its first error.
    let reply = poll(addr, "/status", "with example-flaky's error", |reply| {
        reply.status == 200
            && reply.json()["services"].as_array().is_some_and(|services| {
                services
                    .iter()
                    .any(|s| s["name"] == "example-flaky" && !s["last_error"].is_null())
            })
    });
    assert!(
        reply.head.contains("content-type: application/json"),
        "{}",
        reply.head
    );
    let status = reply.json();
    let keys =
        |value: &Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };
    let mut top = keys(&status);
    top.sort();
    assert_eq!(
        top,
        [
            "app",
            "env",
            "pid",
            "ready",
            "services",
            "started_at",
            "state",
            "uptime_seconds",
            "version"
        ]
    );
    assert_eq!(status["app"], "showcase");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["env"], "prod");
    assert_eq!(status["pid"].as_u64(), Some(u64::from(app.pid())));
    assert!(status["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert!(
        is_rfc3339_millis(status["started_at"].as_str().unwrap()),
        "{status}"
    );
    let services = status["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(
        names.iter().position(|&n| n == "example-database")
            < names.iter().position(|&n| n == "example-api")
    );
    for service in services {
        let mut fields = keys(service);
        fields.sort();
        assert_eq!(
            fields,
            [
                "allowed_failure",
                "attempt",
                "counts_for_readiness",
                "depends_on",
                "last_error",
                "name",
                "next_attempt_at",
                "ready",
                "restarts",
                "since",
                "state"
            ],
        );
        assert!(
            is_rfc3339_millis(service["since"].as_str().unwrap()),
            "{service}"
        );
        assert_eq!(
            service["ready"],
            matches!(service["state"].as_str(), Some("ready" | "exited"))
        );
    }
    let by_name = |name: &str| services.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(
        by_name("example-migrator")["depends_on"],
        serde_json::json!(["example-database"])
    );
    assert_eq!(by_name("example-migrator")["allowed_failure"], true);
    assert_eq!(
        by_name("example-api")["depends_on"],
        serde_json::json!(["example-database", "example-flaky"])
    );
    let flaky = by_name("example-flaky");
    let error = &flaky["last_error"];
    assert_eq!(keys(error).len(), 3, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["attempt"].as_u64().is_some_and(|a| a >= 1));
    assert!(is_rfc3339_millis(error["at"].as_str().unwrap()));
    drop(app);
}

fn is_rfc3339_millis(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 24
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && bytes[23] == b'Z'
        && text.chars().filter(char::is_ascii_digit).count() == 17
}

#[test]
fn errors_and_limits_answer_with_their_codes() {
    let (app, addr) = start("127.0.0.1:0", &[("SERVICES_ENABLED", "hello-world")]);
    let not_found = get(addr, "/nope", "");
    assert_eq!(not_found.status, 404);
    assert!(not_found.json()["error"].is_string());
    let post = exchange(
        addr,
        b"POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(post.status, 405);
    assert!(post.json()["error"].is_string());
    let big = "a".repeat(17 * 1024);
    let head = get(addr, "/livez", &format!("X-Big: {big}\r\n"));
    assert_eq!(head.status, 431);
    assert!(head.json()["error"].is_string());
    let body = exchange(
        addr,
        b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
    )
    .unwrap();
    assert_eq!(body.status, 413);
    let malformed = exchange(addr, b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    assert_eq!(malformed.status, 400);
    assert!(malformed.json()["error"].is_string());
    assert_eq!(
        get(addr, "/livez", "").status,
        200,
        "the endpoint still answers"
    );
    drop(app);
}

#[test]
fn access_rules_on_loopback_and_on_a_wildcard_address() {
    // 0.0.0.0 is not loopback: the rule of a public address applies, reached here
    // through 127.0.0.1 only.
    let (app, addr) = start("0.0.0.0:0", &[("SERVICES_ENABLED", "hello-world")]);
    for path in ["/status", "/"] {
        let reply = get(addr, path, "");
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(
            reply.body,
            r#"{"error":"set OPS_TOKEN to serve /status on a non-loopback address"}"#
        );
    }
    for path in ["/livez", "/readyz", "/readyz/hello-world", "/metrics"] {
        let reply = get(addr, path, "");
        assert!(
            matches!(reply.status, 200 | 503),
            "{path} is open: {reply:?}"
        );
    }
    drop(app);

    let (app, addr) = start(
        "0.0.0.0:0",
        &[("SERVICES_ENABLED", "hello-world"), ("OPS_TOKEN", TOKEN)],
    );
    for path in ["/status", "/"] {
        assert_eq!(get(addr, path, "").status, 401, "{path}");
        assert_eq!(
            get(addr, path, "Authorization: Bearer not-the-token-000\r\n").status,
            401
        );
        assert_eq!(
            get(addr, path, &format!("Authorization: Bearer {TOKEN}\r\n")).status,
            200,
            "{path}"
        );
    }
    assert_eq!(get(addr, "/livez", "").status, 200);
    let run = {
        app.signal("TERM");
        app.finish()
    };
    assert!(
        !run.dump().contains(TOKEN),
        "the token was logged:\n{}",
        run.dump()
    );

    let (app, addr) = start(
        "127.0.0.1:0",
        &[("SERVICES_ENABLED", "hello-world"), ("OPS_TOKEN", TOKEN)],
    );
    assert_eq!(
        get(addr, "/status", "").status,
        200,
        "loopback is open, token or not"
    );
    drop(app);
}

#[test]
fn a_port_in_use_exits_1_before_any_service_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = Launch::new(showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("OPS_ADDR", &addr)
        .run();
    run.assert_code(1);
    let stderr = run.stderr_text();
    assert!(stderr.contains(&format!("OPS_ADDR={addr}")), "{stderr}");
    assert!(
        !stderr.contains("\"starting\""),
        "a service started:\n{stderr}"
    );
}

#[test]
fn bad_ops_variables_exit_2_naming_them() {
    for (var, value, also) in [
        ("OPS_ADDR", "localhost:9090", "127.0.0.1:9090"),
        ("OPS_TOKEN", "too-short", "at least 16 characters"),
        ("RUNNER_DRAINDELAY", "a while", "a while"),
    ] {
        let run = Launch::new(showcase(), &["run"]).env(var, value).run();
        run.assert_code(2);
        let stderr = run.stderr_text();
        assert!(
            stderr.contains(var) && stderr.contains(also),
            "{var}={value}:\n{stderr}"
        );
        if var == "OPS_TOKEN" {
            assert!(!stderr.contains(value), "the token was echoed:\n{stderr}");
        }
    }
}

#[test]
fn connections_past_256_are_closed_and_the_endpoint_keeps_answering() {
    use std::io::{Read, Write};

    let (app, addr) = start("127.0.0.1:0", &[("SERVICES_ENABLED", "hello-world")]);
    let mut open = Vec::new();
    for _ in 0..256 {
        let mut stream = std::net::TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        // An answered request proves the connection holds one of the 256 slots.
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0; 512];
        let read = stream.read(&mut buf).unwrap();
        assert!(
            buf[..read].starts_with(b"HTTP/1.1 200"),
            "connection {}",
            open.len()
        );
        open.push(stream);
    }
    let mut refused = std::net::TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    refused.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = refused.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0; 512];
    let read = refused.read(&mut buf);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the 257th connection was served: {read:?}"
    );
    drop(open);
    // Once the server has seen the clients go, their slots are free again.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let request = b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if exchange(addr, request).is_ok_and(|reply| reply.status == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no slot came free in {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(app);
}
