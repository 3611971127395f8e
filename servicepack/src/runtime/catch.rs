//! Turning panics in user code into errors, and printing error chains.
//!
//! User futures are polled inside `catch_unwind` ([`poll_slot`]), so a panic in `run` or
//! `stop` becomes an `Err` of that call (text `panicked: <message>`) instead of tearing down the supervisor
//! task; the supervisor then treats it like any other error.
//!
//! Every `catch_unwind` here runs inside [`catching`], which marks the thread for the
//! panic hook: a panic that will be caught and reported is not reported a second time
//! by the hook, while one that nobody here catches (in a task a service spawned, say) is.

use std::any::Any;
use std::cell::Cell;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{Error, Result, format_duration};

/// A panic caught in user code.
#[derive(Debug, thiserror::Error)]
#[error("panicked: {message}")]
pub(crate) struct Panicked {
    message: String,
}

impl Panicked {
    pub(crate) fn from_payload(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        Self { message }
    }
}

/// A `notify_ready` attempt that did not call `ctx.ready()` within `ready_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("not ready within {} (ready_timeout); the attempt was cancelled", format_duration(*.timeout))]
pub(crate) struct NotReady {
    pub(crate) timeout: Duration,
}

thread_local! {
    /// How many [`catching`] calls this thread is inside.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` with this thread marked as catching panics: whoever calls this catches a
/// panic of `f` and reports it.
pub(crate) fn catching<R>(f: impl FnOnce() -> R) -> R {
    struct Mark;
    impl Drop for Mark {
        fn drop(&mut self) {
            CATCHING.with(|depth| depth.set(depth.get().saturating_sub(1)));
        }
    }
    CATCHING.with(|depth| depth.set(depth.get().saturating_add(1)));
    let _mark = Mark;
    f()
}

/// Whether a panic on this thread now is caught and reported by servicepack.
pub(crate) fn is_catching() -> bool {
    CATCHING.with(|depth| depth.get() > 0)
}

/// Calls `f`, turning a panic into an error.
pub(crate) fn call<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catching(|| catch_unwind(AssertUnwindSafe(f)))
        .unwrap_or_else(|payload| Err(Panicked::from_payload(&*payload).into()))
}

/// Polls the future in `slot`, if there is one, turning a panic into `Err(Panicked)`.
/// When it returns (or panics) the slot is emptied, so the future is never polled again
/// and is dropped where it lives; an empty slot is `Ready(None)`.
///
/// The slot is how the supervisor holds the futures of `run` (boxed) and `stop` (inline)
/// in its own task, where a stop drives an interrupted run on.
pub(crate) fn poll_slot<F>(
    mut slot: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<()>>>
where
    F: Future<Output = Result<()>>,
{
    let Some(future) = slot.as_mut().as_pin_mut() else {
        return Poll::Ready(None);
    };
    let poll = catching(|| catch_unwind(AssertUnwindSafe(|| future.poll(cx))))
        .unwrap_or_else(|payload| Poll::Ready(Err(Panicked::from_payload(&*payload).into())));
    match poll {
        Poll::Ready(result) => {
            slot.set(None);
            Poll::Ready(Some(result))
        }
        Poll::Pending => Poll::Pending,
    }
}

/// The future in `slot` as a future: its result, with panics caught. Only for a slot that
/// holds a running future; an empty slot never resolves.
pub(crate) fn drive<F>(mut slot: Pin<&mut Option<F>>) -> impl Future<Output = Result<()>>
where
    F: Future<Output = Result<()>>,
{
    std::future::poll_fn(move |cx| match poll_slot(slot.as_mut(), cx) {
        Poll::Ready(Some(result)) => Poll::Ready(result),
        Poll::Ready(None) | Poll::Pending => Poll::Pending,
    })
}

/// Displays an error followed by its sources: `outer: middle: root`.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// [`Chain`] for the boxed error type.
pub(crate) fn chain(error: &Error) -> Chain<'_> {
    Chain(&**error)
}
