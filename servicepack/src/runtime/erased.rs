//! The type-erased boundary between a user's [`Service`] and the runtime.
//!
//! Everything the runtime does with a service goes through [`ErasedService`]: its `run`
//! and `stop` futures come back boxed, so the supervisor, the retry loop and the stop
//! path are compiled once for the whole binary, however many service types it has. Per
//! type, the binary carries only its constructor, two boxing shims and a vtable. The
//! service itself is shared (`Arc`): its supervisor polls `run` while, if that `run`
//! blocks its thread, another task may call `stop` (SPEC §4.7).

use std::any::Any;
use std::sync::Arc;

use crate::runtime::supervisor::RunFuture;
use crate::{Context, Result, Service};

/// A [`Service`] with its futures boxed.
pub(crate) trait ErasedService: Send + Sync + 'static {
    fn run(&self, ctx: Context) -> RunFuture<'_>;
    fn stop(&self, ctx: Context) -> RunFuture<'_>;
    /// Whether the service has a `stop` of its own (not the default, which does nothing
    /// and which the runtime does not call).
    fn has_stop(&self) -> bool;
    /// The service as its own type, for a command dispatched to the running instance.
    #[cfg_attr(
        not(feature = "ops"),
        allow(dead_code, reason = "only the ops endpoint dispatches commands")
    )]
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}

impl<S: Service> ErasedService for S {
    fn run(&self, ctx: Context) -> RunFuture<'_> {
        Box::pin(Service::run(self, ctx))
    }

    fn stop(&self, ctx: Context) -> RunFuture<'_> {
        Box::pin(Service::stop(self, ctx))
    }

    fn has_stop(&self) -> bool {
        !stop_is_default::<S>()
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

/// Whether `S` keeps the default `stop`: its future is the default's own type. (Type
/// names are compared, since the future borrows the service and so has no `TypeId`; the
/// default's type is private to this crate, so no other future has its name. Were the
/// names ever to differ for the same type, the default would merely be called.)
fn stop_is_default<S: Service>() -> bool {
    fn future_name<'a, S: Service, F: Future>(_: fn(&'a S, Context) -> F) -> &'static str {
        std::any::type_name::<F>()
    }
    future_name::<S, _>(<S as Service>::stop) == std::any::type_name::<crate::service::Stopped>()
}

/// A shared, type-erased service: reference counted, or, for a zero-sized type with
/// nothing to drop (the common stateless service), a static reference, which costs no
/// allocation.
#[derive(Clone)]
pub(crate) enum Shared {
    Counted(Arc<dyn ErasedService>),
    Static(&'static dyn ErasedService),
}

impl std::ops::Deref for Shared {
    type Target = dyn ErasedService;

    fn deref(&self) -> &Self::Target {
        match self {
            Self::Counted(service) => &**service,
            Self::Static(service) => *service,
        }
    }
}

impl Shared {
    fn new<S: Service>(service: S) -> Self {
        if size_of::<S>() == 0 && !std::mem::needs_drop::<S>() {
            // Leaking a zero-sized value allocates nothing and skips no `Drop`.
            Self::Static(Box::leak(Box::new(service)))
        } else {
            Self::Counted(Arc::new(service))
        }
    }
}

/// The running instance of a service, handed to a command dispatched into it (SPEC §8).
/// Not public API.
#[doc(hidden)]
#[derive(Clone)]
pub struct Instance(pub(crate) Shared);

impl Instance {
    /// The instance as `S`, if it is one.
    #[cfg_attr(
        not(feature = "ops"),
        allow(dead_code, reason = "only the ops endpoint dispatches commands")
    )]
    #[must_use]
    pub fn downcast_ref<S: Any>(&self) -> Option<&S> {
        self.0.as_any().downcast_ref()
    }
}

/// A lazy constructor ([`Construct::Lazy`]).
pub(crate) type Lazy = Box<dyn FnOnce() -> Result<Shared> + Send>;

/// How a service comes to be when it is about to start.
pub(crate) enum Construct {
    /// Built by calling this (lazily: one that never starts is never built), inside the
    /// service's supervisor, under `catch_unwind`.
    Lazy(Lazy),
    /// Built already ([`ServiceDef::new`](crate::ServiceDef::new)), and shared from the
    /// start: one allocation, where a boxed closure holding the value and then the
    /// value's `Arc` at the start made two, and a free on the start's path.
    Built(Shared),
}

impl Construct {
    /// The service (a lazy constructor's error, or a panic if the caller catches it).
    pub(crate) fn build(self) -> Result<Shared> {
        match self {
            Self::Lazy(construct) => construct(),
            Self::Built(service) => Ok(service),
        }
    }
}

/// The [`Construct`] of a service built by `construct`.
pub(crate) fn lazy<S, F>(construct: F) -> Construct
where
    S: Service,
    F: FnOnce() -> Result<S> + Send + 'static,
{
    Construct::Lazy(Box::new(move || construct().map(Shared::new)))
}

/// The [`Construct`] of a service that exists already.
pub(crate) fn built<S: Service>(service: S) -> Construct {
    Construct::Built(Shared::new(service))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::Poll;

    use super::*;

    struct Plain;
    impl Service for Plain {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }

    struct WithStop;
    impl Service for WithStop {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
        async fn stop(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }

    /// A zero-sized future of the user's own, like the default's.
    struct Done;
    impl Future for Done {
        type Output = Result<()>;
        fn poll(self: Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> Poll<Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct ZeroSizedStop;
    impl Service for ZeroSizedStop {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
        fn stop(&self, _ctx: Context) -> impl Future<Output = Result<()>> + Send {
            Done
        }
    }

    /// Only the default `stop` is skipped; any `stop` of the service's own is called, a
    /// zero-sized one too.
    #[test]
    fn only_the_default_stop_counts_as_none() {
        assert!(!ErasedService::has_stop(&Plain));
        assert!(ErasedService::has_stop(&WithStop));
        assert!(ErasedService::has_stop(&ZeroSizedStop));
    }
}
