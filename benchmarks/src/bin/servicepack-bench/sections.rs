//! The sections of the report: each measures and turns the figures into rows with their
//! baselines and targets (the targets of issues 9 and 15; none in `--quick`).

use std::path::PathBuf;

use crate::measure::{self, Compared};
use crate::report::{Row, Section, Target, Unit};
use crate::{Sizes, compile, crash, distinct, logs, memory, process};

/// tokio-graceful-shutdown's name in the tables.
const PEER: &str = "tokio-graceful-shutdown";
/// The Go original's clean build of its showcase, on its own machine.
const GO_BUILD: &str = "Go original: 18.6 s clean";

fn start_stop(shape: &str, figures: &Compared) -> (Row, Row) {
    let mut start = Row::time(
        format!("{shape}: start"),
        figures.framework.start,
        figures.baseline.start,
    );
    let mut stop = Row::time(
        format!("{shape}: stop"),
        figures.framework.stop,
        figures.baseline.stop,
    );
    if let Some(peer) = figures.peer {
        start = start.peer_time(peer.start);
        stop = stop.peer_time(peer.stop);
    }
    (start, stop)
}

/// Flat, chain, DAG and memory per idle service, against raw tokio and the peer.
pub(crate) fn shapes(
    sizes: &Sizes,
    targets: bool,
    progress: &dyn Fn(&str),
) -> Result<Vec<Section>, String> {
    let mut rows = Vec::new();
    for &n in sizes.flat {
        progress(&format!("flat {n}"));
        let figures = measure::flat(n, sizes.reps, sizes.warmup, true)?;
        let (start, stop) = start_stop(&format!("flat {n}"), &figures);
        let on = targets && n == 10_000;
        let go = |ms| {
            if n == 10_000 {
                format!("Go original: {ms}")
            } else {
                String::new()
            }
        };
        for (row, ms) in [(start, "223 ms"), (stop, "244 ms")] {
            rows.push(
                row.target(Target::RatioAtMost(1.3), on)
                    .target(Target::PeerRatioAtMost(0.2), on)
                    .note(go(ms)),
            );
        }
    }

    let n = sizes.chain;
    progress(&format!("chain {n}"));
    let figures = measure::chain(n, sizes.reps, sizes.warmup)?;
    let (start, stop) = start_stop(&format!("chain {n}, ready"), &figures);
    let on = targets && n == 1_000;
    rows.push(start.target(Target::RatioAtMost(1.5), on).note(if on {
        "Go original: 32-37 ms"
    } else {
        ""
    }));
    rows.push(stop);

    let (n, layers) = (sizes.dag, sizes.dag_layers);
    progress(&format!("wide DAG {n}"));
    let figures = measure::dag(n, layers, sizes.reps, sizes.warmup)?;
    let (start, stop) = start_stop(&format!("dag {n}, {layers} layers, 5 deps"), &figures);
    rows.extend([start, stop]);

    let n = sizes.memory;
    progress(&format!("memory of {n} idle services"));
    let (ours, theirs, peer) = memory::memory(n, sizes.memory_reps)?;
    let on = targets && n == 10_000;
    rows.push(
        Row::new(
            format!("memory per idle service, {n}"),
            Unit::Bytes,
            ours,
            Some(theirs),
        )
        .peer(peer)
        .target(Target::AboveBaselineAtMost(512.0), on)
        .target(Target::PeerRatioAtMost(1.0 / 3.0), on)
        .note(if on { "Go original: ~6.6 KB" } else { "" }),
    );
    Ok(vec![Section {
        title: "shapes: servicepack against raw tokio and tokio-graceful-shutdown",
        baseline: "raw tokio",
        peer: Some(PEER),
        rows,
    }])
}

/// The cost per service at the large size next to the cost at the small one.
pub(crate) fn scale(
    sizes: &Sizes,
    targets: bool,
    progress: &dyn Fn(&str),
) -> Result<Section, String> {
    let (small, large) = sizes.scale;
    progress(&format!("flat {large} against flat {small}"));
    let (small_figures, large_figures) = measure::scale(small, large, sizes.reps, sizes.warmup)?;
    #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
    let per = |duration: std::time::Duration, n: usize| duration.as_secs_f64() * 1e6 / n as f64;
    let mut rows = vec![Row::time(
        format!("flat {large}: start"),
        large_figures.framework.start,
        large_figures.baseline.start,
    )];
    rows.push(Row::time(
        format!("flat {large}: stop"),
        large_figures.framework.stop,
        large_figures.baseline.stop,
    ));
    for (phase, ours_large, ours_small, raw_large, raw_small) in [
        (
            "start",
            large_figures.framework.start,
            small_figures.framework.start,
            large_figures.baseline.start,
            small_figures.baseline.start,
        ),
        (
            "stop",
            large_figures.framework.stop,
            small_figures.framework.stop,
            large_figures.baseline.stop,
            small_figures.baseline.stop,
        ),
    ] {
        rows.push(
            Row::new(
                format!("servicepack {phase} per service: {large} (base: {small})"),
                Unit::Micros,
                per(ours_large, large),
                Some(per(ours_small, small)),
            )
            .target(Target::RatioAtMost(1.25), targets),
        );
        rows.push(Row::new(
            format!("raw tokio {phase} per task: {large} (base: {small})"),
            Unit::Micros,
            per(raw_large, large),
            Some(per(raw_small, small)),
        ));
    }
    Ok(Section {
        title: "scale: servicepack against raw tokio; per service against the smaller size",
        baseline: "baseline",
        peer: None,
        rows,
    })
}

/// Start and stop with the lifecycle events logged, built-in layer against stock `fmt`.
pub(crate) fn logs(
    sizes: &Sizes,
    targets: bool,
    progress: &dyn Fn(&str),
) -> Result<Section, String> {
    let n = sizes.logs;
    progress(&format!("flat {n} with logs on"));
    let figures = logs::measure(n, sizes.reps)?;
    let [off, builtin_text, builtin_json, stock_text, stock_json] = figures[..] else {
        return Err("the logs measurement lost a variant".to_owned());
    };
    let mut rows = Vec::new();
    for (format, ours, theirs) in [
        ("text", builtin_text, stock_text),
        ("json", builtin_json, stock_json),
    ] {
        rows.push(Row::time(
            format!("flat {n}, {format} logs: start"),
            ours.timing.start,
            theirs.timing.start,
        ));
        rows.push(Row::time(
            format!("flat {n}, {format} logs: stop"),
            ours.timing.stop,
            theirs.timing.stop,
        ));
        rows.push(
            Row::new(
                format!("{format}: cost per event ({} events per run)", ours.events),
                Unit::Nanos,
                ours.cost_per_event_ns(&off),
                Some(theirs.cost_per_event_ns(&off)),
            )
            .target(Target::RatioAtMost(1.5), targets)
            .note(format!("stock writes {} events", theirs.events)),
        );
    }
    rows.push(
        Row::time(
            format!("flat {n}, no subscriber: start"),
            off.timing.start,
            off.timing.start,
        )
        .note("the reference of the costs"),
    );
    rows.push(Row::time(
        format!("flat {n}, no subscriber: stop"),
        off.timing.stop,
        off.timing.stop,
    ));
    Ok(Section {
        title: "logs on: the built-in subscriber (LOG_FORMAT) against tracing-subscriber's stock fmt, to a file",
        baseline: "stock fmt",
        peer: None,
        rows,
    })
}

/// The crash loops against a raw tokio loop.
pub(crate) fn crash(
    sizes: &Sizes,
    targets: bool,
    progress: &dyn Fn(&str),
) -> Result<Section, String> {
    let mut rows = Vec::new();
    for (kind, label) in [
        ("always", "restart = \"always\", Ok at once"),
        ("fail", "retries = \"unlimited\", Err at once"),
    ] {
        progress(&format!(
            "the crash loop ({label}) for {:?} per side",
            sizes.crash
        ));
        let (ours, theirs) = crash::measure(kind, sizes.crash)?;
        let kib = |bytes: u64| {
            #[allow(clippy::cast_precision_loss)] // bytes far below 2^52
            let kib = bytes as f64 / 1024.0;
            kib
        };
        rows.push(Row::new(
            format!("{label}: restarts per second"),
            Unit::PerSecond,
            ours.per_second(),
            Some(theirs.per_second()),
        ));
        rows.push(
            Row::new(
                format!("{label}: CPU per restart"),
                Unit::Micros,
                ours.cpu_per_attempt_us(),
                Some(theirs.cpu_per_attempt_us()),
            )
            .target(Target::RatioAtMost(2.0), targets),
        );
        rows.push(
            Row::new(
                format!("{label}: RSS at the end (base: at a tenth)"),
                Unit::KiB,
                kib(ours.rss_end),
                Some(kib(ours.rss_start)),
            )
            .target(Target::AboveBaselineAtMost(256.0), targets)
            .note(format!(
                "raw loop: {:.0} -> {:.0} KiB",
                kib(theirs.rss_start),
                kib(theirs.rss_end)
            )),
        );
    }
    Ok(Section {
        title: "crash loop: servicepack against a raw tokio loop",
        baseline: "baseline",
        peer: None,
        rows,
    })
}

fn secs(build: compile::Build) -> f64 {
    build.wall.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)] // KiB far below 2^52
fn mib(build: compile::Build) -> f64 {
    build.peak_kib as f64 / 1024.0
}

/// The compile times.
pub(crate) fn builds(targets: bool, progress: &dyn Fn(&str)) -> Result<Section, String> {
    let builds = compile::measure(progress)?;
    let showcase = |name: &str, build: compile::Build| {
        Row::new(name, Unit::Seconds, secs(build), None).note(GO_BUILD)
    };
    let rows = vec![
        showcase("showcase, clean debug build", builds.showcase_debug),
        showcase("showcase, clean release build", builds.showcase_release),
        Row::new(
            "showcase, incremental debug rebuild after a one-line change",
            Unit::Seconds,
            secs(builds.showcase_incremental),
            None,
        )
        .target(Target::Under(2.0), targets),
        Row::new(
            "1,000 distinct types, clean release build",
            Unit::Seconds,
            secs(builds.distinct_servicepack),
            Some(secs(builds.distinct_tokio)),
        )
        .target(Target::RatioAtMost(1.15), targets),
        Row::new(
            "1,000 distinct types, peak compiler memory",
            Unit::MiB,
            mib(builds.distinct_servicepack),
            Some(mib(builds.distinct_tokio)),
        )
        .target(Target::RatioAtMost(1.15), targets),
        Row::new(
            "1,000 distinct types, the app crate alone",
            Unit::Seconds,
            secs(builds.distinct_servicepack_crate),
            Some(secs(builds.distinct_tokio_crate)),
        ),
        Row::new(
            "1,000 distinct types, the app crate alone: peak memory",
            Unit::MiB,
            mib(builds.distinct_servicepack_crate),
            Some(mib(builds.distinct_tokio_crate)),
        ),
        Row::new(
            "showcase, clean debug build: peak compiler memory",
            Unit::MiB,
            mib(builds.showcase_debug),
            None,
        ),
    ];
    Ok(Section {
        title: "compile times (the distinct-types rows against the plain tokio app)",
        baseline: "plain tokio",
        peer: None,
        rows,
    })
}

/// The distinct-types apps at process level, when built.
pub(crate) fn distinct(
    sizes: &Sizes,
    targets: bool,
    progress: &dyn Fn(&str),
) -> Result<Option<Section>, String> {
    let Some(apps) = distinct::built() else {
        eprintln!(
            "servicepack-bench: the 1,000-distinct-types apps are not built; skipping their \
             figures (`--build` builds them into target/distinct)"
        );
        return Ok(None);
    };
    progress("the 1,000-distinct-types apps");
    let reps = sizes.process_reps.min(sizes.reps.max(3));
    let (ours, theirs) = distinct::measure(&apps, reps)?;
    #[allow(clippy::cast_precision_loss)] // bytes far below 2^52
    let (text_ours, text_theirs, rss_ours, rss_theirs) = (
        ours.text as f64 / (1024.0 * 1024.0),
        theirs.text as f64 / (1024.0 * 1024.0),
        ours.rss as f64 / 1000.0,
        theirs.rss as f64 / 1000.0,
    );
    let rows = vec![
        Row::new(".text size", Unit::MiB, text_ours, Some(text_theirs))
            .target(Target::RatioAtMost(1.1), targets),
        Row::time(
            "process start (spawn until all in run)",
            ours.start,
            theirs.start,
        )
        .target(Target::RatioAtMost(2.0), targets),
        Row::time("process stop (SIGTERM until exit)", ours.stop, theirs.stop)
            .target(Target::RatioAtMost(2.0), targets),
        Row::new(
            "resident memory / 1,000 services",
            Unit::Bytes,
            rss_ours,
            Some(rss_theirs),
        )
        .target(Target::AboveBaselineAtMost(2048.0), targets)
        .note("whole process RSS divided by 1,000"),
    ];
    Ok(Some(Section {
        title: "1,000 distinct service types, release builds, as processes",
        baseline: "plain tokio",
        peer: None,
        rows,
    }))
}

/// `showcase --help` and the showcase's binary size; none when there is no showcase.
pub(crate) fn process(
    showcase: Option<PathBuf>,
    build: bool,
    sizes: &Sizes,
    targets: bool,
) -> Result<Option<Section>, String> {
    let Some(showcase) = process::showcase(showcase, build)? else {
        eprintln!(
            "servicepack-bench: no showcase binary next to this one; skipping the process \
             figures (build it with `cargo build --release -p showcase`)"
        );
        return Ok(None);
    };
    let start = process::process_start(&showcase, sizes.process_reps)?;
    let (size, stripped) = process::binary_size(&showcase)?;
    let mut rows = vec![
        Row::time(
            "`showcase --help` (base: empty exe)",
            start.help,
            start.noop,
        )
        .target(Target::Under(2.0), targets)
        .note("Go original: 3.85 ms"),
    ];
    if let Some(floor) = start.floor {
        rows.push(Row::time(
            "`showcase --help` (base: `true`)",
            start.help,
            floor,
        ));
    }
    rows.push(Row::size("showcase binary", size));
    rows.push(Row::size("showcase binary, stripped", stripped).target(Target::Under(4.0), targets));
    Ok(Some(Section {
        title: "the showcase process",
        baseline: "baseline",
        peer: None,
        rows,
    }))
}
