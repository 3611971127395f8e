//! The showcase binary: the Go original's whole-app story, its commands, and hello.

use crate::support::{Event, Finished, Launch, Match, hello, showcase};

/// Every service of the showcase.
const ALL: [&str; 9] = [
    "hello-world",
    "example-database",
    "example-api",
    "example-migrator",
    "example-optional",
    "example-flaky",
    "example-crasher",
    "example-nested-http",
    "example-nested-grpc",
];

/// The services still running when the SIGTERM arrives (the crasher's first crash is
/// 10 s away).
const LONG_RUNNING: [&str; 7] = [
    "hello-world",
    "example-database",
    "example-api",
    "example-flaky",
    "example-crasher",
    "example-nested-http",
    "example-nested-grpc",
];

fn ev(service: &str, message: &str) -> Match {
    Match::event(service, message)
}

#[test]
fn showcase_timeline_then_sigterm_stops_in_reverse_order() {
    let mut app = Launch::new(showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .spawn();
    app.wait_for(&ev("example-api", "starting"));
    app.wait_for(&ev("example-migrator", "exited"));
    app.signal("TERM");
    let run = app.finish();
    run.assert_code(0);
    let events = run.events();
    assert_startup(&run, &events);
    assert_flaky_and_optional(&run, &events);
    assert_shutdown(&run, &events);
}

/// Everything started, the database first, nothing fatal.
fn assert_startup(run: &Finished, events: &[Event]) {
    for service in ALL {
        run.position(events, &ev(service, "starting"));
    }
    // The crasher's first crash (10 s in) is only an attempt; nothing may fail for good.
    for service in ALL {
        assert_eq!(
            Finished::count(events, &ev(service, "failed")),
            0,
            "{service}\n{}",
            run.dump()
        );
    }

    // The database is ready first; then the api and the migrator start.
    let db_ready = ev("example-database", "ready");
    run.assert_before(
        events,
        &Match::says("example-database", "connecting to database"),
        &db_ready,
    );
    run.assert_before(
        events,
        &Match::says("example-database", "database ready, accepting connections"),
        &db_ready,
    );
    run.assert_before(events, &db_ready, &ev("example-api", "starting"));
    run.assert_before(events, &db_ready, &ev("example-migrator", "starting"));

    // The migrator is a one-shot job.
    run.assert_before(
        events,
        &Match::says("example-migrator", "running migrations"),
        &Match::says("example-migrator", "migrations completed"),
    );
    run.assert_before(
        events,
        &Match::says("example-migrator", "migrations completed"),
        &ev("example-migrator", "exited"),
    );
}

/// Flaky fails twice, one second apart, then settles; optional fails for good, harmlessly.
fn assert_flaky_and_optional(run: &Finished, events: &[Event]) {
    // Flaky fails twice, one second apart, then settles; the api waits for that.
    let flaky = "example-flaky";
    assert_eq!(
        Finished::count(events, &ev(flaky, "attempt failed")),
        2,
        "{}",
        run.dump()
    );
    assert_eq!(
        Finished::count(events, &Match::says(flaky, "simulating failure")),
        2
    );
    let retries: Vec<&Event> = events
        .iter()
        .filter(|event| ev(flaky, "retrying").matches_event(event))
        .collect();
    assert_eq!(retries.len(), 2, "{}", run.dump());
    for retry in retries {
        assert_eq!(retry.field("delay"), Some("1s"), "{}", retry.json);
    }
    run.assert_before(
        events,
        &Match::says(flaky, "finally stable"),
        &ev(flaky, "ready"),
    );
    run.assert_before(events, &ev(flaky, "ready"), &ev("example-api", "starting"));
    assert_eq!(Finished::count(events, &ev(flaky, "failed")), 0);

    // The optional service fails at once, and the app carries on.
    let optional = "example-optional";
    run.assert_before(
        events,
        &Match::says(optional, "failing on purpose"),
        &ev(optional, "failed (allowed failure)"),
    );
    assert_eq!(Finished::count(events, &ev(optional, "attempt failed")), 0);
}

/// SIGTERM: reverse-order shutdown, every service stopped once.
fn assert_shutdown(run: &Finished, events: &[Event]) {
    // SIGTERM: reverse-order shutdown. Dependents stop before what they depend on.
    let shutting_down = run.position(events, &Match::global("shutting down"));
    for (dependent, dependency) in [
        ("example-api", "example-database"),
        ("example-migrator", "example-database"),
        ("example-api", "example-flaky"),
    ] {
        run.assert_before(
            events,
            &ev(dependent, "stopped"),
            &ev(dependency, "stopping"),
        );
    }
    // `stop` runs exactly once for every service whose `run` was called, and logs.
    for service in ALL {
        assert_eq!(
            Finished::count(events, &ev(service, "stopped")),
            1,
            "{service}\n{}",
            run.dump()
        );
    }
    for service in LONG_RUNNING {
        let stopping = run.position(events, &ev(service, "stopping"));
        assert!(
            stopping > shutting_down,
            "{service} stopped before the signal"
        );
    }
    run.assert_before(
        events,
        &Match::says("example-database", "closing database connections"),
        &ev("example-database", "stopped"),
    );
    let all_stopped = run.position(events, &Match::global("all services stopped"));
    assert!(all_stopped > shutting_down);
}

#[test]
fn migrator_alone_runs_and_exits_zero_by_itself() {
    let run = Launch::new(showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", "example-migrator")
        .run();
    run.assert_code(0);
    let events = &run.events();
    let skip = run.position(
        events,
        &ev("example-migrator", "dependency not in process, skipping"),
    );
    assert_eq!(
        events[skip].field("dependency"),
        Some("example-database"),
        "{}",
        events[skip].json
    );
    run.assert_before(
        events,
        &Match::says("example-migrator", "migrations completed"),
        &ev("example-migrator", "exited"),
    );
    run.position(events, &ev("example-migrator", "stopped"));
    for event in events {
        if let Some(service) = event.service() {
            assert_eq!(service, "example-migrator", "{}", event.json);
        }
    }
}

#[test]
fn migrator_command_constructs_only_the_migrator() {
    let run = Launch::new(showcase(), &["example-migrator", "up"])
        .env("LOG_LEVEL", "debug")
        .run();
    run.assert_code(0);
    let stderr = run.stderr_text();
    assert!(stderr.contains("running migrations up"), "{}", run.dump());
    assert!(stderr.contains("migrations applied"), "{}", run.dump());
    // The database's constructor logs at debug level; it must not have run.
    assert!(
        !stderr.contains("database client configured"),
        "{}",
        run.dump()
    );
    for line in &run.stderr {
        for other in ALL.iter().filter(|name| **name != "example-migrator") {
            assert!(
                !line.contains(other),
                "{other} showed up: {line}\n{}",
                run.dump()
            );
        }
        assert!(!line.contains("starting"), "a service started: {line}");
    }
}

#[test]
fn migrator_status_prints_to_stdout_and_down_rolls_back() {
    let run = Launch::new(showcase(), &["example-migrator", "status"]).run();
    run.assert_code(0);
    assert!(
        run.stdout_text()
            .contains("migration status: all up to date"),
        "{}",
        run.dump()
    );
    let run = Launch::new(showcase(), &["example-migrator", "down"]).run();
    run.assert_code(0);
    assert!(
        run.stderr_text().contains("migration rolled back"),
        "{}",
        run.dump()
    );
}

#[test]
fn migrator_help_lists_its_subcommands() {
    let run = Launch::new(showcase(), &["example-migrator", "--help"]).run();
    run.assert_code(0);
    let help = run.stdout_text();
    for sub in ["up", "down", "status"] {
        assert!(
            run.stdout
                .iter()
                .any(|line| line.trim_start().starts_with(sub)),
            "no `{sub}` in the help:\n{help}"
        );
    }
    assert!(help.contains("Apply every pending migration"), "{help}");
}

#[test]
fn hello_says_hello_and_stops_on_sigint() {
    let mut app = Launch::new(hello(), &["run"]).spawn();
    let line = app.wait_for(&Match::says("hello", "hello, world"));
    assert!(
        line.contains("service=hello"),
        "text logs name the service: {line}"
    );
    app.signal("INT");
    let run = app.finish();
    run.assert_code(0);
    assert!(
        run.stderr_text().contains("goodbye, world"),
        "{}",
        run.dump()
    );
}
