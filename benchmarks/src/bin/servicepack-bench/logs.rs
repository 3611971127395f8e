//! Logs on: start and stop of flat services with their lifecycle events written, through
//! the framework's built-in subscriber (the real app path: `LOG_FORMAT=text|json`,
//! installed as `./app run` installs it) and through tracing-subscriber's stock `fmt`
//! layer (text and JSON) at the same level, so the runtime emits the same events.
//!
//! A global subscriber is set once per process, so each variant runs in a fresh child
//! process of this binary (`--logs VARIANT N`), with stderr, where both write, going to a
//! file; the file's lines are the events. The variants run in turns, one child each per
//! round; the cost per event is the time above the same run with no subscriber at all,
//! divided by the events one run writes.

use std::fs::{self, File};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use servicepack_bench::probe::Probe;
use servicepack_bench::shape::Shape;
use servicepack_bench::{Timing, framework};
use tracing_subscriber::EnvFilter;

use crate::measure::on_fresh_runtime;

/// The ways of logging, in the order they run in each round.
pub(crate) const VARIANTS: [&str; 5] = [
    "off",
    "builtin-text",
    "builtin-json",
    "stock-text",
    "stock-json",
];

/// One variant's medians.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Logged {
    pub(crate) timing: Timing,
    /// Lines written by one start and stop.
    pub(crate) events: u64,
}

impl Logged {
    /// The time per event above `off`, in nanoseconds.
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub(crate) fn cost_per_event_ns(&self, off: &Logged) -> f64 {
        let total = |t: &Timing| (t.start + t.stop).as_secs_f64();
        (total(&self.timing) - total(&off.timing)).max(0.0) * 1e9 / self.events.max(1) as f64
    }
}

/// Every variant's medians over `reps` rounds of `n` services, in [`VARIANTS`] order.
pub(crate) fn measure(n: usize, reps: usize) -> Result<Vec<Logged>, String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find this binary to re-run it: {error}"))?;
    let out = std::env::temp_dir().join(format!("servicepack-bench-logs-{}", std::process::id()));
    let mut samples: Vec<(Vec<Timing>, Vec<u64>)> =
        VARIANTS.iter().map(|_| (Vec::new(), Vec::new())).collect();
    let result = (|| {
        for _ in 0..reps {
            for (variant, (timings, events)) in VARIANTS.iter().zip(&mut samples) {
                let (timing, lines) = child(&exe, variant, n, &out)?;
                timings.push(timing);
                events.push(lines);
            }
        }
        Ok::<(), String>(())
    })();
    let _ = fs::remove_file(&out);
    result?;
    Ok(samples
        .into_iter()
        .map(|(timings, events)| Logged {
            timing: crate::measure::median_timing(&timings),
            events: crate::measure::median(events),
        })
        .collect())
}

/// One child: its timing of the measured run, and the lines one run wrote.
fn child(
    exe: &std::path::Path,
    variant: &str,
    n: usize,
    out: &std::path::Path,
) -> Result<(Timing, u64), String> {
    let file =
        File::create(out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let (kind, format) = variant.split_once('-').unwrap_or((variant, "text"));
    let output = Command::new(exe)
        .args(["--logs", kind, format, &n.to_string()])
        .env("LOG_FORMAT", format)
        .env("LOG_LEVEL", "info")
        .env_remove("LOG_ADD_SOURCE")
        .stdin(Stdio::null())
        .stderr(file)
        .output()
        .map_err(|error| format!("cannot run {}: {error}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`--logs {kind} {format} {n}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    let [start, stop, runs] = numbers[..] else {
        return Err(format!(
            "`--logs {kind} {format} {n}` printed {text:?}, not three numbers"
        ));
    };
    let written = fs::read_to_string(out)
        .map_err(|error| format!("cannot read {}: {error}", out.display()))?;
    let lines = u64::try_from(written.lines().count()).unwrap_or(u64::MAX);
    let timing = Timing {
        start: Duration::from_nanos(start),
        stop: Duration::from_nanos(stop),
        left: None,
    };
    Ok((timing, lines / runs.max(1)))
}

/// How many runs a child makes: one warm-up, then the measured one.
const RUNS: u64 = 2;

/// The child side: `--logs off|builtin|stock text|json N` installs that subscriber, runs
/// `N` flat services twice (a warm-up, then the measured run) and prints
/// `start_ns stop_ns runs`.
pub(crate) fn child_main(args: &[String]) -> ExitCode {
    let parsed = match args {
        [kind, format, n]
            if ["off", "builtin", "stock"].contains(&kind.as_str())
                && ["text", "json"].contains(&format.as_str()) =>
        {
            n.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .map(|n| (kind.as_str(), format == "json", n))
        }
        _ => None,
    };
    let Some((kind, json, n)) = parsed else {
        eprintln!("servicepack-bench: usage: --logs off|builtin|stock text|json N");
        return ExitCode::from(2);
    };
    if let Err(message) = install(kind, json) {
        eprintln!("servicepack-bench: {message}");
        return ExitCode::FAILURE;
    }
    let mut last = None;
    for _ in 0..RUNS {
        let timing = on_fresh_runtime(async move {
            let probe = Probe::new(n);
            framework::start_stop(framework::defs(&Shape::flat(n), &probe, false), probe).await
        });
        match timing {
            Ok(timing) => last = Some(timing),
            Err(message) => {
                // On stdout: stderr is the log file.
                println!("servicepack-bench: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let Some(timing) = last else {
        return ExitCode::FAILURE;
    };
    println!(
        "{} {} {RUNS}",
        timing.start.as_nanos(),
        timing.stop.as_nanos()
    );
    ExitCode::SUCCESS
}

/// Installs the global subscriber of `kind`; `off` installs none.
fn install(kind: &str, json: bool) -> Result<(), String> {
    match kind {
        "builtin" => servicepack::__private::init_app_logging(),
        "stock" => {
            let builder = tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::new("info"))
                .with_ansi(false)
                .with_writer(std::io::stderr);
            let installed = if json {
                builder.json().try_init()
            } else {
                builder.try_init()
            };
            installed.map_err(|error| format!("cannot install the stock fmt subscriber: {error}"))
        }
        _ => Ok(()),
    }
}
