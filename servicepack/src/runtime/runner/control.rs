//! What [`Runner`] does for [`Control`] (SPEC §8): the handle and the command limits, and
//! the coordinator's wait for running commands before a requested shutdown stops the
//! services.

use std::time::Duration;

use tokio::time::Instant;

use super::{Coordinator, Runner};
use crate::runtime::control::Control;
use crate::runtime::report::ShutdownCause;
use crate::runtime::shutdown::far_future;
use crate::runtime::status::Phase;

impl Runner {
    /// A handle that controls the running app (SPEC §8): restart one service, drain,
    /// shut down. Taking it makes every service restartable (each attempt then runs
    /// under a token of its own, one small allocation per attempt); without it nothing
    /// changes. See [`Control`] for an example.
    #[must_use]
    pub fn control(&self) -> Control {
        self.control
            .get_or_init(|| Control::new(self.handle.clone(), self.board.clone()))
            .clone()
    }

    /// Sets the limits of commands dispatched into running services through the app's
    /// control routes (`OPS_COMMANDS_MAX` and `OPS_COMMAND_TIMEOUT`, SPEC §8): at most
    /// `max` at once (at least 1; one per service in any case), each cancelled after
    /// `timeout`. The defaults are 4 and 30 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicepack::Runner;
    ///
    /// let runner = Runner::new().command_limits(8, Duration::from_secs(5));
    /// # let _ = runner;
    /// ```
    #[must_use]
    pub fn command_limits(self, max: usize, timeout: Duration) -> Self {
        self.control().inner.dispatch.set_limits(max, timeout);
        self
    }
}

impl Coordinator {
    /// A requested shutdown after the drain: first waits for the dispatched commands
    /// still running (within the budget, which the wait counts against), then stops.
    pub(super) fn request_stop(
        &mut self,
        commands_wait: &mut Option<Instant>,
        timer: std::pin::Pin<&mut tokio::time::Sleep>,
    ) {
        let running = self
            .control
            .as_ref()
            .map_or(0, |control| control.inner.dispatch.in_flight());
        if running == 0 {
            self.begin_shutdown(ShutdownCause::Requested);
            return;
        }
        tracing::info!(
            commands = running,
            "waiting for running commands before stopping"
        );
        self.shared.status().set_phase(Phase::Draining);
        let now = Instant::now();
        *commands_wait = Some(now);
        timer.reset(
            now.checked_add(self.budget)
                .unwrap_or_else(|| far_future(now)),
        );
    }
}

/// Resolves once no dispatched command runs (at once without a [`Control`]).
pub(super) async fn commands_idle(control: Option<&Control>) {
    if let Some(control) = control {
        control.inner.dispatch.idle().await;
    }
}
