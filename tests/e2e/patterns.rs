//! The patterns example, one story per test: each runs the real binary with one service
//! enabled, on the example's millisecond timings, and reads its JSON log.

use std::collections::BTreeMap;
use std::time::Duration;

use servicepack::parse_duration;

use crate::support::{Event, Finished, Launch, Match, Running, patterns};

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

/// The lines the runtime keeps to ten a second per service (SPEC §3, crash loops).
const RATE_LIMITED: [&str; 5] = ["starting", "ready", "exited", "attempt failed", "retrying"];

/// The summary of the lines left out.
const SUPPRESSED: &str = "lifecycle lines suppressed";

/// The event's `timestamp` (RFC 3339, UTC), as the time since the Unix epoch.
fn at(run: &Finished, event: &Event) -> Duration {
    let parsed = event.field("timestamp").and_then(|text| {
        let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
        let mut ymd = date.split('-').map(str::parse::<i64>);
        let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
        let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
        let mut parts = hms.split(':').map(str::parse::<u64>);
        let (h, min, sec) = (
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        );
        let nanos: u32 = format!("{fraction:0<9}").get(..9)?.parse().ok()?;
        // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * m + 2) / 5 + d - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = u64::try_from(era * 146_097 + day_of_era - 719_468).ok()?;
        Some(Duration::new(
            days * 86_400 + h * 3600 + min * 60 + sec,
            nanos,
        ))
    });
    parsed.unwrap_or_else(|| panic!("no RFC 3339 timestamp: {}\n{}", event.json, run.dump()))
}

/// How long `service` actually waited after each `retrying`: to its next `starting`.
fn waits(run: &Finished, events: &[Event], service: &str) -> Vec<Duration> {
    let mut retried_at = None;
    let mut waits = Vec::new();
    for event in events
        .iter()
        .filter(|event| event.service() == Some(service))
    {
        match event.message() {
            Some("retrying") => retried_at = Some(at(run, event)),
            Some("starting") => {
                if let Some(retried) = retried_at.take() {
                    waits.push(at(run, event).saturating_sub(retried));
                }
            }
            _ => {}
        }
    }
    waits
}

/// Every delay was waited in full: the next `starting` came at least `delay` after its
/// `retrying` (less 1ms for the clock readings of the two lines). No upper bound: a
/// loaded machine may wake the service late.
fn assert_waited(run: &Finished, events: &[Event], service: &str, delays: &[Duration]) {
    let waits = waits(run, events, service);
    assert_eq!(waits.len(), delays.len(), "{}", run.dump());
    for (delay, waited) in delays.iter().zip(&waits) {
        assert!(
            *waited + ms(1) >= *delay,
            "waited {waited:?} of a {delay:?} delay\n{}",
            run.dump()
        );
    }
}

/// The `suppressed` count of every summary line of `service`.
fn summaries(events: &[Event], service: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|event| Match::says(service, SUPPRESSED).matches_event(event))
        .map(|event| {
            event
                .value("suppressed")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_else(|| panic!("a summary without its count: {}", event.json))
        })
        .collect()
}

#[test]
fn exponential_backoff_doubles_the_delay() {
    let service = "exponential-backoff";
    let run = launch(service).run();
    // An allowed failure that failed for good leaves nothing running: exit 0.
    run.assert_code(0);
    let events = run.events();
    // The timings keep every line: none was left out, so every delay is read.
    assert!(summaries(&events, service).is_empty(), "{}", run.dump());
    let delays = retry_delays(&run, &events, service);
    // Doubling from 150ms, then max_delay = "1s" caps the 1.2s.
    assert_eq!(
        delays,
        [ms(150), ms(300), ms(600), ms(1000)],
        "{}",
        run.dump()
    );
    assert_waited(&run, &events, service, &delays);
    let last = run.position(&events, &Match::event(service, "failed (allowed failure)"));
    assert_eq!(events[last].value("attempts"), Some(&serde_json::json!(5)));
}

#[test]
fn jitter_stays_within_a_quarter_of_the_delay() {
    let service = "jitter";
    // 20 runs of 3 retries, 5 processes at a time: 60 draws. Three retries write ten
    // lifecycle lines, so the rate limit can drop none of them, however slow the machine.
    let mut runs = Vec::new();
    for _ in 0..4 {
        let batch: Vec<_> = (0..5).map(|_| launch(service).spawn()).collect();
        runs.extend(batch.into_iter().map(Running::finish));
    }
    let mut all = Vec::new();
    for run in &runs {
        run.assert_code(0);
        let events = run.events();
        assert!(summaries(&events, service).is_empty(), "{}", run.dump());
        let delays = retry_delays(run, &events, service);
        assert_eq!(delays.len(), 3, "{}", run.dump());
        assert_waited(run, &events, service, &delays);
        all.push(delays);
    }
    for delay in all.iter().flatten() {
        assert!(
            (ms(75)..=ms(125)).contains(delay),
            "{delay:?} is outside 100ms ± 25 %: {all:?}"
        );
    }
    // 60 draws from [75ms, 125ms): some fall in each outer fifth of the range (a
    // narrower jitter, or none, fails here; chance alone, about once in 10^9), and no
    // two runs repeat one sequence (the generator is seeded per process).
    let flat: Vec<Duration> = all.iter().flatten().copied().collect();
    assert!(flat.iter().any(|d| *d < ms(85)), "none below 85ms: {all:?}");
    assert!(
        flat.iter().any(|d| *d > ms(115)),
        "none above 115ms: {all:?}"
    );
    let mut sequences = all.clone();
    sequences.sort();
    sequences.dedup();
    assert_eq!(sequences.len(), all.len(), "runs repeat: {all:?}");
}

#[test]
fn a_crash_loop_logs_ten_lines_a_second_and_counts_the_rest() {
    let service = "crash-loop";
    let run = launch(service).run();
    run.assert_code(0);
    let events = run.events();
    let last = run.position(&events, &Match::event(service, "failed (allowed failure)"));
    assert_eq!(
        events[last].value("attempts"),
        Some(&serde_json::json!(151))
    );
    let lines: Vec<&Event> = events
        .iter()
        .filter(|event| {
            RATE_LIMITED
                .iter()
                .any(|message| Match::event(service, message).matches_event(event))
        })
        .collect();
    let summaries = summaries(&events, service);
    assert!(!summaries.is_empty(), "no summary\n{}", run.dump());
    // Every line is either logged or counted: 151 `starting`, 150 `attempt failed`
    // and 150 `retrying`.
    let logged = lines.len() as u64;
    assert_eq!(
        logged + summaries.iter().sum::<u64>(),
        151 + 150 + 150,
        "{}",
        run.dump()
    );
    // At most ten in each second the loop touched: the seconds from the first line to
    // the final failure, and one more, as a line counted at the very end of a second may
    // carry a timestamp of the next.
    let seconds = at(&run, &events[last]).as_secs() - at(&run, lines[0]).as_secs() + 2;
    assert!(
        logged <= 10 * seconds,
        "{logged} lines over {seconds} seconds\n{}",
        run.dump()
    );
    assert!(summaries.len() as u64 <= seconds, "{}", run.dump());
    // The last count comes before the final failure, so nothing is left unsaid.
    assert!(
        !events[last..]
            .iter()
            .any(|event| Match::says(service, SUPPRESSED).matches_event(event)),
        "{}",
        run.dump()
    );
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
        "crash-loop",
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
