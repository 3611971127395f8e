//! The property test of SPEC §4.8 and §4.11 at process level, on a real multi-thread
//! runtime: random plans of up to four services whose `run` and `stop` block their
//! thread, busy-loop or wait, a random budget, a random worker count and SIGTERM at a
//! random time; the exit code must follow from the plan and the exit must come within the
//! budget.
//!
//! Each case is one `blocking-app` process and takes about a second, so the default is
//! 64 cases (about a minute); `PROPTEST_CASES=256` runs the full set. The time to exit is
//! held to the budget plus 250 ms plus a slack for a loaded machine
//! (`BLOCKING_PLANS_SLACK_MS`, default 750 ms); the worst overrun is printed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::{Launch, Match, blocking_app};

const NAMES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
/// Outcomes closer to the budget than this are not judged (timer and scheduling noise).
const MARGIN: Duration = Duration::from_millis(200);
/// What SPEC and the issue ask: the exit within the budget plus this.
const TARGET: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
enum Run {
    Wait,
    Block(u64),
    Spin(u64),
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Return,
    Block(u64),
    Spin(u64),
    Sleep(u64),
}

#[derive(Debug, Clone)]
struct Plan {
    services: Vec<(Run, Stop)>,
    budget_ms: u64,
    signal_after_ms: u64,
    /// `None`: one worker more than there are services.
    workers: Option<usize>,
}

fn run_strategy() -> impl Strategy<Value = Run> {
    prop_oneof![
        2 => Just(Run::Wait),
        1 => (0_u64..1200).prop_map(Run::Block),
        1 => (0_u64..600).prop_map(Run::Spin),
    ]
}

fn stop_strategy() -> impl Strategy<Value = Stop> {
    prop_oneof![
        2 => Just(Stop::Return),
        2 => (0_u64..1500).prop_map(Stop::Block),
        1 => (0_u64..600).prop_map(Stop::Spin),
        1 => (0_u64..1500).prop_map(Stop::Sleep),
    ]
}

fn plan_strategy() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec((run_strategy(), stop_strategy()), 1..=4),
        200_u64..900,
        0_u64..300,
        prop_oneof![Just(None), Just(Some(1)), Just(Some(2))],
    )
        .prop_map(|(services, budget_ms, signal_after_ms, workers)| Plan {
            services,
            budget_ms,
            signal_after_ms,
            workers,
        })
}

fn run_steps(run: Run) -> String {
    match run {
        Run::Wait => "wait".to_owned(),
        Run::Block(ms) => format!("block:{ms},wait"),
        Run::Spin(ms) => format!("spin:{ms},wait"),
    }
}

fn stop_steps(stop: Stop) -> String {
    match stop {
        Stop::Return => String::new(),
        Stop::Block(ms) => format!("block:{ms}"),
        Stop::Spin(ms) => format!("spin:{ms}"),
        Stop::Sleep(ms) => format!("sleep:{ms}"),
    }
}

fn slack() -> Duration {
    let ms = std::env::var("BLOCKING_PLANS_SLACK_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(750);
    Duration::from_millis(ms)
}

/// The worst time past budget + [`TARGET`] seen, for the summary.
static WORST: Mutex<Duration> = Mutex::new(Duration::ZERO);

/// What each service needs after the signal sent at `sent`: its stop, and what is left
/// of a run that blocks its thread (its `stop` cannot make it return sooner).
fn needs(plan: &Plan, called: &[Option<Instant>], sent: Instant) -> Vec<Duration> {
    plan.services
        .iter()
        .zip(called)
        .map(|((run, stop), called)| {
            let since = sent.saturating_duration_since(called.expect("seen above"));
            let run_left = match run {
                Run::Wait => Duration::ZERO,
                Run::Block(ms) | Run::Spin(ms) => Duration::from_millis(*ms).saturating_sub(since),
            };
            let stop = match stop {
                Stop::Return => Duration::ZERO,
                Stop::Block(ms) | Stop::Spin(ms) | Stop::Sleep(ms) => Duration::from_millis(*ms),
            };
            run_left.max(stop)
        })
        .collect()
}

fn check(plan: &Plan) -> Result<(), TestCaseError> {
    let count = plan.services.len();
    let budget = Duration::from_millis(plan.budget_ms);
    let mut launch = Launch::new(blocking_app(), &["run"])
        .env("LOG_FORMAT", "json")
        .env("SERVICES_ENABLED", &NAMES[..count].join(","))
        .env("RUNNER_SHUTDOWNTIMEOUT", &format!("{}ms", plan.budget_ms))
        .env(
            "TOKIO_WORKER_THREADS",
            &plan.workers.unwrap_or(count + 1).to_string(),
        );
    for (name, (run, stop)) in NAMES.iter().zip(&plan.services) {
        let upper = name.to_uppercase();
        launch = launch
            .env(&format!("{upper}_RUN"), &run_steps(*run))
            .env(&format!("{upper}_STOP"), &stop_steps(*stop));
    }
    let mut app = launch.spawn();
    let mut called = vec![None; count];
    while called.iter().any(Option::is_none) {
        let line = app.wait_for(&Match::contains(" run called"));
        for (slot, name) in called.iter_mut().zip(NAMES) {
            if line.contains(&format!("\"{name} run called\"")) {
                *slot = Some(Instant::now());
            }
        }
    }
    std::thread::sleep(Duration::from_millis(plan.signal_after_ms));
    let sent = Instant::now();
    app.signal("TERM");
    let run = app.finish();
    let took = sent.elapsed();

    let needs = needs(plan, &called, sent);
    let code = run.status.code();
    prop_assert!(
        matches!(code, Some(0 | 1)),
        "exit {code:?} for {plan:?}\n{}",
        run.dump()
    );
    if needs.iter().any(|need| *need > budget + MARGIN) {
        prop_assert_eq!(
            code,
            Some(1),
            "a service needed more than the budget: {:?}, {:?}\n{}",
            needs,
            plan,
            run.dump()
        );
        // The exit reason is the line with `exit_code`; when the watchdog ends the process,
        // the main thread may still log a line (a post-stop hook not run) after it.
        let reason = run
            .stderr
            .iter()
            .rev()
            .find(|line| line.contains("exit_code"))
            .cloned()
            .unwrap_or_default();
        prop_assert!(
            NAMES[..count].iter().any(|name| reason.contains(name)),
            "the reason names no service: {}",
            reason
        );
    }
    // With a worker for every service, nothing but the plan decides. Busy loops compete
    // for the machine's cores with the runtime's own threads: a wider margin then.
    let spins = plan
        .services
        .iter()
        .any(|(run, stop)| matches!(run, Run::Spin(_)) || matches!(stop, Stop::Spin(_)));
    let margin = if spins { MARGIN * 2 } else { MARGIN };
    if plan.workers.is_none() && needs.iter().all(|need| *need + margin < budget) {
        prop_assert_eq!(
            code,
            Some(0),
            "every service fit in the budget: {:?}, {:?}\n{}",
            needs,
            plan,
            run.dump()
        );
    }
    let past = took.saturating_sub(budget + TARGET);
    {
        let mut worst = WORST
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *worst = (*worst).max(past);
    }
    prop_assert!(
        took <= budget + TARGET + slack(),
        "exit {took:?} after SIGTERM with a budget of {budget:?}: {plan:?}\n{}",
        run.dump()
    );
    prop_assert!(
        !run.stderr_text().contains("RUST_BACKTRACE"),
        "a panic trace\n{}",
        run.dump()
    );
    Ok(())
}

#[test]
fn blocking_plans_exit_per_spec_within_the_budget() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        // Every case is a process of about a second: shrink a little, not for minutes.
        max_shrink_iters: 16,
        failure_persistence: None,
        ..Config::default()
    });
    let started = Instant::now();
    let result = runner.run(&plan_strategy(), |plan| check(&plan));
    let worst = *WORST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    eprintln!(
        "{cases} blocking plans in {:?}; worst exit past budget + 250 ms: {worst:?}",
        started.elapsed()
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}
