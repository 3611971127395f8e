//! Turning panics in user code into errors, and printing error chains.
//!
//! User futures are polled inside `catch_unwind`, so a panic in `run` or `stop` becomes an
//! `Err` of that call (text `panicked: <message>`) instead of tearing down the supervisor
//! task; the supervisor then treats it like any other error.

use std::any::Any;
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

/// Calls `f`, turning a panic into an error.
pub(crate) fn call<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(Panicked::from_payload(&*payload).into()))
}

/// A future whose panics become `Err(Panicked)`. Once it has panicked it reports that
/// error and must not be polled again (the supervisor never does).
pub(crate) struct CatchPanic<F> {
    inner: F,
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<F> Future for CatchPanic<F>
where
    F: Future<Output = Result<()>> + Unpin,
{
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(Panicked::from_payload(&*payload).into())),
        }
    }
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
