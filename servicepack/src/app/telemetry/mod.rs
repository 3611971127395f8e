//! Logging: the subscriber that `LOG_LEVEL` (or `RUST_LOG`), `LOG_FORMAT`,
//! `LOG_ADD_SOURCE`, `NO_COLOR` and `CLICOLOR_FORCE` describe, the panic hook, and the
//! exit-reason line.
//!
//! The built-in layer is [`LogLayer`], not `tracing_subscriber::fmt`: a line must show the
//! `service` field of the enclosing `service` span as `service=<name>` (text) or as a
//! top-level `"service"` key (JSON), and the stock formatters nest span fields instead.
//! The layer keeps each span's fields in the span's extensions and flattens them into
//! every event line.
//!
//! The layer's filter is `LOG_LEVEL` *or* two fixed exceptions, so neither a quiet level
//! nor a directive that silences everything can hide them: events with the target
//! [`EXIT_TARGET`] (the reason for a non-zero exit) and spans named `service` (so an
//! ERROR inside an INFO span still names its service).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry, filter};

use crate::app::config::{Color, LogConfig, LogFormat};
use crate::runtime::catch::{self, Panicked};

/// The target of the exit-reason event; the built-in layer always writes it.
pub(crate) const EXIT_TARGET: &str = "servicepack::exit";
/// The target of the event that the panic hook writes.
const PANIC_TARGET: &str = "servicepack::panic";
/// The span the runtime opens around each service's code.
const SERVICE_SPAN: &str = "service";

/// A layer that `App::layer` adds next to the built-in one.
pub(crate) type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// Whether [`init`] installed the global subscriber (so the exit reason goes through it).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber: the built-in stderr layer filtered by `LOG_LEVEL`, then
/// the user's layers, which see every event and bring their own filters. When a global
/// subscriber was already set (by the user's setup function, say), logs go there, and
/// only the exit reason is still written by servicepack.
pub(crate) fn init(log: &LogConfig, extra: Vec<BoxedLayer>) {
    let mut layers = Vec::with_capacity(extra.len() + 1);
    let color = log.color.enabled(std::io::stderr().is_terminal());
    layers.push(built_in(log, color, std::io::stderr).boxed());
    layers.extend(extra);
    let installed = tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_ok();
    INSTALLED.store(installed, Ordering::Release);
}

/// The built-in layer writing to `make_writer` (with ANSI colour when `color`), filtered
/// by `LOG_LEVEL` and the fixed exceptions of the module docs.
fn built_in<S, W>(
    log: &LogConfig,
    color: bool,
    make_writer: W,
) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let always = filter::filter_fn(|meta| {
        meta.target() == EXIT_TARGET || (meta.is_span() && meta.name() == SERVICE_SPAN)
    });
    LogLayer::new(log.format, log.add_source, make_writer)
        .colored(color)
        .with_filter(filter::FilterExt::or(log.filter.env_filter(), always))
}

/// Writes why the process exits with `code`: an ERROR line on stderr, in `format`, whatever
/// `LOG_LEVEL` says. After [`init`] the line goes through the subscriber (so the user's
/// layers see it too); before it (a bad variable) it is written directly.
pub(crate) fn exit_reason(format: LogFormat, code: u8, reason: &str) {
    if INSTALLED.load(Ordering::Acquire) {
        tracing::error!(target: EXIT_TARGET, exit_code = code, "{reason}");
    } else {
        let color = Color::from_env().enabled(std::io::stderr().is_terminal());
        let subscriber =
            Registry::default().with(LogLayer::new(format, false, std::io::stderr).colored(color));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: EXIT_TARGET, exit_code = code, "{reason}");
        });
    }
}

/// Replaces Rust's default panic hook, which prints a trace to stderr, with a log event.
///
/// A panic that servicepack catches (in `run`, `stop`, a constructor, a hook, a command)
/// is reported as an error by the catcher, with the service name; the hook only adds a
/// DEBUG event with the location, so the report is not written twice. Any other panic
/// (in a task that a service spawned, in a destructor, on a thread of the user's) would
/// otherwise leave no trace: the hook logs it at ERROR, with the location and the thread,
/// inside the current span, so a panic in a service's task (or in a task spawned with
/// `.in_current_span()`) names the service.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let panicked = Panicked::from_payload(info.payload());
        let location = info
            .location()
            .map(|location| format!("{}:{}", location.file(), location.line()));
        let location = location.as_deref().unwrap_or("unknown");
        if catch::is_catching() {
            tracing::debug!(target: PANIC_TARGET, location, "{panicked}");
            return;
        }
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let log = || {
            tracing::error!(
                target: PANIC_TARGET,
                location,
                thread,
                "{panicked} (not caught by servicepack: a task a service spawned, a destructor, or a thread of the app)"
            );
        };
        if INSTALLED.load(Ordering::Acquire) || tracing::dispatcher::has_been_set() {
            log();
        } else {
            // Before the subscriber is installed (a thread started by the setup function):
            // still a line on stderr, in the format `LOG_FORMAT` asks for.
            let json = std::env::var("LOG_FORMAT")
                .is_ok_and(|format| format.trim().eq_ignore_ascii_case("json"));
            let format = if json {
                LogFormat::Json
            } else {
                LogFormat::Text
            };
            let color = Color::from_env().enabled(std::io::stderr().is_terminal());
            let subscriber = Registry::default()
                .with(LogLayer::new(format, false, std::io::stderr).colored(color));
            tracing::subscriber::with_default(subscriber, log);
        }
    }));
}

/// The built-in layer: one line per event, text or JSON, with span fields flattened in.
pub(crate) struct LogLayer<W> {
    format: LogFormat,
    add_source: bool,
    color: bool,
    make_writer: W,
}

impl<W> LogLayer<W> {
    pub(crate) fn new(format: LogFormat, add_source: bool, make_writer: W) -> Self {
        Self {
            format,
            add_source,
            color: false,
            make_writer,
        }
    }

    /// With ANSI colour in text lines (never in JSON).
    pub(crate) fn colored(mut self, color: bool) -> Self {
        self.color = color;
        self
    }
}

impl<S, W> Layer<S> for LogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<Fields>() {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Line {
            message: fields.message.take().unwrap_or_default(),
            service: fields.take("service"),
            fields: fields.values,
        };
        if let Some(scope) = ctx.event_scope(event) {
            // Innermost first: the nearest span wins a name that several spans carry.
            for span in scope {
                let extensions = span.extensions();
                let Some(span_fields) = extensions.get::<Fields>() else {
                    continue;
                };
                for (name, value) in &span_fields.values {
                    if *name == "service" {
                        if line.service.is_none() {
                            line.service = Some(value.clone());
                        }
                    } else if !line.fields.iter().any(|(known, _)| known == name) {
                        line.fields.push((name, value.clone()));
                    }
                }
            }
        }
        let text = match self.format {
            LogFormat::Text => line.text(event, self.add_source, self.color),
            LogFormat::Json => line.json(event, self.add_source),
        };
        let mut writer = self.make_writer.make_writer_for(event.metadata());
        // A log line that cannot be written has nowhere else to go.
        let _ = writer.write_all(text.as_bytes());
    }
}

/// The fields of a span or an event, in the order they were recorded.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    values: Vec<(&'static str, Value)>,
}

impl Fields {
    fn set(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(value.into_text());
        } else if let Some(slot) = self
            .values
            .iter_mut()
            .find(|(name, _)| *name == field.name())
        {
            slot.1 = value;
        } else {
            self.values.push((field.name(), value));
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let index = self.values.iter().position(|(known, _)| *known == name)?;
        Some(self.values.remove(index).1)
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Value::Int(value.into()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, Value::Int(value.into()));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.set(field, Value::Int(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, Value::Str(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, Value::Str(format!("{value:?}")));
    }
}

/// One field value; numbers and booleans stay numbers and booleans in JSON.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i128),
    F64(f64),
    Bool(bool),
}

impl Value {
    fn into_text(self) -> String {
        match self {
            Self::Str(text) => text,
            Self::Int(number) => number.to_string(),
            Self::F64(number) => number.to_string(),
            Self::Bool(flag) => flag.to_string(),
        }
    }

    /// logfmt: bare when the text cannot be misread, quoted and escaped otherwise.
    fn write_text(&self, out: &mut String) {
        match self {
            Self::Str(text) => {
                let bare = !text.is_empty()
                    && !text
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=');
                if bare {
                    out.push_str(text);
                } else {
                    let _ = write!(out, "{text:?}");
                }
            }
            Self::Int(number) => {
                let _ = write!(out, "{number}");
            }
            Self::F64(number) => {
                let _ = write!(out, "{number}");
            }
            Self::Bool(flag) => {
                let _ = write!(out, "{flag}");
            }
        }
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Self::Str(text) => push_json_string(out, text),
            Self::Int(number) => {
                let _ = write!(out, "{number}");
            }
            Self::F64(number) if number.is_finite() => {
                let _ = write!(out, "{number}");
            }
            Self::F64(number) => push_json_string(out, &number.to_string()),
            Self::Bool(flag) => {
                let _ = write!(out, "{flag}");
            }
        }
    }
}

/// Keys the JSON line itself uses; an event field with one of these names is written as
/// `fields.<name>` so that every key stays unique.
const RESERVED_KEYS: [&str; 6] = [
    "timestamp",
    "level",
    "message",
    "service",
    "target",
    "source",
];

/// One event, ready to be written.
struct Line {
    message: String,
    service: Option<Value>,
    fields: Vec<(&'static str, Value)>,
}

impl Line {
    /// `2026-01-02T03:04:05.123456Z  INFO starting service=db attempt=1 source=src/db.rs:12`;
    /// with `color`, the timestamp and the keys dimmed and the level in its colour (as
    /// `tracing_subscriber::fmt` colours them).
    fn text(&self, event: &Event<'_>, add_source: bool, color: bool) -> String {
        let meta = event.metadata();
        let paint = Paint(color);
        let mut out = String::with_capacity(128);
        out.push_str(paint.dim());
        push_timestamp(&mut out);
        out.push_str(paint.reset());
        let _ = write!(
            out,
            " {}{:>5}{} {}",
            paint.level(*meta.level()),
            meta.level(),
            paint.reset(),
            self.message
        );
        if let Some(service) = &self.service {
            let _ = write!(out, " {}service={}", paint.dim(), paint.reset());
            service.write_text(&mut out);
        }
        for (name, value) in &self.fields {
            let _ = write!(out, " {}{name}={}", paint.dim(), paint.reset());
            value.write_text(&mut out);
        }
        if add_source && let Some(source) = source(event) {
            let _ = write!(out, " {}source={}", paint.dim(), paint.reset());
            Value::Str(source).write_text(&mut out);
        }
        out.push('\n');
        out
    }

    /// `{"timestamp":"…","level":"INFO","message":"starting","service":"db","target":"…","attempt":1}`
    fn json(&self, event: &Event<'_>, add_source: bool) -> String {
        let meta = event.metadata();
        let mut out = String::with_capacity(160);
        out.push_str("{\"timestamp\":\"");
        push_timestamp(&mut out);
        let _ = write!(out, "\",\"level\":\"{}\",\"message\":", meta.level());
        push_json_string(&mut out, &self.message);
        if let Some(service) = &self.service {
            out.push_str(",\"service\":");
            service.write_json(&mut out);
        }
        out.push_str(",\"target\":");
        push_json_string(&mut out, meta.target());
        if add_source && let Some(source) = source(event) {
            out.push_str(",\"source\":");
            push_json_string(&mut out, &source);
        }
        for (name, value) in &self.fields {
            out.push(',');
            if RESERVED_KEYS.contains(name) {
                push_json_string(&mut out, &format!("fields.{name}"));
            } else {
                push_json_string(&mut out, name);
            }
            out.push(':');
            value.write_json(&mut out);
        }
        out.push_str("}\n");
        out
    }
}

/// ANSI escapes, or nothing when colour is off.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn on(self, code: &'static str) -> &'static str {
        if self.0 { code } else { "" }
    }

    fn dim(self) -> &'static str {
        self.on("\x1b[2m")
    }

    fn reset(self) -> &'static str {
        self.on("\x1b[0m")
    }

    fn level(self, level: tracing::Level) -> &'static str {
        self.on(match level {
            tracing::Level::TRACE => "\x1b[35m",
            tracing::Level::DEBUG => "\x1b[34m",
            tracing::Level::INFO => "\x1b[32m",
            tracing::Level::WARN => "\x1b[33m",
            tracing::Level::ERROR => "\x1b[31m",
        })
    }
}

fn source(event: &Event<'_>) -> Option<String> {
    let meta = event.metadata();
    let file = meta.file()?;
    Some(match meta.line() {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    })
}

fn push_timestamp(out: &mut String) {
    let _ = SystemTime.format_time(&mut Writer::new(out));
}

fn push_json_string(out: &mut String, text: &str) {
    // Serialising a `str` cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

#[cfg(test)]
mod tests;
