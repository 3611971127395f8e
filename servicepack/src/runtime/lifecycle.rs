//! The one path of every lifecycle event: [`emit`] writes the log line of SPEC §3 and
//! records the state change of SPEC §5 on the status board, so the two never disagree.
//!
//! Events are logged in the caller's span (the supervisor task runs inside its
//! `service` span, which gives every line its `service` field).

use std::fmt;
use std::time::Duration;

use crate::runtime::catch::chain;
use crate::runtime::status::{Admit, CellUpdate, Stamp, State, StatusBoard};
use crate::{Error, format_duration};

/// Why a service never started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip<'a> {
    /// This dependency failed for good before it was ready.
    DependencyFailed(&'a str),
    /// This dependency was skipped itself.
    DependencySkipped(&'a str),
    /// Shutdown began before the service could start.
    ShutdownBegan,
}

impl fmt::Display for Skip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DependencyFailed(name) => {
                write!(f, "dependency {name} failed before it was ready")
            }
            Self::DependencySkipped(name) => write!(f, "dependency {name} was skipped"),
            Self::ShutdownBegan => f.write_str("shutdown began"),
        }
    }
}

/// One lifecycle event of one service.
#[derive(Debug)]
pub(crate) enum Lifecycle<'a> {
    /// `run` is called for attempt `attempt`; a plain service is ready from here.
    Starting { attempt: u32, notify_ready: bool },
    /// A `notify_ready` service called `ctx.ready()`.
    Ready,
    /// `run` returned `Ok(())`; `restart` when `restart = "always"` runs it again.
    Exited { attempt: u32, restart: bool },
    /// An attempt failed and will be retried.
    AttemptFailed { attempt: u32, error: &'a Error },
    /// Attempt `attempt` starts after `delay`; `after_exit` when the last run returned
    /// `Ok(())` (`restart = "always"`).
    Retrying {
        attempt: u32,
        delay: Duration,
        after_exit: bool,
    },
    /// The service failed for good after `attempts` runs (0: its constructor failed).
    Failed {
        attempts: u32,
        error: &'a Error,
        allowed: bool,
    },
    /// The service never started.
    Skipped(Skip<'a>),
    /// It waits for this peer (a dependency in another process, SPEC §9.3).
    WaitingForPeer(&'a str),
    /// This peer answered ready.
    PeerReady(&'a str),
    /// Attempt `attempt` failed while waiting for peers, before `run` was called.
    PeerAttempt { attempt: u32 },
    /// Its token is cancelled and `stop` called.
    Stopping,
    /// A restart was asked for: the running attempt (`running`) is being stopped, or an
    /// ended service runs again (and `counts` towards readiness again, if its policy says
    /// so: an allowed failure stopped counting when it failed for good).
    Restarting { running: bool, counts: bool },
    /// `stop` returned an error or panicked.
    StopFailed(&'a Error),
    /// `run` or `stop` had not returned within `timeout`.
    StopTimedOut(Duration),
    /// `run` and `stop` are over; `clean` when `stop` returned `Ok` in time.
    Stopped { clean: bool },
    /// Dropping the service panicked.
    DropPanicked(&'a Error),
}

/// Logs `event` in the current span and records it as service `node`'s state. The
/// lines a crash loop repeats (starting, ready, exited, attempt failed, retrying) are
/// limited to ten a second per service, with one line per second saying how many were
/// left out; the state is always recorded.
pub(crate) fn emit(board: &StatusBoard, node: usize, event: &Lifecycle<'_>) {
    emit_at(board, node, event, None);
}

/// Logs `event` without recording it (nor counting it against the rate limit): for an
/// event that changes no state, at a moment when no crash loop can repeat it.
pub(crate) fn log_only(event: &Lifecycle<'_>) {
    log(event);
}

/// [`emit`], at `at` (a clock reading the caller has anyway) instead of now.
pub(crate) fn emit_at(board: &StatusBoard, node: usize, event: &Lifecycle<'_>, at: Option<Stamp>) {
    emit_after(board, node, None, event, at);
}

/// An event whose line is logged already and whose record is left to the next event of
/// the same service, recorded with it in one edit of its cell ([`Logged::record_with`]),
/// or alone ([`Logged::record`]). For the first poll of an attempt (`starting`, then
/// `ready`) and of a stop (`stopping`, then `stopped`), where the two are a few
/// instructions apart: one lock of the cell, one update of the counts and one wake of
/// the readers instead of two (about 200 instructions a service). The history still
/// keeps both changes, each at its own time. Only for lines the rate limit cannot hold
/// back (see [`log_ahead`]).
#[must_use = "the event is logged but not recorded until `record` or `record_with`"]
pub(crate) struct Logged {
    event: Lifecycle<'static>,
    at: Stamp,
}

/// Logs `event` now and returns it to be recorded later, at `at`. For `stopping`, which
/// the rate limit never holds back, and for the `starting` of a service's first run,
/// whose line is its first repeated one (the rate limit admits it, and counts it when
/// it is recorded).
pub(crate) fn log_ahead(event: Lifecycle<'static>, at: Stamp) -> Logged {
    debug_assert!(matches!(
        event,
        Lifecycle::Starting { attempt: 1, .. } | Lifecycle::Stopping
    ));
    log(&event);
    Logged { event, at }
}

impl Logged {
    /// Records the event alone.
    pub(crate) fn record(self, board: &StatusBoard, node: usize) {
        board.record_at(node, Some(self.at), |cell| {
            record_counted(cell, &self.event);
        });
    }

    /// Records the event, then `next` (at `at`, or now) in the same edit, and logs `next`.
    pub(crate) fn record_with(
        self,
        board: &StatusBoard,
        node: usize,
        next: &Lifecycle<'_>,
        at: Option<Stamp>,
    ) {
        emit_after(board, node, Some(self), next, at);
    }
}

/// `stopping`, logged and recorded by the task that calls `stop` because `run` is
/// blocking its supervisor's thread (SPEC §4.7). That poll of `run` may be the first of
/// a `notify_ready` service's first attempt, whose `starting` is recorded only after it
/// ([`log_ahead`]): the service is then still `pending`, so its `starting` (logged
/// already) is recorded first, in the same edit. The late record then finds the service
/// `stopping` with that attempt, and changes nothing.
pub(crate) fn emit_rescue_stopping(board: &StatusBoard, node: usize) {
    let starting = Lifecycle::Starting {
        attempt: 1,
        notify_ready: true,
    };
    let now = board.stamp(tokio::time::Instant::now());
    let called = |cell: &mut CellUpdate<'_>| {
        if cell.current() == State::Pending {
            record(cell, &starting);
        }
    };
    board.record_after(node, (now, called), Some(now), |cell| {
        record(cell, &Lifecycle::Stopping);
    });
    log(&Lifecycle::Stopping);
}

/// The state change of an event logged ahead, and its line counted against the rate
/// limit as [`emit_after`] would have (it was admitted: [`log_ahead`]).
fn record_counted(cell: &mut CellUpdate<'_>, event: &Lifecycle<'_>) {
    record(cell, event);
    if is_repeated(event) {
        let _ = cell.admit();
    }
}

/// The lines a crash loop repeats, limited per second.
fn is_repeated(event: &Lifecycle<'_>) -> bool {
    matches!(
        event,
        Lifecycle::Starting { .. }
            | Lifecycle::Ready
            | Lifecycle::Exited { .. }
            | Lifecycle::AttemptFailed { .. }
            | Lifecycle::Retrying { .. }
    )
}

/// Records `event` (after `logged`, in the same edit) and logs it as the rate limit
/// admits it.
fn emit_after(
    board: &StatusBoard,
    node: usize,
    logged: Option<Logged>,
    event: &Lifecycle<'_>,
    at: Option<Stamp>,
) {
    let repeated = is_repeated(event);
    // The last lines of a crash loop say what was left out.
    let last = matches!(event, Lifecycle::Stopped { .. } | Lifecycle::Failed { .. });
    // One lock of the service's cell for the state and the rate limit.
    let update = |cell: &mut CellUpdate<'_>| {
        record(cell, event);
        if repeated {
            cell.admit()
        } else if last {
            cell.last_line()
        } else {
            Admit::Log
        }
    };
    let admit = match logged {
        None => board.record_at(node, at, update),
        Some(Logged {
            event: first,
            at: first_at,
        }) => board.record_after(
            node,
            (first_at, |cell: &mut CellUpdate<'_>| {
                record_counted(cell, &first);
            }),
            at,
            update,
        ),
    };
    match admit.unwrap_or(Admit::Log) {
        Admit::Log => log(event),
        Admit::LogAfterSummary(suppressed) => {
            tracing::warn!(
                suppressed,
                "lifecycle lines suppressed (more than 10 a second)"
            );
            log(event);
        }
        Admit::Suppress => {}
    }
}

fn log(event: &Lifecycle<'_>) {
    match *event {
        Lifecycle::Starting { attempt, .. } => tracing::info!(attempt, "starting"),
        Lifecycle::Ready => tracing::info!("ready"),
        Lifecycle::Exited { attempt, .. } => tracing::info!(attempt, "exited"),
        Lifecycle::AttemptFailed { attempt, error } => {
            tracing::warn!(attempt, error = %chain(error), "attempt failed");
        }
        Lifecycle::Retrying {
            attempt,
            delay,
            after_exit: false,
        } => tracing::warn!(attempt, delay = %format_duration(delay), "retrying"),
        // A restart after a clean return is the policy working, not a problem.
        Lifecycle::Retrying {
            attempt,
            delay,
            after_exit: true,
        } => {
            tracing::info!(attempt, delay = %format_duration(delay), restart = "always", "retrying");
        }
        Lifecycle::Failed {
            attempts,
            error,
            allowed: true,
        } => tracing::warn!(attempts, error = %chain(error), "failed (allowed failure)"),
        Lifecycle::Failed {
            attempts,
            error,
            allowed: false,
        } => tracing::error!(attempts, error = %chain(error), "failed"),
        // A string field, as the text format quotes it.
        Lifecycle::Skipped(reason) => {
            tracing::warn!(reason = reason.to_string().as_str(), "skipped");
        }
        Lifecycle::WaitingForPeer(peer) => tracing::info!(peer, "waiting for peer"),
        Lifecycle::PeerReady(peer) => tracing::info!(peer, "peer ready"),
        Lifecycle::PeerAttempt { .. } => {}
        Lifecycle::Stopping => tracing::info!("stopping"),
        Lifecycle::Restarting { .. } => tracing::info!("restarting"),
        Lifecycle::StopFailed(error) => tracing::error!(error = %chain(error), "stop failed"),
        Lifecycle::StopTimedOut(timeout) => {
            tracing::error!(timeout = %format_duration(timeout), "stop timed out");
        }
        Lifecycle::DropPanicked(error) => {
            tracing::error!(error = %chain(error), "drop panicked");
        }
        Lifecycle::Stopped { clean } => {
            if clean {
                tracing::info!("stopped");
            }
        }
    }
}

/// The state change `event` means, in the service's cell.
fn record(cell: &mut CellUpdate<'_>, event: &Lifecycle<'_>) {
    match *event {
        // Logged only: `Stopped` records the end of the stop, and the next `Starting` the
        // fresh attempt after a restart of a service that had ended.
        Lifecycle::StopFailed(_)
        | Lifecycle::StopTimedOut(_)
        | Lifecycle::DropPanicked(_)
        | Lifecycle::PeerReady(_)
        | Lifecycle::Restarting {
            running: false,
            counts: false,
        } => {}
        Lifecycle::WaitingForPeer(peer) => {
            cell.state(State::Pending)
                .reason(format!("waiting for peer {peer}"));
        }
        Lifecycle::PeerAttempt { attempt } => {
            cell.attempt(attempt);
        }
        Lifecycle::Starting {
            attempt,
            notify_ready,
        } => {
            // The late record of a first attempt's `starting` after a rescue has
            // recorded it, and `stopping` ([`emit_rescue_stopping`]): the service stays
            // `stopping`. (A fresh attempt after a restart has a higher number.)
            if cell.current() == State::Stopping && cell.current_attempt() >= attempt {
                return;
            }
            let state = if notify_ready {
                State::Starting
            } else {
                State::Ready
            };
            cell.attempt(attempt).state(state);
        }
        Lifecycle::Ready => {
            if cell.current() == State::Starting {
                cell.state(State::Ready);
            }
        }
        Lifecycle::Exited { restart, .. } => {
            // During a stop, the interrupted run returning changes nothing: the service
            // is `stopping` until both `run` and `stop` are over.
            if !restart && cell.current() != State::Stopping {
                cell.state(State::Exited);
            }
        }
        Lifecycle::AttemptFailed { attempt, error } => {
            cell.failure(attempt, chain(error).to_string());
        }
        Lifecycle::Retrying { delay, .. } => {
            cell.state(State::Retrying).retry_in(delay);
        }
        Lifecycle::Failed {
            attempts,
            error,
            allowed,
        } => {
            cell.failure(attempts, chain(error).to_string());
            if cell.current() != State::Stopping {
                cell.state(State::Failed);
            }
            if allowed {
                cell.stop_counting();
            }
        }
        Lifecycle::Skipped(_) => {
            cell.state(State::Skipped);
        }
        Lifecycle::Stopping | Lifecycle::Restarting { running: true, .. } => {
            cell.state(State::Stopping);
        }
        Lifecycle::Restarting {
            running: false,
            counts: true,
        } => {
            cell.start_counting();
        }
        Lifecycle::Stopped { .. } => {
            cell.state(State::Stopped);
        }
    }
}
