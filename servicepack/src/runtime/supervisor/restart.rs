//! A restart of one service inside its supervisor (SPEC §8, `control.rs`): with a
//! [`Control`](crate::Control) taken, every attempt runs under a child of the service's
//! token, kept in its task slot; a restart cancels it. The attempt loop then tells a
//! restart from its turn to stop by the service's own token, stops the interrupted
//! attempt as shutdown would, and starts a fresh one; a service that had ended counts
//! as running again.

use std::pin::Pin;

use super::{Life, RunFuture};
use crate::runtime::erased::ErasedService;
use crate::runtime::lifecycle::Lifecycle;
use crate::runtime::shared::{Claim, Ending, Event};
use crate::runtime::shutdown::{self, Finished, StopRequest};

impl Life {
    /// Whether the cancelled attempt token means a restart: the service's own turn to
    /// stop has not come and shutdown has not begun.
    pub(super) fn restart_wanted(&self) -> bool {
        !self.turn_to_stop() && !self.shared.shutdown_began()
    }

    /// A restart of a service that had ended (exited, or failed for good as an allowed
    /// failure): it counts as running again. `false` if shutdown overtook it.
    pub(super) fn revive(&mut self) -> bool {
        if !self.state.transition_to_live() || self.shared.shutdown_began() {
            return false;
        }
        self.emit(&Lifecycle::Restarting {
            running: false,
            counts: self.attempts.policy.counts_for_readiness,
        });
        // The coordinator had counted it out; the message keeps its count right.
        self.shared.tell(Event {
            node: self.node(),
            ending: Ending::Revived,
        });
        true
    }

    /// A restart interrupted the running attempt: `stop` is called at once with a live
    /// context bounded by `stop_timeout` (and the budget, if shutdown began meanwhile),
    /// and both it and the interrupted `run` are driven to their end or that deadline.
    /// What goes wrong is logged; it does not count against the exit code, since the
    /// service runs on.
    pub(super) async fn restart_stop<'s>(
        &self,
        service: &'s dyn ErasedService,
        run: Pin<&mut Option<RunFuture<'s>>>,
    ) {
        self.emit(&Lifecycle::Restarting {
            running: true,
            counts: false,
        });
        let request = StopRequest {
            service,
            context: self.stop_context(service),
            stop_timeout: self.attempts.policy.stop_timeout,
            window: self.shared.shutdown_window(),
            claim: Claim::Mine,
        };
        let outcome = shutdown::stop_service(request, run).await;
        if let Finished::Returned(Err(source)) = &outcome.stop {
            self.emit(&Lifecycle::StopFailed(source));
        }
        if outcome.timed_out() {
            self.emit(&Lifecycle::StopTimedOut(outcome.timeout()));
        }
    }
}
