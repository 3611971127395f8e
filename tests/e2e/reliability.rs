//! Shutdown that no service can wedge (SPEC §4.7-4.12), on `blocking-app`: blocking and
//! busy `run`s and `stop`s, every worker blocked, panics that servicepack does not catch,
//! SIGHUP, slow post-stop hooks and crash loops.
//!
//! Timings are generous bounds that a wedged app cannot meet (a `stop` blocks for 30 s,
//! the budget is 1 s, the test wants the exit well before the 30 s), never a claim about
//! speed; the figures are printed.

use std::time::{Duration, Instant};

use crate::support::{Finished, Launch, Match, Running, blocking_app};

/// A wedged operation lasts this long; an exit before it proves the app did not wait.
const WEDGED_MS: &str = "30000";
/// Far below [`WEDGED_MS`], far above a 1 s budget on a loaded machine.
const WELL_BEFORE: Duration = Duration::from_secs(10);

fn app(services: &str) -> Launch {
    Launch::new(blocking_app(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", services)
}

/// Waits until every service in `names` logged that its `run` was called, in any order.
fn wait_running(app: &mut Running, names: &[&str]) {
    wait_all(app, names, "run called");
}

/// Waits until every service in `names` logged `<name> <what>`, in any order.
fn wait_all(app: &mut Running, names: &[&str], what: &str) {
    let mut seen: Vec<&str> = Vec::new();
    while seen.len() < names.len() {
        let line = app.wait_for(&Match::contains(&format!(" {what}")));
        seen.extend(
            names
                .iter()
                .filter(|name| line.contains(&format!("\"{name} {what}\"")))
                .copied(),
        );
    }
}

/// Sends `signal` and returns the process's end and how long it took.
fn signal_and_finish(app: Running, signal: &str) -> (Finished, Duration) {
    let sent = Instant::now();
    app.signal(signal);
    let run = app.finish();
    (run, sent.elapsed())
}

#[track_caller]
fn assert_quick(run: &Finished, took: Duration, what: &str) {
    eprintln!("{what}: exited after {took:?}");
    assert!(
        took < WELL_BEFORE,
        "{what}: took {took:?}, the app waited for a blocked thread\n{}",
        run.dump()
    );
}

/// The exit reason: the last stderr line.
fn reason(run: &Finished) -> String {
    run.stderr.last().cloned().unwrap_or_default()
}

#[test]
fn a_blocking_stop_alone_stays_within_the_budget_and_is_named() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "wait")
        .env("ALPHA_STOP", &format!("block:{WEDGED_MS}"))
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    assert_quick(&run, took, "a blocking stop alone");
    let reason = reason(&run);
    assert!(reason.contains("alpha"), "{reason}\n{}", run.dump());
}

#[test]
fn a_blocking_stop_beside_other_services_stays_within_the_budget() {
    let mut app = app("alpha,beta,gamma")
        .env("ALPHA_RUN", "wait")
        .env("ALPHA_STOP", &format!("block:{WEDGED_MS}"))
        .env("BETA_RUN", "wait")
        .env("GAMMA_RUN", "wait")
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha", "beta", "gamma"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    assert_quick(&run, took, "a blocking stop beside others");
    let events = run.events();
    for name in ["beta", "gamma"] {
        run.position(
            &events,
            &Match::says(name, &format!("{name} stop returned")),
        );
    }
    let reason = reason(&run);
    assert!(reason.contains("alpha"), "{reason}");
    assert!(
        !reason.contains("beta") && !reason.contains("gamma"),
        "{reason}"
    );
}

#[test]
fn a_blocking_stop_that_returns_late_exits_1() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "wait")
        .env("ALPHA_STOP", "block:2500")
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    eprintln!("a late stop: exited after {took:?}");
    let text = run.stderr_text();
    assert!(!text.contains("all services stopped"), "{}", run.dump());
    assert!(reason(&run).contains("alpha"), "{}", run.dump());
}

#[test]
fn a_blocking_stop_past_its_stop_timeout_is_late_though_the_budget_is_not_spent() {
    let mut app = app("epsilon")
        .env("EPSILON_RUN", "wait")
        .env("EPSILON_STOP", "block:1500")
        .env("RUNNER_SHUTDOWNTIMEOUT", "20s")
        .spawn();
    wait_running(&mut app, &["epsilon"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    assert_quick(&run, took, "a stop past its stop_timeout");
    let events = run.events();
    run.position(&events, &Match::event("epsilon", "stop timed out"));
    assert!(
        reason(&run).contains("service epsilon did not stop within 500ms"),
        "{}",
        run.dump()
    );
}

/// Every worker blocked in a `stop`: the second signal still ends the process at once.
fn second_signal_with_every_worker_blocked(signal: &str, code: i32) {
    let mut app = app("alpha,beta")
        .env("TOKIO_WORKER_THREADS", "2")
        .env("ALPHA_RUN", "wait")
        .env("BETA_RUN", "wait")
        .env("ALPHA_STOP", &format!("block:{WEDGED_MS}"))
        .env("BETA_STOP", &format!("spin:{WEDGED_MS}"))
        .env("RUNNER_SHUTDOWNTIMEOUT", "10m")
        .spawn();
    wait_running(&mut app, &["alpha", "beta"]);
    app.signal(signal);
    wait_all(&mut app, &["alpha", "beta"], "stop called");
    let (run, took) = signal_and_finish(app, signal);
    run.assert_code(code);
    eprintln!("second SIG{signal}, every worker blocked: exited after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "the second signal took {took:?}\n{}",
        run.dump()
    );
    let reason = reason(&run);
    assert!(
        reason.contains("still stopping: alpha, beta"),
        "{reason}\n{}",
        run.dump()
    );
}

#[test]
fn every_worker_blocked_a_second_sigterm_exits_143() {
    second_signal_with_every_worker_blocked("TERM", 143);
}

#[test]
fn every_worker_blocked_a_second_sigint_exits_130() {
    second_signal_with_every_worker_blocked("INT", 130);
}

#[test]
fn every_worker_blocked_in_run_the_budget_exits_1() {
    let mut app = app("alpha,beta")
        .env("TOKIO_WORKER_THREADS", "2")
        .env("ALPHA_RUN", &format!("block:{WEDGED_MS}"))
        .env("BETA_RUN", &format!("spin:{WEDGED_MS}"))
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha", "beta"]);
    let sent = Instant::now();
    app.signal("TERM");
    // Logged by the signal thread, though no worker is free.
    app.wait_for(&Match::global("received signal"));
    let run = app.finish();
    let took = sent.elapsed();
    run.assert_code(1);
    assert_quick(&run, took, "every worker blocked in run");
    let reason = reason(&run);
    assert!(reason.contains("budget of 1s ran out"), "{reason}");
    assert!(
        reason.contains("alpha") && reason.contains("beta"),
        "{reason}"
    );
}

#[test]
fn stop_is_called_while_run_blocks_its_thread() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "block-until-stop")
        .env("RUNNER_SHUTDOWNTIMEOUT", "5s")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, _) = signal_and_finish(app, "TERM");
    run.assert_code(0);
    let events = run.events();
    run.assert_before(
        &events,
        &Match::says("alpha", "alpha stop called"),
        &Match::says("alpha", "alpha run unblocked by stop"),
    );
}

#[test]
fn sighup_shuts_down_gracefully() {
    let mut app = app("alpha,beta")
        .env("ALPHA_RUN", "wait")
        .env("BETA_RUN", "wait")
        .spawn();
    wait_running(&mut app, &["alpha", "beta"]);
    let (run, _) = signal_and_finish(app, "HUP");
    run.assert_code(0);
    let events = run.events();
    let received = run.position(&events, &Match::global("received signal"));
    assert_eq!(events[received].field("signal"), Some("hangup"));
    for name in ["alpha", "beta"] {
        run.position(
            &events,
            &Match::says(name, &format!("{name} stop returned")),
        );
    }
    run.position(&events, &Match::global("post-stop hook returned"));
}

#[test]
fn a_blocking_post_stop_hook_past_the_budget_exits_1() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "wait")
        .env("POST_STOP", &format!("block:{WEDGED_MS}"))
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    assert_quick(&run, took, "a blocking post-stop hook");
    let reason = reason(&run);
    assert!(reason.contains("post-stop hook 1 of 1"), "{reason}");
}

#[test]
fn a_waiting_post_stop_hook_past_the_budget_is_abandoned() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "wait")
        .env("POST_STOP", &format!("sleep:{WEDGED_MS}"))
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    assert_quick(&run, took, "a waiting post-stop hook");
    let events = run.events();
    let abandoned = run.position(
        &events,
        &Match::global(
            "post-stop hook 1 of 1 abandoned: still running when the shutdown budget of 1s ran out",
        ),
    );
    assert_eq!(events[abandoned].level(), Some("ERROR"));
}

/// The ERROR event of an uncaught panic whose message contains `text`.
fn panic_event(run: &Finished, text: &str) -> crate::support::Event {
    let events = run.events();
    events
        .into_iter()
        .find(|event| {
            event.level() == Some("ERROR")
                && event
                    .message()
                    .is_some_and(|message| message.contains(text))
        })
        .unwrap_or_else(|| panic!("no ERROR line about {text:?}\n{}", run.dump()))
}

#[test]
fn a_panic_in_a_task_a_service_spawned_is_an_error_line() {
    let mut app = app("alpha,beta")
        .env("ALPHA_RUN", "spawn-panic-in-span,wait")
        .env("BETA_RUN", "spawn-panic,wait")
        .spawn();
    // Both panics, in either order.
    app.wait_for(&Match::contains("panicked: a task spawned"));
    app.wait_for(&Match::contains("panicked: a task spawned"));
    let (run, _) = signal_and_finish(app, "TERM");
    run.assert_code(0);
    let in_span = panic_event(&run, "spawned in the service's span panicked");
    assert_eq!(in_span.service(), Some("alpha"), "{}", in_span.json);
    assert!(in_span.field("location").is_some(), "{}", in_span.json);
    let plain = panic_event(&run, "a task spawned by a service panicked");
    assert!(plain.field("location").is_some(), "{}", plain.json);
    assert!(
        !run.stderr_text().contains("note: run with `RUST_BACKTRACE"),
        "no default panic output\n{}",
        run.dump()
    );
}

#[test]
fn a_panic_in_drop_is_an_error_line_naming_the_service() {
    let mut app = app("drop-panic,alpha").env("ALPHA_RUN", "wait").spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, _) = signal_and_finish(app, "TERM");
    // Caught by the runtime and reported once, at ERROR, as that service's failure.
    let events = run.events();
    let reports: Vec<_> = events
        .iter()
        .filter(|event| {
            event.level() == Some("ERROR")
                && event
                    .json
                    .to_string()
                    .contains("drop-panic panicked in Drop")
                && event.field("target") != Some("servicepack::exit")
        })
        .collect();
    assert_eq!(reports.len(), 1, "{}", run.dump());
    assert_eq!(
        reports[0].service(),
        Some("drop-panic"),
        "{}",
        reports[0].json
    );
    run.assert_code(1);
}

#[test]
fn a_caught_panic_is_reported_once() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "wait")
        .env("ALPHA_STOP", "panic")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    let (run, _) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    let events = run.events();
    let errors = events
        .iter()
        .filter(|event| {
            event.level() == Some("ERROR")
                && event.json.to_string().contains("alpha panicked on purpose")
                && event.json.get("target").and_then(|t| t.as_str()) != Some("servicepack::exit")
        })
        .count();
    assert_eq!(errors, 1, "{}", run.dump());
}

/// Lines per second of one looping service over 5 s.
fn log_volume(service: &str) {
    let mut app = app(service).spawn();
    app.wait_for(&Match::global("running services"));
    std::thread::sleep(Duration::from_secs(5));
    let (run, _) = signal_and_finish(app, "TERM");
    let lines = run.stderr.len();
    eprintln!("{service}: {lines} lines in about 5 s");
    assert!(
        lines < 5 * 100,
        "{service} wrote {lines} lines in 5 s\n{}",
        run.stderr[..20.min(lines)].join("\n")
    );
}

#[test]
fn a_crash_loop_cannot_flood_the_log() {
    log_volume("crash-loop");
}

#[test]
fn a_restart_loop_cannot_flood_the_log() {
    log_volume("restart-loop");
}

#[test]
fn a_second_sighup_during_a_post_stop_hook_exits_129() {
    let mut app = app("alpha")
        .env("ALPHA_RUN", "wait")
        .env("POST_STOP", &format!("sleep:{WEDGED_MS}"))
        .env("RUNNER_SHUTDOWNTIMEOUT", "10m")
        .spawn();
    wait_running(&mut app, &["alpha"]);
    app.signal("HUP");
    app.wait_for(&Match::global("post-stop hook called"));
    let (run, took) = signal_and_finish(app, "HUP");
    run.assert_code(129);
    assert_quick(&run, took, "a second SIGHUP in a post-stop hook");
    let reason = reason(&run);
    assert!(
        reason.contains("second signal (SIGHUP) arrived while post-stop hook 1 of 1 was running"),
        "{reason}"
    );
}

#[test]
fn a_second_sigterm_during_a_custom_command_exits_143() {
    let mut app = Launch::new(blocking_app(), &["hang"])
        .env("LOG_FORMAT", "json")
        .spawn();
    app.wait_for(&Match::global("hang running"));
    app.signal("TERM");
    app.wait_for(&Match::global("received signal"));
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(143);
    assert_quick(&run, took, "a second SIGTERM in a command");
    assert!(
        reason(&run).contains("while `hang` was running"),
        "{}",
        run.dump()
    );
}

#[test]
fn with_every_worker_blocked_the_budget_starts_after_the_drain() {
    let mut app = app("alpha,beta")
        .env("TOKIO_WORKER_THREADS", "2")
        .env("ALPHA_RUN", &format!("block:{WEDGED_MS}"))
        .env("BETA_RUN", &format!("block:{WEDGED_MS}"))
        .env("RUNNER_DRAINDELAY", "1s")
        .env("RUNNER_SHUTDOWNTIMEOUT", "1s")
        .spawn();
    wait_running(&mut app, &["alpha", "beta"]);
    let (run, took) = signal_and_finish(app, "TERM");
    run.assert_code(1);
    assert_quick(&run, took, "drain and budget with every worker blocked");
    // A lower bound only: the drain and the budget both passed.
    assert!(
        took >= Duration::from_secs(2),
        "exited after {took:?}\n{}",
        run.dump()
    );
}

#[test]
fn a_panic_before_the_logger_is_installed_is_still_a_log_line() {
    let run = Launch::new(blocking_app(), &["services"])
        .env("LOG_FORMAT", "json")
        .env("SETUP_THREAD_PANIC", "1")
        .run();
    run.assert_code(0);
    let event = panic_event(&run, "a thread of the setup function panicked");
    assert!(event.field("location").is_some(), "{}", event.json);
}
