//! The built-in layer, written into a buffer.

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt as _;

use super::*;
use crate::app::config::LogFilter;

/// Collects what the layer writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Capture {
    type Writer = Self;

    fn make_writer(&'w self) -> Self {
        self.clone()
    }
}

/// Runs `body` under the built-in layer with `log`, and returns the lines written.
fn capture(log: &LogConfig, body: impl FnOnce()) -> Vec<String> {
    let out = Capture::default();
    let layer = built_in(log, false, out.clone());
    tracing::subscriber::with_default(Registry::default().with(layer), body);
    out.lines()
}

fn log(format: LogFormat, filter: LogFilter, add_source: bool) -> LogConfig {
    LogConfig {
        filter,
        format,
        add_source,
        ..LogConfig::default()
    }
}

fn lifecycle() {
    tracing::info!(count = 2, "running services");
    let span = tracing::info_span!("service", service = "example-database");
    let _entered = span.enter();
    tracing::info!(attempt = 1, "starting");
    tracing::warn!(attempt = 1, error = %"connection refused", "attempt failed");
    tracing::error!(attempts = 3, error = "gave up", "failed");
}

fn strip_timestamp(line: &str) -> &str {
    let (timestamp, rest) = line.split_once(' ').unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.contains('T'),
        "{line}"
    );
    rest
}

#[test]
fn text_lines_show_the_service_span_field() {
    let lines = capture(&LogConfig::default(), lifecycle);
    let lines: Vec<&str> = lines.iter().map(|line| strip_timestamp(line)).collect();
    assert_eq!(
        lines,
        [
            " INFO running services count=2",
            " INFO starting service=example-database attempt=1",
            " WARN attempt failed service=example-database attempt=1 error=\"connection refused\"",
            "ERROR failed service=example-database attempts=3 error=\"gave up\"",
        ]
    );
}

#[test]
fn json_lines_have_a_top_level_service_key() {
    let lines = capture(
        &log(
            LogFormat::Json,
            LogFilter::Level(filter::LevelFilter::INFO),
            false,
        ),
        lifecycle,
    );
    assert_eq!(lines.len(), 4);
    let values: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(values[0]["message"], "running services");
    assert_eq!(values[0]["count"], 2);
    assert!(values[0].get("service").is_none());
    assert_eq!(values[1]["service"], "example-database");
    assert_eq!(values[1]["level"], "INFO");
    assert_eq!(values[1]["attempt"], 1);
    assert_eq!(values[2]["error"], "connection refused");
    assert_eq!(values[3]["level"], "ERROR");
    assert!(values[3]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(values[3]["target"], module_path!());
}

#[test]
fn quiet_levels_keep_the_service_of_louder_events() {
    let quiet = log(
        LogFormat::Text,
        LogFilter::Level(filter::LevelFilter::ERROR),
        false,
    );
    let lines = capture(&quiet, lifecycle);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("ERROR failed service=example-database attempts=3 error=\"gave up\""),
        "{lines:?}"
    );
}

#[test]
fn directives_filter_by_target() {
    let directive = log(
        LogFormat::Text,
        LogFilter::Directive("warn,servicepack::app::telemetry=info".to_owned()),
        false,
    );
    assert_eq!(capture(&directive, lifecycle).len(), 4);
    let silent = log(
        LogFormat::Text,
        LogFilter::Directive("off,other=info".to_owned()),
        false,
    );
    assert!(capture(&silent, lifecycle).is_empty());
}

#[test]
fn the_exit_reason_gets_through_any_filter() {
    for filter in [
        LogFilter::Level(filter::LevelFilter::OFF),
        LogFilter::Directive("off,nothing=error".to_owned()),
    ] {
        let lines = capture(&log(LogFormat::Json, filter, false), || {
            lifecycle();
            tracing::error!(target: EXIT_TARGET, exit_code = 2_u8, "invalid LOG_FORMAT=\"xml\"");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["message"], "invalid LOG_FORMAT=\"xml\"");
        assert_eq!(value["exit_code"], 2);
    }
}

#[test]
fn source_is_added_on_request() {
    let text = capture(
        &log(
            LogFormat::Text,
            LogFilter::Level(filter::LevelFilter::INFO),
            true,
        ),
        || {
            tracing::info!("here");
        },
    );
    assert!(
        text[0].contains(" INFO here source=servicepack/src/app/telemetry/tests.rs:"),
        "{text:?}"
    );
    let json = capture(
        &log(
            LogFormat::Json,
            LogFilter::Level(filter::LevelFilter::INFO),
            true,
        ),
        || {
            tracing::info!("here");
        },
    );
    let value: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert!(
        value["source"]
            .as_str()
            .unwrap()
            .starts_with("servicepack/src/app/telemetry/tests.rs:")
    );
}

#[test]
fn nested_spans_and_event_fields() {
    let lines = capture(&LogConfig::default(), || {
        let outer = tracing::info_span!("service", service = "api", port = 80);
        let _outer = outer.enter();
        let inner = tracing::info_span!("request", id = 7, port = 8080);
        let _inner = inner.enter();
        tracing::info!(
            user = "a b",
            empty = "",
            flag = true,
            ratio = 0.5,
            "handled \"x\""
        );
        tracing::info!(service = "explicit", "own service field");
    });
    assert!(
        lines[0].ends_with(
            " INFO handled \"x\" service=api user=\"a b\" empty=\"\" flag=true ratio=0.5 id=7 port=8080"
        ),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with(" INFO own service field service=explicit id=7 port=8080"),
        "{lines:?}"
    );
}

#[test]
fn json_keeps_keys_unique_and_escapes() {
    let lines = capture(
        &log(
            LogFormat::Json,
            LogFilter::Level(filter::LevelFilter::INFO),
            false,
        ),
        || {
            tracing::info!(
                level = "mine",
                text = "line\nbreak \"q\"",
                big = u64::MAX,
                nan = f64::NAN,
                "multi\nline"
            );
        },
    );
    assert_eq!(lines.len(), 1, "one event is one line: {lines:?}");
    let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(value["level"], "INFO");
    assert_eq!(value["fields.level"], "mine");
    assert_eq!(value["text"], "line\nbreak \"q\"");
    assert_eq!(value["big"], u64::MAX);
    assert_eq!(value["nan"], "NaN");
    assert_eq!(value["message"], "multi\nline");
}

#[test]
fn colour_only_when_asked_and_never_in_json() {
    let out = Capture::default();
    let layer = built_in(&LogConfig::default(), true, out.clone());
    tracing::subscriber::with_default(Registry::default().with(layer), lifecycle);
    let lines = out.lines();
    assert!(lines.iter().all(|line| line.contains("\x1b[")), "{lines:?}");
    assert!(lines[0].contains("\x1b[32m INFO\x1b[0m"), "{}", lines[0]);
    let plain = capture(&LogConfig::default(), lifecycle);
    assert!(plain.iter().all(|line| !line.contains('\x1b')), "{plain:?}");
    let json = Capture::default();
    let layer = built_in(
        &log(
            LogFormat::Json,
            LogFilter::Level(filter::LevelFilter::INFO),
            false,
        ),
        true,
        json.clone(),
    );
    tracing::subscriber::with_default(Registry::default().with(layer), lifecycle);
    assert!(json.lines().iter().all(|line| !line.contains('\x1b')));
}
