//! Start-up: per-edge ordering, readiness, and what stops a start (SPEC §4 points 1–6).

mod common;

use std::time::Duration;

use common::{Ev, Log, MS, Run, SEC, Stop, def, is_ready, is_run, simple};
use servicepack::{Policy, Report, Retries, Runner, ServiceDef, ShutdownHandle};

fn request_at(handle: ShutdownHandle, at: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(at).await;
        handle.request();
    });
}

fn notify() -> Policy {
    Policy::new().notify_ready(true)
}

#[tokio::test(start_paused = true)]
async fn dependent_starts_after_dependency_ready() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(def(
            &log,
            "db",
            &[Run::ServeAfter(2 * SEC)],
            Stop::Ok,
            notify(),
            &[],
        ));
    request_at(runner.shutdown_handle(), 5 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(log.when("db", is_ready), Some(2 * SEC));
    assert_eq!(log.when("api", is_run), Some(2 * SEC));
    assert_eq!(log.when("api", |e| *e == Ev::Constructed), Some(2 * SEC));
}

#[tokio::test(start_paused = true)]
async fn independent_services_start_concurrently() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "a",
            &[Run::ServeAfter(SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(def(
            &log,
            "b",
            &[Run::ServeAfter(SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(def(
            &log,
            "c",
            &[Run::ServeAfter(SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(simple(&log, "d", &[Run::Serve], &["a", "b", "c"]));
    request_at(runner.shutdown_handle(), 5 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    for name in ["a", "b", "c"] {
        assert_eq!(log.when(name, is_run), Some(Duration::ZERO), "{name}");
        assert_eq!(log.when(name, is_ready), Some(SEC), "{name}");
    }
    assert_eq!(log.when("d", is_run), Some(SEC));
}

#[tokio::test(start_paused = true)]
async fn start_is_per_edge_not_per_level() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "slow",
            &[Run::ServeAfter(5 * SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(def(
            &log,
            "fast",
            &[Run::ServeAfter(SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(simple(&log, "after-slow", &[Run::Serve], &["slow"]))
        .service(simple(&log, "after-fast", &[Run::Serve], &["fast"]));
    request_at(runner.shutdown_handle(), 10 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(log.when("after-fast", is_run), Some(SEC));
    assert_eq!(log.when("after-slow", is_run), Some(5 * SEC));
}

#[tokio::test(start_paused = true)]
async fn plain_service_is_ready_when_run_is_called() {
    let log = Log::new();
    // `base` never calls ctx.ready(), but it is not `notify_ready`.
    let runner = Runner::new()
        .service(simple(&log, "base", &[Run::NeverReady], &[]))
        .service(simple(&log, "top", &[Run::Serve], &["base"]));
    request_at(runner.shutdown_handle(), SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(log.when("top", is_run), Some(Duration::ZERO));
    assert!(log.index("base", is_run) < log.index("top", is_run));
}

#[tokio::test(start_paused = true)]
async fn notify_ready_failing_before_ready_skips_dependents() {
    let log = Log::new();
    let db = Policy::new().notify_ready(true).allowed_failure(true);
    let runner = Runner::new()
        .service(def(&log, "db", &[Run::FailAfter(SEC)], Stop::Ok, db, &[]))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(simple(&log, "worker", &[Run::Serve], &["api"]))
        .service(simple(&log, "other", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 5 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert!(log.of("api").is_empty(), "api was never constructed");
    assert!(log.of("worker").is_empty(), "worker was never constructed");
    // The app kept running until the request: `other` stopped at 5 s.
    assert_eq!(log.when("other", common::is_stop), Some(5 * SEC));
}

#[tokio::test(start_paused = true)]
async fn ready_timeout_fails_the_attempt() {
    let log = Log::new();
    let db = Policy::new()
        .notify_ready(true)
        .ready_timeout(5 * SEC)
        .retries(Retries::Limited(1));
    let runner = Runner::new()
        .service(def(
            &log,
            "db",
            &[Run::NeverReady, Run::Serve],
            Stop::Ok,
            db,
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["db"]));
    request_at(runner.shutdown_handle(), 10 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(
        log.of("db")[..5],
        [
            Ev::Constructed,
            Ev::Run(1),
            Ev::Dropped(1),
            Ev::Run(2),
            Ev::Ready(2)
        ],
        "attempt 1 was dropped at the timeout, without returning"
    );
    assert_eq!(log.when("db", |e| *e == Ev::Run(2)), Some(5 * SEC));
    assert_eq!(log.when("api", is_run), Some(5 * SEC));
}

#[tokio::test(start_paused = true)]
async fn ready_timeout_without_retries_is_fatal() {
    let log = Log::new();
    let db = Policy::new().notify_ready(true).ready_timeout(3 * SEC);
    let runner = Runner::new()
        .service(def(&log, "db", &[Run::NeverReady], Stop::Ok, db, &[]))
        .service(simple(&log, "api", &[Run::Serve], &["db"]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    let reason = report.reason().unwrap();
    assert!(
        reason.contains("service db failed after 1 attempt: not ready within 3s"),
        "{reason}"
    );
    assert!(log.of("api").is_empty());
    // db ran, so it is stopped, at the moment of the failure.
    assert_eq!(log.when("db", common::is_stop), Some(3 * SEC));
}

#[tokio::test(start_paused = true)]
async fn fatal_failure_while_another_waits_for_readiness_shuts_down_at_once() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "db",
            &[Run::ServeAfter(10 * SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(simple(&log, "crasher", &[Run::FailAfter(SEC)], &[]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(log.start().elapsed(), SEC, "run returned at the failure");
    assert_eq!(log.when("db", common::is_stop), Some(SEC));
    assert!(log.of("api").is_empty(), "api never started");
    assert!(log.when("db", is_ready).is_none());
}

#[tokio::test(start_paused = true)]
async fn signal_during_startup_starts_nothing_more() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "db",
            &[Run::ServeAfter(5 * SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(simple(&log, "migrator", &[Run::ExitAfter(SEC)], &["api"]));
    request_at(runner.shutdown_handle(), SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert!(log.of("api").is_empty());
    assert!(log.of("migrator").is_empty());
    assert_eq!(log.when("db", common::is_stop), Some(SEC));
    assert_eq!(log.start().elapsed(), SEC);
}

#[tokio::test(start_paused = true)]
async fn request_before_run_starts_nothing() {
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "a", &[Run::Serve], &[]));
    runner.shutdown_handle().request();
    assert_eq!(runner.run().await.exit_code(), 0);
    assert!(log.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn one_shot_notify_ready_runs_before_dependents() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "migrator",
            &[Run::ExitAfter(3 * SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["migrator"]));
    request_at(runner.shutdown_handle(), 10 * SEC);
    assert_eq!(runner.run().await.exit_code(), 0);
    let returned = log
        .index("migrator", |e| matches!(e, Ev::Returned { .. }))
        .unwrap();
    let api = log.index("api", is_run).unwrap();
    assert!(returned < api);
    assert_eq!(log.when("api", is_run), Some(3 * SEC));
}

#[tokio::test(start_paused = true)]
async fn exits_0_when_nothing_left_running() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "first", &[Run::ExitAfter(SEC)], &[]))
        .service(simple(
            &log,
            "second",
            &[Run::ExitAfter(2 * SEC)],
            &["first"],
        ));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        report.cause(),
        Some(&servicepack::ShutdownCause::NothingLeftRunning)
    );
    // `first` is ready as soon as it runs, so `second` starts at once too.
    assert_eq!(log.when("second", is_run), Some(Duration::ZERO));
    assert_eq!(log.start().elapsed(), 2 * SEC);
    // Both ran, so both are stopped, dependents first.
    assert_eq!(log.stops("first"), 1);
    assert_eq!(log.stops("second"), 1);
    assert!(log.index("second", common::is_stop) < log.index("first", common::is_stop));
}

#[tokio::test(start_paused = true)]
async fn allowed_failure_keeps_app_running() {
    let log = Log::new();
    let flaky = Policy::new().allowed_failure(true);
    let runner = Runner::new()
        .service(def(
            &log,
            "flaky",
            &[Run::FailAfter(MS)],
            Stop::Ok,
            flaky,
            &[],
        ))
        .service(simple(&log, "steady", &[Run::Serve], &[]));
    request_at(runner.shutdown_handle(), 5 * SEC);
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(log.when("steady", common::is_stop), Some(5 * SEC));
    assert_eq!(log.stops("flaky"), 1, "it ran, so it is stopped");
}

#[tokio::test(start_paused = true)]
async fn missing_dependency_is_skipped() {
    let log = Log::new();
    let runner = Runner::new().service(simple(
        &log,
        "api",
        &[Run::ExitAfter(SEC)],
        &["external-cache"],
    ));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 0);
    assert_eq!(log.when("api", is_run), Some(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn lazy_construction_happens_only_for_services_that_start() {
    let log = Log::new();
    let runner = Runner::new()
        .service(def(
            &log,
            "db",
            &[Run::FailAfter(SEC)],
            Stop::Ok,
            notify(),
            &[],
        ))
        .service(simple(&log, "api", &[Run::Serve], &["db"]));
    let report = runner.run().await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(log.of("db")[0], Ev::Constructed);
    assert!(log.of("api").is_empty());
}

#[tokio::test(start_paused = true)]
async fn services_added_in_bulk() {
    let log = Log::new();
    let defs: Vec<ServiceDef> = (0..50)
        .map(|i| simple(&log, &format!("s{i}"), &[Run::ExitAfter(SEC)], &[]))
        .collect();
    let report = Runner::new().services(defs).run().await;
    assert_eq!(report.exit_code(), 0);
    assert_eq!(log.all().iter().filter(|r| is_run(&r.ev)).count(), 50);
}

/// Waits (in real time, at most 30 s) for the run after a shutdown request, which must end
/// with exit code 0.
async fn ends_cleanly(run: tokio::task::JoinHandle<Report>) {
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the run ends within 30 s of the request")
        .expect("the run task completes");
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
}

/// A set this large is spawned by one task per worker, each a share of the start order,
/// and the stop walk begins in shares of the nodes the same way: the per-edge order still
/// holds across the shares (every service in the second half depends on one in the
/// first), and shutdown still stops dependents first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_set_spawned_in_shares_keeps_the_order() {
    const N: usize = 3000;
    let log = Log::new();
    let names: Vec<String> = (0..N).map(|i| format!("s{i:04}")).collect();
    let defs: Vec<ServiceDef> = (0..N)
        .map(|i| {
            let deps: Vec<&str> = if i >= N / 2 {
                vec![names[i - N / 2].as_str()]
            } else {
                Vec::new()
            };
            simple(&log, &names[i], &[Run::Serve], &deps)
        })
        .collect();
    let runner = Runner::new().services(defs);
    let handle = runner.shutdown_handle();
    let run = tokio::spawn(runner.run());
    let all_running = async {
        while log.all().iter().filter(|r| is_run(&r.ev)).count() < N {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all_running)
        .await
        .expect("every service runs within 30 s");
    handle.request();
    ends_cleanly(run).await;
    // One pass over the log: where each service entered `run` and where it returned.
    let mut ran = vec![None; N];
    let mut returned = vec![None; N];
    for (at, rec) in log.all().iter().enumerate() {
        let i: usize = rec.service[1..].parse().expect("a service of the test");
        match rec.ev {
            Ev::Run(_) => ran[i] = Some(at),
            Ev::Returned { .. } => returned[i] = Some(at),
            _ => {}
        }
    }
    for i in N / 2..N {
        let dep = i - N / 2;
        assert!(ran[dep] < ran[i], "{} ran before its dependency", names[i]);
        assert!(
            returned[i].is_some() && returned[i] < returned[dep],
            "{} outlived its dependent",
            names[dep]
        );
    }
}

/// A shutdown requested while a large set is still being spawned in shares ends the run:
/// whatever started stops, the rest is skipped, and nothing is left waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_shared_spawn_ends_the_run() {
    let log = Log::new();
    let defs: Vec<ServiceDef> = (0..5000)
        .map(|i| simple(&log, &format!("s{i}"), &[Run::Serve], &[]))
        .collect();
    let runner = Runner::new().services(defs);
    let handle = runner.shutdown_handle();
    let run = tokio::spawn(runner.run());
    tokio::task::yield_now().await;
    handle.request();
    ends_cleanly(run).await;
    let records = log.all();
    let runs = records.iter().filter(|r| is_run(&r.ev)).count();
    let returns = records
        .iter()
        .filter(|r| matches!(r.ev, Ev::Returned { .. }))
        .count();
    assert_eq!(runs, returns, "every service that ran has returned");
}

/// Attempt 1 hands its context to a task that says "ready" at 5 s, then fails at 1 s;
/// attempt 2 (from 2 s) says it at 8 s, from a task of its own.
struct ReadyFromATask {
    runs: std::sync::atomic::AtomicU32,
}

impl servicepack::Service for ReadyFromATask {
    async fn run(&self, ctx: servicepack::Context) -> servicepack::Result<()> {
        let attempt = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let later = ctx.clone();
        let (after, fail) = if attempt == 1 {
            (5 * SEC, true)
        } else {
            (6 * SEC, false)
        };
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            later.ready();
        });
        if fail {
            tokio::time::sleep(SEC).await;
            return Err("connection refused".into());
        }
        ctx.cancelled().await;
        Ok(())
    }
}

/// `ctx.ready()` from a task `run` spawned counts for its own attempt only: a context
/// of an attempt that failed cannot make the next one ready.
#[tokio::test(start_paused = true)]
async fn ready_from_a_spawned_task_counts_for_its_own_attempt_only() {
    let log = Log::new();
    let db = notify().retries(Retries::Limited(1)).delay(SEC);
    let service = ReadyFromATask {
        runs: std::sync::atomic::AtomicU32::new(0),
    };
    let runner = Runner::new()
        .service(ServiceDef::new("db", service).policy(db))
        .service(simple(&log, "api", &[Run::Serve], &["db"]));
    let status = runner.status();
    request_at(runner.shutdown_handle(), 10 * SEC);
    let run = tokio::spawn(runner.run());
    tokio::time::sleep(6 * SEC).await;
    let db_now = status.snapshot().service("db").unwrap().clone();
    assert_eq!(
        (db_now.attempt, db_now.state),
        (2, servicepack::State::Starting),
        "attempt 1's ready at 5 s made attempt 2 ready"
    );
    assert_eq!(log.when("api", is_run), None);
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(log.when("api", is_run), Some(8 * SEC));
}
