//! The patterns example, one story per test: each runs the real binary with one service
//! enabled, on the example's millisecond timings, and reads its JSON log.

use std::collections::BTreeMap;
use std::time::Duration;

use servicepack::parse_duration;

use crate::support::{Event, Finished, Launch, Match, patterns};

/// `patterns run` with only `service` enabled, logging JSON.
fn launch(service: &str) -> Launch {
    Launch::new(patterns(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", service)
}

/// The `delay` of every `retrying` event of `service`, in order.
fn retry_delays(run: &Finished, events: &[Event], service: &str) -> Vec<Duration> {
    events
        .iter()
        .filter(|event| Match::event(service, "retrying").matches_event(event))
        .map(|event| {
            let text = event.field("delay").unwrap_or_else(|| {
                panic!("retrying without a delay: {}\n{}", event.json, run.dump())
            });
            parse_duration(text).unwrap_or_else(|e| panic!("delay {text:?}: {e}"))
        })
        .collect()
}

/// The `attempt` of every `starting` event of `service`, in order.
fn starts(events: &[Event], service: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|event| Match::event(service, "starting").matches_event(event))
        .filter_map(|event| event.value("attempt").and_then(serde_json::Value::as_u64))
        .collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn exponential_backoff_doubles_the_delay() {
    let service = "exponential-backoff";
    let run = launch(service).run();
    // An allowed failure that failed for good leaves nothing running: exit 0.
    run.assert_code(0);
    let events = run.events();
    assert_eq!(
        retry_delays(&run, &events, service),
        [ms(50), ms(100), ms(200), ms(400)],
        "{}",
        run.dump()
    );
    let last = run.position(&events, &Match::event(service, "failed (allowed failure)"));
    assert_eq!(events[last].value("attempts"), Some(&serde_json::json!(5)));
}

#[test]
fn jitter_stays_within_a_quarter_of_the_delay() {
    let service = "jitter";
    let mut all = Vec::new();
    for _ in 0..3 {
        let run = launch(service).run();
        run.assert_code(0);
        let delays = retry_delays(&run, &run.events(), service);
        assert_eq!(delays.len(), 30, "{}", run.dump());
        all.push(delays);
    }
    for delay in all.iter().flatten() {
        assert!(
            (ms(15)..=ms(25)).contains(delay),
            "{delay:?} is outside 20ms ± 25 %: {all:?}"
        );
    }
    // 90 draws from a continuous range: they are not all the same, and no two runs
    // repeat one sequence (the generator is seeded per process).
    let flat: Vec<_> = all.iter().flatten().collect();
    assert!(flat.iter().any(|d| d != &flat[0]), "no spread: {all:?}");
    assert!(all[0] != all[1] && all[1] != all[2], "runs repeat: {all:?}");
}

#[test]
fn retry_reset_forgives_a_failure_after_a_long_run() {
    let service = "retry-reset";
    let run = launch(service).run();
    run.assert_code(0);
    let events = run.events();
    // retries = 1: without the reset, the failure of the long attempt 2 would be final.
    assert_eq!(starts(&events, service), [1, 2, 3], "{}", run.dump());
    assert_eq!(retry_delays(&run, &events, service).len(), 2);
    let last = run.position(&events, &Match::event(service, "failed (allowed failure)"));
    assert_eq!(events[last].value("attempts"), Some(&serde_json::json!(3)));
}

#[test]
fn restart_always_runs_again_after_ok() {
    let service = "restart-always";
    let mut app = launch(service).spawn();
    for _ in 0..3 {
        app.wait_for(&Match::event(service, "starting"));
    }
    app.signal("TERM");
    let run = app.finish();
    run.assert_code(0);
    let events = run.events();
    let starts = starts(&events, service);
    assert!(starts.len() >= 3, "{}", run.dump());
    assert_eq!(starts, (1..=starts.len() as u64).collect::<Vec<_>>());
    // Every restart followed a clean return.
    let exited = Finished::count(&events, &Match::event(service, "exited"));
    assert!(exited >= starts.len() - 1, "{}", run.dump());
    run.assert_before(
        &events,
        &Match::event(service, "exited"),
        &Match::event(service, "retrying"),
    );
}

#[test]
fn restart_never_runs_once() {
    let service = "restart-never";
    let run = launch(service).run();
    run.assert_code(0);
    let events = run.events();
    assert_eq!(starts(&events, service), [1], "{}", run.dump());
    assert_eq!(
        Finished::count(&events, &Match::event(service, "retrying")),
        0
    );
    run.position(&events, &Match::event(service, "failed (allowed failure)"));
}

#[test]
fn ready_timeout_fails_the_attempt_that_is_not_ready_in_time() {
    let service = "ready-timeout";
    let mut app = launch(service).spawn();
    app.wait_for(&Match::event(service, "ready"));
    app.signal("TERM");
    let run = app.finish();
    run.assert_code(0);
    let events = run.events();
    let failed = run.position(&events, &Match::event(service, "attempt failed"));
    assert_eq!(events[failed].value("attempt"), Some(&serde_json::json!(1)));
    run.assert_before(
        &events,
        &Match::event(service, "attempt failed"),
        &Match::event(service, "ready"),
    );
    assert_eq!(starts(&events, service), [1, 2]);
}

#[test]
fn stop_timeout_cuts_a_slow_stop_short_and_exits_1() {
    let service = "stop-timeout";
    let mut app = launch(service).spawn();
    app.wait_for(&Match::says(service, "running until shutdown"));
    app.signal("TERM");
    let run = app.finish();
    run.assert_code(1);
    let events = run.events();
    run.assert_before(
        &events,
        &Match::event(service, "stopping"),
        &Match::event(service, "stop timed out"),
    );
}

#[test]
fn a_hanging_stop_needs_the_second_signal_and_exits_130() {
    let service = "hanging-stop";
    let mut app = launch(service).env("RUNNER_SHUTDOWNTIMEOUT", "10m").spawn();
    app.wait_for(&Match::says(service, "running until shutdown"));
    app.signal("INT");
    app.wait_for(&Match::says(service, "press Ctrl-C again"));
    app.signal("INT");
    let run = app.finish();
    run.assert_code(130);
    let last = run.stderr.last().expect("the forced exit says why");
    assert!(last.contains(service), "should name {service}: {last}");
}

#[test]
fn hooks_run_before_the_first_and_after_the_last_service() {
    let service = "restart-never";
    let run = launch(service).run();
    run.assert_code(0);
    let line = |text: &str| {
        run.stderr
            .iter()
            .position(|line| line.contains(text))
            .unwrap_or_else(|| panic!("no line with {text:?}\n{}", run.dump()))
    };
    assert!(
        line("pre-run hook:") < line("\"starting\""),
        "{}",
        run.dump()
    );
    assert!(
        line("failed (allowed failure)") < line("post-stop hook:"),
        "{}",
        run.dump()
    );

    let refused = Launch::new(patterns(), &["run"])
        .env("SERVICES_ENABLED", service)
        .env("PATTERNS_FAIL_PRE_RUN", "1")
        .run();
    refused.assert_code(1);
    assert!(
        !refused.stderr_text().contains("starting"),
        "{}",
        refused.dump()
    );
}

#[test]
fn the_extra_layer_receives_the_lifecycle_events() {
    let service = "restart-always";
    let mut app = launch(service).spawn();
    app.wait_for(&Match::event(service, "starting"));
    app.wait_for(&Match::event(service, "starting"));
    app.signal("TERM");
    let run = app.finish();
    run.assert_code(0);
    let tally = run
        .stdout
        .iter()
        .find_map(|line| line.strip_prefix("lifecycle events seen by the extra layer: "))
        .unwrap_or_else(|| panic!("no tally on stdout\n{}", run.dump()));
    let counts: BTreeMap<&str, usize> = tally
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, count)| (name, count.parse().expect("a count")))
        .collect();
    // The layer saw exactly what the built-in log printed.
    let events = run.events();
    for message in ["starting", "exited", "retrying", "stopping", "stopped"] {
        let logged = Finished::count(&events, &Match::event(service, message));
        assert!(logged > 0, "{message} never logged\n{}", run.dump());
        assert_eq!(counts.get(message), Some(&logged), "{message}: {tally}");
    }
}

#[test]
fn a_service_command_runs_alone() {
    let run = Launch::new(patterns(), &["counter", "count", "--to", "3"]).run();
    run.assert_code(0);
    assert_eq!(run.stdout, ["1", "2", "3"], "{}", run.dump());
    assert!(!run.stderr_text().contains("starting"), "{}", run.dump());
}

#[test]
fn help_and_explain_say_what_each_service_shows() {
    let help = Launch::new(patterns(), &["--help"]).run();
    help.assert_code(0);
    let text = help.stdout_text();
    assert!(text.contains("One service per lifecycle pattern"), "{text}");
    assert!(
        text.contains("explain") && text.contains("counter"),
        "{text}"
    );
    let explain = Launch::new(patterns(), &["explain"]).run();
    explain.assert_code(0);
    let text = explain.stdout_text();
    for service in [
        "exponential-backoff",
        "jitter",
        "retry-reset",
        "restart-always",
        "restart-never",
        "ready-timeout",
        "stop-timeout",
        "hanging-stop",
        "counter",
    ] {
        assert!(
            text.contains(&format!("SERVICES_ENABLED={service} patterns run"))
                || text.contains(&format!("patterns {service} ")),
            "{service} missing:\n{text}"
        );
    }
}
