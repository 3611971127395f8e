//! What the process is doing, for the threads that may end it at once (the signal thread,
//! the budget watchdog), and the watchdog itself.
//!
//! The shutdown budget (SPEC §4.8, §4.12) is enforced twice. The runner judges it on
//! tokio's clock and the post-stop hooks run under a tokio timeout: when the workers are
//! free, the exit comes from there, with the runner's report. The watchdog is a plain
//! thread that needs no worker: it learns that the shutdown began from the status handle
//! (the app is `stopping`), or from the signal thread (a request, plus the drain delay:
//! when every worker is blocked, the runner cannot even record that it began), sleeps
//! until the budget (plus [`GRACE`]) is spent and, if the process is still there, writes
//! the reason naming the services still stopping (or the post-stop hook still running)
//! and exits 1; when no service is stopping or running any more, the runner is about to
//! report, and gets one more [`GRACE`] first (still within the budget plus 250 ms). So a `run`, a `stop` or a hook that blocks every worker cannot hold the
//! process.
//!
//! Whoever ends the process holds the [`Ending`] lock while it does, and the main thread
//! marks the end under the same lock: two threads never race to `exit`, and a reason is
//! never written for an exit that is already under way.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::app::config::LogFormat;
use crate::app::exit::Exit;
use crate::{AppState, State, StatusHandle, format_duration};

/// How long after the budget the watchdog acts: the runner, when it can, reports first.
pub(crate) const GRACE: Duration = Duration::from_millis(100);

/// Where the process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The pre-run hooks.
    PreRun,
    /// The runner (starting, running, stopping).
    Running,
    /// Post-stop hook `number` of `count` (1-based).
    PostStop { number: usize, count: usize },
    /// A service or custom command.
    Command,
    /// The outcome is known; the main thread is returning it.
    Done,
}

/// The stage, behind the lock that whoever ends the process holds.
#[derive(Debug)]
pub(crate) struct Ending {
    stage: Mutex<Stage>,
    format: LogFormat,
    /// When the shutdown began (the drain ended): the start of the budget.
    began: OnceLock<Instant>,
    /// When the first signal asked for the shutdown.
    requested: OnceLock<Instant>,
    /// Wakes the watchdog when `requested` is set.
    wake: Notify,
}

impl Ending {
    pub(crate) fn new(stage: Stage, format: LogFormat) -> Arc<Self> {
        Arc::new(Self {
            stage: Mutex::new(stage),
            format,
            began: OnceLock::new(),
            requested: OnceLock::new(),
            wake: Notify::new(),
        })
    }

    pub(crate) fn stage(&self) -> Stage {
        *self.stage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves to `stage`; a no-op once the process is ending (`Done`).
    pub(crate) fn set(&self, stage: Stage) {
        let mut current = self.stage.lock().unwrap_or_else(PoisonError::into_inner);
        if *current != Stage::Done {
            *current = stage;
        }
    }

    /// The outcome is known: no other thread ends the process from here on.
    pub(crate) fn done(&self) {
        self.set(Stage::Done);
    }

    /// When the shutdown began; the first caller (the watchdog, which saw it happen, or
    /// the main thread once the runner returned) sets it.
    pub(crate) fn began(&self) -> Instant {
        *self.began.get_or_init(Instant::now)
    }

    /// A signal asked for the shutdown now: the budget starts after the drain at the
    /// latest, whether or not the runner gets to record it.
    pub(crate) fn requested(&self) {
        if self.requested.set(Instant::now()).is_ok() {
            self.wake.notify_one();
        }
    }

    /// Ends the process now with `exit` and the reason `reason` gives for the current
    /// stage, unless the main thread is already returning its outcome (or `reason` says
    /// `None`: nothing to do in this stage).
    pub(crate) fn end_now(&self, exit: Exit, reason: impl FnOnce(Stage) -> Option<String>) {
        let stage = self.stage.lock().unwrap_or_else(PoisonError::into_inner);
        if *stage == Stage::Done {
            return;
        }
        if let Some(reason) = reason(*stage) {
            // The lock is held until the process is gone.
            exit.now(self.format, &reason);
        }
    }
}

/// The services in `stopping` now, in start order; when none is (every worker blocked:
/// the runner could not begin a single stop), those that have not ended; or `none`.
pub(crate) fn still_stopping(status: &StatusHandle) -> String {
    let names = unfinished(status);
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The names [`still_stopping`] gives, as a list (empty: nothing is stopping or running).
fn unfinished(status: &StatusHandle) -> Vec<String> {
    let services = status.snapshot().services;
    let named = |keep: &dyn Fn(State) -> bool| -> Vec<String> {
        services
            .iter()
            .filter(|service| keep(service.state))
            .map(|service| service.name.clone())
            .collect()
    };
    let stopping = named(&|state| state == State::Stopping);
    if !stopping.is_empty() {
        return stopping;
    }
    named(&|state| matches!(state, State::Starting | State::Ready | State::Retrying))
}

/// Starts the watchdog thread for a run with this `budget`.
///
/// # Errors
///
/// The thread or its timer could not be started.
pub(crate) fn start(
    ending: Arc<Ending>,
    status: StatusHandle,
    drain: Duration,
    budget: Duration,
) -> std::io::Result<()> {
    // A clock of its own: the app's runtime may have no free worker to drive a timer.
    let clock = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("servicepack-watchdog".to_owned())
        .spawn(move || {
            clock.block_on(async {
                let far = || Instant::now() + Duration::from_secs(86_400 * 365);
                loop {
                    let changed = status.changed();
                    let woken = ending.wake.notified();
                    if matches!(status.app_state(), AppState::Stopping | AppState::Stopped)
                        || ending.began.get().is_some()
                    {
                        break;
                    }
                    // The drain after a request ends at the latest here.
                    let drained = ending
                        .requested
                        .get()
                        .map_or_else(far, |&at| at.checked_add(drain).unwrap_or_else(far));
                    if Instant::now() >= drained {
                        let _ = ending.began.set(drained);
                        break;
                    }
                    tokio::select! {
                        () = changed => {}
                        () = woken => {}
                        () = tokio::time::sleep_until(drained.into()) => {}
                    }
                }
                match ending.began().checked_add(budget.saturating_add(GRACE)) {
                    Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                    // A budget past the end of time: nothing to enforce.
                    None => std::future::pending().await,
                }
                // Nothing is stopping or running any more (a stop that timed out ended
                // right at the deadline, when a blocked worker came free): the runner is
                // about to report, naming what went wrong, where this would name nothing.
                // It gets one more grace.
                if ending.stage() == Stage::Running && unfinished(&status).is_empty() {
                    tokio::time::sleep(GRACE).await;
                }
            });
            ending.end_now(Exit::Failure, |stage| {
                let budget = format_duration(budget);
                match stage {
                    Stage::Running => Some(format!(
                        "shutdown budget of {budget} ran out; still stopping: {}",
                        still_stopping(&status)
                    )),
                    Stage::PostStop { number, count } => Some(format!(
                        "shutdown budget of {budget} ran out; post-stop hook {number} of {count} was still running and is abandoned"
                    )),
                    Stage::PreRun | Stage::Command | Stage::Done => None,
                }
            });
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::prelude::*;
    use crate::{Runner, ServiceDef};

    /// Runs until cancelled; its `stop` never returns.
    struct Hangs;

    impl Service for Hangs {
        async fn run(&self, ctx: Context) -> Result<()> {
            ctx.cancelled().await;
            Ok(())
        }

        async fn stop(&self, _ctx: Context) -> Result<()> {
            std::future::pending().await
        }
    }

    /// Runs until cancelled, stops at once.
    struct Quick;

    impl Service for Quick {
        async fn run(&self, ctx: Context) -> Result<()> {
            ctx.cancelled().await;
            Ok(())
        }
    }

    async fn until(status: &StatusHandle, done: impl Fn(&StatusHandle) -> bool) {
        while !done(status) {
            let changed = status.changed();
            if done(status) {
                break;
            }
            changed.await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn still_stopping_names_the_services_in_stopping() {
        let runner = Runner::new()
            .service(ServiceDef::new("hangs", Hangs))
            .service(ServiceDef::new("quick", Quick))
            .shutdown_timeout(Duration::from_secs(60));
        let (status, shutdown) = (runner.status(), runner.shutdown_handle());
        let run = tokio::spawn(runner.run());
        until(&status, StatusHandle::is_ready).await;
        // Nothing is stopping yet: the services that have not ended are named.
        assert_eq!(still_stopping(&status), "hangs, quick");
        shutdown.request();
        until(&status, |status| {
            status
                .snapshot()
                .service("quick")
                .is_some_and(|quick| quick.state == State::Stopped)
        })
        .await;
        assert_eq!(still_stopping(&status), "hangs");
        run.abort();
    }

    #[test]
    fn only_the_first_request_counts_and_done_is_final() {
        let ending = Ending::new(Stage::Running, LogFormat::Text);
        ending.requested();
        let first = *ending.requested.get().expect("set by the request");
        ending.requested();
        assert_eq!(ending.requested.get(), Some(&first));
        ending.done();
        ending.set(Stage::PostStop {
            number: 1,
            count: 1,
        });
        assert_eq!(ending.stage(), Stage::Done);
        // Once done, nothing ends the process from another thread.
        ending.end_now(Exit::Failure, |_| Some("unreachable".to_owned()));
    }
}
