//! An extra `tracing` layer (`App::layer`), next to the built-in log output: here one
//! that counts the lifecycle events by message.
//!
//! The framework's lifecycle events are ordinary `tracing` events (`starting`, `ready`,
//! `exited`, `retrying`, `stopping`, `stopped`, ...) inside a span with a `service`
//! field, so any layer sees them: a metrics exporter, a file writer
//! (`tracing-appender`), an alerting hook. This one prints its tally on stdout from a
//! post-stop hook: `lifecycle events seen by the extra layer: exited=2 ready=3 ...`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use servicepack::App;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The lifecycle messages of SPEC section 3 that the tally reports.
const LIFECYCLE: [&str; 10] = [
    "starting",
    "ready",
    "exited",
    "attempt failed",
    "retrying",
    "failed",
    "failed (allowed failure)",
    "stopping",
    "stopped",
    "stop timed out",
];

/// Counts events by their message; cheap to clone, every clone shares the counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl EventCounter {
    /// `exited=2 ready=3 starting=3`: the lifecycle events seen so far, by name.
    pub(crate) fn tally(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        for (message, count) in counts.iter() {
            if LIFECYCLE.contains(&message.as_str()) {
                let _ = write!(
                    out,
                    "{}{message}={count}",
                    if out.is_empty() { "" } else { " " }
                );
            }
        }
        out
    }
}

/// Pulls the `message` field out of an event.
struct Message(Option<String>);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber> Layer<S> for EventCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message(None);
        event.record(&mut message);
        if let Some(message) = message.0 {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            *counts.entry(message).or_default() += 1;
        }
    }
}

/// Adds the counting layer, and a post-stop hook that prints what it counted.
pub(crate) fn register(app: &mut App) {
    let counter = EventCounter::default();
    app.layer(counter.clone());
    app.post_stop(move |_ctx| async move {
        println!(
            "lifecycle events seen by the extra layer: {}",
            counter.tally()
        );
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn counts_lifecycle_events_only() {
        let counter = EventCounter::default();
        let subscriber = tracing_subscriber::registry().with(counter.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(attempt = 1, "starting");
            tracing::info!("ready");
            tracing::info!(attempt = 2, "starting");
            tracing::info!("something else");
        });
        assert_eq!(counter.tally(), "ready=1 starting=2");
    }
}
