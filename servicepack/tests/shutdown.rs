//! Shutdown: reverse-edge order, `stop` semantics, budget, forced exit (SPEC §4 points 7–11).

mod common;

use std::time::Duration;

use common::{Ev, Log, MS, Run, SEC, Stop, def, is_stop, quiet_panics, simple};
use servicepack::{Policy, RunError, Runner, ShutdownCause, ShutdownHandle};

fn request_at(handle: ShutdownHandle, at: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(at).await;
        handle.request();
    });
}

fn stopping(log: &Log, name: &str, stop: Stop) -> servicepack::ServiceDef {
    def(log, name, &[Run::Serve], stop, Policy::new(), &[])
}

#[tokio::test(start_paused = true)]
async fn stop_called_once_per_started_service() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(simple(&log, "job", &[Run::ExitAfter(SEC)], &["db"]))
        .service(def(
            &log,
            "flaky",
            &[Run::FailAfter(SEC)],
            Stop::Ok,
            Policy::new().allowed_failure(true),
            &[],
        ));
    request_at(runner.shutdown_handle(), 5 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    for name in ["db", "api", "job", "flaky"] {
        assert_eq!(log.stops(name), 1, "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn stop_never_called_for_service_that_never_ran() {
    let log = Log::new();
    let db = Policy::new().notify_ready(true).allowed_failure(true);
    let slow = Policy::new().notify_ready(true);
    let runner = Runner::new()
        .service(def(&log, "db", &[Run::FailAfter(SEC)], Stop::Ok, db, &[]))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(def(
            &log,
            "slow",
            &[Run::ServeAfter(10 * SEC)],
            Stop::Ok,
            slow,
            &[],
        ))
        .service(simple(&log, "late", &[Run::Serve], &["slow"]));
    request_at(runner.shutdown_handle(), 5 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(log.stops("db"), 1, "db ran (and failed), so it is stopped");
    assert_eq!(log.stops("slow"), 1);
    assert!(
        log.of("api").is_empty(),
        "skipped: dependency failed before ready"
    );
    assert!(log.of("late").is_empty(), "skipped: shutdown began first");
}

#[tokio::test(start_paused = true)]
async fn stop_in_reverse_edge_order() {
    let log = Log::new();
    let slow_stop = Stop::Sleep(SEC);
    let runner = Runner::new()
        .service(def(
            &log,
            "db",
            &[Run::Serve],
            slow_stop,
            Policy::new(),
            &[],
        ))
        .service(def(
            &log,
            "api",
            &[Run::Serve],
            slow_stop,
            Policy::new(),
            &["db"],
        ))
        .service(def(
            &log,
            "web",
            &[Run::Serve],
            slow_stop,
            Policy::new(),
            &["api"],
        ))
        .service(def(
            &log,
            "cron",
            &[Run::Serve],
            slow_stop,
            Policy::new(),
            &["db"],
        ))
        .service(def(
            &log,
            "lone",
            &[Run::Serve],
            slow_stop,
            Policy::new(),
            &[],
        ));
    request_at(runner.shutdown_handle(), 10 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    let at = |name| log.when(name, is_stop).unwrap().as_secs();
    // Leaves first and concurrently; each service after all of its dependents.
    assert_eq!(at("web"), 10);
    assert_eq!(at("cron"), 10);
    assert_eq!(at("lone"), 10);
    assert_eq!(at("api"), 11);
    assert_eq!(at("db"), 12);
    assert_eq!(log.start().elapsed(), 13 * SEC);
}

#[tokio::test(start_paused = true)]
async fn stop_called_while_run_ignores_token() {
    let log = Log::new();
    let runner = Runner::new().service(def(
        &log,
        "stubborn",
        &[Run::IgnoreToken],
        Stop::Ok,
        Policy::new(),
        &[],
    ));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    let events = log.of("stubborn");
    let stop = events.iter().position(is_stop).unwrap();
    let returned = events
        .iter()
        .position(|e| matches!(e, Ev::Returned { .. }))
        .unwrap();
    assert!(
        stop < returned,
        "stop was called before run returned: {events:?}"
    );
    assert_eq!(log.start().elapsed(), SEC);
}

#[tokio::test(start_paused = true)]
async fn stop_gets_live_context_with_deadline() {
    let log = Log::new();
    let short = Policy::new().stop_timeout(3 * SEC);
    let runner = Runner::new()
        .service(def(&log, "short", &[Run::Serve], Stop::Ok, short, &[]))
        .service(def(
            &log,
            "long",
            &[Run::Serve],
            Stop::Sleep(4 * SEC),
            Policy::new(),
            &[],
        ))
        .service(def(
            &log,
            "last",
            &[Run::Serve],
            Stop::Ok,
            Policy::new(),
            &["long"],
        ))
        .shutdown_timeout(10 * SEC);
    request_at(runner.shutdown_handle(), SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    let stop = |name| log.of(name).into_iter().find(is_stop).unwrap();
    assert_eq!(
        stop("short"),
        Ev::Stop {
            deadline: Some(3 * SEC),
            live: true
        }
    );
    // `long` waits for `last`, which stops at once: 10 s budget left, below its 30 s.
    assert_eq!(
        stop("long"),
        Ev::Stop {
            deadline: Some(10 * SEC),
            live: true
        }
    );
}

#[tokio::test(start_paused = true)]
async fn stop_deadline_is_what_is_left_of_the_budget() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(&log, "db", &[Run::Serve], Stop::Ok, Policy::new(), &[]))
        .service(def(
            &log,
            "api",
            &[Run::Serve],
            Stop::Sleep(4 * SEC),
            Policy::new(),
            &["db"],
        ))
        .shutdown_timeout(10 * SEC);
    request_at(runner.shutdown_handle(), SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    let db = log.of("db").into_iter().find(is_stop).unwrap();
    assert_eq!(
        db,
        Ev::Stop {
            deadline: Some(6 * SEC),
            live: true
        }
    );
}

#[tokio::test(start_paused = true)]
async fn stop_that_hangs_times_out_exit_1() {
    let log = Log::new();
    let hang = Policy::new().stop_timeout(2 * SEC);
    let runner = Runner::new()
        .service(def(&log, "hang", &[Run::Serve], Stop::Hang, hang, &[]))
        .service(simple(&log, "db", &[Run::Serve], &["hang"]))
        .service(simple(&log, "base", &[Run::Serve], &[]));
    let runner = runner.service(simple(&log, "top", &[Run::Serve], &["hang"]));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    match report.errors() {
        [RunError::StopTimedOut { service, timeout }] => {
            assert_eq!(service, "hang");
            assert_eq!(*timeout, 2 * SEC);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        report.reason().unwrap(),
        "service hang did not stop within 2s"
    );
    assert_eq!(log.start().elapsed(), 3 * SEC);
}

#[tokio::test(start_paused = true)]
async fn stop_that_panics_is_reported_exit_1() {
    quiet_panics();
    let log = Log::new();
    let runner = Runner::new()
        .service(stopping(&log, "bomb", Stop::Panic))
        .service(simple(&log, "other", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.reason().unwrap(),
        "service bomb failed to stop: panicked: bomb stop blew up"
    );
    assert_eq!(log.stops("other"), 1, "shutdown went on");
}

#[tokio::test(start_paused = true)]
async fn stop_error_exit_1() {
    let log = Log::new();
    let runner = Runner::new()
        .service(stopping(&log, "cache", Stop::Fail))
        .service(simple(&log, "db", &[Run::Serve], &["cache"]));
    let runner = runner.service(simple(&log, "api", &[Run::Serve], &["cache"]));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert!(
        matches!(&report.errors()[0], RunError::StopFailed { service, .. } if service == "cache")
    );
    assert_eq!(
        report.reason().unwrap(),
        "service cache failed to stop: flush failed"
    );
}

#[tokio::test(start_paused = true)]
async fn run_error_during_shutdown_without_retries_exits_1() {
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "sulky", &[Run::FailOnCancel], &[]));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.reason().unwrap(),
        "service sulky failed after 1 attempt: interrupted"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_budget_exhausted_names_services() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .service(def(
            &log,
            "api",
            &[Run::Serve],
            Stop::Hang,
            Policy::new(),
            &["db"],
        ))
        .service(simple(&log, "quick", &[Run::Serve], &[]))
        .shutdown_timeout(5 * SEC);
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.still_stopping(), ["db", "api"]);
    assert_eq!(
        report.reason().unwrap(),
        "shutdown budget of 5s ran out; still stopping: db, api"
    );
    assert_eq!(log.start().elapsed(), 6 * SEC);
    assert_eq!(log.stops("db"), 0, "db never got its turn");
}

#[tokio::test(start_paused = true)]
async fn budget_bounds_shutdown_after_fatal_failure() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "crasher", &[Run::FailAfter(SEC)], &[]))
        .service(def(
            &log,
            "hang",
            &[Run::Serve],
            Stop::Hang,
            Policy::new(),
            &[],
        ))
        .shutdown_timeout(3 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(log.start().elapsed(), 4 * SEC);
    assert_eq!(report.still_stopping(), ["hang"]);
    assert_eq!(
        report.cause(),
        Some(&ShutdownCause::Failed {
            service: "crasher".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn second_request_forces_130() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "hang",
            &[Run::Serve],
            Stop::Hang,
            Policy::new().stop_timeout(60 * SEC),
            &[],
        ))
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .shutdown_timeout(60 * SEC);
    let handle = runner.shutdown_handle();
    request_at(handle.clone(), SEC);
    request_at(handle, 2 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.still_stopping(), ["hang"]);
    assert_eq!(log.start().elapsed(), 2 * SEC);
    assert_eq!(
        report.reason().unwrap(),
        "forced exit: shutdown requested again while stopping; still stopping: hang"
    );
}

#[tokio::test(start_paused = true)]
async fn clean_shutdown_reports_cause() {
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "a", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.cause(), Some(&ShutdownCause::Requested));
    assert!(report.errors().is_empty());
    assert!(report.still_stopping().is_empty());
}

/// A service whose `Drop` panics: its failure, exit 1 (SPEC §4.10).
#[tokio::test(start_paused = true)]
async fn a_panic_while_dropping_a_service_is_its_failure() {
    struct Leaky;
    impl Drop for Leaky {
        fn drop(&mut self) {
            panic!("buffer not flushed");
        }
    }
    impl servicepack::Service for Leaky {
        async fn run(&self, _ctx: servicepack::Context) -> servicepack::Result<()> {
            Ok(())
        }
    }
    quiet_panics();
    let report = Runner::new()
        .service(servicepack::ServiceDef::new("leaky", Leaky))
        .run()
        .await;
    assert_eq!(report.exit_code(), 1);
    match report.errors() {
        [RunError::Drop { service, source }] => {
            assert_eq!(service, "leaky");
            assert_eq!(source.to_string(), "panicked: buffer not flushed");
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Waits (a bounded while) until the runtime has no task left alive; how many are left.
async fn alive_tasks_settle() -> usize {
    let metrics = tokio::runtime::Handle::current().metrics();
    for _ in 0..5_000 {
        if metrics.num_alive_tasks() == 0 {
            break;
        }
        tokio::time::sleep(MS).await;
    }
    metrics.num_alive_tasks()
}

/// A finished supervisor parks its task until the run's state goes: every one is reaped
/// after `run` returns, run after run in the same runtime, with enough services to spawn
/// and stop them in shares on both workers, some ending before shutdown and some with a
/// `stop` to call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_supervisor_task_outlives_the_run() {
    let log = Log::new();
    for round in 0..3 {
        let mut runner = Runner::new();
        for node in 0..3_000 {
            let name = format!("s{node}");
            runner = runner.service(match node % 3 {
                0 => simple(&log, &name, &[Run::Serve], &[]),
                1 => simple(&log, &name, &[Run::ExitAfter(MS)], &[]),
                _ => stopping(&log, &name, Stop::Ok),
            });
        }
        let handle = runner.shutdown_handle();
        let run = tokio::spawn(runner.run());
        tokio::time::sleep(100 * MS).await;
        handle.request();
        assert_eq!(run.await.unwrap().exit_code(), 0, "round {round}");
        assert_eq!(alive_tasks_settle().await, 0, "round {round}");
    }
}
