//! One attempt of a service's `run` inside its supervisor: the call and first poll
//! (`Life::begin_attempt`), the readiness wait of a `notify_ready` attempt, and the watch
//! of a running attempt until it returns or is interrupted, written out by hand so that an
//! idle supervisor carries only a few references of it.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use tokio::time::{Instant, Sleep};

use super::{Begun, Drive, Life, RunFuture};
use crate::Context;
use crate::context::ReadyLatch;
use crate::runtime::catch::{self, NotReady};
use crate::runtime::erased::ErasedService;
use crate::runtime::lifecycle::{self, Lifecycle, Logged};
use crate::runtime::shared::RunGuard;
use crate::runtime::status::Stamp;

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
        let notify_ready = self.attempts.policy.notify_ready;
        let starting = Lifecycle::Starting {
            attempt,
            notify_ready,
        };
        // Converted once, for `starting` and an instant `ready`.
        let stamp = self.shared.status().stamp(at);
        // The first run of a `notify_ready` service: `starting` is logged now (before
        // anything `run` logs) and recorded after the first poll, with `ready` if `run`
        // said so in it (most do: one edit of the cell for both).
        let mut ahead = None;
        if notify_ready && attempt == 1 {
            ahead = Some(lifecycle::log_ahead(starting, stamp));
        } else {
            lifecycle::emit_at(self.shared.status(), self.node(), &starting, Some(stamp));
        }
        if notify_ready {
            // Made before `run` is called, so that its context finds it.
            self.latch();
        }
        if self.attempts.policy.retry_reset.is_some() {
            // In the slot, not the task: every byte of the task counts.
            self.slot().set_attempt_started(at);
        }
        // With restarts, the attempt's own token; else the service's signal, and no token
        // unless `run` asks for one.
        let ctx = match &self.run_token {
            Some(token) => Context::new(self.ctx_name(), attempt, token.clone(), None),
            None => Context::of_service(self.ctx_name(), attempt),
        };
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
        if !notify_ready {
            self.mark_ready();
        } else if self.latch().is_set(attempt) {
            // Ready in the first poll (it may have returned in it too: it made it).
            self.became_ready(ahead, Some(stamp), &mut returned);
        } else {
            if let Some(starting) = ahead {
                starting.record(self.shared.status(), self.node());
            }
            if returned.is_none() {
                return Begun::AwaitingReady;
            }
        }
        returned.map_or(Begun::Running, Begun::Ended)
    }

    /// The service's readiness latch (made for every service of the run on first use).
    fn latch(&self) -> &ReadyLatch {
        self.shared.plan().names().latch_of(self.node())
    }

    /// The attempt called `ctx.ready()` (at `at`, or now): records it (after `starting`,
    /// if that is not recorded yet), opens the gate, and forgives a readiness timeout that
    /// lost the race.
    fn became_ready(
        &mut self,
        starting: Option<Logged>,
        at: Option<Stamp>,
        drive: &mut Option<Drive>,
    ) {
        let (board, node) = (self.shared.status(), self.node());
        match starting {
            Some(starting) => starting.record_with(board, node, &Lifecycle::Ready, at),
            None => lifecycle::emit_at(board, node, &Lifecycle::Ready, at),
        }
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
/// returns or is interrupted (the service's turn to stop, or a restart); a `notify_ready`
/// attempt not ready in its first poll first waits for `ctx.ready()` within its
/// `ready_timeout`. Its output is how it ended. Written out by hand (it is in every idle
/// supervisor): two references and a phase, where an `async` block with a wait on the
/// token would take 170 bytes.
pub(super) struct Attempt<'a, 's> {
    life: &'a mut Life,
    run: &'a mut Option<RunFuture<'s>>,
    phase: Phase<'s>,
}

/// Where an [`Attempt`] is.
enum Phase<'s> {
    /// Not called yet: the service to call `run` on.
    Call(&'s dyn ErasedService),
    /// Running (and ready, if readiness depends on it).
    Watch,
    /// A `notify_ready` attempt that has not called `ctx.ready()` yet, with the timeout of
    /// the wait (boxed: rare).
    AwaitingReady(Pin<Box<Sleep>>),
}

impl<'a, 's> Attempt<'a, 's> {
    pub(super) fn new(
        life: &'a mut Life,
        service: &'s dyn ErasedService,
        run: &'a mut Option<RunFuture<'s>>,
    ) -> Self {
        Self {
            life,
            run,
            phase: Phase::Call(service),
        }
    }

    /// The wait for readiness is over (`ended`: how the attempt ended, `None`: ready
    /// and running, `run` polled with this task's waker just now or in the first poll,
    /// so only the interruption is checked).
    fn after_ready_wait(
        &mut self,
        ended: Option<Drive>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Drive> {
        self.phase = Phase::Watch;
        match ended {
            Some(drive) => Poll::Ready(drive),
            None => self
                .life
                .poll_interrupted(cx, true)
                .map(|()| Drive::Interrupted),
        }
    }
}

/// One poll of the readiness wait: `run` (unless it was polled just now), then the latch,
/// the interruption and the timeout, in that order. Resolves to how the attempt ended, or
/// `None` once it is ready and running.
fn poll_ready(
    life: &mut Life,
    run: &mut Option<RunFuture<'_>>,
    timeout: Pin<&mut Sleep>,
    cx: &mut std::task::Context<'_>,
    just_polled: bool,
) -> Poll<Option<Drive>> {
    let attempt = life.attempts.runs();
    let guard = life.guard();
    let mut ended = None;
    if !just_polled && let Poll::Ready(Some(result)) = guard.poll(Pin::new(&mut *run), cx, false) {
        ended = Some(Drive::Returned(result));
    }
    if ended.is_none() && life.latch().poll_set(cx, attempt).is_pending() {
        if guard.poll_interrupted(cx, true).is_ready() {
            ended = Some(Drive::Interrupted);
        } else if timeout.poll(cx).is_ready() {
            let timeout = life.attempts.policy.ready_timeout;
            ended = Some(Drive::Returned(Err(NotReady { timeout }.into())));
        } else {
            return Poll::Pending;
        }
    }
    // Ready, possibly in the very poll that ended the wait: it made it.
    if life.latch().is_set(attempt) {
        life.became_ready(None, None, &mut ended);
    }
    Poll::Ready(ended)
}

impl Future for Attempt<'_, '_> {
    type Output = Drive;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Drive> {
        let this = self.get_mut();
        match &mut this.phase {
            Phase::Call(service) => {
                let service = *service;
                this.phase = Phase::Watch;
                match this
                    .life
                    .begin_attempt(service, Pin::new(&mut *this.run), cx)
                {
                    Begun::Ended(drive) => Poll::Ready(drive),
                    Begun::AwaitingReady => {
                        let timeout = this.life.attempts.policy.ready_timeout;
                        let mut wait = Box::pin(tokio::time::sleep(timeout));
                        match poll_ready(this.life, this.run, wait.as_mut(), cx, true) {
                            Poll::Ready(ended) => this.after_ready_wait(ended, cx),
                            Poll::Pending => {
                                this.phase = Phase::AwaitingReady(wait);
                                Poll::Pending
                            }
                        }
                    }
                    // `run` was just polled with this task's waker: it is next polled
                    // when it wakes the task, not at once (one poll of every service's
                    // `run` less).
                    Begun::Running => this
                        .life
                        .poll_interrupted(cx, true)
                        .map(|()| Drive::Interrupted),
                }
            }
            Phase::AwaitingReady(wait) => {
                match poll_ready(this.life, this.run, wait.as_mut(), cx, false) {
                    Poll::Ready(ended) => this.after_ready_wait(ended, cx),
                    Poll::Pending => Poll::Pending,
                }
            }
            Phase::Watch => watch(this.life.guard(), Pin::new(&mut *this.run), cx),
        }
    }
}

/// One poll of a running attempt: interrupted first (once it is, `run` is not polled
/// again before `stop` is called), then `run`.
fn watch(
    guard: RunGuard<'_>,
    run: Pin<&mut Option<RunFuture<'_>>>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Drive> {
    if guard.poll_interrupted(cx, true).is_ready() {
        return Poll::Ready(Drive::Interrupted);
    }
    match guard.poll(run, cx, false) {
        Poll::Ready(Some(result)) => Poll::Ready(Drive::Returned(result)),
        Poll::Ready(None) | Poll::Pending => Poll::Pending,
    }
}
