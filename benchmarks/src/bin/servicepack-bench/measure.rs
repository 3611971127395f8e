//! Taking the measurements: repetitions on fresh runtimes, memory in child processes,
//! and the process-level figures of the showcase binary.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use servicepack_bench::probe::Probe;
use servicepack_bench::shape::Shape;
use servicepack_bench::{Timing, baseline, framework};

/// The seed of the wide DAG: any fixed value, so every run measures the same graph.
const DAG_SEED: u64 = 0x5EED_CAFE_F00D_0001;

/// Runs `future` on a fresh multi-thread runtime with the default worker count, inside a
/// spawned task (as an app's services run), and drops the runtime afterwards.
fn on_fresh_runtime<F>(future: F) -> Result<Timing, String>
where
    F: Future<Output = Result<Timing, String>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start a tokio runtime: {error}"))?;
    let result = runtime.block_on(async { tokio::spawn(future).await });
    result.map_err(|error| format!("a benchmark task failed: {error}"))?
}

/// Medians of the framework's and the baseline's timings, run alternately `warmup + reps`
/// times (the warm-up runs are dropped).
fn pair<A, FA, B, FB>(
    reps: usize,
    warmup: usize,
    framework: A,
    baseline: B,
) -> Result<(Timing, Timing), String>
where
    A: Fn() -> FA,
    FA: Future<Output = Result<Timing, String>> + Send + 'static,
    B: Fn() -> FB,
    FB: Future<Output = Result<Timing, String>> + Send + 'static,
{
    let mut ours = Vec::with_capacity(reps);
    let mut theirs = Vec::with_capacity(reps);
    for rep in 0..warmup + reps {
        let a = on_fresh_runtime(framework())?;
        let b = on_fresh_runtime(baseline())?;
        if rep >= warmup {
            ours.push(a);
            theirs.push(b);
        }
    }
    Ok((median_timing(&ours), median_timing(&theirs)))
}

fn median_timing(timings: &[Timing]) -> Timing {
    let left: Option<Vec<Duration>> = timings.iter().map(|t| t.left).collect();
    Timing {
        start: median_duration(timings.iter().map(|t| t.start)),
        stop: median_duration(timings.iter().map(|t| t.stop)),
        left: left.map(|left| median_duration(left.into_iter())),
    }
}

fn median_duration(samples: impl Iterator<Item = Duration>) -> Duration {
    let nanos = samples.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Duration::from_nanos(median(nanos.collect()))
}

/// The median; for an even count, the mean of the middle two.
fn median(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        u64::midpoint(samples[mid - 1], samples[mid])
    } else {
        samples[mid]
    }
}

/// `n` services without dependencies.
pub(crate) fn flat(n: usize, reps: usize, warmup: usize) -> Result<(Timing, Timing), String> {
    pair(
        reps,
        warmup,
        || async move {
            let probe = Probe::new(n);
            let defs = framework::defs(&Shape::flat(n), &probe, false);
            framework::start_stop(defs, probe).await
        },
        || async move { Ok(baseline::flat(n, Probe::new(n)).await) },
    )
}

/// `n` `notify_ready` services, each depending on the one before.
pub(crate) fn chain(n: usize, reps: usize, warmup: usize) -> Result<(Timing, Timing), String> {
    pair(
        reps,
        warmup,
        || async move {
            let probe = Probe::new(n);
            let defs = framework::defs(&Shape::chain(n), &probe, true);
            framework::start_stop(defs, probe).await
        },
        || async move { Ok(baseline::graph(&Shape::chain(n), Probe::new(n)).await) },
    )
}

/// `n` services in `layers` layers, five random dependencies each on the layer above.
pub(crate) fn dag(
    n: usize,
    layers: usize,
    reps: usize,
    warmup: usize,
) -> Result<(Timing, Timing), String> {
    let shape = Shape::layered(n, layers, 5, DAG_SEED);
    let for_framework = shape.clone();
    pair(
        reps,
        warmup,
        move || {
            let shape = for_framework.clone();
            async move {
                let probe = Probe::new(n);
                let defs = framework::defs(&shape, &probe, false);
                framework::start_stop(defs, probe).await
            }
        },
        move || {
            let shape = shape.clone();
            async move { Ok(baseline::graph(&shape, Probe::new(n)).await) }
        },
    )
}

/// The hidden `--profile framework|baseline flat|chain|dag N REPS` mode: one side of one
/// shape, `REPS` times, and nothing else, for running under `perf record` or callgrind.
/// `SERVICEPACK_BENCH_PAUSE_MS=200` idles between start and stop, so that
/// `perf report --time` can look at either phase alone.
pub(crate) fn profile_child(args: &[String]) -> ExitCode {
    let parsed = match args {
        [side, shape, n, reps] => n
            .parse::<usize>()
            .ok()
            .zip(reps.parse::<usize>().ok())
            .map(|(n, reps)| (side.as_str() == "framework", shape.as_str(), n, reps)),
        _ => None,
    };
    let Some((ours, shape, n, reps)) = parsed.filter(|&(_, _, n, _)| n >= 100) else {
        eprintln!("servicepack-bench: usage: --profile framework|baseline flat|chain|dag N REPS");
        return ExitCode::from(2);
    };
    let shape = match shape {
        "flat" => Shape::flat(n),
        "chain" => Shape::chain(n),
        "dag" => Shape::layered(n, n / 100, 5, DAG_SEED),
        other => {
            eprintln!("servicepack-bench: `--profile`: unknown shape `{other}`");
            return ExitCode::from(2);
        }
    };
    let notify_ready = matches!(args[1].as_str(), "chain");
    // A pause between start and stop, so a profile can tell them apart by time.
    let pause = std::env::var("SERVICEPACK_BENCH_PAUSE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    let mut timings = Vec::with_capacity(reps);
    for _ in 0..reps {
        let shape = shape.clone();
        let timing = on_fresh_runtime(async move {
            let probe = Probe::with_pause(shape.len(), pause);
            if ours {
                framework::start_stop(framework::defs(&shape, &probe, notify_ready), probe).await
            } else if shape.dependencies(shape.len() - 1).is_empty() {
                Ok(baseline::flat(shape.len(), probe).await)
            } else {
                Ok(baseline::graph(&shape, probe).await)
            }
        });
        match timing {
            Ok(timing) => timings.push(timing),
            Err(message) => {
                eprintln!("servicepack-bench: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let median = median_timing(&timings);
    println!(
        "start {:?}, stop {:?}, of which until the last run returned {:?} (medians of {reps})",
        median.start, median.stop, median.left
    );
    ExitCode::SUCCESS
}

/// Resident bytes per idle service: framework and baseline, each the median of `reps`
/// child processes.
pub(crate) fn memory(n: usize, reps: usize) -> Result<(f64, f64), String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find this binary to re-run it: {error}"))?;
    let mut ours = Vec::with_capacity(reps);
    let mut theirs = Vec::with_capacity(reps);
    for _ in 0..reps {
        ours.push(rss_of_child(&exe, "framework", n)?);
        theirs.push(rss_of_child(&exe, "baseline", n)?);
    }
    let per_service = |samples: Vec<u64>| {
        #[allow(clippy::cast_precision_loss)] // bytes and counts far below 2^52
        let per = median(samples) as f64 / n as f64;
        per
    };
    Ok((per_service(ours), per_service(theirs)))
}

fn rss_of_child(exe: &Path, kind: &str, n: usize) -> Result<u64, String> {
    let output = Command::new(exe)
        .args(["--measure-rss", kind, &n.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", exe.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`--measure-rss {kind} {n}` failed ({})",
            output.status
        ));
    }
    text.trim()
        .parse()
        .map_err(|_| format!("`--measure-rss {kind} {n}` printed {text:?}, not a byte count"))
}

/// The child side of [`memory`]: `--measure-rss framework|baseline N` starts `N` idle
/// services one way or the other and prints how many resident bytes they added.
pub(crate) fn rss_child(args: &[String]) -> ExitCode {
    let (kind, n) = match args {
        [kind, n] if kind == "framework" || kind == "baseline" => match n.parse::<usize>() {
            Ok(n) if n > 0 => (kind.clone(), n),
            _ => {
                eprintln!("servicepack-bench: `--measure-rss`: `{n}` is not a positive number");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("servicepack-bench: usage: --measure-rss framework|baseline N");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start a tokio runtime: {error}"))
        .and_then(|runtime| {
            runtime.block_on(async move {
                tokio::spawn(idle_rss(kind, n))
                    .await
                    .map_err(|error| format!("the measurement task failed: {error}"))?
            })
        });
    match result {
        Ok(bytes) => {
            println!("{bytes}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("servicepack-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn idle_rss(kind: String, n: usize) -> Result<u64, String> {
    // Let every worker settle before the "before" reading.
    tokio::spawn(async {})
        .await
        .map_err(|error| error.to_string())?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = vm_rss()?;
    let settle_and_read = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        vm_rss()
    };
    let probe = Probe::new(n);
    let after = if kind == "framework" {
        let defs = framework::defs(&Shape::flat(n), &probe, false);
        framework::hold(defs, probe, settle_and_read).await??
    } else {
        baseline::hold_flat(n, probe, settle_and_read).await?
    };
    Ok(after.saturating_sub(before))
}

/// This process's resident set, in bytes, from `/proc/self/status`.
fn vm_rss() -> Result<u64, String> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|error| format!("cannot read /proc/self/status (Linux only): {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no `VmRSS: N kB` line in /proc/self/status".to_owned())
}

/// The showcase binary to time: `explicit`, or the release build next to this binary
/// (built first when `build` is set). `None` when there is none.
pub(crate) fn showcase(explicit: Option<PathBuf>, build: bool) -> Result<Option<PathBuf>, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(Some(path))
        } else {
            Err(format!("`--showcase {}`: no such file", path.display()))
        };
    }
    let exe =
        std::env::current_exe().map_err(|error| format!("cannot find this binary: {error}"))?;
    let path = exe.with_file_name("showcase");
    if build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", "showcase"])
            .current_dir(workspace)
            .stdin(Stdio::null())
            .status()
            .map_err(|error| format!("cannot run cargo to build the showcase: {error}"))?;
        if !status.success() {
            return Err(format!(
                "`cargo build --release -p showcase` failed ({status})"
            ));
        }
    }
    Ok(path.is_file().then_some(path))
}

/// Median wall times of process starts, taken in turns so load hits each alike:
/// `showcase --help`; this binary doing nothing (`--noop`), the cost of starting any Rust
/// process; and `true`, the machine's floor for starting a process at all (`None` when
/// there is no `true` on the `PATH`).
pub(crate) struct ProcessStart {
    pub(crate) help: Duration,
    pub(crate) noop: Duration,
    pub(crate) floor: Option<Duration>,
}

pub(crate) fn process_start(showcase: &Path, reps: usize) -> Result<ProcessStart, String> {
    let exe =
        std::env::current_exe().map_err(|error| format!("cannot find this binary: {error}"))?;
    let floor_exe = Path::new("true");
    // One untimed run each, so none pays for the page cache.
    time_process(showcase, Some("--help"))?;
    time_process(&exe, Some("--noop"))?;
    let has_floor = time_process(floor_exe, None).is_ok();
    let (mut help, mut noop, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        help.push(time_process(showcase, Some("--help"))?);
        noop.push(time_process(&exe, Some("--noop"))?);
        if has_floor {
            floor.push(time_process(floor_exe, None)?);
        }
    }
    Ok(ProcessStart {
        help: median_duration(help.into_iter()),
        noop: median_duration(noop.into_iter()),
        floor: has_floor.then(|| median_duration(floor.into_iter())),
    })
}

fn time_process(program: &Path, arg: Option<&str>) -> Result<Duration, String> {
    let began = Instant::now();
    let status = Command::new(program)
        .args(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run {}: {error}", program.display()))?;
    let took = began.elapsed();
    if !status.success() {
        let arg = arg.unwrap_or_default();
        return Err(format!("`{} {arg}` failed ({status})", program.display()));
    }
    Ok(took)
}

/// The binary's size as built and after `strip` (of a copy).
pub(crate) fn binary_size(binary: &Path) -> Result<(u64, u64), String> {
    let size = fs::metadata(binary)
        .map_err(|error| format!("cannot read {}: {error}", binary.display()))?
        .len();
    let copy = std::env::temp_dir().join(format!("servicepack-bench-strip-{}", std::process::id()));
    fs::copy(binary, &copy)
        .map_err(|error| format!("cannot copy {}: {error}", binary.display()))?;
    let stripped = Command::new("strip")
        .arg(&copy)
        .status()
        .map_err(|error| format!("cannot run `strip` (install binutils): {error}"))
        .and_then(|status| {
            if status.success() {
                fs::metadata(&copy)
                    .map(|meta| meta.len())
                    .map_err(|error| error.to_string())
            } else {
                Err(format!("`strip` failed ({status})"))
            }
        });
    let _ = fs::remove_file(&copy);
    Ok((size, stripped?))
}
