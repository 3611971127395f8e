//! Failures, retries, backoff, restarts and panics (SPEC §4 points 4, 6, 10).

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Ev, Log, MS, Run, SEC, Stop, def, is_run, quiet_panics, simple};
use servicepack::prelude::*;
use servicepack::{
    Backoff, Policy, Restart, Retries, RunError, Runner, ServiceDef, ShutdownHandle,
};

fn request_at(handle: ShutdownHandle, at: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(at).await;
        handle.request();
    });
}

fn run_times(log: &Log, service: &str) -> Vec<Duration> {
    log.all()
        .into_iter()
        .filter(|r| r.service == service && is_run(&r.ev))
        .map(|r| r.at)
        .collect()
}

fn secs(values: &[u64]) -> Vec<Duration> {
    values.iter().map(|&s| Duration::from_secs(s)).collect()
}

#[tokio::test(start_paused = true)]
async fn retries_then_fatal_failure_exits_1() {
    let log = Log::new();
    let crasher = Policy::new().retries(Retries::Limited(2)).delay(SEC);
    let runner = Runner::new()
        .service(def(
            &log,
            "crasher",
            &[Run::FailAfter(Duration::ZERO)],
            Stop::Ok,
            crasher,
            &[],
        ))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(run_times(&log, "crasher"), secs(&[0, 1, 2]));
    match report.errors() {
        [
            RunError::Failed {
                service,
                attempts,
                source,
            },
        ] => {
            assert_eq!(service, "crasher");
            assert_eq!(*attempts, 3);
            assert_eq!(source.to_string(), "crasher attempt 3 failed");
        }
        other => panic!("unexpected errors {other:?}"),
    }
    assert_eq!(
        report.reason().unwrap(),
        "service crasher failed after 3 attempts: crasher attempt 3 failed"
    );
    assert_eq!(log.when("steady", common::is_stop), Some(2 * SEC));
}

#[tokio::test(start_paused = true)]
async fn retries_two_means_three_runs() {
    let log = Log::new();
    let flaky = Policy::new()
        .retries(Retries::Limited(2))
        .allowed_failure(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "flaky",
            &[Run::FailAfter(10 * MS)],
            Stop::Ok,
            flaky,
            &[],
        ))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 10 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(log.runs("flaky"), 3);
}

#[tokio::test(start_paused = true)]
async fn unlimited_retries() {
    let log = Log::new();
    let policy = Policy::new().retries(Retries::Unlimited).delay(SEC);
    let runner = Runner::new().service(def(
        &log,
        "flaky",
        &[Run::FailAfter(SEC)],
        Stop::Ok,
        policy,
        &[],
    ));
    request_at(runner.shutdown_handle(), Duration::from_millis(10_500));
    let report = runner.run().await;
    // The run interrupted at 10.5 s fails at 11 s, during the stop; with retries left that
    // failure is not final, so the exit is clean.
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(run_times(&log, "flaky"), secs(&[0, 2, 4, 6, 8, 10]));
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_doubles_and_caps() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(Retries::Limited(5))
        .delay(SEC)
        .backoff(Backoff::Exponential { max_delay: 4 * SEC })
        .allowed_failure(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "flaky",
            &[Run::FailAfter(Duration::ZERO)],
            Stop::Ok,
            policy,
            &[],
        ))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 30 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    // Delays 1, 2, 4, 4 (capped), 4.
    assert_eq!(run_times(&log, "flaky"), secs(&[0, 1, 3, 7, 11, 15]));
}

#[tokio::test(start_paused = true)]
async fn jitter_uses_the_injected_source() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(Retries::Limited(3))
        .delay(4 * SEC)
        .jitter(true)
        .allowed_failure(true);
    let mut values = [0.0, 0.5, 1.0].into_iter();
    let runner = Runner::new()
        .service(def(
            &log,
            "flaky",
            &[Run::FailAfter(Duration::ZERO)],
            Stop::Ok,
            policy,
            &[],
        ))
        .service(simple(&log, "steady", &[Run::Serve], &[]))
        .jitter_source(move || values.next().unwrap());
    request_at(runner.shutdown_handle(), 30 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    // 4 s × 0.75, × 1.0, × 1.25.
    assert_eq!(run_times(&log, "flaky"), secs(&[0, 3, 7, 12]));
}

#[tokio::test(start_paused = true)]
async fn retry_reset_after_long_run() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(Retries::Limited(1))
        .retry_reset(10 * SEC)
        .allowed_failure(true);
    let script = [
        Run::FailAfter(Duration::ZERO),
        Run::FailAfter(20 * SEC), // long enough to reset the count
        Run::FailAfter(Duration::ZERO),
        Run::FailAfter(Duration::ZERO),
    ];
    let runner = Runner::new()
        .service(def(&log, "flaky", &script, Stop::Ok, policy, &[]))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 60 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    // Without the reset, `retries = 1` would allow two runs.
    assert_eq!(run_times(&log, "flaky"), secs(&[0, 0, 20]));
}

#[tokio::test(start_paused = true)]
async fn restart_always_restarts_after_ok() {
    let log = Log::new();
    let policy = Policy::new().restart(Restart::Always).delay(2 * SEC);
    let runner = Runner::new().service(def(
        &log,
        "tick",
        &[Run::ExitAfter(SEC)],
        Stop::Ok,
        policy,
        &[],
    ));
    request_at(runner.shutdown_handle(), 10 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0);
    assert_eq!(run_times(&log, "tick"), secs(&[0, 3, 6, 9]));
    assert_eq!(log.stops("tick"), 1);
}

#[tokio::test(start_paused = true)]
async fn restart_never() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(Retries::Limited(5))
        .restart(Restart::Never)
        .allowed_failure(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "once",
            &[Run::FailAfter(Duration::ZERO)],
            Stop::Ok,
            policy,
            &[],
        ))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 10 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(log.runs("once"), 1);
}

#[tokio::test(start_paused = true)]
async fn panic_in_run_is_retried_as_error() {
    quiet_panics();
    let log = Log::new();
    let policy = Policy::new().retries(Retries::Limited(1));
    let runner = Runner::new().service(def(
        &log,
        "shaky",
        &[Run::PanicAfter(Duration::ZERO), Run::Serve],
        Stop::Ok,
        policy,
        &[],
    ));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(log.runs("shaky"), 2);
    assert_eq!(log.stops("shaky"), 1);
}

#[tokio::test(start_paused = true)]
async fn panic_in_run_is_reported_with_its_message() {
    quiet_panics();
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "bomb", &[Run::PanicAfter(SEC)], &[]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.reason().unwrap(),
        "service bomb failed after 1 attempt: panicked: bomb attempt 1 blew up"
    );
}

#[tokio::test(start_paused = true)]
async fn constructor_error_fails_service_without_retry() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let policy = Policy::new().retries(Retries::Limited(3)).delay(SEC);
    let broken = ServiceDef::lazy("broken", move || -> Result<common::Probe> {
        counter.fetch_add(1, Ordering::SeqCst);
        Err("missing DATABASE_URL".into())
    })
    .policy(policy);
    let log = Log::new();
    let runner = Runner::new()
        .service(broken)
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        matches!(&report.errors()[0], RunError::Construct { service, .. } if service == "broken")
    );
    assert_eq!(
        report.reason().unwrap(),
        "service broken could not be constructed: missing DATABASE_URL"
    );
    // The failure stops every start at once: `steady`, polled after it, never ran.
    assert_eq!(log.runs("steady"), 0);
    assert_eq!(log.stops("steady"), 0);
}

#[tokio::test(start_paused = true)]
async fn constructor_panic_is_caught() {
    quiet_panics();
    let broken = ServiceDef::lazy("broken", || -> Result<common::Probe> {
        panic!("no config file");
    });
    let report = Runner::new().service(broken).run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.reason().unwrap(),
        "service broken could not be constructed: panicked: no config file"
    );
}

#[tokio::test(start_paused = true)]
async fn allowed_constructor_failure_keeps_app_running() {
    let log = Log::new();
    let broken = ServiceDef::lazy("broken", || -> Result<common::Probe> { Err("nope".into()) })
        .policy(Policy::new().allowed_failure(true));
    let runner = Runner::new()
        .service(broken)
        .service(simple(&log, "dependent", &[Run::Serve], &["broken"]))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 5 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0);
    assert!(
        log.of("dependent").is_empty(),
        "its dependency never became ready"
    );
    assert_eq!(log.when("steady", common::is_stop), Some(5 * SEC));
}

#[tokio::test(start_paused = true)]
async fn attempt_number_counts_runs() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(Retries::Limited(2))
        .allowed_failure(true);
    let runner = Runner::new().service(def(
        &log,
        "flaky",
        &[
            Run::FailAfter(Duration::ZERO),
            Run::FailAfter(Duration::ZERO),
            Run::ExitAfter(SEC),
        ],
        Stop::Ok,
        policy,
        &[],
    ));
    assert_eq!(runner.run().await.exit_code(), 0);
    let runs: Vec<Ev> = log.of("flaky").into_iter().filter(is_run).collect();
    assert_eq!(runs, [Ev::Run(1), Ev::Run(2), Ev::Run(3)]);
}

#[tokio::test(start_paused = true)]
async fn panic_before_the_run_future_exists_is_caught() {
    struct Eager;
    impl Service for Eager {
        #[allow(unreachable_code, clippy::manual_async_fn)]
        fn run(&self, _ctx: Context) -> impl Future<Output = Result<()>> + Send {
            panic!("no future for you");
            async { Ok(()) }
        }

        #[allow(unreachable_code, clippy::manual_async_fn)]
        fn stop(&self, _ctx: Context) -> impl Future<Output = Result<()>> + Send {
            panic!("no stop either");
            async { Ok(()) }
        }
    }
    quiet_panics();
    let report = Runner::new()
        .service(ServiceDef::new("eager", Eager))
        .run()
        .await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.reason().unwrap(),
        "service eager failed after 1 attempt: panicked: no future for you; \
         service eager failed to stop: panicked: no stop either"
    );
}
