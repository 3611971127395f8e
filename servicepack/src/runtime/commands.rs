//! Commands dispatched into running services (SPEC §8), with their limits: at most
//! `max` at once in the whole app and one at a time per service (beyond that the call is
//! refused, never queued), each under a timeout after which its context is cancelled and
//! its future dropped. A command runs on a task of its own inside the service's span, so
//! a panic is an error answer and a caller that goes away does not cut it short. The
//! tasks are tracked: at shutdown new commands are refused and the coordinator waits for
//! the running ones (`runner.rs`).
//!
//! The runtime knows nothing of clap: the caller hands over a function from the running
//! instance (as `Any`, which the caller's typed code downcasts) and a [`Context`] to the
//! command's future.
#![cfg_attr(
    not(feature = "ops"),
    allow(dead_code, reason = "only the ops endpoint dispatches commands")
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::context::{Extra, Name};
use crate::runtime::catch::{Panicked, chain};
use crate::runtime::control::{Control, ControlError, ControlInner};
use crate::runtime::erased::Instance;
use crate::service::BoxFuture;
use crate::{Context, Result};

#[cfg(test)]
mod tests;

/// The default of `OPS_COMMANDS_MAX`.
pub(crate) const DEFAULT_MAX: usize = 4;
/// The default of `OPS_COMMAND_TIMEOUT`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The command's future, made from the running instance and the command's context.
pub(crate) type Call = Box<dyn FnOnce(Instance, Context) -> BoxFuture<'static, Result<()>> + Send>;

/// How a dispatched command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    /// It returned an error, or panicked; the message.
    Failed(String),
    /// It did not finish within the timeout (given): cancelled.
    TimedOut(Duration),
}

/// Why a command was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The app-wide cap, or this service's one command, is taken.
    Busy,
    /// Shutdown has begun.
    ShuttingDown,
    /// Not running, no such service, or not constructed yet.
    Control(ControlError),
}

/// The label of `servicepack_commands_total{outcome}`.
pub(crate) fn outcome(result: &Result<Answer, Refused>) -> &'static str {
    match result {
        Ok(Answer::Ok) => "ok",
        Ok(Answer::Failed(_)) => "error",
        Ok(Answer::TimedOut(_)) => "timeout",
        Err(Refused::Busy) => "busy",
        Err(Refused::ShuttingDown) => "refused",
        Err(Refused::Control(_)) => "unavailable",
    }
}

/// The dispatch state of one runner.
pub(crate) struct Dispatch {
    slots: Mutex<Slots>,
    closed: AtomicBool,
    tracker: TaskTracker,
    /// Cancelled when shutdown stops waiting for running commands.
    cancel: CancellationToken,
    /// `servicepack_commands_total`: per service and outcome.
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
}

struct Slots {
    max: usize,
    timeout: Duration,
    /// The services with a command running (at most `max`).
    busy: Vec<usize>,
}

/// Holds one command's place for as long as its future lives.
struct Permit {
    inner: Arc<ControlInner>,
    node: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut slots = self.inner.dispatch.lock();
        if let Some(at) = slots.busy.iter().position(|&node| node == self.node) {
            slots.busy.swap_remove(at);
        }
    }
}

impl Dispatch {
    pub(crate) fn new() -> Self {
        Self {
            slots: Mutex::new(Slots {
                max: DEFAULT_MAX,
                timeout: DEFAULT_TIMEOUT,
                busy: Vec::new(),
            }),
            closed: AtomicBool::new(false),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the caps (`max` at least 1) and the timeout.
    pub(crate) fn set_limits(&self, max: usize, timeout: Duration) {
        let mut slots = self.lock();
        slots.max = max.max(1);
        slots.timeout = timeout;
    }

    /// Commands running now (`servicepack_commands_in_flight`).
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().busy.len()
    }

    /// `servicepack_commands_total`, per service and outcome.
    pub(crate) fn counts(&self) -> Vec<(String, &'static str, u64)> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .iter()
            .map(|((service, outcome), count)| (service.clone(), *outcome, *count))
            .collect()
    }

    /// Counts one dispatch of `service` that ended with `outcome`.
    pub(crate) fn count(&self, service: &str, outcome: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((service.to_owned(), outcome)).or_insert(0) += 1;
    }

    /// Shutdown has begun: new commands are refused.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.tracker.close();
    }

    /// Resolves once closed and no command runs.
    pub(crate) async fn idle(&self) {
        self.tracker.wait().await;
    }

    /// Shutdown stops waiting: the running commands' contexts are cancelled.
    pub(crate) fn cancel_all(&self) {
        self.cancel.cancel();
    }
}

impl Control {
    fn acquire(&self, node: usize) -> Result<(Permit, Duration), Refused> {
        let mut slots = self.inner.dispatch.lock();
        if slots.busy.len() >= slots.max || slots.busy.contains(&node) {
            return Err(Refused::Busy);
        }
        slots.busy.push(node);
        let timeout = slots.timeout;
        drop(slots);
        let permit = Permit {
            inner: Arc::clone(&self.inner),
            node,
        };
        Ok((permit, timeout))
    }
}

impl Control {
    /// Runs a command on the running instance of `service`: refused when shutdown has
    /// begun, when the caps are taken, or when the service is not running; otherwise it
    /// runs inside the service's span on a task of its own, under the timeout. A second
    /// task enforces the timeout, logs and counts the outcome, so a caller that goes away
    /// (a client that disconnects) changes none of it.
    pub(crate) async fn dispatch(&self, service: &str, call: Call) -> Result<Answer, Refused> {
        let dispatch = &self.inner.dispatch;
        let watcher = match self.begin(service, call) {
            Ok(watcher) => watcher,
            Err(refused) => {
                dispatch.count(service, outcome(&Err(refused.clone())));
                return Err(refused);
            }
        };
        Ok(watcher.await.unwrap_or_else(|_| {
            // Only a runtime that is going away cancels the watcher.
            Answer::Failed("the command was abandoned".to_owned())
        }))
    }

    fn begin(&self, service: &str, call: Call) -> Result<tokio::task::JoinHandle<Answer>, Refused> {
        let dispatch = &self.inner.dispatch;
        if dispatch.closed.load(Ordering::Acquire) || self.inner.handle.is_requested() {
            return Err(Refused::ShuttingDown);
        }
        let (shared, node) = self.find(service).map_err(Refused::Control)?;
        let Some(instance) = shared.slot(node).service() else {
            return Err(Refused::Control(ControlError::NotStarted(
                service.to_owned(),
            )));
        };
        let (permit, timeout) = self.acquire(node)?;
        // Shutdown closes, then counts the commands running: one of the two sees the other.
        if dispatch.closed.load(Ordering::Acquire) {
            return Err(Refused::ShuttingDown);
        }
        let span = tracing::error_span!("service", service);
        span.in_scope(|| tracing::info!("command dispatched"));
        let token = dispatch.cancel.child_token();
        let deadline = Instant::now().checked_add(timeout);
        let ctx = Context::new(
            Name::of(shared.plan().names(), node),
            self.inner.board.attempt(node),
            token.clone(),
            Some(Extra::deadline(deadline)),
        );
        drop(shared);
        let future = call(Instance(instance), ctx);
        // The place is held by the command's own task, so it is free in the very poll in
        // which the command returns (or when its aborted task is dropped).
        let command = tokio::spawn(
            async move {
                let _permit = permit;
                future.await
            }
            .instrument(span.clone()),
        );
        let name = service.to_owned();
        let control = self.clone();
        let watch = async move {
            let abort = command.abort_handle();
            let answer = match tokio::time::timeout(timeout, command).await {
                Ok(Ok(Ok(()))) => Answer::Ok,
                Ok(Ok(Err(error))) => Answer::Failed(chain(&error).to_string()),
                Ok(Err(join)) => match join.try_into_panic() {
                    Ok(payload) => Answer::Failed(Panicked::from_payload(&*payload).to_string()),
                    Err(_) => Answer::Failed("the command was cancelled".to_owned()),
                },
                Err(_) => {
                    token.cancel();
                    abort.abort();
                    Answer::TimedOut(timeout)
                }
            };
            match &answer {
                Answer::Ok => tracing::info!(outcome = "ok", "command finished"),
                Answer::Failed(error) => {
                    tracing::warn!(outcome = "error", error = error.as_str(), "command failed");
                }
                Answer::TimedOut(_) => tracing::warn!(outcome = "timeout", "command timed out"),
            }
            control
                .inner
                .dispatch
                .count(&name, outcome(&Ok(answer.clone())));
            answer
        };
        Ok(tokio::spawn(
            dispatch.tracker.track_future(watch.instrument(span)),
        ))
    }
}
