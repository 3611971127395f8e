//! Exit codes, named once: every way the process ends is an [`Exit`], and every non-zero
//! exit writes its reason through [`Exit::because`] (or [`Exit::now`] when the process must
//! end at once, from the signal thread or the budget watchdog).
//!
//! The codes are SPEC §4.11: 0 success, 1 failure, 2 usage or configuration, 128 + the
//! signal's number for an exit forced by a second signal.

use std::process::ExitCode;

use crate::app::config::LogFormat;
use crate::app::telemetry;

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Every service ended cleanly or as an allowed failure, every `stop` in time (0).
    Success,
    /// A fatal failure, a start-up error, a failed or late `stop`, a spent budget (1).
    Failure,
    /// A usage or configuration error (2).
    Usage,
    /// A second signal during shutdown: 128 + its number.
    Forced(Signal),
}

impl Exit {
    /// The process exit status.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Forced(signal) => 128 + signal.number(),
        }
    }

    /// The worse of two outcomes: a failure anywhere makes the whole run a failure.
    #[must_use]
    pub(crate) fn or(self, other: Self) -> Self {
        if self == Self::Success { other } else { self }
    }

    /// Writes why the process exits with this code (an ERROR line on stderr, whatever
    /// `LOG_LEVEL` says) and returns `self`.
    #[must_use]
    pub(crate) fn because(self, format: LogFormat, reason: &str) -> Self {
        telemetry::exit_reason(format, self.code(), reason);
        self
    }

    /// Writes the reason and ends the process at once, without waiting for any thread or
    /// task: for the second signal and the spent budget, when tokio's workers may all be
    /// blocked.
    pub(crate) fn now(self, format: LogFormat, reason: &str) -> ! {
        telemetry::exit_reason(format, self.code(), reason);
        std::process::exit(i32::from(self.code()))
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

/// The signals that shut an app down: the first asks for a graceful shutdown, the second
/// forces the exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGHUP: the terminal closed, the SSH session dropped.
    Hangup,
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: what supervisors send.
    Terminate,
}

impl Signal {
    /// The signal's number on every Unix.
    pub(crate) const fn number(self) -> u8 {
        match self {
            Self::Hangup => 1,
            Self::Interrupt => 2,
            Self::Terminate => 15,
        }
    }

    /// The `signal` field of the `received signal` line.
    pub(crate) const fn field(self) -> &'static str {
        match self {
            Self::Hangup => "hangup",
            Self::Interrupt => "interrupt",
            Self::Terminate => "terminated",
        }
    }

    /// `SIGHUP`, `SIGINT`, `SIGTERM`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Hangup => "SIGHUP",
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// The signal with this number, if it is one of the three.
    pub(crate) fn from_number(number: i32) -> Option<Self> {
        [Self::Hangup, Self::Interrupt, Self::Terminate]
            .into_iter()
            .find(|signal| i32::from(signal.number()) == number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_spec() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Forced(Signal::Interrupt).code(), 130);
        assert_eq!(Exit::Forced(Signal::Terminate).code(), 143);
        assert_eq!(Exit::Forced(Signal::Hangup).code(), 129);
    }

    #[test]
    fn a_failure_wins() {
        assert_eq!(Exit::Success.or(Exit::Failure), Exit::Failure);
        assert_eq!(Exit::Failure.or(Exit::Success), Exit::Failure);
        assert_eq!(Exit::Success.or(Exit::Success), Exit::Success);
    }

    #[test]
    fn numbers_round_trip() {
        for signal in [Signal::Hangup, Signal::Interrupt, Signal::Terminate] {
            assert_eq!(Signal::from_number(signal.number().into()), Some(signal));
        }
        assert_eq!(Signal::from_number(9), None);
    }
}
