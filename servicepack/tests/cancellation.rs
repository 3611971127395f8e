//! `ctx.cancelled()`, `ctx.is_cancelled()` and `ctx.token()` wherever a service uses them
//! (SPEC §3 `Context`): in `run` itself, in a task `run` spawned, under an executor nested
//! inside `run`, and through a token taken before or after shutdown. Inside `run` the
//! wait reads a flag its supervisor watches; everywhere else it needs the token, which is
//! made on first use: each case must resolve at shutdown, none may hang.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use servicepack::prelude::*;
use servicepack::{Runner, ServiceDef};
use tokio::sync::oneshot;

/// Waits for shutdown the way `how` says, then records what the context said.
struct Waiter {
    how: How,
    seen: Arc<Mutex<Vec<&'static str>>>,
}

#[derive(Clone, Copy)]
enum How {
    /// `ctx.cancelled()` in a task of its own, which `run` awaits.
    SpawnedTask,
    /// A token taken at once, awaited in `run`.
    EarlyToken,
    /// `ctx.cancelled()` under `block_in_place` and `Handle::block_on`: polled inside the
    /// supervisor's poll of `run`, but with another waker.
    NestedExecutor,
    /// `ctx.cancelled()` and `ctx.ready()` inside a `select!` in `run`, with a timer that
    /// never fires first.
    Select,
}

impl Service for Waiter {
    async fn run(&self, ctx: Context) -> Result<()> {
        assert!(!ctx.is_cancelled(), "not cancelled before shutdown");
        match self.how {
            How::SpawnedTask => {
                let (done, wait) = oneshot::channel();
                let in_task = ctx.clone();
                tokio::spawn(async move {
                    in_task.cancelled().await;
                    let _ = done.send(());
                });
                wait.await.expect("the task saw the cancellation");
            }
            How::EarlyToken => ctx.token().cancelled().await,
            How::NestedExecutor => tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(ctx.cancelled());
            }),
            How::Select => {
                tokio::select! {
                    () = ctx.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(3_600)) => {
                        return Err("the timer fired before shutdown".into());
                    }
                }
            }
        }
        let mut seen = self.seen.lock().unwrap();
        seen.push(if ctx.is_cancelled() {
            "is_cancelled"
        } else {
            "not cancelled"
        });
        // A token taken after shutdown began is cancelled already.
        seen.push(if ctx.token().is_cancelled() {
            "late token cancelled"
        } else {
            "late token live"
        });
        Ok(())
    }
}

/// Runs one `Waiter` on a two-worker runtime, requests shutdown once it is running, and
/// returns what it saw. Every wait is bounded, and a runtime left with a thread stuck in a
/// wait is shut down without waiting for it, so a regression fails instead of hanging.
fn shut_down(how: How) -> Vec<&'static str> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let waiter = Waiter {
        how,
        seen: seen.clone(),
    };
    let outcome = runtime.block_on(async move {
        let runner = Runner::new().service(ServiceDef::new("waiter", waiter));
        let (status, shutdown) = (runner.status(), runner.shutdown_handle());
        let run = tokio::spawn(runner.run());
        let running = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let changed = status.changed();
                if status.is_ready() {
                    break;
                }
                changed.await;
            }
        });
        running.await.map_err(|_| "not running within 30 s")?;
        // Let `run` reach its wait (the nested executor's especially).
        tokio::time::sleep(Duration::from_millis(50)).await;
        shutdown.request();
        let report = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .map_err(|_| "`run` did not return within 30 s of shutdown: the wait hung")?
            .map_err(|_| "`run` panicked")?;
        match report.exit_code() {
            0 => Ok(()),
            _ => Err("the run did not end cleanly"),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Err(problem) = outcome {
        panic!("{problem}");
    }
    seen.lock().unwrap().clone()
}

const CANCELLED: [&str; 2] = ["is_cancelled", "late token cancelled"];

#[test]
fn cancelled_in_a_task_run_spawned_resolves_at_shutdown() {
    assert_eq!(shut_down(How::SpawnedTask), CANCELLED);
}

#[test]
fn a_token_taken_before_shutdown_is_cancelled_by_it() {
    assert_eq!(shut_down(How::EarlyToken), CANCELLED);
}

#[test]
fn cancelled_under_an_executor_nested_in_run_resolves_at_shutdown() {
    assert_eq!(shut_down(How::NestedExecutor), CANCELLED);
}

#[test]
fn cancelled_in_a_select_in_run_resolves_at_shutdown() {
    assert_eq!(shut_down(How::Select), CANCELLED);
}
