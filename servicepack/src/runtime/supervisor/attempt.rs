//! One attempt of a service's `run` inside its supervisor: the call and first poll
//! (`Life::begin_attempt`), the readiness wait of a `notify_ready` attempt, and the watch
//! of a running attempt until it returns or is interrupted, written out by hand so that an
//! idle supervisor carries only a few references of it.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use super::{Begun, Drive, Life, RunFuture};
use crate::context::ReadyLatch;
use crate::runtime::catch::{self, NotReady};
use crate::runtime::erased::ErasedService;
use crate::runtime::lifecycle::{self, Lifecycle};
use crate::runtime::shared::RunGuard;
use crate::{Context, Result};

impl Life {
    /// Starts an attempt: calls `run` into `slot` and polls it once, with the task's
    /// context `cx` (so a plain service is ready now, and a `notify_ready` one that calls
    /// `ctx.ready()` at once needs no timer and no boxed wait).
    pub(super) fn begin_attempt<'s>(
        &mut self,
        service: &'s dyn ErasedService,
        mut slot: Pin<&mut Option<RunFuture<'s>>>,
        cx: &mut std::task::Context<'_>,
    ) -> Begun {
        let attempt = self.attempts.transition_to_running();
        // One clock reading for the status, `retry_reset` and an instant readiness.
        let at = Instant::now();
        // The attempt's restart token is in the slot before the status says `starting`
        // (or `ready`): whoever sees the state can restart it.
        if self.shared.restartable() {
            let token = self.walk_token().child_token();
            self.slot().attempt_began(token.clone());
            self.run_token = Some(token);
        }
        let starting = Lifecycle::Starting {
            attempt,
            notify_ready: self.attempts.policy.notify_ready,
        };
        lifecycle::emit_at(self.shared.status(), self.node(), &starting, Some(at));
        let policy = &self.attempts.policy;
        let latch = policy.notify_ready.then(Arc::<ReadyLatch>::default);
        if policy.retry_reset.is_some() {
            // In the slot, not the task: every byte of the task counts.
            self.slot().set_attempt_started(at);
        }
        let ctx = Context::new(
            self.ctx_name(),
            attempt,
            self.token().clone(),
            latch.clone(),
            None,
        );
        // `run` of a hand-written impl may panic before it returns its future.
        let mut returned = match catch::call(|| Ok(service.run(ctx))) {
            Ok(run) => {
                slot.set(Some(run));
                None
            }
            Err(error) => Some(Drive::Returned(Err(error))),
        };
        if returned.is_none()
            && let Poll::Ready(result) = self.guard().poll(slot.as_mut(), cx, true)
        {
            returned = result.map(Drive::Returned);
        }
        match latch {
            None => self.mark_ready(),
            Some(latch) if returned.is_none() && !latch.is_set() => {
                return Begun::AwaitingReady(latch);
            }
            // Ready in the first poll (it may have returned in it too: it made it).
            Some(latch) if latch.is_set() => self.became_ready(Some(at), &mut returned),
            Some(_) => {}
        }
        returned.map_or(Begun::Running, Begun::Ended)
    }

    /// The rest of a `notify_ready` attempt that was not ready in its first poll: the
    /// readiness wait, then (ready) the watch until it returns or is interrupted.
    pub(super) async fn await_ready_and_watch(
        &mut self,
        mut slot: Pin<&mut Option<RunFuture<'_>>>,
        latch: Arc<ReadyLatch>,
    ) -> Drive {
        let timeout = self.attempts.policy.ready_timeout;
        let guard = self.guard();
        let mut drive = wait_ready(slot.as_mut(), &guard, &latch, timeout).await;
        if latch.is_set() {
            // Ready, possibly in the very poll that ended the wait: it made it.
            self.became_ready(None, &mut drive);
        }
        match drive {
            Some(drive) => drive,
            // `wait_ready` polled `run` in this poll of the task.
            None => Watch::after_poll(self.guard(), slot).await,
        }
    }

    /// The attempt called `ctx.ready()` (at `at`, or now): records it, opens the gate,
    /// and forgives a readiness timeout that lost the race.
    fn became_ready(&mut self, at: Option<Instant>, drive: &mut Option<Drive>) {
        lifecycle::emit_at(self.shared.status(), self.node(), &Lifecycle::Ready, at);
        self.mark_ready();
        if let Some(Drive::Returned(Err(error))) = drive
            && error.is::<NotReady>()
        {
            *drive = None;
        }
    }
}

/// Runs `f` with the task's context, in the poll that awaits the returned future (which
/// is ready at once): synchronous work that needs the waker, with nothing of its own kept
/// in the supervisor's future.
pub(super) fn now<T>(f: impl FnOnce(&mut std::task::Context<'_>) -> T) -> impl Future<Output = T> {
    let mut f = Some(f);
    poll_fn(move |cx| match f.take() {
        Some(f) => Poll::Ready(f(cx)),
        // Never: a ready future is not polled again.
        None => Poll::Pending,
    })
}

/// One attempt of `run`: called and polled once in the first poll, then driven until it
/// returns or is interrupted (the service's turn to stop, or a restart). Its output is
/// how it ended, or, for a `notify_ready` attempt not ready in its first poll, the latch
/// to wait on. Written out by hand (it is in every idle supervisor): three references
/// and a flag, where an `async` block with a wait on the token would take 170 bytes.
pub(super) struct Attempt<'a, 's> {
    life: &'a mut Life,
    service: &'s dyn ErasedService,
    run: Pin<&'a mut Option<RunFuture<'s>>>,
    begun: bool,
}

impl<'a, 's> Attempt<'a, 's> {
    pub(super) fn new(
        life: &'a mut Life,
        service: &'s dyn ErasedService,
        run: Pin<&'a mut Option<RunFuture<'s>>>,
    ) -> Self {
        Self {
            life,
            service,
            run,
            begun: false,
        }
    }
}

impl Future for Attempt<'_, '_> {
    type Output = Result<Drive, Arc<ReadyLatch>>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !this.begun {
            this.begun = true;
            return match this.life.begin_attempt(this.service, this.run.as_mut(), cx) {
                Begun::Ended(drive) => Poll::Ready(Ok(drive)),
                Begun::AwaitingReady(latch) => Poll::Ready(Err(latch)),
                // `run` was just polled with this task's waker: it is next polled when it
                // wakes the task, not at once (one poll of every service's `run` less).
                Begun::Running => this
                    .life
                    .slot()
                    .poll_interrupted(cx, true)
                    .map(|()| Ok(Drive::Interrupted)),
            };
        }
        watch(this.life.guard(), this.run.as_mut(), cx).map(Ok)
    }
}

/// A running attempt, driven until it returns or is interrupted; made right after a
/// poll of `run` in the same poll of the task (see [`Attempt`]).
struct Watch<'a, 's> {
    guard: RunGuard<'a>,
    run: Pin<&'a mut Option<RunFuture<'s>>>,
    just_polled: bool,
}

impl<'a, 's> Watch<'a, 's> {
    fn after_poll(guard: RunGuard<'a>, run: Pin<&'a mut Option<RunFuture<'s>>>) -> Self {
        Self {
            guard,
            run,
            just_polled: true,
        }
    }
}

impl Future for Watch<'_, '_> {
    type Output = Drive;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Drive> {
        let this = self.get_mut();
        if std::mem::take(&mut this.just_polled) {
            return this
                .guard
                .slot
                .poll_interrupted(cx, true)
                .map(|()| Drive::Interrupted);
        }
        watch(this.guard, this.run.as_mut(), cx)
    }
}

/// One poll of a running attempt: interrupted first (once it is, `run` is not polled
/// again before `stop` is called), then `run`.
fn watch(
    guard: RunGuard<'_>,
    run: Pin<&mut Option<RunFuture<'_>>>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Drive> {
    if guard.slot.poll_interrupted(cx, true).is_ready() {
        return Poll::Ready(Drive::Interrupted);
    }
    match guard.poll(run, cx, false) {
        Poll::Ready(Some(result)) => Poll::Ready(Drive::Returned(result)),
        Poll::Ready(None) | Poll::Pending => Poll::Pending,
    }
}

/// The run in `run` as a future, every poll through `guard`; an empty slot never
/// resolves.
fn drive<'a, 's, 'g>(
    mut run: Pin<&'a mut Option<RunFuture<'s>>>,
    guard: &'a RunGuard<'g>,
) -> impl Future<Output = Result<()>> + use<'a, 's, 'g> {
    std::future::poll_fn(move |cx| match guard.poll(run.as_mut(), cx, false) {
        Poll::Ready(Some(result)) => Poll::Ready(result),
        Poll::Ready(None) | Poll::Pending => Poll::Pending,
    })
}

/// The readiness wait of a `notify_ready` attempt: it must call `ctx.ready()` within
/// `ready_timeout`, or it fails (and the caller drops the run future, still in `run`).
/// Returns how the attempt ended if it did, `None` when it is ready and still running.
async fn wait_ready(
    run: Pin<&mut Option<RunFuture<'_>>>,
    guard: &RunGuard<'_>,
    latch: &ReadyLatch,
    ready_timeout: Duration,
) -> Option<Drive> {
    tokio::select! {
        biased;
        result = drive(run, guard) => Some(Drive::Returned(result)),
        () = latch.wait() => None,
        () = guard.token.cancelled() => Some(Drive::Interrupted),
        () = tokio::time::sleep(ready_timeout) => {
            Some(Drive::Returned(Err(NotReady { timeout: ready_timeout }.into())))
        }
    }
}
