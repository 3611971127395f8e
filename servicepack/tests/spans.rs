//! Every service logs inside its own `service` span, made once, a child of the span that
//! was current when the run was planned.

use std::fmt;
use std::sync::{Arc, Mutex};

use servicepack::{Context, Result, Runner, Service, ServiceDef};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// A span as the subscriber saw it made: its name, its `service` field and its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Made {
    name: &'static str,
    service: Option<String>,
    parent: Option<&'static str>,
}

/// An event's message, and the `service` field of the innermost `service` span it was
/// logged in.
type Logged = (String, Option<String>);

#[derive(Clone, Default)]
struct Spans {
    made: Arc<Mutex<Vec<Made>>>,
    events: Arc<Mutex<Vec<Logged>>>,
}

#[derive(Default)]
struct Fields {
    service: Option<String>,
    message: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "service" => self.service = Some(format!("{value:?}")),
            "message" => self.message = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// The `service` field, kept in the span's extensions.
struct ServiceField(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let span = ctx.span(id).expect("the span just made");
        if let Some(service) = &fields.service {
            span.extensions_mut().insert(ServiceField(service.clone()));
        }
        self.made.lock().unwrap().push(Made {
            name: attrs.metadata().name(),
            service: fields.service,
            parent: span.parent().map(|parent| parent.name()),
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let service = ctx.event_scope(event).and_then(|scope| {
            scope
                .filter(|span| span.name() == "service")
                .find_map(|span| span.extensions().get::<ServiceField>().map(|f| f.0.clone()))
        });
        self.events
            .lock()
            .unwrap()
            .push((fields.message.unwrap_or_default(), service));
    }
}

/// Logs one line from `run`, then returns.
struct Says;

impl Service for Says {
    async fn run(&self, _ctx: Context) -> Result<()> {
        tracing::info!("hello from run");
        Ok(())
    }
}

/// What the subscriber saw while `body` ran on a current-thread runtime.
fn seen(body: impl FnOnce(&tokio::runtime::Runtime)) -> Spans {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        body(&runtime);
    });
    spans
}

#[test]
fn each_service_logs_in_its_span_made_once_under_the_planning_span() {
    let spans = seen(|runtime| {
        let app = tracing::info_span!("app");
        let _entered = app.enter();
        let report = runtime.block_on(
            Runner::new()
                .service(ServiceDef::new("a", Says))
                .service(ServiceDef::new("b", Says).depends_on(["a"]))
                .run(),
        );
        assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    });

    let made = spans.made.lock().unwrap().clone();
    let services: Vec<&Made> = made.iter().filter(|m| m.name == "service").collect();
    let expect = |service: &str| Made {
        name: "service",
        service: Some(service.to_owned()),
        parent: Some("app"),
    };
    assert_eq!(
        services,
        [&expect("a"), &expect("b")],
        "one span per service, each a child of `app`: {made:?}"
    );

    let events = spans.events.lock().unwrap().clone();
    for service in ["a", "b"] {
        let in_span = |message: &str| {
            events
                .iter()
                .any(|(m, s)| m == message && s.as_deref() == Some(service))
        };
        assert!(in_span("hello from run"), "{service}: {events:?}");
        assert!(in_span("starting"), "{service}: {events:?}");
    }
}

/// Says it is ready in its first poll, between two lines of its own.
struct ReadyAtOnce;

impl Service for ReadyAtOnce {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("connecting");
        ctx.ready();
        tracing::info!("connected");
        Ok(())
    }
}

/// A `notify_ready` service ready in its first poll has `starting` and `ready` recorded
/// in one edit of its status, after that poll; its lines still come in the order things
/// happened: `starting` before anything `run` logs, `ready` after.
#[test]
fn lines_of_a_service_ready_in_its_first_poll_keep_their_order() {
    let spans = seen(|runtime| {
        let policy = servicepack::Policy::new().notify_ready(true);
        let report = runtime.block_on(
            Runner::new()
                .service(ServiceDef::new("db", ReadyAtOnce).policy(policy))
                .run(),
        );
        assert_eq!(report.exit_code(), 0, "{:?}", report.reason());
    });
    let events = spans.events.lock().unwrap().clone();
    let lines: Vec<&str> = events
        .iter()
        .filter(|(_, service)| service.as_deref() == Some("db"))
        .map(|(message, _)| message.as_str())
        .collect();
    assert_eq!(
        lines[..5],
        ["starting", "connecting", "connected", "ready", "exited"],
        "{events:?}"
    );
}
