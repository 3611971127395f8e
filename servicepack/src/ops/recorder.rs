//! The recorder behind the [`metrics`] facade: what user code records with
//! `servicepack::metrics::counter!` and friends lands here and is rendered on `/metrics`.
//!
//! Handles are atomics shared with the caller (`Arc<AtomicU64>` for counters and gauges,
//! fixed buckets for histograms), so recording after the first registration is one atomic
//! operation and never takes the registry's lock.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

use super::text::{write_f64, write_label_value};

/// The buckets of every histogram: the Prometheus client default, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram with the [`BUCKETS`]: counts per bucket, the sum, the count.
#[derive(Default)]
struct Buckets {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum: AtomicU64,
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        if let Some(index) = BUCKETS.iter().position(|&bound| value <= bound) {
            self.counts[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // An f64 sum in an AtomicU64: compare-and-swap until no one raced us.
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// What the registry holds, under one lock taken only to register and to render.
#[derive(Default)]
struct Inner {
    counters: HashMap<Key, Arc<AtomicU64>>,
    gauges: HashMap<Key, Arc<AtomicU64>>,
    histograms: HashMap<Key, Arc<Buckets>>,
    help: HashMap<String, String>,
}

/// The registry of user metrics; install with [`install`].
#[derive(Default)]
pub(crate) struct UserMetrics {
    inner: Mutex<Inner>,
}

impl UserMetrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn describe(&self, key: &KeyName, description: &SharedString) {
        self.lock()
            .help
            .insert(key.as_str().to_owned(), description.to_string());
    }

    /// Appends every user series in the text format, families sorted by name. A family
    /// whose name the framework uses itself (`servicepack_`, `process_`) is left out.
    pub(crate) fn render(&self, out: &mut String) {
        let inner = self.lock();
        let mut all: Vec<(String, Kind, &Key, Series<'_>)> = Vec::new();
        for (key, value) in &inner.counters {
            #[expect(clippy::cast_precision_loss, reason = "Prometheus samples are f64")]
            let value = value.load(Ordering::Relaxed) as f64;
            all.push((
                family_name(key.name(), Kind::Counter),
                Kind::Counter,
                key,
                Series::Value(value),
            ));
        }
        for (key, value) in &inner.gauges {
            let value = f64::from_bits(value.load(Ordering::Relaxed));
            all.push((
                family_name(key.name(), Kind::Gauge),
                Kind::Gauge,
                key,
                Series::Value(value),
            ));
        }
        for (key, value) in &inner.histograms {
            all.push((
                family_name(key.name(), Kind::Histogram),
                Kind::Histogram,
                key,
                Series::Histogram(value),
            ));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.labels().cmp(b.2.labels())));
        let mut families: Vec<Family<'_>> = Vec::new();
        for (name, kind, key, series) in all {
            match families.last_mut() {
                // A name registered as two kinds keeps one kind only.
                Some((family, known, list)) if *family == name => {
                    if *known == kind {
                        list.push((key, series));
                    }
                }
                _ => families.push((name, kind, vec![(key, series)])),
            }
        }
        for (name, kind, series) in families {
            if name.starts_with("servicepack_") || name.starts_with("process_") {
                continue;
            }
            let raw = series.first().map_or("", |(key, _)| key.name());
            let help = inner
                .help
                .get(raw)
                .map_or("recorded by the app", String::as_str);
            let kind_word = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(out, "# TYPE {name} {kind_word}");
            for (key, value) in series {
                match value {
                    Series::Value(value) => {
                        sample(out, &name, "", key, None);
                        write_f64(out, value);
                        out.push('\n');
                    }
                    Series::Histogram(buckets) => {
                        let mut cumulative = 0;
                        for (index, bound) in BUCKETS.iter().enumerate() {
                            cumulative += buckets.counts[index].load(Ordering::Relaxed);
                            let mut le = String::new();
                            write_f64(&mut le, *bound);
                            sample(out, &name, "_bucket", key, Some(&le));
                            let _ = writeln!(out, "{cumulative}");
                        }
                        let count = buckets.count.load(Ordering::Relaxed);
                        sample(out, &name, "_bucket", key, Some("+Inf"));
                        let _ = writeln!(out, "{count}");
                        sample(out, &name, "_sum", key, None);
                        write_f64(out, f64::from_bits(buckets.sum.load(Ordering::Relaxed)));
                        out.push('\n');
                        sample(out, &name, "_count", key, None);
                        let _ = writeln!(out, "{count}");
                    }
                }
            }
        }
    }
}

/// A family: its name, its kind, and its series in label order.
type Family<'a> = (String, Kind, Vec<(&'a Key, Series<'a>)>);

enum Series<'a> {
    Value(f64),
    Histogram(&'a Buckets),
}

/// `name_suffix{labels,le="…"} ` for one sample.
fn sample(out: &mut String, name: &str, suffix: &str, key: &Key, le: Option<&str>) {
    out.push_str(name);
    out.push_str(suffix);
    let mut labels = key.labels().peekable();
    if labels.peek().is_some() || le.is_some() {
        out.push('{');
        let mut first = true;
        for label in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&sanitize(label.key(), false));
            out.push_str("=\"");
            write_label_value(out, label.value());
            out.push('"');
        }
        if let Some(le) = le {
            if !first {
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
}

/// A valid Prometheus name for `name` (every other character becomes `_`); counters get
/// the `_total` suffix that Prometheus expects of them.
fn family_name(name: &str, kind: Kind) -> String {
    let mut name = sanitize(name, true);
    if kind == Kind::Counter && !name.ends_with("_total") {
        name.push_str("_total");
    }
    name
}

fn sanitize(name: &str, colons: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_help(help: &str) -> String {
    help.replace('\\', r"\\").replace('\n', r"\n")
}

impl Recorder for UserMetrics {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(&key, &description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(&key, &description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(&key, &description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        let handle = Arc::clone(self.lock().counters.entry(key.clone()).or_default());
        Counter::from_arc(handle)
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        let handle = Arc::clone(self.lock().gauges.entry(key.clone()).or_default());
        Gauge::from_arc(handle)
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let handle = Arc::clone(self.lock().histograms.entry(key.clone()).or_default());
        Histogram::from_arc(handle)
    }
}

/// A recorder that forwards to the process-wide [`UserMetrics`].
struct Global(&'static UserMetrics);

impl Recorder for Global {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, metadata)
    }
}

/// Installs the process-wide recorder once and returns its registry; `None` when another
/// recorder was installed first (the user's metrics then go there, not to `/metrics`).
pub(crate) fn install() -> Option<&'static UserMetrics> {
    static REGISTRY: std::sync::OnceLock<Option<&'static UserMetrics>> = std::sync::OnceLock::new();
    *REGISTRY.get_or_init(|| {
        let registry: &'static UserMetrics = Box::leak(Box::default());
        metrics::set_global_recorder(Global(registry))
            .ok()
            .map(|()| registry)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_render_as_prometheus_text() {
        let registry = UserMetrics::default();
        metrics::with_local_recorder(&registry, || {
            metrics::describe_counter!("jobs_done", "Jobs finished.");
            metrics::counter!("jobs_done", "queue" => "a\"b").increment(3);
            metrics::gauge!("queue.depth").set(2.5);
            let latency = metrics::histogram!("job_seconds");
            latency.record(0.2);
            latency.record(20.0);
            metrics::counter!("servicepack_app_ready").increment(1);
        });
        let mut out = String::new();
        registry.render(&mut out);
        assert_eq!(
            out,
            "# HELP job_seconds recorded by the app\n# TYPE job_seconds histogram\n\
             job_seconds_bucket{le=\"0.005\"} 0\njob_seconds_bucket{le=\"0.01\"} 0\n\
             job_seconds_bucket{le=\"0.025\"} 0\njob_seconds_bucket{le=\"0.05\"} 0\n\
             job_seconds_bucket{le=\"0.1\"} 0\njob_seconds_bucket{le=\"0.25\"} 1\n\
             job_seconds_bucket{le=\"0.5\"} 1\njob_seconds_bucket{le=\"1\"} 1\n\
             job_seconds_bucket{le=\"2.5\"} 1\njob_seconds_bucket{le=\"5\"} 1\n\
             job_seconds_bucket{le=\"10\"} 1\njob_seconds_bucket{le=\"+Inf\"} 2\n\
             job_seconds_sum 20.2\njob_seconds_count 2\n\
             # HELP jobs_done_total Jobs finished.\n# TYPE jobs_done_total counter\n\
             jobs_done_total{queue=\"a\\\"b\"} 3\n\
             # HELP queue_depth recorded by the app\n# TYPE queue_depth gauge\nqueue_depth 2.5\n"
        );
    }
}
