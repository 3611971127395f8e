//! Start-up errors and logging (SPEC §4 points 1, 2; the lifecycle event catalogue).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Log, Run, SEC, Stop, def, simple};
use servicepack::prelude::*;
use servicepack::{PlanError, Policy, Retries, RunError, Runner, ServiceDef};

#[tokio::test(start_paused = true)]
async fn cycle_reported_before_anything_starts_with_path() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "free", &[Run::Serve], &[]))
        .service(simple(&log, "a", &[Run::Serve], &["b"]))
        .service(simple(&log, "b", &[Run::Serve], &["a"]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.reason().unwrap(), "dependency cycle: a -> b -> a");
    assert!(matches!(
        &report.errors()[0],
        RunError::Plan(PlanError::Cycle { path }) if path == &["a", "b", "a"]
    ));
    assert!(
        log.all().is_empty(),
        "nothing was constructed: {:?}",
        log.all()
    );
    assert!(report.cause().is_none());
}

#[tokio::test(start_paused = true)]
async fn self_dependency_is_a_cycle() {
    let log = Log::new();
    let report = Runner::new()
        .service(simple(&log, "narcissus", &[Run::Serve], &["narcissus"]))
        .run()
        .await;
    assert_eq!(
        report.reason().unwrap(),
        "dependency cycle: narcissus -> narcissus"
    );
}

#[tokio::test(start_paused = true)]
async fn duplicate_names_reported() {
    let log = Log::new();
    let report = Runner::new()
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .run()
        .await;
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .reason()
            .unwrap()
            .contains("duplicate service name `db`")
    );
    assert!(log.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn empty_set_is_an_error() {
    let report = Runner::new().run().await;
    assert_eq!(report.exit_code(), 1);
    assert!(matches!(
        report.errors(),
        [RunError::Plan(PlanError::Empty)]
    ));
    assert!(report.reason().unwrap().starts_with("no services to run"));
}

/// Captures formatted `tracing` output for the current thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn has(&self, needles: &[&str]) -> bool {
        self.lines()
            .iter()
            .any(|line| needles.iter().all(|n| line.contains(n)))
    }
}

#[tokio::test(start_paused = true)]
async fn missing_dependency_is_skipped_with_warning() {
    let capture = Capture::default();
    let _guard = capture.install();
    let log = Log::new();
    let report = Runner::new()
        .service(simple(
            &log,
            "api",
            &[Run::ExitAfter(SEC)],
            &["external-cache"],
        ))
        .run()
        .await;
    assert_eq!(report.exit_code(), 0);
    assert!(
        capture.has(&[
            "WARN",
            "service{service=api}",
            "dependency not in process, skipping",
            "dependency=\"external-cache\""
        ]),
        "{:#?}",
        capture.lines()
    );
    assert_eq!(log.when("api", common::is_run), Some(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn lifecycle_events_are_logged_in_the_service_span() {
    let capture = Capture::default();
    let _guard = capture.install();
    let log = Log::new();
    let flaky = Policy::new().retries(Retries::Limited(1)).delay(2 * SEC);
    let db = Policy::new().notify_ready(true).allowed_failure(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "flaky",
            &[Run::FailAfter(SEC)],
            Stop::Ok,
            flaky,
            &[],
        ))
        .service(def(
            &log,
            "db",
            &[Run::FailAfter(SEC)],
            Stop::Hang,
            db.stop_timeout(SEC),
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(def(
            &log,
            "ready",
            &[Run::Serve],
            Stop::Ok,
            Policy::new().notify_ready(true),
            &[],
        ));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    let expect: &[&[&str]] = &[
        &[" INFO", "running services", "count=4"],
        &[" INFO", "service{service=flaky}", "starting", "attempt=1"],
        &[" INFO", "service{service=ready}", "ready"],
        &[
            " WARN",
            "service{service=flaky}",
            "attempt failed",
            "attempt=1",
            "error=flaky attempt 1 failed",
        ],
        &[
            " WARN",
            "service{service=flaky}",
            "retrying",
            "attempt=2",
            "delay=2s",
        ],
        &[
            "ERROR",
            "service{service=flaky}",
            "failed",
            "attempts=2",
            "error=flaky attempt 2 failed",
        ],
        &[
            " WARN",
            "service{service=db}",
            "failed (allowed failure)",
            "attempts=1",
        ],
        &[
            " WARN",
            "service{service=api}",
            "skipped",
            "reason=\"dependency db failed before it was ready\"",
        ],
        &[" INFO", "shutting down", "reason=service flaky failed"],
        &[" INFO", "service{service=ready}", "stopping"],
        &[" INFO", "service{service=ready}", "stopped"],
        &[
            "ERROR",
            "service{service=db}",
            "stop timed out",
            "timeout=1s",
        ],
        &[" INFO", "all services stopped"],
    ];
    for needles in expect {
        assert!(
            capture.has(needles),
            "no line with {needles:?} in {:#?}",
            capture.lines()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn user_logs_carry_the_service_span() {
    struct Chatty;
    impl Service for Chatty {
        async fn run(&self, _ctx: Context) -> Result<()> {
            tracing::info!("hello from run");
            Ok(())
        }

        async fn stop(&self, _ctx: Context) -> Result<()> {
            tracing::info!("hello from stop");
            Ok(())
        }
    }
    let capture = Capture::default();
    let _guard = capture.install();
    let report = Runner::new()
        .service(ServiceDef::new("chatty", Chatty))
        .run()
        .await;
    assert_eq!(report.exit_code(), 0);
    assert!(capture.has(&["service{service=chatty}", "hello from run"]));
    assert!(capture.has(&["service{service=chatty}", "hello from stop"]));
    assert!(capture.has(&["service{service=chatty}", "exited", "attempt=1"]));
}

/// A crash loop cannot flood the log: at most ten repeated lifecycle lines a second per
/// service, then one line a second with the count; a clean restart is INFO, not WARN.
#[tokio::test(start_paused = true)]
async fn a_crash_loop_is_rate_limited() {
    struct Blink;
    impl Service for Blink {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let _guard = capture.install();
    let policy = Policy::new()
        .restart(servicepack::Restart::Always)
        .delay(Duration::from_millis(1));
    let runner = Runner::new().service(ServiceDef::new("blink", Blink).policy(policy));
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        shutdown.request();
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    let restarts = status.snapshot().services[0].restarts;
    assert!(restarts > 1000, "{restarts} restarts");
    let lines = capture.lines();
    let blink = lines
        .iter()
        .filter(|line| line.contains("service{service=blink}"))
        .count();
    // 3.5 s touch at most 5 wall-clock seconds: 10 lines and a summary in each, plus
    // stopping and stopped (against more than 7,000 without the limit).
    assert!(blink <= 5 * 11 + 2, "{blink} lines: {lines:#?}");
    assert!(capture.has(&["WARN", "lifecycle lines suppressed", "suppressed="]));
    assert!(capture.has(&[
        " INFO",
        "service{service=blink}",
        "retrying",
        "restart=\"always\""
    ]));
    assert!(!capture.has(&["WARN", "service{service=blink}", "retrying"]));
}
