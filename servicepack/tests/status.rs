//! The lifecycle as data (SPEC §5): every state of a service as the status records it,
//! the app's readiness, and the drain of §6.4, on the paused clock.

mod common;

use std::time::Duration;

use common::{Log, Run, SEC, Stop, def, is_stop, simple};
use servicepack::{AppState, Policy, Retries, RunError, Runner, State, StatusHandle};
use tokio::task::JoinHandle;

/// Sleeps until `at` after `start` (paused clock: exact).
async fn at(start: tokio::time::Instant, at: Duration) {
    tokio::time::sleep_until(start + at).await;
}

fn state(status: &StatusHandle, name: &str) -> State {
    status
        .snapshot()
        .service(name)
        .unwrap_or_else(|| panic!("no service {name} in the status"))
        .state
}

fn spawn(
    runner: Runner,
) -> (
    StatusHandle,
    servicepack::ShutdownHandle,
    JoinHandle<servicepack::Report>,
) {
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    (status, shutdown, tokio::spawn(runner.run()))
}

#[tokio::test(start_paused = true)]
async fn pending_starting_ready_stopping_stopped() {
    let log = Log::new();
    let start = log.start();
    let db = Policy::new().notify_ready(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "db",
            &[Run::ServeAfter(2 * SEC)],
            Stop::Sleep(2 * SEC),
            db,
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .app_info("shop", "1.2.3", "dev");
    let (status, shutdown, run) = spawn(runner);
    at(start, SEC).await;
    let snapshot = status.snapshot();
    assert_eq!(
        (snapshot.app.as_str(), snapshot.env.as_str()),
        ("shop", "dev")
    );
    assert_eq!(snapshot.services[0].name, "db", "start order");
    assert_eq!(state(&status, "db"), State::Starting);
    assert_eq!(state(&status, "api"), State::Pending);
    assert_eq!(status.app_state(), AppState::Starting);
    assert_eq!(
        snapshot.not_ready_reason().as_deref(),
        Some("db is starting")
    );
    assert_eq!(snapshot.service("api").unwrap().depends_on, ["db"]);

    at(start, 3 * SEC).await;
    assert_eq!(state(&status, "db"), State::Ready);
    assert_eq!(state(&status, "api"), State::Ready);
    assert!(status.is_ready());
    let api = status.snapshot().service("api").unwrap().clone();
    assert_eq!((api.attempt, api.restarts, api.ready), (1, 0, true));

    shutdown.request();
    at(start, 4 * SEC).await;
    assert_eq!(status.app_state(), AppState::Stopping);
    assert_eq!(state(&status, "api"), State::Stopped);
    assert_eq!(state(&status, "db"), State::Stopping);
    assert_eq!(status.still_stopping(), ["db"]);
    assert_eq!(run.await.unwrap().exit_code(), 0);
    assert_eq!(status.app_state(), AppState::Stopped);
    assert_eq!(state(&status, "db"), State::Stopped);
    assert!(status.still_stopping().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_retrying_service_makes_the_app_not_ready() {
    let log = Log::new();
    let start = log.start();
    let flaky = Policy::new().retries(Retries::Limited(2)).delay(5 * SEC);
    let script = [Run::FailAfter(SEC), Run::FailAfter(SEC), Run::Serve];
    let runner = Runner::new().service(def(&log, "flaky", &script, Stop::Ok, flaky, &[]));
    let (status, shutdown, run) = spawn(runner);
    at(start, SEC / 2).await;
    assert!(status.is_ready());

    at(start, 1500 * common::MS).await;
    let flaky = status.snapshot().service("flaky").unwrap().clone();
    assert_eq!(flaky.state, State::Retrying);
    assert!(!status.is_ready());
    let error = flaky.last_error.expect("last_error once an attempt failed");
    assert_eq!(
        (error.message.as_str(), error.attempt),
        ("flaky attempt 1 failed", 1)
    );
    assert!(flaky.next_attempt_at.is_some());

    at(start, 6500 * common::MS).await;
    let flaky = status.snapshot().service("flaky").unwrap().clone();
    assert_eq!(
        (flaky.state, flaky.attempt, flaky.restarts),
        (State::Ready, 2, 1)
    );
    assert!(flaky.next_attempt_at.is_none());

    at(start, 13 * SEC).await;
    let flaky = status.snapshot().service("flaky").unwrap().clone();
    assert_eq!(
        (flaky.state, flaky.attempt, flaky.restarts),
        (State::Ready, 3, 2)
    );
    assert_eq!(flaky.failures, 2);
    assert!(status.is_ready());
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_allowed_failure_that_failed_for_good_stops_counting() {
    let log = Log::new();
    let start = log.start();
    let allowed = Policy::new().allowed_failure(true).notify_ready(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "cache",
            &[Run::FailAfter(SEC)],
            Stop::Ok,
            allowed,
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &[]))
        .service(simple(&log, "search", &[Run::Serve], &["cache"]));
    let (status, shutdown, run) = spawn(runner);
    at(start, SEC / 2).await;
    assert!(!status.is_ready(), "cache is starting");
    at(start, 2 * SEC).await;
    let cache = status.snapshot().service("cache").unwrap().clone();
    assert_eq!(cache.state, State::Failed);
    assert!(!cache.counts_for_readiness);
    assert_eq!(state(&status, "search"), State::Skipped);
    // `search` never started: it is skipped, and counts.
    assert!(!status.is_ready());
    shutdown.request();
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 0);
    assert_eq!(state(&status, "cache"), State::Stopped);
    assert_eq!(state(&status, "search"), State::Skipped);
}

#[tokio::test(start_paused = true)]
async fn a_failed_allowed_failure_no_longer_holds_the_app_back() {
    let log = Log::new();
    let start = log.start();
    let allowed = Policy::new().allowed_failure(true).notify_ready(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "cache",
            &[Run::FailAfter(SEC)],
            Stop::Ok,
            allowed,
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &[]));
    let (status, shutdown, run) = spawn(runner);
    at(start, SEC / 2).await;
    assert!(!status.is_ready());
    at(start, 2 * SEC).await;
    assert!(status.is_ready());
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn readiness_false_is_out_of_the_count_from_the_start() {
    let log = Log::new();
    let start = log.start();
    let warmer = Policy::new().notify_ready(true).counts_for_readiness(false);
    let runner = Runner::new()
        .service(def(
            &log,
            "warmer",
            &[Run::NeverReady],
            Stop::Ok,
            warmer,
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &[]));
    let (status, shutdown, run) = spawn(runner);
    at(start, SEC).await;
    assert_eq!(state(&status, "warmer"), State::Starting);
    assert!(status.is_ready());
    assert!(
        !status
            .snapshot()
            .service("warmer")
            .unwrap()
            .counts_for_readiness
    );
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_one_shot_job_is_exited_and_counts_as_ready() {
    let log = Log::new();
    let start = log.start();
    let runner = Runner::new()
        .service(simple(&log, "job", &[Run::ExitAfter(SEC)], &[]))
        .service(simple(&log, "api", &[Run::Serve], &[]));
    let (status, shutdown, run) = spawn(runner);
    at(start, 2 * SEC).await;
    assert_eq!(state(&status, "job"), State::Exited);
    assert!(status.is_ready());
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
    assert_eq!(state(&status, "job"), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn restart_always_counts_restarts() {
    let log = Log::new();
    let start = log.start();
    let policy = Policy::new()
        .restart(servicepack::Restart::Always)
        .delay(SEC);
    let runner = Runner::new().service(def(
        &log,
        "tick",
        &[Run::ExitAfter(SEC)],
        Stop::Ok,
        policy,
        &[],
    ));
    let (status, shutdown, run) = spawn(runner);
    at(start, 1500 * common::MS).await;
    assert_eq!(state(&status, "tick"), State::Retrying);
    at(start, 4500 * common::MS).await;
    let tick = status.snapshot().service("tick").unwrap().clone();
    assert_eq!((tick.attempt, tick.restarts, tick.failures), (3, 2, 0));
    assert!(tick.last_error.is_none());
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_before_start_skips_everything() {
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "api", &[Run::Serve], &[]));
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    assert!(status.snapshot().services.is_empty());
    shutdown.request();
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(state(&status, "api"), State::Skipped);
    assert_eq!(status.app_state(), AppState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn the_drain_keeps_services_running_then_the_budget_starts() {
    let log = Log::new();
    let start = log.start();
    let runner = Runner::new()
        .service(def(
            &log,
            "api",
            &[Run::Serve],
            Stop::Hang,
            Policy::new(),
            &[],
        ))
        .drain_delay(5 * SEC)
        .shutdown_timeout(2 * SEC);
    let (status, shutdown, run) = spawn(runner);
    at(start, SEC).await;
    shutdown.request();
    tokio::task::yield_now().await;
    assert_eq!(status.app_state(), AppState::Draining);
    assert!(!status.is_ready());
    at(start, 5900 * common::MS).await;
    assert_eq!(status.app_state(), AppState::Draining);
    assert_eq!(state(&status, "api"), State::Ready);
    assert_eq!(log.stops("api"), 0);
    let report = run.await.unwrap();
    // Stopped at the end of the drain (6 s), with the whole budget of 2 s.
    assert_eq!(log.when("api", is_stop), Some(6 * SEC));
    assert_eq!(start.elapsed(), 8 * SEC);
    assert_eq!(report.exit_code(), 1);
    assert!(
        matches!(
            report.errors()[0],
            RunError::StopTimedOut { .. } | RunError::ShutdownTimedOut { .. }
        ),
        "{report:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fatal_failure_does_not_drain() {
    let log = Log::new();
    let start = log.start();
    let runner = Runner::new()
        .service(simple(&log, "api", &[Run::Serve], &[]))
        .service(simple(&log, "worker", &[Run::FailAfter(SEC)], &[]))
        .drain_delay(5 * SEC);
    let (status, _shutdown, run) = spawn(runner);
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 1);
    assert_eq!(log.when("api", is_stop), Some(SEC));
    assert_eq!(start.elapsed(), SEC);
    assert_eq!(state(&status, "worker"), State::Stopped);
    assert_eq!(status.snapshot().service("worker").unwrap().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn a_second_request_during_the_drain_forces_the_exit() {
    let log = Log::new();
    let start = log.start();
    let runner = Runner::new()
        .service(simple(&log, "api", &[Run::Serve], &[]))
        .drain_delay(5 * SEC);
    let (_status, shutdown, run) = spawn(runner);
    at(start, SEC).await;
    shutdown.request();
    at(start, 2 * SEC).await;
    shutdown.request();
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.still_stopping(), ["api"]);
    assert_eq!(start.elapsed(), 2 * SEC);
}
