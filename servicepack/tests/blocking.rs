//! Services that block their thread, on a real multi-thread runtime (SPEC §4 points 7 and
//! 8): a `stop` that returns after its deadline is late, whatever the timer saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use servicepack::prelude::*;
use servicepack::testing::TestRun;
use servicepack::{Policy, RunError, Runner, ServiceDef, State};

/// A service whose `stop` blocks its thread for `block`.
struct SlowFlush {
    block: Duration,
}

impl Service for SlowFlush {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        std::thread::sleep(self.block);
        Ok(())
    }
}

/// A service that keeps the default `stop` and whose `run`, once cancelled, blocks its
/// thread for `block` before it returns: its stop ends in the poll that began it.
struct SlowDrain {
    block: Duration,
}

impl Service for SlowDrain {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        std::thread::sleep(self.block);
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `runner` until its app is ready and `pause` more, then asks it to shut down: the
/// report, and the status for what it says afterwards.
async fn ready_then_stopped(
    runner: Runner,
    pause: Duration,
) -> (servicepack::Report, servicepack::StatusHandle) {
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let changed = status.changed();
            if status.is_ready() {
                break;
            }
            changed.await;
        }
    })
    .await
    .expect("ready within 30 s");
    tokio::time::sleep(pause).await;
    shutdown.request();
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run returned within 30 s")
        .unwrap();
    (report, status)
}

/// Runs `service` alone (named `name`, with a `stop_timeout` of `stop_within` ms, or the
/// default) until the app is ready, then stops it, with a budget that has room (20 s):
/// only the clock, read when the stop ends, can say late. The report.
fn stopped_alone(
    name: &'static str,
    service: impl Service,
    stop_within: Option<u64>,
) -> servicepack::Report {
    let mut def = ServiceDef::new(name, service);
    if let Some(millis) = stop_within {
        def = def.policy(Policy::new().stop_timeout(Duration::from_millis(millis)));
    }
    let runner = Runner::new()
        .service(def)
        .shutdown_timeout(Duration::from_secs(20));
    runtime()
        .block_on(ready_then_stopped(runner, Duration::ZERO))
        .0
}

/// `report` says that `service` stopped late, and nothing else.
fn assert_late(report: &servicepack::Report, service: &str) {
    assert_eq!(report.exit_code(), 1, "{report:?}");
    assert!(
        matches!(report.errors(), [RunError::StopTimedOut { service: late, .. }] if late == service),
        "{report:?}"
    );
}

/// `report` is clean, and the states `run` recorded are `states`, in order.
fn assert_clean(report: &servicepack::Report, run: &TestRun, states: &[State]) {
    assert_eq!(report.exit_code(), 0, "{report:?}");
    let recorded: Vec<State> = run.events().iter().map(|event| event.state).collect();
    assert_eq!(recorded, states, "{:?}", run.events());
}

fn millis(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[test]
fn a_blocking_stop_past_its_deadline_is_late() {
    let report = stopped_alone("flush", SlowFlush { block: millis(600) }, Some(100));
    assert_late(&report, "flush");
}

#[test]
fn a_blocking_stop_within_its_deadline_is_clean() {
    let report = stopped_alone("flush", SlowFlush { block: millis(50) }, None);
    assert_eq!(report.exit_code(), 0, "{report:?}");
}

/// A service that keeps the default `stop` has nothing called at its stop, but its `run`
/// still has to return by the deadline: one that blocks its thread past `stop_timeout`
/// in the poll that ends it is late, whatever the timer saw.
#[test]
fn a_run_blocking_past_its_stop_deadline_in_the_last_poll_is_late() {
    let report = stopped_alone("drain", SlowDrain { block: millis(600) }, Some(100));
    assert_late(&report, "drain");
}

#[test]
fn a_run_blocking_within_its_stop_deadline_in_the_last_poll_is_clean() {
    let report = stopped_alone("drain", SlowDrain { block: millis(50) }, Some(5_000));
    assert_eq!(report.exit_code(), 0, "{report:?}");
}

/// A `run` that blocks its thread on a channel until `stop` sends on it: the way a
/// blocking read waits until `stop` closes the socket. Once woken it says it is ready
/// (which changes nothing for a service without `notify_ready`) and returns.
struct BlockingRead {
    wake: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    wait: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    /// Set when `run` begins its blocking wait.
    entered: Arc<AtomicBool>,
}

impl BlockingRead {
    fn new() -> Self {
        let (wake, wait) = std::sync::mpsc::channel();
        Self {
            wake: std::sync::Mutex::new(Some(wake)),
            wait: std::sync::Mutex::new(Some(wait)),
            entered: Arc::default(),
        }
    }
}

impl Service for BlockingRead {
    async fn run(&self, ctx: Context) -> Result<()> {
        let wait = self.wait.lock().unwrap().take().expect("one run");
        self.entered.store(true, Ordering::SeqCst);
        // Blocks this worker thread; only `stop` can end it (or 60 s pass).
        match wait.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => {
                ctx.ready();
                Ok(())
            }
            Err(_) => Err("stop was never called".into()),
        }
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        if let Some(wake) = self.wake.lock().unwrap().take() {
            let _ = wake.send(());
        }
        Ok(())
    }
}

#[test]
fn stop_is_called_while_run_blocks_its_thread() {
    runtime().block_on(async {
        let runner = Runner::new()
            .service(ServiceDef::new("reader", BlockingRead::new()))
            .shutdown_timeout(Duration::from_secs(20));
        // The pause lets `run` reach its blocking wait.
        let (report, status) = ready_then_stopped(runner, millis(50)).await;
        assert_eq!(report.exit_code(), 0, "{report:?}");
        assert_eq!(status.snapshot().services[0].state, State::Stopped);
    });
}

/// A `notify_ready` service whose very first poll of `run` blocks its thread until `stop`
/// is called: the task that calls `stop` records `stopping` while the supervisor, still
/// inside that poll, has not recorded `starting` (it does after the first poll, with
/// `ready` if `run` said so). The states still go `starting`, `stopping`, `stopped`:
/// never from `pending` to `stopping`, nor back to `starting` or `ready`.
#[test]
fn a_rescue_in_the_first_poll_of_a_notify_ready_run_keeps_the_states_in_order() {
    runtime().block_on(async {
        let reader = BlockingRead::new();
        let entered = reader.entered.clone();
        let def = ServiceDef::new("reader", reader).policy(Policy::new().notify_ready(true));
        let run = TestRun::with_runner(
            Runner::new()
                .service(def)
                .shutdown_timeout(Duration::from_secs(20)),
        );
        tokio::time::timeout(Duration::from_secs(30), async {
            while !entered.load(Ordering::SeqCst) {
                tokio::time::sleep(millis(1)).await;
            }
        })
        .await
        .expect("`run` entered within 30 s");
        let report = tokio::time::timeout(Duration::from_secs(30), run.shutdown())
            .await
            .expect("run returned within 30 s");
        assert_clean(
            report,
            &run,
            &[State::Starting, State::Stopping, State::Stopped],
        );
        assert_eq!(run.status().services[0].attempt, 1);
    });
}

/// A service whose `stop` blocks its thread until the test releases it.
struct HeldStop {
    /// Set when `stop` begins to block.
    entered: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
}

impl Service for HeldStop {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        self.entered.store(true, Ordering::SeqCst);
        // Blocks this worker thread (at most 30 s) inside the first poll of `stop`.
        for _ in 0..30_000 {
            if self.release.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(millis(1));
        }
        Ok(())
    }
}

/// While the first poll of a `stop` blocks its thread, the status says `stopping` (its
/// record waits for the poll to end, and readers, such as the watchdog naming what is
/// still stopping when the budget runs out, look meanwhile), with the time the stop
/// began; and the states recorded still go `ready`, `stopping`, `stopped`.
#[test]
fn a_stop_blocking_its_thread_in_its_first_poll_is_stopping_meanwhile() {
    runtime().block_on(async {
        let (entered, release) = (Arc::new(AtomicBool::new(false)), Arc::default());
        let service = HeldStop {
            entered: entered.clone(),
            release: Arc::clone(&release),
        };
        let run = TestRun::with_runner(
            Runner::new()
                .service(ServiceDef::new("flush", service))
                .shutdown_timeout(Duration::from_secs(20)),
        );
        tokio::time::timeout(Duration::from_secs(30), run.wait_for("flush", State::Ready))
            .await
            .expect("ready within 30 s");
        // The time of `ready` is well before the stop's (the board keeps milliseconds,
        // and its clock may lag a wall reading by up to 2 ms).
        tokio::time::sleep(millis(50)).await;
        let before = servicepack::Timestamp::now();
        let meanwhile = async {
            tokio::time::timeout(Duration::from_secs(30), async {
                while !entered.load(Ordering::SeqCst) {
                    tokio::time::sleep(millis(1)).await;
                }
            })
            .await
            .expect("`stop` entered within 30 s");
            let flush = run.status().services[0].clone();
            release.store(true, Ordering::SeqCst);
            flush
        };
        let (report, flush) = tokio::join!(
            tokio::time::timeout(Duration::from_secs(30), run.shutdown()),
            meanwhile
        );
        assert_eq!(flush.state, State::Stopping, "{flush:?}");
        assert!(!flush.ready, "{flush:?}");
        assert!(
            flush.since.unix_seconds() >= before.unix_seconds() - 0.01,
            "{flush:?}"
        );
        let report = report.expect("run returned within 30 s");
        assert_clean(
            report,
            &run,
            &[State::Ready, State::Stopping, State::Stopped],
        );
        assert_eq!(run.status().services[0].state, State::Stopped);
    });
}
