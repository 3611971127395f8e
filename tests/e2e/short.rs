//! The failure stories, on the short-timing app: a fatal crash, a forced exit, a panic.

use crate::support::{Finished, Launch, Match, short_showcase};

#[test]
fn crasher_takes_the_app_down_after_three_attempts() {
    let run = Launch::new(short_showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", "example-database,example-crasher")
        .run();
    run.assert_code(1);
    let events = run.events();
    let crasher = "example-crasher";
    let starts: Vec<_> = events
        .iter()
        .filter(|event| Match::event(crasher, "starting").matches_event(event))
        .map(|event| event.value("attempt").cloned())
        .collect();
    assert_eq!(
        starts,
        [1, 2, 3].map(|n| Some(serde_json::json!(n))),
        "{}",
        run.dump()
    );
    assert_eq!(
        Finished::count(&events, &Match::says(crasher, "crashing on purpose")),
        3
    );
    assert_eq!(
        Finished::count(&events, &Match::event(crasher, "retrying")),
        2
    );
    let failed = run.position(&events, &Match::event(crasher, "failed"));
    assert_eq!(
        events[failed].value("attempts"),
        Some(&serde_json::json!(3)),
        "{}",
        events[failed].json
    );
    assert_eq!(events[failed].level(), Some("ERROR"));
    // The fatal failure shuts the rest down.
    run.assert_before(
        &events,
        &Match::event(crasher, "failed"),
        &Match::event("example-database", "stopped"),
    );
    // The exit reason comes last and names the culprit.
    let last = run.stderr.last().expect("stderr is not empty");
    assert!(
        last.contains(crasher),
        "last line should give the reason: {last}"
    );
}

#[test]
fn second_signal_during_a_slow_shutdown_forces_exit_130() {
    let mut app = Launch::new(short_showcase(), &["run"])
        .env("SERVICES_ENABLED", "slow-stop")
        .env("RUNNER_SHUTDOWNTIMEOUT", "10m")
        .spawn();
    app.wait_for(&Match::says("slow-stop", "slow-stop running"));
    app.signal("INT");
    app.wait_for(&Match::says("slow-stop", "stop is hanging"));
    app.signal("INT");
    let run = app.finish();
    run.assert_code(130);
    let after = run
        .stderr
        .iter()
        .position(|line| line.contains("stop is hanging"))
        .expect("seen above");
    assert!(
        run.stderr[after + 1..]
            .iter()
            .any(|line| line.contains("slow-stop")),
        "the forced exit should name the service still stopping\n{}",
        run.dump()
    );
}

#[test]
fn json_format_makes_every_stderr_line_a_json_object_even_a_panic() {
    let run = Launch::new(short_showcase(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", "panicker")
        .run();
    run.assert_code(1);
    // `events` panics on any line that is not a JSON object.
    let events = run.events();
    let failed = run.position(&events, &Match::event("panicker", "failed"));
    let error = events[failed].field("error").unwrap_or_default();
    assert!(
        error.contains("panicked") && error.contains("boom on purpose"),
        "{}",
        events[failed].json
    );
    assert!(
        !run.stderr_text().contains("RUST_BACKTRACE"),
        "the default panic hook printed\n{}",
        run.dump()
    );
}
