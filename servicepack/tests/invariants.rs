//! Property test: random dependency graphs with random behaviour and random shutdown
//! timing keep every invariant of SPEC §4.
//!
//! Each case builds up to 50 recording services (see `common`), runs them on a fresh
//! current-thread runtime with paused time, and checks the log against the plan:
//! - no service is constructed or run before each of its dependencies is ready, and one
//!   whose dependency never became ready never starts;
//! - nothing starts after shutdown began (the first request, or a fatal failure);
//! - `stop` is called exactly once for every service that ran (at most once when the run
//!   was cut short by the budget or a forced exit), never for one that did not;
//! - stops follow reverse edges: everything a service does happens before any of its
//!   dependencies is stopped;
//! - the exit code is what the recorded events imply: 130 for a forced exit, 1 for a
//!   fatal failure, a failed, panicking or late stop, or an exhausted budget; else 0;
//! - the lifecycle as data (SPEC §5, through `servicepack::testing`) agrees: every
//!   service's recorded states follow the allowed transitions, match what the log shows
//!   it did, and end as the `Report` says.
//!
//! On threads, services also block their thread or spin for a random time in `run` or
//! `stop`, and every invariant above still holds.

mod common;

use std::time::Duration;

use common::{Ev, Log, Rec, Run, Stop, broken, def, quiet_panics};
use proptest::prelude::*;
use servicepack::testing::{State, TestRun};
use servicepack::{Policy, Retries, RunError, Runner};

#[derive(Debug, Clone)]
enum Kind {
    Serve {
        after: u64,
    },
    FailThenServe {
        fails: usize,
        after: u64,
    },
    PanicThenServe {
        fails: usize,
        after: u64,
    },
    OneShot {
        after: u64,
    },
    NeverReady,
    IgnoreToken,
    BadConstructor,
    /// Blocks its thread for `ms` ticks, then serves (threads only).
    Block {
        ms: u64,
    },
    /// Spins for `ms` ticks, then serves (threads only).
    Busy {
        ms: u64,
    },
}

#[derive(Debug, Clone)]
struct Spec {
    deps: Vec<prop::sample::Index>,
    kind: Kind,
    notify: bool,
    retries: u32,
    allowed: bool,
    delay: u64,
    ready_timeout: u64,
    stop: Stop,
    stop_timeout: u64,
}

#[derive(Debug, Clone)]
struct Case {
    specs: Vec<Spec>,
    /// Rotation of the registration order, so it is not always topological.
    rotate: prop::sample::Index,
    first_request: u64,
    second_request: Option<u64>,
    budget: u64,
}

/// Multiples of 10 ms, so behaviour never ties with a request (those end in 5 ms).
fn tens(max: u64) -> impl Strategy<Value = u64> {
    (0..=max / 10).prop_map(|n| n * 10)
}

fn kind(blocking: bool) -> impl Strategy<Value = Kind> {
    let blocks = u32::from(blocking);
    prop_oneof![
        4 => tens(300).prop_map(|after| Kind::Serve { after }),
        3 => (1usize..4, tens(200)).prop_map(|(fails, after)| Kind::FailThenServe { fails, after }),
        1 => (1usize..3, tens(200)).prop_map(|(fails, after)| Kind::PanicThenServe { fails, after }),
        2 => tens(400).prop_map(|after| Kind::OneShot { after }),
        1 => Just(Kind::NeverReady),
        1 => Just(Kind::IgnoreToken),
        1 => Just(Kind::BadConstructor),
        blocks => tens(200).prop_map(|ms| Kind::Block { ms }),
        blocks => tens(200).prop_map(|ms| Kind::Busy { ms }),
    ]
}

fn stop(blocking: bool) -> impl Strategy<Value = Stop> {
    prop_oneof![
        8 => Just(Stop::Ok),
        2 => tens(300).prop_map(|ms| Stop::Sleep(Duration::from_millis(ms))),
        1 => Just(Stop::Fail),
        1 => Just(Stop::Panic),
        1 => Just(Stop::Hang),
        u32::from(blocking) => tens(300).prop_map(|ms| Stop::Block(Duration::from_millis(ms))),
    ]
}

fn spec(blocking: bool) -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        kind(blocking),
        any::<bool>(),
        0u32..3,
        prop::bool::weighted(0.3),
        tens(100),
        tens(400).prop_map(|ms| ms + 10),
        stop(blocking),
        tens(500).prop_map(|ms| ms + 10),
    )
        .prop_map(
            |(deps, kind, notify, retries, allowed, delay, ready_timeout, stop, stop_timeout)| {
                Spec {
                    deps,
                    kind,
                    notify,
                    retries,
                    allowed,
                    delay,
                    ready_timeout,
                    stop,
                    stop_timeout,
                }
            },
        )
}

fn case(blocking: bool) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(spec(blocking), 1..=50),
        any::<prop::sample::Index>(),
        tens(600).prop_map(|ms| ms + 5),
        // Second requests end in 8 ms: no tie with behaviour (0 ms) or with deadlines
        // counted from the first request (5 ms).
        prop::option::weighted(0.2, tens(1000).prop_map(|ms| ms + 3)),
        prop_oneof![3 => Just(60_000u64), 1 => tens(1000).prop_map(|ms| ms + 10)],
    )
        .prop_map(|(specs, rotate, first_request, second, budget)| Case {
            specs,
            rotate,
            first_request,
            second_request: second.map(|extra| first_request + extra),
            budget,
        })
}

fn name(i: usize) -> String {
    format!("s{i}")
}

/// Dependencies of node `i`: earlier nodes only (so the graph is a DAG), plus now and
/// then a name that is not in the set.
fn deps_of(case: &Case, i: usize) -> Vec<String> {
    let mut deps: Vec<String> = Vec::new();
    for (k, index) in case.specs[i].deps.iter().enumerate() {
        if i == 0 || k == 2 {
            deps.push("elsewhere".to_owned());
        } else {
            deps.push(name(index.index(i)));
        }
    }
    deps
}

fn script(spec: &Spec, tick: Duration) -> Vec<Run> {
    let ms = |n: u64| tick * u32::try_from(n).unwrap();
    let serve = |after| {
        if after == 0 {
            Run::Serve
        } else {
            Run::ServeAfter(ms(after))
        }
    };
    match spec.kind {
        Kind::Serve { after } => vec![serve(after)],
        Kind::FailThenServe { fails, after } => {
            let mut script = vec![Run::FailAfter(ms(after)); fails];
            script.push(serve(after));
            script
        }
        Kind::PanicThenServe { fails, after } => {
            let mut script = vec![Run::PanicAfter(ms(after)); fails];
            script.push(Run::Serve);
            script
        }
        Kind::OneShot { after } => vec![Run::ExitAfter(ms(after))],
        Kind::NeverReady => vec![Run::NeverReady],
        Kind::IgnoreToken => vec![Run::IgnoreToken],
        Kind::BadConstructor => vec![Run::Serve],
        Kind::Block { ms: n } => vec![Run::BlockThenServe(ms(n))],
        Kind::Busy { ms: n } => vec![Run::BusyThenServe(ms(n))],
    }
}

fn policy(spec: &Spec, tick: Duration) -> Policy {
    let ms = |n: u64| tick * u32::try_from(n).unwrap();
    Policy::new()
        .notify_ready(spec.notify)
        .retries(Retries::Limited(spec.retries))
        .allowed_failure(spec.allowed)
        .delay(ms(spec.delay))
        .ready_timeout(ms(spec.ready_timeout))
        .stop_timeout(ms(spec.stop_timeout))
}

struct Outcome {
    /// Every state change the status recorded, in order.
    history: Vec<(String, State)>,
    /// The state of every service when `run` returned.
    finals: Vec<(String, State)>,
    /// The services the report says failed for good (or could not be constructed).
    failed_for_good: Vec<String>,
    /// The services whose stop the report says failed or was late.
    stop_trouble: Vec<String>,
    exit_code: u8,
    errors: Vec<String>,
    budget_exhausted: bool,
    ended_at: Duration,
    recs: Vec<Rec>,
}

/// How a case runs: on paused time (one tick is 1 ms, every tie is deterministic), or on
/// a real multi-thread runtime (one tick is 100 µs) where tasks truly race.
#[derive(Clone, Copy, PartialEq)]
enum Clock {
    Paused,
    Threads,
}

impl Clock {
    fn tick(self) -> Duration {
        match self {
            Self::Paused => Duration::from_millis(1),
            Self::Threads => Duration::from_micros(100),
        }
    }

    fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Self::Paused => tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build(),
            Self::Threads => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build(),
        }
        .unwrap()
    }
}

fn run_case(case: &Case, clock: Clock) -> Outcome {
    let tick = clock.tick();
    let ms = move |n: u64| tick * u32::try_from(n).unwrap();
    let runtime = clock.runtime();
    runtime.block_on(async {
        let log = Log::new();
        let n = case.specs.len();
        let mut defs: Vec<_> = (0..n)
            .map(|i| {
                let spec = &case.specs[i];
                let deps = deps_of(case, i);
                let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                let scale = |d: Duration| d * u32::try_from(tick.as_micros()).unwrap() / 1000;
                let stop = match spec.stop {
                    Stop::Sleep(d) => Stop::Sleep(scale(d)),
                    Stop::Block(d) => Stop::Block(scale(d)),
                    stop => stop,
                };
                if matches!(spec.kind, Kind::BadConstructor) {
                    broken(&log, &name(i), policy(spec, tick), &deps)
                } else {
                    def(
                        &log,
                        &name(i),
                        &script(spec, tick),
                        stop,
                        policy(spec, tick),
                        &deps,
                    )
                }
            })
            .collect();
        defs.rotate_left(case.rotate.index(n));
        let runner = Runner::new()
            .services(defs)
            .shutdown_timeout(ms(case.budget));
        let handle = runner.shutdown_handle();
        let (first, second) = (case.first_request, case.second_request);
        tokio::spawn(async move {
            tokio::time::sleep(ms(first)).await;
            handle.request();
            if let Some(second) = second {
                tokio::time::sleep(ms(second - first)).await;
                handle.request();
            }
        });
        let run = TestRun::with_runner(runner);
        let report = tokio::time::timeout(Duration::from_secs(3600), run.report())
            .await
            .expect("run returned");
        let history = run
            .events()
            .into_iter()
            .map(|event| (event.service, event.state))
            .collect();
        let finals = run
            .status()
            .services
            .iter()
            .map(|service| (service.name.clone(), service.state))
            .collect();
        Outcome {
            history,
            finals,
            failed_for_good: report
                .errors()
                .iter()
                .filter_map(|e| match e {
                    RunError::Failed { service, .. } | RunError::Construct { service, .. } => {
                        Some(service.clone())
                    }
                    _ => None,
                })
                .collect(),
            stop_trouble: report
                .errors()
                .iter()
                .filter_map(|e| match e {
                    RunError::StopFailed { service, .. }
                    | RunError::StopTimedOut { service, .. } => Some(service.clone()),
                    _ => None,
                })
                .collect(),
            exit_code: report.exit_code(),
            errors: report.errors().iter().map(ToString::to_string).collect(),
            budget_exhausted: report
                .errors()
                .iter()
                .any(|e| matches!(e, RunError::ShutdownTimedOut { .. })),
            ended_at: log.start().elapsed(),
            recs: log.all(),
        }
    })
}

/// The log of one case, by service.
struct View<'a> {
    case: &'a Case,
    out: &'a Outcome,
    /// Per service: (index in the log, record).
    events: Vec<Vec<(usize, &'a Rec)>>,
    /// Per service: the log index at which its dependents may start.
    ready_at: Vec<Option<usize>>,
}

impl<'a> View<'a> {
    fn new(case: &'a Case, out: &'a Outcome) -> Self {
        let n = case.specs.len();
        let mut events = vec![Vec::new(); n];
        for (k, rec) in out.recs.iter().enumerate() {
            let i: usize = rec.service[1..].parse().unwrap();
            events[i].push((k, rec));
        }
        let ready_at = (0..n)
            .map(|i| {
                let notify = case.specs[i].notify;
                events[i]
                    .iter()
                    .find(|(_, r)| match r.ev {
                        Ev::Ready(_) | Ev::Returned { ok: true, .. } => notify,
                        Ev::Run(_) => !notify,
                        _ => false,
                    })
                    .map(|&(k, _)| k)
            })
            .collect();
        Self {
            case,
            out,
            events,
            ready_at,
        }
    }

    fn deps(&self, i: usize) -> Vec<usize> {
        deps_of(self.case, i)
            .iter()
            .filter_map(|d| d.strip_prefix('s').and_then(|k| k.parse().ok()))
            .collect()
    }

    fn find(&self, i: usize, pred: impl Fn(&Ev) -> bool) -> Option<usize> {
        self.events[i]
            .iter()
            .find(|(_, r)| pred(&r.ev))
            .map(|&(k, _)| k)
    }

    fn stops(&self, i: usize) -> Vec<usize> {
        self.events[i]
            .iter()
            .filter(|(_, r)| matches!(r.ev, Ev::Stop { .. }))
            .map(|&(k, _)| k)
            .collect()
    }

    fn cut_short(&self) -> bool {
        self.out.exit_code == 130 || self.out.budget_exhausted
    }
}

/// Dependencies were ready before anything happened to a service.
fn check_start_order(view: &View<'_>, i: usize) -> Result<(), TestCaseError> {
    let Some(&(start, _)) = view.events[i].first() else {
        return Ok(());
    };
    for d in view.deps(i) {
        match view.ready_at[d] {
            Some(ready) => prop_assert!(
                ready < start,
                "s{i} started at #{start} before its dependency s{d} was ready at #{ready}"
            ),
            None => prop_assert!(false, "s{i} started although s{d} never became ready"),
        }
    }
    Ok(())
}

/// Liveness, on paused time: when every dependency of a service was ready at `t`, before
/// shutdown began, the service was constructed at `t` (per edge, no waiting on others).
fn check_started_at_once(
    view: &View<'_>,
    i: usize,
    shutdown_at: Duration,
) -> Result<(), TestCaseError> {
    let mut ready_at = Duration::ZERO;
    for d in view.deps(i) {
        match view.ready_at[d] {
            Some(k) => ready_at = ready_at.max(view.out.recs[k].at),
            None => return Ok(()),
        }
    }
    if ready_at >= shutdown_at {
        return Ok(());
    }
    let constructed = view.find(i, |e| *e == Ev::Constructed);
    prop_assert!(
        constructed.is_some_and(|k| view.out.recs[k].at == ready_at),
        "s{i} should have started at {ready_at:?}, when its dependencies were ready"
    );
    Ok(())
}

/// Stop exactly once per service that ran, never for one that did not, and only after
/// every dependent finished.
fn check_stops(view: &View<'_>, i: usize) -> Result<(), TestCaseError> {
    let events = &view.events[i];
    let runs = events
        .iter()
        .filter(|(_, r)| matches!(r.ev, Ev::Run(_)))
        .count();
    let stops = view.stops(i);
    if runs == 0 {
        prop_assert!(stops.is_empty(), "s{i} never ran but was stopped");
    } else if view.cut_short() {
        prop_assert!(stops.len() <= 1, "s{i} stopped {} times", stops.len());
    } else {
        prop_assert_eq!(stops.len(), 1, "s{} ran {} times", i, runs);
    }
    if let Some(&stop) = stops.first() {
        prop_assert!(
            !events
                .iter()
                .any(|(k, r)| matches!(r.ev, Ev::Run(_)) && *k > stop),
            "s{i} ran after its stop"
        );
    }
    if let Some(&(last, _)) = events.last() {
        for d in view.deps(i) {
            if let Some(dep_stop) = view.find(d, |e| matches!(e, Ev::Stop { .. })) {
                prop_assert!(
                    last < dep_stop,
                    "s{d} was stopped at #{dep_stop} before its dependent s{i} finished (#{last})"
                );
            }
        }
    }
    Ok(())
}

/// What the events of service `i` imply for the exit code: trouble, and when a fatal
/// failure began shutdown.
fn trouble(view: &View<'_>, i: usize, trouble: &mut Vec<String>, fatal_at: &mut Option<Duration>) {
    let spec = &view.case.specs[i];
    let events = &view.events[i];
    let stops = view.stops(i);
    let max_runs = spec.retries + 1;
    let mut fatal = |at: Duration, what: String| {
        trouble.push(what);
        *fatal_at = Some(fatal_at.map_or(at, |t| t.min(at)));
    };
    for &(k, rec) in events {
        let failed_run = match rec.ev {
            Ev::Returned { attempt, ok: false } | Ev::Panicked(attempt) => Some(attempt),
            // A run dropped before any stop began: its ready timeout.
            Ev::Dropped(attempt) if stops.first().is_none_or(|&stop| k < stop) => Some(attempt),
            _ => None,
        };
        if failed_run.is_some_and(|attempt| attempt >= max_runs) && !spec.allowed {
            fatal(rec.at, format!("s{i} failed for good"));
        }
        let bad_constructor = matches!(spec.kind, Kind::BadConstructor);
        if rec.ev == Ev::Constructed && bad_constructor && !spec.allowed {
            fatal(rec.at, format!("s{i} constructor failed"));
        }
    }
    if let Some(&stop) = stops.first() {
        let returned = events.iter().any(|(_, r)| r.ev == Ev::StopReturned);
        match spec.stop {
            Stop::Fail => trouble.push(format!("s{i} stop failed")),
            Stop::Panic => trouble.push(format!("s{i} stop panicked")),
            _ if !returned => trouble.push(format!("s{i} stop did not return")),
            _ => {}
        }
        // The run, if it was going, must have ended in time too.
        if events
            .iter()
            .any(|(k, r)| matches!(r.ev, Ev::Dropped(_)) && *k > stop)
        {
            trouble.push(format!("s{i} run outlived its stop deadline"));
        }
    }
}

/// The transitions SPEC §5 allows, as the runtime records them.
fn allowed(from: State, to: State) -> bool {
    use State::{Exited, Failed, Pending, Ready, Retrying, Skipped, Starting, Stopped, Stopping};
    matches!(
        (from, to),
        (Pending, Starting | Ready | Skipped | Failed)
            | (Starting, Ready | Retrying | Failed | Exited | Stopping)
            | (Ready, Retrying | Failed | Exited | Stopping)
            | (Retrying, Starting | Ready | Stopping)
            | (Exited | Failed, Stopping)
            | (Stopping, Stopped)
    )
}

/// The recorded states of service `i` follow the allowed transitions and agree with its
/// log and with the report.
fn check_states(view: &View<'_>, i: usize) -> Result<(), TestCaseError> {
    let name = name(i);
    let states: Vec<State> = view
        .out
        .history
        .iter()
        .filter(|(service, _)| *service == name)
        .map(|&(_, state)| state)
        .collect();
    let mut previous = State::Pending;
    let mut attempts = 0;
    for &state in &states {
        prop_assert!(
            allowed(previous, state),
            "{} went from {} to {}: {:?}",
            name,
            previous,
            state,
            states
        );
        if state == State::Starting
            || (state == State::Ready && matches!(previous, State::Pending | State::Retrying))
        {
            attempts += 1;
        }
        previous = state;
    }
    let runs = view.events[i]
        .iter()
        .filter(|(_, r)| matches!(r.ev, Ev::Run(_)))
        .count();
    let stopped = !view.stops(i).is_empty();
    let has = |state: State| states.contains(&state);
    let report = &view.out;
    if report.failed_for_good.contains(&name) {
        prop_assert!(
            has(State::Failed) || has(State::Stopping),
            "{} failed: {:?}",
            name,
            states
        );
    }
    if report.stop_trouble.contains(&name) {
        prop_assert!(
            has(State::Stopping),
            "{} had stop trouble: {:?}",
            name,
            states
        );
    }
    if view.cut_short() {
        return Ok(());
    }
    prop_assert_eq!(
        attempts,
        runs,
        "{} attempts recorded vs run: {:?}",
        name,
        states
    );
    prop_assert_eq!(
        has(State::Stopping),
        stopped,
        "{} stop vs status: {:?}",
        name,
        states
    );
    let last = report
        .finals
        .iter()
        .find(|(service, _)| *service == name)
        .map(|&(_, state)| state);
    let expected = if runs > 0 {
        State::Stopped
    } else if matches!(view.case.specs[i].kind, Kind::BadConstructor) && has(State::Failed) {
        State::Failed
    } else {
        State::Skipped
    };
    prop_assert_eq!(last, Some(expected), "{} ended as: {:?}", name, states);
    prop_assert_eq!(states.last().copied(), Some(expected), "{} history", name);
    Ok(())
}

/// Whether errors of a run on threads are only late stops of services that block their
/// thread, which real time cannot predict exactly.
fn only_blocking_lateness(view: &View<'_>) -> bool {
    let blocking = |i: usize| {
        let spec = &view.case.specs[i];
        matches!(spec.stop, Stop::Block(_))
            || matches!(spec.kind, Kind::Block { .. } | Kind::Busy { .. })
    };
    (0..view.case.specs.len()).any(blocking)
        && view
            .out
            .errors
            .iter()
            .all(|error| error.contains("did not stop within") || error.contains("shutdown budget"))
}

/// Checks every invariant; `clock` says whether times are exact (paused) or only
/// ordered (threads), which rules out the checks that compare times.
fn check(case: &Case, out: &Outcome, clock: Clock) -> Result<(), TestCaseError> {
    let view = View::new(case, out);
    let mut problems = Vec::new();
    let mut fatal_at = None;
    for i in 0..case.specs.len() {
        check_start_order(&view, i)?;
        check_stops(&view, i)?;
        check_states(&view, i)?;
        trouble(&view, i, &mut problems, &mut fatal_at);
    }

    if clock == Clock::Threads {
        // Times are real, so only what the events themselves imply.
        let late_only = out.exit_code == 1 && problems.is_empty() && only_blocking_lateness(&view);
        if out.exit_code != 130 && !late_only {
            let expected = u8::from(!problems.is_empty() || out.budget_exhausted);
            prop_assert_eq!(
                out.exit_code,
                expected,
                "trouble {:?}; errors {:?}",
                problems,
                out.errors
            );
        }
        return Ok(());
    }

    // Nothing starts after shutdown began.
    let first_request = Duration::from_millis(case.first_request);
    let shutdown_at = fatal_at.map_or(first_request, |at: Duration| at.min(first_request));
    for rec in &out.recs {
        if matches!(rec.ev, Ev::Run(_) | Ev::Constructed) {
            prop_assert!(
                rec.at <= shutdown_at,
                "{} started at {:?}, after shutdown began at {:?}",
                rec.service,
                rec.at,
                shutdown_at
            );
        }
    }

    // And before it, a service starts the moment its last dependency is ready.
    for i in 0..case.specs.len() {
        check_started_at_once(&view, i, shutdown_at)?;
    }

    let second = case.second_request.map(Duration::from_millis);
    let expected = if out.exit_code == 130 {
        prop_assert_eq!(
            Some(out.ended_at),
            second,
            "forced exit returns at the second request"
        );
        130
    } else {
        if let Some(second) = second {
            prop_assert!(out.ended_at < second, "second request ignored");
        }
        u8::from(!problems.is_empty() || out.budget_exhausted)
    };
    prop_assert_eq!(
        out.exit_code,
        expected,
        "trouble {:?}; errors {:?}",
        problems,
        out.errors
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_graphs_keep_every_invariant(case in case(false)) {
        quiet_panics();
        let out = run_case(&case, Clock::Paused);
        check(&case, &out, Clock::Paused)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The same graphs on two worker threads and real time, where supervisors and the
    /// coordinator truly race, and with services that block their thread or spin in
    /// `run` or `stop`: ordering and stop invariants must hold all the same.
    #[test]
    fn random_graphs_keep_their_order_on_threads(case in case(true)) {
        quiet_panics();
        let out = run_case(&case, Clock::Threads);
        check(&case, &out, Clock::Threads)?;
    }
}
