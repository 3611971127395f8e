//! `servicepack::testing` (SPEC §11): `#[service]` types run with their attribute
//! policies, the ordered state changes, and the report, on the paused clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use servicepack::prelude::*;
use servicepack::testing::{State, TestRun};
use servicepack::{RunError, ServiceDef};

#[service(notify_ready)]
#[derive(Default)]
struct ExampleDatabase;

impl Service for ExampleDatabase {
    async fn run(&self, ctx: Context) -> Result<()> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }
}

#[service(depends_on = [ExampleDatabase])]
#[derive(Default)]
struct ExampleApi;

impl Service for ExampleApi {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

/// Fails twice, then serves: `retries = 2` with a delay.
#[service(retries = 2, delay = "5s")]
#[derive(Default)]
struct Flaky {
    runs: AtomicU32,
}

impl Service for Flaky {
    async fn run(&self, ctx: Context) -> Result<()> {
        if self.runs.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err("not yet".into());
        }
        ctx.cancelled().await;
        Ok(())
    }
}

#[service(readiness = false, notify_ready)]
#[derive(Default)]
struct Warmer;

impl Service for Warmer {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

#[service]
#[derive(Default)]
struct Stubborn;

impl Service for Stubborn {
    async fn run(&self, _ctx: Context) -> Result<()> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn api_waits_for_the_database() {
    let run = TestRun::of::<(ExampleDatabase, ExampleApi)>();
    run.wait_for("example-api", State::Ready).await;
    assert!(run.happened_before(
        ("example-database", State::Ready),
        ("example-api", State::Ready)
    ));
    assert!(!run.happened_before(
        ("example-api", State::Ready),
        ("example-database", State::Ready)
    ));
    let events = run.events();
    assert_eq!(events[0].service, "example-database");
    assert_eq!(events[0].state, State::Starting);
    let ready = events
        .iter()
        .find(|event| event.service == "example-api")
        .unwrap();
    assert_eq!(ready.at, Duration::from_secs(2));
    assert!(run.status().ready);
    let report = run.shutdown().await;
    assert_eq!(report.exit_code(), 0);
    // The dependent stopped first.
    assert!(run.happened_before(
        ("example-api", State::Stopped),
        ("example-database", State::Stopping)
    ));
}

/// Ready in its first poll.
#[service(notify_ready)]
#[derive(Default)]
struct Cache;

impl Service for Cache {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }
}

/// A service ready in its first poll, and stopped in the first poll of its stop, has each
/// pair recorded in one edit of its status: still two changes each, in order, with the
/// instants they happened at.
#[tokio::test(start_paused = true)]
async fn changes_made_in_one_poll_are_each_in_the_events() {
    let run = TestRun::of::<(Cache,)>();
    run.wait_for("cache", State::Ready).await;
    let version = run.status_handle().version();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let report = run.shutdown().await;
    assert_eq!(report.exit_code(), 0);
    let events: Vec<(State, Duration)> = run
        .events()
        .into_iter()
        .filter(|event| event.service == "cache")
        .map(|event| (event.state, event.at))
        .collect();
    let five = Duration::from_secs(5);
    assert_eq!(
        events,
        [
            (State::Starting, Duration::ZERO),
            (State::Ready, Duration::ZERO),
            (State::Stopping, five),
            (State::Stopped, five),
        ]
    );
    // The app's `stopping` and `stopped`, and the service's two changes.
    assert_eq!(run.status_handle().version(), version + 4);
}

#[tokio::test(start_paused = true)]
async fn the_attribute_policy_applies() {
    let run = TestRun::of::<(Flaky, Warmer)>();
    run.wait_for("flaky", State::Retrying).await;
    assert!(!run.status().ready);
    run.wait_for("flaky", State::Ready).await;
    run.wait_for("flaky", State::Retrying).await;
    run.wait_for("flaky", State::Ready).await;
    let flaky = run.status().service("flaky").unwrap().clone();
    assert_eq!((flaky.attempt, flaky.restarts), (3, 2));
    assert!(run.status().ready, "warmer does not count");
    let states: Vec<State> = run
        .events()
        .iter()
        .filter(|event| event.service == "flaky")
        .map(|event| event.state)
        .collect();
    assert_eq!(
        states,
        [
            State::Ready,
            State::Retrying,
            State::Ready,
            State::Retrying,
            State::Ready
        ]
    );
    assert_eq!(run.shutdown().await.exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn signal_twice_forces_the_exit() {
    let run = TestRun::of::<Stubborn>();
    run.wait_for("stubborn", State::Ready).await;
    let report = run.signal_twice().await;
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.still_stopping(), ["stubborn"]);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_ends_by_itself_has_a_report() {
    struct Broken;
    impl Service for Broken {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Err("disk full".into())
        }
    }
    let run = TestRun::new([ServiceDef::new("broken", Broken)]);
    let report = run.report().await;
    assert_eq!(report.exit_code(), 1);
    assert!(matches!(report.errors()[0], RunError::Failed { .. }));
    assert!(run.happened_before(("broken", State::Failed), ("broken", State::Stopped)));
    // The same report again, after the run.
    assert_eq!(run.shutdown().await.exit_code(), 1);
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "never was exited")]
async fn wait_for_a_state_that_never_comes_fails_the_test() {
    let run = TestRun::of::<(ExampleDatabase,)>();
    run.wait_for("example-database", State::Ready).await;
    let _ = run.shutdown().await;
    run.wait_for("example-database", State::Exited).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "no service `nope`")]
async fn wait_for_an_unknown_service_fails_the_test() {
    let run = TestRun::of::<(ExampleDatabase,)>();
    run.wait_for("nope", State::Ready).await;
}

#[test]
fn service_def_of_carries_the_attribute() {
    let flaky = ServiceDef::of::<Flaky>();
    assert_eq!(flaky.name(), "flaky");
    assert_eq!(flaky.get_policy().max_runs(), Some(3));
    let api = ServiceDef::of::<ExampleApi>();
    assert_eq!(api.dependencies().collect::<Vec<_>>(), ["example-database"]);
    assert!(!ServiceDef::of::<Warmer>().get_policy().counts_for_readiness);
}
