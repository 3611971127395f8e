//! A service's stop signal: the flag its turn to stop sets, and a cancellation token made
//! only when someone asks for one.
//!
//! Most services only await `ctx.cancelled()` inside `run`, which their supervisor polls:
//! the supervisor watches the flag anyway (its turn to stop wakes it through the task
//! slot), so such a wait needs no token and no registration of its own. While the
//! supervisor polls `run` it marks the thread ([`polling_run`]) with the signal and its
//! task's waker; a `ctx.cancelled()` polled under that mark, with that waker, only reads
//! the flag ([`supervised_here`]). Anything else (a wait polled by another task, or by a
//! nested executor inside `run`, a `ctx.token()` handed to a library, a retry's wait)
//! takes the token, which is made on first use and cancelled with the flag.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::task::{Context, Waker};

use tokio_util::sync::CancellationToken;

/// One service's stop signal (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// Set when the service's turn to stop comes.
    set: AtomicBool,
    /// Made on first use; cancelled when `set` is (by whichever of the two comes second).
    token: OnceLock<CancellationToken>,
}

impl Signal {
    /// Whether the service's turn to stop has come.
    ///
    /// Sequentially consistent: the supervisor's count of its polls of `run` and its read
    /// of this flag pair with the walk's write of it and its read of the count
    /// (`Shared::after_cancel`).
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// The service's turn to stop: sets the flag, then cancels the token if there is one.
    pub(crate) fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        // Paired with the fence in `token`: either this sees the token, or `token` sees
        // the flag (and both may; a second `cancel` does nothing).
        fence(Ordering::SeqCst);
        if let Some(token) = self.token.get() {
            token.cancel();
        }
    }

    /// The token, made on first use (and cancelled already if the flag is set).
    pub(crate) fn token(&self) -> &CancellationToken {
        let token = self.token.get_or_init(CancellationToken::new);
        fence(Ordering::SeqCst);
        if self.set.load(Ordering::Relaxed) {
            token.cancel();
        }
        token
    }

    /// The address that stands for this signal in a [`polling_run`] mark.
    fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }
}

/// Who is polling `run` on this thread: the signal of its service and its task's waker.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Polling {
    signal: usize,
    waker: (usize, usize),
}

impl Polling {
    fn of(signal: &Signal, waker: &Waker) -> Self {
        Self {
            signal: signal.id(),
            waker: (
                waker.data().addr(),
                std::ptr::from_ref(waker.vtable()).addr(),
            ),
        }
    }
}

thread_local! {
    static POLLING: Cell<Option<Polling>> = const { Cell::new(None) };
}

/// Restores the mark that was there before (a `run` may poll another runtime's tasks
/// inside its own poll), even if `poll` unwinds.
struct Restore(Option<Polling>);

impl Drop for Restore {
    fn drop(&mut self) {
        POLLING.set(self.0);
    }
}

/// Runs `poll` (the supervisor's poll of `run`, with the task's context `cx`) marked as
/// the poll of `signal`'s service by its supervisor. The supervisor wakes on `signal` by
/// itself, so a wait for it inside `run` polled with the same waker needs no registration.
pub(crate) fn polling_run<'a, T>(
    signal: &Signal,
    cx: &mut Context<'a>,
    poll: impl FnOnce(&mut Context<'a>) -> T,
) -> T {
    let _restore = Restore(POLLING.replace(Some(Polling::of(signal, cx.waker()))));
    poll(cx)
}

/// Whether `signal`'s supervisor is polling `run` on this thread right now, with `waker`:
/// then it is woken when `signal` is set, and polls `run` again once it is.
pub(crate) fn supervised_here(signal: &Signal, waker: &Waker) -> bool {
    POLLING.get() == Some(Polling::of(signal, waker))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn a_token_made_before_or_after_the_flag_is_cancelled_with_it() {
        let early = Signal::default();
        let token = early.token().clone();
        assert!(!token.is_cancelled());
        early.set();
        assert!(token.is_cancelled() && early.is_set());

        let late = Signal::default();
        late.set();
        assert!(late.token().is_cancelled());
    }

    #[test]
    fn the_mark_holds_for_its_signal_and_waker_only_and_is_restored() {
        let (signal, other) = (Signal::default(), Signal::default());
        let (waker, stranger) = (Waker::from(Arc::new(Noop)), Waker::from(Arc::new(Noop)));
        assert!(!supervised_here(&signal, &waker));
        let mut cx = Context::from_waker(&waker);
        polling_run(&signal, &mut cx, |_| {
            assert!(supervised_here(&signal, &waker));
            assert!(!supervised_here(&signal, &stranger));
            assert!(!supervised_here(&other, &waker));
            let mut cx = Context::from_waker(&waker);
            polling_run(&other, &mut cx, |_| {
                assert!(supervised_here(&other, &waker));
            });
            assert!(supervised_here(&signal, &waker));
        });
        assert!(!supervised_here(&signal, &waker));
    }
}
