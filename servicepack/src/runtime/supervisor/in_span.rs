//! The supervisor future inside its service's span. `tracing`'s `Instrumented` would
//! carry the span in the task (40 bytes, enough to take every supervisor's task cell from
//! 256 to 384 bytes); this wrapper finds it in the service's task slot instead.
//!
//! Unlike `Instrumented`, it does not enter the span to drop an unfinished supervisor
//! (that would need an `Option` around it: 8 bytes more). A supervisor finishes in a
//! poll, inside the span; only one aborted at a forced exit is dropped outside it, and
//! its state logs nothing as it goes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::runtime::shared::Shared;

pin_project! {
    /// `inner`, polled with service `node`'s span entered.
    pub(super) struct InServiceSpan<F> {
        shared: Arc<Shared>,
        node: u32,
        #[pin]
        inner: F,
    }
}

impl<F> InServiceSpan<F> {
    pub(super) fn new(shared: Arc<Shared>, node: u32, inner: F) -> Self {
        Self {
            shared,
            node,
            inner,
        }
    }
}

impl<F: Future> Future for InServiceSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.shared.span(*this.node as usize).enter();
        this.inner.poll(cx)
    }
}
