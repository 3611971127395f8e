//! Restarting one service through `Control` (SPEC §8), on paused time.

mod common;

use std::time::Duration;

use common::{Ev, Log, Run, SEC, Stop, def, is_stop, simple};
use servicepack::{Control, ControlError, Policy, Runner, State, StatusHandle};

fn at(delay: Duration, action: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        action();
    });
}

fn restart_at(control: &Control, name: &'static str, delay: Duration) {
    let control = control.clone();
    at(delay, move || control.restart(name).unwrap());
}

fn state(status: &StatusHandle, name: &str) -> (State, u32, u32) {
    let snapshot = status.snapshot();
    let service = snapshot.service(name).unwrap();
    (service.state, service.attempt, service.restarts)
}

#[tokio::test(start_paused = true)]
async fn restart_keeps_dependents_running_and_calls_stop_once() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .service(simple(&log, "api", &[Run::Serve], &["db"]));
    let (control, status) = (runner.control(), runner.status());
    restart_at(&control, "db", 2 * SEC);
    let shutdown = control.clone();
    at(5 * SEC, move || shutdown.shutdown());
    let probe = tokio::spawn({
        let status = status.clone();
        async move {
            tokio::time::sleep(3 * SEC).await;
            state(&status, "db")
        }
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(probe.await.unwrap(), (State::Ready, 2, 1));
    // The restart called `stop` once, for the first attempt, with a live context and a
    // deadline; shutdown called it once more, for the second.
    assert_eq!(log.runs("db"), 2);
    assert_eq!(log.stops("db"), 2);
    let db = log.of("db");
    let first_stop = db.iter().position(is_stop).unwrap();
    assert!(
        matches!(
            db[first_stop],
            Ev::Stop {
                live: true,
                deadline: Some(_)
            }
        ),
        "{db:?}"
    );
    assert!(db[first_stop..].contains(&Ev::Run(2)), "{db:?}");
    assert_eq!(log.when("db", is_stop), Some(2 * SEC));
    // The dependent ran once, untouched, and stopped once, before its dependency's last stop.
    assert_eq!(log.runs("api"), 1);
    assert_eq!(log.stops("api"), 1);
    assert_eq!(log.when("api", is_stop), Some(5 * SEC));
}

#[tokio::test(start_paused = true)]
async fn a_restart_calls_stop_at_once_for_a_run_that_ignores_its_token() {
    let log = Log::new();
    let runner = Runner::new().service(def(
        &log,
        "stubborn",
        &[Run::IgnoreToken, Run::Serve],
        Stop::Ok,
        Policy::new(),
        &[],
    ));
    let control = runner.control();
    restart_at(&control, "stubborn", 2 * SEC);
    let shutdown = control.clone();
    at(5 * SEC, move || shutdown.shutdown());
    assert_eq!(runner.run().await.exit_code(), 0);
    // `stop` unblocked the first attempt, and the second began, at the restart.
    assert_eq!(log.when("stubborn", is_stop), Some(2 * SEC));
    assert_eq!(
        log.when("stubborn", |ev| *ev
            == Ev::Returned {
                attempt: 1,
                ok: true
            }),
        Some(2 * SEC)
    );
    assert_eq!(log.when("stubborn", |ev| *ev == Ev::Run(2)), Some(2 * SEC));
    assert_eq!(log.stops("stubborn"), 2);
}

#[tokio::test(start_paused = true)]
async fn status_shows_stopping_then_ready_during_a_restart() {
    let log = Log::new();
    let runner = Runner::new().service(def(
        &log,
        "db",
        &[Run::Serve],
        Stop::Sleep(SEC),
        Policy::new(),
        &[],
    ));
    let (control, status) = (runner.control(), runner.status());
    restart_at(&control, "db", 2 * SEC);
    let shutdown = control.clone();
    at(10 * SEC, move || shutdown.shutdown());
    let seen = tokio::spawn({
        let status = status.clone();
        async move {
            tokio::time::sleep(2 * SEC + Duration::from_millis(500)).await;
            let during = state(&status, "db");
            tokio::time::sleep(SEC).await;
            (during, state(&status, "db"))
        }
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    let (during, after) = seen.await.unwrap();
    assert_eq!(during, (State::Stopping, 1, 0));
    assert_eq!(after, (State::Ready, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn restart_of_an_exited_or_failed_service_runs_it_again() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "api", &[Run::Serve], &[]))
        .service(simple(&log, "job", &[Run::ExitAfter(SEC)], &[]))
        .service(def(
            &log,
            "optional",
            &[Run::FailAfter(SEC), Run::Serve],
            Stop::Ok,
            Policy::new().allowed_failure(true),
            &[],
        ));
    let (control, status) = (runner.control(), runner.status());
    restart_at(&control, "job", 3 * SEC);
    restart_at(&control, "optional", 3 * SEC);
    let shutdown = control.clone();
    at(10 * SEC, move || shutdown.shutdown());
    let seen = tokio::spawn({
        let status = status.clone();
        async move {
            tokio::time::sleep(2 * SEC).await;
            let counts = |status: &StatusHandle| {
                status
                    .snapshot()
                    .service("optional")
                    .unwrap()
                    .counts_for_readiness
            };
            let before = (state(&status, "job"), state(&status, "optional"));
            let counted_before = counts(&status);
            tokio::time::sleep(3 * SEC).await;
            // Running again, the allowed failure counts towards readiness again.
            assert!(!counted_before && counts(&status) && status.is_ready());
            (before, state(&status, "job"), state(&status, "optional"))
        }
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    let (before, job, optional) = seen.await.unwrap();
    assert_eq!(before, ((State::Exited, 1, 0), (State::Failed, 1, 0)));
    assert_eq!(job, (State::Exited, 2, 1));
    assert_eq!(optional, (State::Ready, 2, 1));
    assert_eq!(log.runs("job"), 2);
    assert_eq!(log.runs("optional"), 2);
    // Nothing was running at the restart: `stop` is called only at shutdown.
    assert_eq!(log.stops("job"), 1);
    assert_eq!(log.stops("optional"), 1);
}

#[tokio::test(start_paused = true)]
async fn restart_after_the_run_ended_is_refused() {
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "job", &[Run::ExitAfter(SEC)], &[]));
    let control = runner.control();
    // Nothing left running ends the run at 1 s: a restart after that is refused.
    let late = control.clone();
    let refused = tokio::spawn(async move {
        tokio::time::sleep(2 * SEC).await;
        late.restart("job")
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    assert!(refused.await.unwrap().is_err());
    assert_eq!(log.runs("job"), 1);
}

#[tokio::test(start_paused = true)]
async fn restart_while_retrying_starts_the_fresh_attempt_at_once() {
    let log = Log::new();
    let policy = Policy::new()
        .retries(servicepack::Retries::Limited(3))
        .delay(60 * SEC);
    let runner = Runner::new().service(def(
        &log,
        "flaky",
        &[Run::FailAfter(SEC), Run::Serve],
        Stop::Ok,
        policy,
        &[],
    ));
    let control = runner.control();
    restart_at(&control, "flaky", 2 * SEC);
    let shutdown = control.clone();
    at(5 * SEC, move || shutdown.shutdown());
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(log.when("flaky", |ev| *ev == Ev::Run(2)), Some(2 * SEC));
    // Nothing was running while it waited to retry: one `stop`, at shutdown.
    assert_eq!(log.stops("flaky"), 1);
}

#[tokio::test(start_paused = true)]
async fn restart_is_refused_before_run_for_unknown_names_and_while_stopping() {
    let log = Log::new();
    let runner = Runner::new()
        .service(simple(&log, "db", &[Run::Serve], &[]))
        .service(def(
            &log,
            "slow",
            &[Run::Serve],
            Stop::Sleep(5 * SEC),
            Policy::new(),
            &[],
        ));
    let control = runner.control();
    assert_eq!(control.restart("db"), Err(ControlError::NotRunning));
    let asked = control.clone();
    let answers = tokio::spawn(async move {
        tokio::time::sleep(SEC).await;
        let unknown = asked.restart("nope");
        asked.shutdown();
        tokio::time::sleep(SEC).await;
        (unknown, asked.restart("slow"))
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    let (unknown, stopping) = answers.await.unwrap();
    assert_eq!(
        unknown,
        Err(ControlError::UnknownService("nope".to_owned()))
    );
    assert_eq!(stopping, Err(ControlError::Stopping));
    assert_eq!(log.runs("slow"), 1);
    assert_eq!(log.stops("slow"), 1);
}

#[tokio::test(start_paused = true)]
async fn drain_makes_the_app_not_ready_while_services_keep_running() {
    let log = Log::new();
    let runner = Runner::new().service(simple(&log, "api", &[Run::Serve], &[]));
    let (control, status) = (runner.control(), runner.status());
    let drained = tokio::spawn({
        let control = control.clone();
        async move {
            tokio::time::sleep(SEC).await;
            control.drain();
            tokio::time::sleep(SEC).await;
            let seen = (
                status.app_state(),
                status.is_ready(),
                state(&status, "api").0,
            );
            control.shutdown();
            // A second call does not force the exit.
            control.shutdown();
            seen
        }
    });
    assert_eq!(runner.run().await.exit_code(), 0);
    assert_eq!(
        drained.await.unwrap(),
        (servicepack::AppState::Draining, false, State::Ready)
    );
    assert_eq!(log.stops("api"), 1);
}

mod random {
    use super::*;
    use proptest::prelude::*;

    fn name(i: usize) -> String {
        format!("s{i}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random graphs of serving services, random restarts at random times, then a
        /// shutdown: every restart is one more attempt of that service and of no other,
        /// every attempt gets exactly one `stop`, and the final stops still follow the
        /// reverse edges.
        #[test]
        fn random_restarts_keep_every_attempt_stopped_once(
            n in 2_usize..8,
            edges in proptest::collection::vec((0_usize..8, 0_usize..8), 0..12),
            restarts in proptest::collection::btree_map(1_u64..5_000, 0_usize..8, 0..12),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            let log = Log::new();
            let mut deps: Vec<Vec<String>> = vec![Vec::new(); n];
            for (a, b) in edges {
                let (a, b) = (a % n, b % n);
                // Only to a lower index: no cycles.
                if b < a && !deps[a].contains(&name(b)) {
                    deps[a].push(name(b));
                }
            }
            let restarts: Vec<(u64, usize)> =
                restarts.into_iter().map(|(at, i)| (at, i % n)).collect();
            let code = runtime.block_on({
                let log = log.clone();
                let deps = deps.clone();
                let restarts = restarts.clone();
                async move {
                    let runner = Runner::new().services((0..n).map(|i| {
                        let deps: Vec<&str> = deps[i].iter().map(String::as_str).collect();
                        simple(&log, &name(i), &[Run::Serve], &deps)
                    }));
                    let control = runner.control();
                    for &(at_ms, i) in &restarts {
                        let control = control.clone();
                        at(Duration::from_millis(at_ms), move || {
                            control.restart(&name(i)).expect("a running service restarts");
                        });
                    }
                    let shutdown = control.clone();
                    at(6 * SEC, move || shutdown.shutdown());
                    runner.run().await.exit_code()
                }
            });
            prop_assert_eq!(code, 0);
            for i in 0..n {
                let asked = restarts.iter().filter(|(_, j)| *j == i).count();
                prop_assert_eq!(log.runs(&name(i)), 1 + asked, "runs of {}", name(i));
                prop_assert_eq!(log.stops(&name(i)), 1 + asked, "stops of {}", name(i));
                // Its last stop (at shutdown) comes after the last stop of each dependent.
                let all = log.all();
                let last_stop = |service: &str| {
                    all.iter().rposition(|rec| rec.service == service && is_stop(&rec.ev))
                };
                for (dependent, its) in deps.iter().enumerate() {
                    if its.contains(&name(i)) {
                        prop_assert!(
                            last_stop(&name(dependent)) < last_stop(&name(i)),
                            "{} stopped before its dependent {}", name(i), name(dependent)
                        );
                    }
                }
            }
        }
    }
}
