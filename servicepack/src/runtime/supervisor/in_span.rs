//! The supervisor future inside its service's span. `tracing`'s `Instrumented` would
//! carry the span in the task (40 bytes, enough to take every supervisor's task cell from
//! 256 to 384 bytes); this wrapper finds it in the service's task slot instead.
//!
//! Unlike `Instrumented`, it does not enter the span to drop an unfinished supervisor
//! (that would need an `Option` around it: 8 bytes more). A supervisor finishes in a
//! poll, inside the span; only one aborted at a forced exit is dropped outside it, and
//! its state logs nothing as it goes.
//!
//! When the supervisor has finished, the wrapper lets go of the run's state and parks the
//! task instead of completing it: the task's shell (its cell, with nothing of the service
//! left in it) is reaped when the run's state is dropped, after `run` has returned
//! (`TaskSlot`). Completing a tokio task takes it out of the runtime's list of owned
//! tasks, under one of a few locks that every worker takes in turn: when ten thousand
//! services stopped at once, that was a seventh of the time until `run` returned.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::runtime::shared::Share;

pin_project! {
    /// `inner`, polled with service `node`'s span entered; then, parked.
    pub(super) struct InServiceSpan<F> {
        // `None` once `inner` has finished.
        shared: Option<Arc<Share>>,
        node: u32,
        #[pin]
        inner: F,
    }
}

impl<F> InServiceSpan<F> {
    pub(super) fn new(shared: Arc<Share>, node: u32, inner: F) -> Self {
        Self {
            shared: Some(shared),
            node,
            inner,
        }
    }
}

impl<F: Future<Output = ()>> Future for InServiceSpan<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Some(shared) = this.shared.as_ref() else {
            // Parked: a stale waker (a watcher's, say) polls nothing.
            return Poll::Pending;
        };
        let entered = shared.span(*this.node as usize).enter();
        if this.inner.poll(cx).is_pending() {
            return Poll::Pending;
        }
        drop(entered);
        // The supervisor has dropped all it held; the share, which the coordinator waits
        // for, goes last.
        *this.shared = None;
        Poll::Pending
    }
}
