//! The one instrument both sides report to: who has started, and when the last one did.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Counts services entering their `run`; the one that completes the count records the
/// instant, so the figure does not include the time it takes to wake the waiter.
#[derive(Debug)]
pub struct Probe {
    target: usize,
    entered: AtomicUsize,
    last: OnceLock<Instant>,
    notify: Notify,
    left: AtomicUsize,
    last_left: OnceLock<Instant>,
    pause: Duration,
}

impl Probe {
    /// A probe waiting for `target` services.
    #[must_use]
    pub fn new(target: usize) -> Arc<Self> {
        Self::with_pause(target, Duration::ZERO)
    }

    /// A probe whose [`all_entered`](Self::all_entered) idles `pause` before it returns,
    /// so that a profile shows start and stop apart (the figures are not affected).
    #[must_use]
    pub fn with_pause(target: usize, pause: Duration) -> Arc<Self> {
        Arc::new(Self {
            target,
            entered: AtomicUsize::new(0),
            last: OnceLock::new(),
            notify: Notify::new(),
            left: AtomicUsize::new(0),
            last_left: OnceLock::new(),
            pause,
        })
    }

    /// A service has entered its `run`.
    pub fn enter(&self) {
        if self.entered.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            let _ = self.last.set(Instant::now());
            // `notify_one` keeps a permit, so a waiter that comes later still wakes.
            self.notify.notify_one();
        }
    }

    /// A service's `run` saw the cancellation and is about to return.
    pub fn leave(&self) {
        if self.left.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            let _ = self.last_left.set(Instant::now());
        }
    }

    /// When the last service left its `run`, once all have.
    #[must_use]
    pub fn all_left(&self) -> Option<Instant> {
        self.last_left.get().copied()
    }

    /// Waits until every service has entered; returns when the last one did.
    pub async fn all_entered(&self) -> Instant {
        let last = loop {
            if let Some(&last) = self.last.get() {
                break last;
            }
            self.notify.notified().await;
        };
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        last
    }
}
