//! Dependencies in other processes (SPEC §9.3) on loopback, with two processes of the
//! showcase: the database (and the flaky service) in one, the api alone in the other,
//! told where they run by `SERVICES_PEERS`. The api waits `pending` until the
//! database's process answers ready, whichever process starts first; with
//! `RUNNER_PEERTIMEOUT` and no database, its attempts fail and are retried per policy.

use std::net::SocketAddr;

use serde_json::Value;

use crate::http::get;
use crate::ops::{poll, start};
use crate::support::{Event, Launch, Match, short_showcase, showcase};

/// A loopback address where nothing listens (bound, then released).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address")
}

/// The `example-api` entry of the status at `addr`.
fn api_status(addr: SocketAddr) -> Value {
    let status = get(addr, "/status", "").json();
    status["services"]
        .as_array()
        .and_then(|services| {
            services
                .iter()
                .find(|service| service["name"] == "example-api")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no example-api in {status}"))
}

fn timestamp(line: &str) -> String {
    Event::parse(line)
        .and_then(|event| event.field("timestamp").map(str::to_owned))
        .unwrap_or_else(|| panic!("no timestamp in {line}"))
}

#[test]
fn the_api_waits_pending_for_its_peers_and_starts_once_the_database_is_ready() {
    let db_addr = free_addr();
    let peers = format!("example-database=http://{db_addr},example-flaky=http://{db_addr}");
    // The api first: its peers are not there yet.
    let (mut api, api_addr) = start(
        "127.0.0.1:0",
        &[
            ("SERVICES_ENABLED", "example-api"),
            ("SERVICES_PEERS", &peers),
        ],
    );
    let waiting = api.wait_for(&Match::event("example-api", "waiting for peer"));
    assert!(
        waiting.contains("\"peer\":\"example-database\""),
        "{waiting}"
    );
    let pending = poll(
        api_addr,
        "/status",
        "with the api pending for its peer",
        |reply| {
            reply.status == 200
                && api_status(api_addr)["reason"] == "waiting for peer example-database"
        },
    );
    let api_entry = api_status(api_addr);
    assert_eq!(api_entry["state"], "pending", "{}", pending.body);
    assert_eq!(api_entry["attempt"], 0);
    let readyz = get(api_addr, "/readyz", "");
    assert_eq!(readyz.status, 503);
    assert_eq!(
        readyz.json()["reason"],
        "example-api is pending (waiting for peer example-database)"
    );

    let status = Launch::new(showcase(), &["status", "--addr", &api_addr.to_string()]).run();
    status.assert_code(1);
    assert!(
        status.stderr_text().contains(
            "the app is not ready: example-api is pending (waiting for peer example-database)"
        ),
        "{}",
        status.stderr_text()
    );

    // Now the database's process, on the address the api polls.
    let (mut db, _) = start(
        &db_addr.to_string(),
        &[("SERVICES_ENABLED", "example-database,example-flaky")],
    );
    let db_ready = db.wait_for(&Match::event("example-database", "ready"));
    api.wait_for(&Match::event("example-api", "peer ready"));
    let starting = api.wait_for(&Match::event("example-api", "starting"));
    // RFC 3339 UTC with the same precision on both sides: ordered as text.
    assert!(
        timestamp(&db_ready) <= timestamp(&starting),
        "the api started ({starting}) before the database was ready ({db_ready})"
    );
    poll(api_addr, "/readyz", "ready", |reply| reply.status == 200);
    let api_entry = api_status(api_addr);
    assert_eq!(api_entry["state"], "ready");
    assert!(api_entry.get("reason").is_none(), "{api_entry}");

    // Only the start waits: the database going away changes nothing in the api.
    db.signal("TERM");
    db.finish().assert_code(0);
    assert_eq!(get(api_addr, "/readyz", "").status, 200);

    api.signal("TERM");
    let finished = api.finish();
    finished.assert_code(0);
    let events = finished.events();
    let waited = events
        .iter()
        .filter(|event| event.message() == Some("waiting for peer"))
        .filter_map(|event| event.field("peer"))
        .collect::<Vec<_>>();
    // Flaky was ready by the time the database was: one wait each, in declared order.
    assert_eq!(
        waited,
        ["example-database", "example-flaky"],
        "{}",
        finished.stderr_text()
    );
}

#[test]
fn with_a_peer_timeout_and_no_peer_each_attempt_fails_and_the_policy_retries() {
    let nowhere = free_addr();
    let finished = Launch::new(short_showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", "database-client")
        .env(
            "SERVICES_PEERS",
            &format!("example-database=http://{nowhere}"),
        )
        .env("RUNNER_PEERTIMEOUT", "1s")
        .run();
    finished.assert_code(1);
    let events = finished.events();
    let of = |message: &str| {
        events
            .iter()
            .filter(|event| {
                event.service() == Some("database-client") && event.message() == Some(message)
            })
            .collect::<Vec<_>>()
    };
    // retries = 2: three attempts, two retries, then the final failure.
    let failed = of("attempt failed");
    assert_eq!(failed.len(), 2, "{}", finished.stderr_text());
    for event in &failed {
        assert_eq!(
            event.field("error"),
            Some("peer example-database is not ready after 1s"),
            "{}",
            finished.stderr_text()
        );
    }
    assert_eq!(of("retrying").len(), 2);
    assert_eq!(of("waiting for peer").len(), 3);
    assert_eq!(of("failed").len(), 1);
    assert!(of("starting").is_empty(), "run is never called");
    let stderr = finished.stderr_text();
    assert!(
        stderr.contains("service database-client failed after 3 attempts: peer example-database is not ready after 1s"),
        "{stderr}"
    );
}

#[test]
fn the_showcase_api_without_retries_fails_after_one_timed_out_wait() {
    let nowhere = free_addr();
    let peers = format!("example-database=http://{nowhere},example-flaky=http://{nowhere}");
    let finished = Launch::new(showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", "example-api")
        .env("SERVICES_PEERS", &peers)
        .env("RUNNER_PEERTIMEOUT", "1s")
        .run();
    finished.assert_code(1);
    let stderr = finished.stderr_text();
    assert!(
        stderr.contains("service example-api failed after 1 attempt: peer example-database is not ready after 1s"),
        "{stderr}"
    );
}

#[test]
fn bad_peers_exit_2_naming_the_variable_and_the_fix() {
    for (peers, timeout, says) in [
        ("example-database=db:9100", "0s", "SERVICES_PEERS"),
        (
            "example-databse=http://db:9100",
            "0s",
            "no service named \"example-databse\" is registered",
        ),
        (
            "example-database=http://db:9100",
            "soon",
            "RUNNER_PEERTIMEOUT",
        ),
    ] {
        let finished = Launch::new(showcase(), &["run"])
            .env("SERVICES_ENABLED", "example-api")
            .env("SERVICES_PEERS", peers)
            .env("RUNNER_PEERTIMEOUT", timeout)
            .run();
        finished.assert_code(2);
        let stderr = finished.stderr_text();
        assert!(stderr.contains(says), "{peers} {timeout}: {stderr}");
    }
}
