//! Dependencies in other processes (SPEC §9.3) through [`Runner::peer`], with fake
//! waiters on the paused clock: a dependent waits `pending` (saying for whom), starts
//! when the peer is ready, fails and retries per policy past the peer timeout, and is
//! skipped when shutdown comes first.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Ev, Log, Run, SEC, Stop, def, is_run, simple};
use servicepack::{Policy, Retries, RunError, Runner, State, StatusHandle};
use tokio::sync::watch;

/// A peer that a test makes ready, and how often it was waited for.
#[derive(Clone)]
struct FakePeer {
    ready: watch::Sender<bool>,
    waits: Arc<AtomicUsize>,
}

impl FakePeer {
    fn new() -> Self {
        Self {
            ready: watch::channel(false).0,
            waits: Arc::default(),
        }
    }

    /// Adds this peer to `runner` as `name`.
    fn on(&self, runner: Runner, name: &str) -> Runner {
        let (ready, waits) = (self.ready.clone(), Arc::clone(&self.waits));
        runner.peer(name, move || {
            waits.fetch_add(1, Ordering::SeqCst);
            let mut ready = ready.subscribe();
            async move {
                ready.wait_for(|ready| *ready).await?;
                Ok(())
            }
        })
    }

    fn set_ready(&self, ready: bool) {
        self.ready.send_replace(ready);
    }

    fn waits(&self) -> usize {
        self.waits.load(Ordering::SeqCst)
    }
}

fn service(status: &StatusHandle, name: &str) -> servicepack::ServiceStatus {
    status
        .snapshot()
        .service(name)
        .unwrap_or_else(|| panic!("no service {name} in the status"))
        .clone()
}

async fn at(log: &Log, at: Duration) {
    tokio::time::sleep_until(log.start() + at).await;
}

#[tokio::test(start_paused = true)]
async fn a_dependent_waits_pending_and_starts_when_its_peer_is_ready() {
    let log = Log::new();
    let db = FakePeer::new();
    let runner = Runner::new()
        .service(simple(&log, "cache", &[Run::Serve], &[]))
        .service(simple(&log, "api", &[Run::Serve], &["cache", "db"]));
    let runner = db.on(runner, "db");
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());

    at(&log, 5 * SEC).await;
    let api = service(&status, "api");
    assert_eq!(api.state, State::Pending);
    assert_eq!(api.reason.as_deref(), Some("waiting for peer db"));
    assert_eq!(api.attempt, 0);
    assert_eq!(api.depends_on, ["cache", "db"]);
    assert_eq!(
        status.snapshot().not_ready_reason().as_deref(),
        Some("api is pending (waiting for peer db)")
    );
    assert!(
        log.of("api").is_empty(),
        "not even constructed while waiting"
    );
    assert_eq!(service(&status, "cache").state, State::Ready);

    db.set_ready(true);
    at(&log, 6 * SEC).await;
    let api = service(&status, "api");
    assert_eq!(api.state, State::Ready);
    assert_eq!((api.reason, api.attempt, api.restarts), (None, 1, 0));
    assert_eq!(log.when("api", is_run), Some(5 * SEC));
    assert!(status.is_ready());

    // Only the start waits: the peer going away changes nothing here.
    db.set_ready(false);
    at(&log, 60 * SEC).await;
    assert_eq!(service(&status, "api").state, State::Ready);
    assert_eq!(db.waits(), 1);

    shutdown.request();
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(log.stops("api"), 1);
}

#[tokio::test(start_paused = true)]
async fn past_the_peer_timeout_the_attempt_fails_and_the_policy_retries() {
    let log = Log::new();
    let db = FakePeer::new();
    let policy = Policy::new().retries(Retries::Limited(2)).delay(2 * SEC);
    let runner = Runner::new()
        .service(def(&log, "api", &[Run::Serve], Stop::Ok, policy, &["db"]))
        .peer_timeout(SEC);
    let runner = db.on(runner, "db");
    let status = runner.status();
    let run = tokio::spawn(runner.run());

    // Attempt 1 waits from 0 s to 1 s, then the retry delay runs to 3 s.
    at(&log, SEC + SEC / 2).await;
    let api = service(&status, "api");
    assert_eq!(api.state, State::Retrying);
    assert_eq!(api.attempt, 1);
    let error = api.last_error.expect("the timed-out attempt is recorded");
    assert_eq!(error.message, "peer db is not ready after 1s");
    assert_eq!(error.attempt, 1);
    assert!(api.next_attempt_at.is_some());

    // Attempt 2 waits again, pending.
    at(&log, 3 * SEC + SEC / 2).await;
    let api = service(&status, "api");
    assert_eq!(api.state, State::Pending);
    assert_eq!(api.reason.as_deref(), Some("waiting for peer db"));
    assert_eq!(db.waits(), 2);

    // Attempts 2 and 3 time out too; the last one is final and fatal.
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.reason().as_deref(),
        Some("service api failed after 3 attempts: peer db is not ready after 1s")
    );
    assert!(matches!(
        &report.errors()[0],
        RunError::Failed { attempts: 3, .. }
    ));
    assert_eq!(db.waits(), 3);
    assert_eq!(service(&status, "api").state, State::Failed);
    assert!(log.of("api").is_empty(), "never constructed, never stopped");
}

#[tokio::test(start_paused = true)]
async fn a_peer_ready_on_a_retry_starts_that_attempt() {
    let log = Log::new();
    let db = FakePeer::new();
    let policy = Policy::new().retries(Retries::Limited(5)).delay(2 * SEC);
    let runner = Runner::new()
        .service(def(&log, "api", &[Run::Serve], Stop::Ok, policy, &["db"]))
        .peer_timeout(SEC);
    let runner = db.on(runner, "db");
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());

    // Attempt 2 waits from 3 s; the peer is ready at 3.5 s.
    at(&log, 3 * SEC + SEC / 2).await;
    db.set_ready(true);
    at(&log, 10 * SEC).await;
    let api = service(&status, "api");
    assert_eq!(api.state, State::Ready);
    assert_eq!((api.attempt, api.restarts), (2, 1));
    assert_eq!(log.of("api")[..2], [Ev::Constructed, Ev::Run(2)]);
    assert_eq!(log.when("api", is_run), Some(3 * SEC + SEC / 2));

    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_allowed_failure_that_times_out_skips_its_dependents_and_the_app_runs_on() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(Retries::Limited(0))
        .allowed_failure(true);
    let runner = Runner::new()
        .service(def(&log, "api", &[Run::Serve], Stop::Ok, policy, &["db"]))
        .service(simple(&log, "web", &[Run::Serve], &["api"]))
        .service(simple(&log, "cron", &[Run::Serve], &[]))
        .peer("db", std::future::pending)
        .peer_timeout(SEC);
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, 5 * SEC).await;
    assert_eq!(service(&status, "api").state, State::Failed);
    assert_eq!(service(&status, "web").state, State::Skipped);
    assert_eq!(service(&status, "cron").state, State::Ready);
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_the_wait_skips_the_dependent_at_once() {
    let log = Log::new();
    let db = FakePeer::new();
    let runner = Runner::new()
        .service(simple(&log, "api", &[Run::Serve], &["db"]))
        .service(simple(&log, "web", &[Run::Serve], &["api"]));
    let runner = db.on(runner, "db");
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, 30 * SEC).await;
    assert_eq!(service(&status, "api").state, State::Pending);
    shutdown.request();
    let report = tokio::time::timeout(SEC, run)
        .await
        .expect("shutdown does not wait for the peer")
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(service(&status, "api").state, State::Skipped);
    assert_eq!(service(&status, "web").state, State::Skipped);
    assert!(log.all().is_empty(), "nothing constructed, nothing stopped");
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_the_retry_delay_after_a_timeout_skips_the_dependent() {
    let log = Log::new();
    let policy = Policy::new().retries(Retries::Unlimited).delay(60 * SEC);
    let runner = Runner::new()
        .service(def(&log, "api", &[Run::Serve], Stop::Ok, policy, &["db"]))
        .peer("db", std::future::pending)
        .peer_timeout(SEC);
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, 2 * SEC).await;
    assert_eq!(service(&status, "api").state, State::Retrying);
    shutdown.request();
    let report = tokio::time::timeout(SEC, run).await.unwrap().unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(service(&status, "api").state, State::Skipped);
    assert!(log.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_waiter_error_fails_the_attempt_with_its_message() {
    let log = Log::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let policy = Policy::new().retries(Retries::Limited(1)).delay(SEC);
    let runner = Runner::new()
        .service(def(&log, "api", &[Run::Serve], Stop::Ok, policy, &["db"]))
        .peer("db", move || {
            let call = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if call == 0 {
                    Err("no route to host".into())
                } else {
                    Ok(())
                }
            }
        });
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, 5 * SEC).await;
    let api = service(&status, "api");
    assert_eq!(api.state, State::Ready);
    assert_eq!(
        api.last_error.unwrap().message,
        "waiting for peer db failed: no route to host"
    );
    assert_eq!(log.when("api", is_run), Some(SEC));
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failure_after_the_peer_was_ready_does_not_wait_for_it_again() {
    let log = Log::new();
    let db = FakePeer::new();
    db.set_ready(true);
    let policy = Policy::new().retries(Retries::Limited(1)).delay(SEC);
    let runner = Runner::new().service(def(
        &log,
        "api",
        &[Run::FailAfter(SEC), Run::Serve],
        Stop::Ok,
        policy,
        &["db"],
    ));
    let runner = db.on(runner, "db");
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, SEC / 2).await;
    assert_eq!(log.runs("api"), 1);
    db.set_ready(false);
    at(&log, 5 * SEC).await;
    assert_eq!(service(&status, "api").state, State::Ready);
    assert_eq!(log.runs("api"), 2);
    assert_eq!(db.waits(), 1);
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_also_runs_here_is_waited_for_locally() {
    let log = Log::new();
    let db = FakePeer::new();
    let runner = Runner::new()
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .service(simple(&log, "api", &[Run::Serve], &["db"]));
    let runner = db.on(runner, "db");
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, SEC).await;
    assert!(status.is_ready());
    assert_eq!(db.waits(), 0);
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn several_peers_are_waited_for_in_declared_order_each_once() {
    let log = Log::new();
    let (db, queue) = (FakePeer::new(), FakePeer::new());
    let runner = Runner::new().service(simple(&log, "api", &[Run::Serve], &["queue", "db"]));
    let runner = queue.on(db.on(runner, "db"), "queue");
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    at(&log, SEC).await;
    assert_eq!(
        service(&status, "api").reason.as_deref(),
        Some("waiting for peer queue")
    );
    queue.set_ready(true);
    at(&log, 2 * SEC).await;
    assert_eq!(
        service(&status, "api").reason.as_deref(),
        Some("waiting for peer db")
    );
    db.set_ready(true);
    at(&log, 3 * SEC).await;
    assert_eq!(service(&status, "api").state, State::Ready);
    assert_eq!((db.waits(), queue.waits()), (1, 1));
    shutdown.request();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}
