//! Dispatch into running services, on paused time: the instance, the caps, the timeout,
//! panics, and shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;

use super::{Answer, Call, Refused};
use crate::{Context, Control, Result, Runner, Service, ServiceDef};

const SEC: Duration = Duration::from_secs(1);

/// Serves until cancelled; counts its runs and the commands running in it.
#[derive(Default)]
struct Worker {
    runs: AtomicU32,
    stopped_at: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Service for Worker {
    async fn run(&self, ctx: Context) -> Result<()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        *self.stopped_at.lock().unwrap() = Some(tokio::time::Instant::now());
        Ok(())
    }
}

/// Sets its flag when dropped.
struct Flag(Arc<AtomicBool>);

impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn worker(instance: &crate::runtime::erased::Instance) -> &Worker {
    instance.downcast_ref::<Worker>().unwrap()
}

/// A command that sleeps `for_` (cut short by its context), counting how many run at
/// once in `running` and the most ever seen in `peak`.
fn sleeper(for_: Duration, running: &Arc<AtomicUsize>, peak: &Arc<AtomicUsize>) -> Call {
    let (running, peak) = (Arc::clone(running), Arc::clone(peak));
    Box::new(move |_, ctx| {
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::select! {
                () = tokio::time::sleep(for_) => {}
                () = ctx.cancelled() => {}
            }
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    })
}

/// A runner of `names` workers, its control, and the run in a task.
fn start(
    names: &[&'static str],
    max: usize,
    timeout: Duration,
) -> (Control, tokio::task::JoinHandle<crate::Report>) {
    let runner = Runner::new()
        .services(
            names
                .iter()
                .map(|&name| ServiceDef::new(name, Worker::default())),
        )
        .command_limits(max, timeout);
    let control = runner.control();
    (control, tokio::spawn(runner.run()))
}

#[tokio::test(start_paused = true)]
async fn a_command_runs_on_the_running_instance() {
    let (control, run) = start(&["worker"], 4, 30 * SEC);
    tokio::time::sleep(SEC).await;
    let seen = Arc::new(AtomicU32::new(0));
    let call: Call = Box::new({
        let seen = Arc::clone(&seen);
        move |instance, ctx| {
            Box::pin(async move {
                assert_eq!(ctx.name(), "worker");
                seen.store(
                    worker(&instance).runs.load(Ordering::SeqCst),
                    Ordering::SeqCst,
                );
                Ok(())
            })
        }
    });
    assert_eq!(control.dispatch("worker", call).await, Ok(Answer::Ok));
    // The instance `run` was called on, once: not a fresh one.
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let failing: Call = Box::new(|_, _| Box::pin(async { Err("no cache to flush".into()) }));
    assert_eq!(
        control.dispatch("worker", failing).await,
        Ok(Answer::Failed("no cache to flush".to_owned()))
    );
    let counts = control.inner.dispatch.counts();
    assert_eq!(
        counts,
        [
            ("worker".to_owned(), "error", 1),
            ("worker".to_owned(), "ok", 1)
        ]
    );
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_command_is_an_error_answer() {
    let (control, run) = start(&["worker"], 4, 30 * SEC);
    tokio::time::sleep(SEC).await;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let call: Call = Box::new(|_, _| Box::pin(async { panic!("cache corrupted") }));
    let answer = control.dispatch("worker", call).await;
    std::panic::set_hook(previous);
    let Ok(Answer::Failed(message)) = answer else {
        panic!("expected an error answer, got {answer:?}");
    };
    assert!(message.contains("cache corrupted"), "{message}");
    // The service is unaffected, and the per-service slot is free again.
    let ok: Call = Box::new(|_, _| Box::pin(async { Ok(()) }));
    assert_eq!(control.dispatch("worker", ok).await, Ok(Answer::Ok));
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_cancels_the_command() {
    let (control, run) = start(&["worker"], 4, 5 * SEC);
    tokio::time::sleep(SEC).await;
    let dropped = Arc::new(AtomicBool::new(false));
    let call: Call = Box::new({
        let flag = Flag(Arc::clone(&dropped));
        move |_, _ctx| {
            Box::pin(async move {
                let _flag = flag;
                // Ignores its context: only dropping it ends it.
                std::future::pending::<()>().await;
                Ok(())
            })
        }
    });
    let began = tokio::time::Instant::now();
    assert_eq!(
        control.dispatch("worker", call).await,
        Ok(Answer::TimedOut(5 * SEC))
    );
    assert_eq!(began.elapsed(), 5 * SEC);
    tokio::task::yield_now().await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the command was not dropped"
    );
    assert_eq!(control.inner.dispatch.in_flight(), 0);
    // One that honours its context sees it cancelled.
    let cancelled = Arc::new(AtomicBool::new(false));
    let call: Call = Box::new({
        let cancelled = Arc::clone(&cancelled);
        move |_, ctx| {
            Box::pin(async move {
                let deadline = ctx.deadline();
                assert!(deadline.is_some());
                ctx.cancelled().await;
                cancelled.store(true, Ordering::SeqCst);
                Ok(())
            })
        }
    });
    assert_eq!(
        control.dispatch("worker", call).await,
        Ok(Answer::TimedOut(5 * SEC))
    );
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_running_commands_and_refuses_new_ones() {
    let runner = Runner::new()
        .service(ServiceDef::new("worker", Worker::default()))
        .shutdown_timeout(10 * SEC);
    let control = runner.control();
    let run = tokio::spawn(runner.run());
    tokio::time::sleep(SEC).await;
    let finished = Arc::new(std::sync::Mutex::new(None));
    let stopped = Arc::new(std::sync::Mutex::new(None));
    let call: Call = Box::new({
        let (finished, stopped) = (Arc::clone(&finished), Arc::clone(&stopped));
        move |instance, _ctx| {
            Box::pin(async move {
                tokio::time::sleep(3 * SEC).await;
                *finished.lock().unwrap() = Some(tokio::time::Instant::now());
                // The service has not been stopped under the command.
                *stopped.lock().unwrap() =
                    Some(worker(&instance).stopped_at.lock().unwrap().is_some());
                Ok(())
            })
        }
    });
    let dispatching = tokio::spawn({
        let control = control.clone();
        async move { control.dispatch("worker", call).await }
    });
    tokio::time::sleep(SEC).await;
    control.shutdown();
    tokio::task::yield_now().await;
    let late: Call = Box::new(|_, _| Box::pin(async { Ok(()) }));
    assert_eq!(
        control.dispatch("worker", late).await,
        Err(Refused::ShuttingDown)
    );
    let report = run.await.unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    assert_eq!(dispatching.await.unwrap(), Ok(Answer::Ok));
    assert!(finished.lock().unwrap().is_some());
    assert_eq!(*stopped.lock().unwrap(), Some(false));
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_waiting_for_commands_when_the_budget_is_spent() {
    let runner = Runner::new()
        .service(ServiceDef::new("worker", Worker::default()))
        .shutdown_timeout(10 * SEC)
        .command_limits(4, 600 * SEC);
    let control = runner.control();
    let run = tokio::spawn(runner.run());
    tokio::time::sleep(SEC).await;
    let (running, peak) = (Arc::default(), Arc::default());
    let dispatching = tokio::spawn({
        let control = control.clone();
        let call = sleeper(500 * SEC, &running, &peak);
        async move { control.dispatch("worker", call).await }
    });
    tokio::time::sleep(SEC).await;
    let asked = tokio::time::Instant::now();
    control.shutdown();
    let _report = run.await.unwrap();
    // Within the budget, not the command's 500 s: its context was cancelled.
    assert!(asked.elapsed() <= 11 * SEC, "{:?}", asked.elapsed());
    assert_eq!(dispatching.await.unwrap(), Ok(Answer::Ok));
    assert_eq!(running.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn one_command_per_service_and_unknown_services_are_refused() {
    let (control, run) = start(&["a", "b"], 4, 30 * SEC);
    tokio::time::sleep(SEC).await;
    let (running, peak) = (Arc::default(), Arc::default());
    let first = tokio::spawn({
        let control = control.clone();
        let call = sleeper(5 * SEC, &running, &peak);
        async move { control.dispatch("a", call).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(
        control.dispatch("a", sleeper(SEC, &running, &peak)).await,
        Err(Refused::Busy)
    );
    assert_eq!(
        control.dispatch("b", sleeper(SEC, &running, &peak)).await,
        Ok(Answer::Ok)
    );
    assert!(matches!(
        control
            .dispatch("nope", sleeper(SEC, &running, &peak))
            .await,
        Err(Refused::Control(crate::ControlError::UnknownService(_)))
    ));
    assert_eq!(first.await.unwrap(), Ok(Answer::Ok));
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

const NAMES: [&str; 6] = ["s0", "s1", "s2", "s3", "s4", "s5"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random bursts of commands (service, start time, duration) against random caps:
    /// never more than the cap at once, never two in one service, every refusal is
    /// `429`-worthy (`Busy`), and a call is refused only when the caps were really full.
    #[test]
    fn concurrent_dispatch_never_runs_more_than_the_caps(
        max in 1_usize..5,
        burst in proptest::collection::vec((0_usize..6, 0_u64..2_000, 1_u64..3_000), 1..40),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (control, run) = start(&NAMES, max, 30 * SEC);
            tokio::time::sleep(SEC).await;
            let total = Arc::new(AtomicUsize::new(0));
            let total_peak = Arc::new(AtomicUsize::new(0));
            let per: Vec<(Arc<AtomicUsize>, Arc<AtomicUsize>)> =
                NAMES.iter().map(|_| (Arc::default(), Arc::default())).collect();
            let mut calls = Vec::new();
            for (service, start_ms, length_ms) in burst {
                let control = control.clone();
                let (total, total_peak) = (Arc::clone(&total), Arc::clone(&total_peak));
                let (running, peak) = (Arc::clone(&per[service].0), Arc::clone(&per[service].1));
                calls.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(start_ms)).await;
                    let busy_before = (total.load(Ordering::SeqCst), running.load(Ordering::SeqCst));
                    let (total, running) = (total, running);
                    // Counted when the command is handed over (synchronously, once its
                    // place is taken) and uncounted as it returns (in the poll that frees
                    // its place), so the counters are the places taken at every await.
                    let call: Call = Box::new(move |_, _| {
                        let now = total.fetch_add(1, Ordering::SeqCst) + 1;
                        total_peak.fetch_max(now, Ordering::SeqCst);
                        let mine = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(mine, Ordering::SeqCst);
                        Box::pin(async move {
                            tokio::time::sleep(Duration::from_millis(length_ms)).await;
                            running.fetch_sub(1, Ordering::SeqCst);
                            total.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                    });
                    (control.dispatch(NAMES[service], call).await, busy_before)
                }));
            }
            for call in calls {
                let (answer, (total_before, mine_before)) = call.await.unwrap();
                match answer {
                    Ok(Answer::Ok) => {}
                    Err(Refused::Busy) => {
                        assert!(total_before >= max || mine_before >= 1,
                            "refused with {total_before} running (cap {max}) and {mine_before} in the service");
                    }
                    other => panic!("unexpected answer {other:?}"),
                }
            }
            assert!(total_peak.load(Ordering::SeqCst) <= max);
            for (_, peak) in &per {
                assert!(peak.load(Ordering::SeqCst) <= 1);
            }
            assert_eq!(control.inner.dispatch.in_flight(), 0);
            control.shutdown();
            assert_eq!(run.await.unwrap().exit_code(), 0);
        });
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_goes_away_changes_neither_the_timeout_nor_the_count() {
    let (control, run) = start(&["worker"], 4, 5 * SEC);
    tokio::time::sleep(SEC).await;
    let (running, peak): (Arc<AtomicUsize>, _) = (Arc::default(), Arc::default());
    let call = sleeper(600 * SEC, &running, &peak);
    // The caller gives up after a second (a client that disconnects).
    let gave_up = tokio::time::timeout(SEC, control.dispatch("worker", call)).await;
    assert!(gave_up.is_err());
    assert_eq!(control.inner.dispatch.in_flight(), 1, "the command runs on");
    tokio::time::sleep(5 * SEC).await;
    assert_eq!(
        control.inner.dispatch.in_flight(),
        0,
        "cancelled at its timeout"
    );
    assert_eq!(
        control.inner.dispatch.counts(),
        [("worker".to_owned(), "timeout", 1)]
    );
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}
