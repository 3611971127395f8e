//! The notifier: a watcher task that turns status changes into notifications, and a
//! watchdog task that pings systemd at a fixed pace. Both are tokio tasks on the app's
//! runtime, so when the runtime wedges the pings stop, which is what a watchdog is for.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::NotifyConfig;
use super::ready_fd::ReadyFd;
use super::systemd::NotifySocket;
use crate::{AppState, AppStatus, StatusHandle};

/// How long the end of the app waits for the last notifications to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// After telling, how long the watcher lets changes gather before it looks again: one
/// snapshot per 10 ms at most, however many services change (a snapshot of 10,000
/// services is not free), at the price of 10 ms of latency for a `READY=1`.
const GATHER: Duration = Duration::from_millis(10);

/// What the supervisors are told, in the order it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    /// `STATUS=<ready>/<total> services ready`.
    Count {
        /// Services counted in readiness that are ready.
        ready: usize,
        /// Services counted in readiness.
        total: usize,
    },
    /// The app is ready for the first time: `READY=1`, and the newline on `READY_FD`.
    Ready,
    /// Shutdown began: `STOPPING=1`.
    Stopping,
}

impl Event {
    /// The systemd datagram.
    pub(super) fn datagram(self) -> String {
        match self {
            Self::Count { ready, total } => format!("STATUS={ready}/{total} services ready"),
            Self::Ready => "READY=1".to_owned(),
            Self::Stopping => "STOPPING=1".to_owned(),
        }
    }
}

/// What has been told so far; each step compares a snapshot with it.
#[derive(Debug, Default)]
pub(super) struct Progress {
    count: Option<(usize, usize)>,
    ready: bool,
    stopping: bool,
}

impl Progress {
    /// The events that `status` implies since the last step.
    pub(super) fn step(&mut self, status: &AppStatus) -> Vec<Event> {
        let mut events = Vec::new();
        if status.services.is_empty() && status.state == AppState::Starting {
            // The run is not planned yet (pre-run hooks).
            return events;
        }
        let shutting_down = matches!(
            status.state,
            AppState::Draining | AppState::Stopping | AppState::Stopped
        );
        // Said before the count it explains (services stopping are no longer ready).
        if shutting_down && !self.stopping {
            self.stopping = true;
            events.push(Event::Stopping);
        }
        let counted = status
            .services
            .iter()
            .filter(|service| service.counts_for_readiness);
        let total = counted.clone().count();
        let ready = counted.filter(|service| service.ready).count();
        if self.count != Some((ready, total)) {
            self.count = Some((ready, total));
            events.push(Event::Count { ready, total });
        }
        if status.state == AppState::Ready && !self.ready {
            self.ready = true;
            events.push(Event::Ready);
        }
        events
    }
}

/// The supervisors to tell, opened.
pub(super) struct Notifier {
    status: StatusHandle,
    systemd: Option<Arc<NotifySocket>>,
    ping_every: Option<Duration>,
    ready_fd: Option<ReadyFd>,
}

impl Notifier {
    /// Opens what `config` names; what cannot be opened is logged and left out (the app
    /// runs on: a supervisor that is never told will say so itself).
    pub(super) fn start(config: &NotifyConfig, status: StatusHandle) -> Self {
        let mut notifier = Self {
            status,
            systemd: None,
            ping_every: None,
            ready_fd: None,
        };
        if let Some(systemd) = &config.systemd {
            match NotifySocket::new(&systemd.socket) {
                Ok(socket) => {
                    notifier.systemd = Some(Arc::new(socket));
                    notifier.ping_every = systemd.ping_every;
                }
                Err(error) => {
                    tracing::error!("cannot notify systemd at {:?}: {error}", systemd.socket);
                }
            }
        }
        if let Some(fd) = config.ready_fd {
            match ReadyFd::open(fd) {
                Ok(ready_fd) => notifier.ready_fd = Some(ready_fd),
                Err(error) => tracing::error!(
                    "cannot use READY_FD={fd}: opening /proc/self/fd/{fd} for writing failed ({error}); it must be the writing end of a pipe or a FIFO with a reader, or a file"
                ),
            }
        }
        notifier
    }

    /// Runs `work` with the watcher and the watchdog beside it; once `work` is done, sends
    /// what its end implies (`STOPPING=1`) and returns its output.
    pub(super) async fn run<F: Future>(self, work: F) -> F::Output {
        let done = CancellationToken::new();
        let watchdog = self
            .systemd
            .clone()
            .zip(self.ping_every)
            .map(|(socket, every)| tokio::spawn(watchdog(socket, every)));
        let tell = Tell {
            systemd: self.systemd,
            ready_fd: self.ready_fd,
            failed: false,
        };
        let watcher = tokio::spawn(watch(self.status, tell, done.clone()));
        let output = work.await;
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
        done.cancel();
        if tokio::time::timeout(FLUSH_TIMEOUT, watcher).await.is_err() {
            tracing::warn!("the last notification to the supervisor was not sent in time");
        }
        output
    }
}

/// Follows `status` until `done`, then takes one last look.
async fn watch(status: StatusHandle, mut tell: Tell, done: CancellationToken) {
    let mut progress = Progress::default();
    loop {
        // Taken before the snapshot, so no change between the two is missed.
        let changed = status.changed();
        for event in progress.step(&status.snapshot()) {
            tell.event(event).await;
        }
        if done.is_cancelled() {
            return;
        }
        tokio::select! {
            () = changed => {}
            () = done.cancelled() => {}
        }
        tokio::select! {
            () = tokio::time::sleep(GATHER) => {}
            () = done.cancelled() => {}
        }
    }
}

/// `WATCHDOG=1` every `every`, the first one `every` after the start.
async fn watchdog(socket: Arc<NotifySocket>, every: Duration) {
    let mut interval = tokio::time::interval_at(Instant::now() + every, every);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failed = false;
    loop {
        interval.tick().await;
        if let Err(error) = socket.send("WATCHDOG=1").await {
            report(&mut failed, socket.name(), &error);
        }
    }
}

/// The open channels to the supervisors.
struct Tell {
    systemd: Option<Arc<NotifySocket>>,
    ready_fd: Option<ReadyFd>,
    /// Whether a send to systemd failed already (the first failure is a warning, the
    /// rest are debug lines).
    failed: bool,
}

impl Tell {
    async fn event(&mut self, event: Event) {
        if let Some(socket) = &self.systemd {
            let datagram = event.datagram();
            match socket.send(&datagram).await {
                Ok(()) => tracing::debug!(notify_socket = socket.name(), "sent {datagram}"),
                Err(error) => report(&mut self.failed, socket.name(), &error),
            }
        }
        if event == Event::Ready
            && let Some(ready_fd) = &mut self.ready_fd
        {
            match ready_fd.ready() {
                Ok(()) => {
                    tracing::debug!("wrote the readiness newline to READY_FD={}", ready_fd.fd());
                }
                Err(error) => tracing::error!(
                    "cannot write the readiness newline to READY_FD={}: {error}",
                    ready_fd.fd()
                ),
            }
        }
    }
}

fn report(failed: &mut bool, name: &str, error: &std::io::Error) {
    if *failed {
        tracing::debug!("cannot notify systemd at {name}: {error}");
    } else {
        *failed = true;
        tracing::warn!(
            "cannot notify systemd at {name}: {error} (later failures are logged at debug level)"
        );
    }
}
