//! Taking the timings: repetitions on fresh runtimes, the sides interleaved, medians; the
//! shapes (flat, chain, DAG) through the framework, raw tokio and tokio-graceful-shutdown.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use servicepack_bench::probe::Probe;
use servicepack_bench::shape::Shape;
use servicepack_bench::{Timing, baseline, framework, peer};

/// The seed of the wide DAG: any fixed value, so every run measures the same graph.
const DAG_SEED: u64 = 0x5EED_CAFE_F00D_0001;

/// Runs `future` on a fresh multi-thread runtime with the default worker count, inside a
/// spawned task (as an app's services run), and drops the runtime afterwards.
pub(crate) fn on_fresh_runtime<F, T>(future: F) -> Result<T, String>
where
    F: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start a tokio runtime: {error}"))?;
    let result = runtime.block_on(async { tokio::spawn(future).await });
    result.map_err(|error| format!("a benchmark task failed: {error}"))?
}

/// One side of a comparison: makes the future of one repetition.
pub(crate) type Side = Box<dyn Fn() -> BoxedRun>;
type BoxedRun = Pin<Box<dyn Future<Output = Result<Timing, String>> + Send>>;

/// Boxes `make` into a [`Side`].
pub(crate) fn side<F, Fut>(make: F) -> Side
where
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<Timing, String>> + Send + 'static,
{
    Box::new(move || Box::pin(make()))
}

/// Medians of each side's timings: the sides take turns `reps` times, so load hits
/// every side alike, and each timed run comes right after `warmup` untimed runs of the
/// same side, so that it inherits the allocator's state its own side left. (With the
/// sides merely rotating, a side inherited another's: in the scale section raw tokio's
/// 100,000 tasks mostly ran right after servicepack's 100,000 services had freed 100 MB,
/// and started in 43-61 ms, 67-69 ms after a run of their own, while servicepack's
/// followed a side of 10,000 and paid for fresh pages.) The order rotates from one
/// repetition to the next.
pub(crate) fn interleave(
    reps: usize,
    warmup: usize,
    sides: &[Side],
) -> Result<Vec<Timing>, String> {
    let mut samples: Vec<Vec<Timing>> = sides.iter().map(|_| Vec::with_capacity(reps)).collect();
    for rep in 0..reps {
        for turn in 0..sides.len() {
            let which = (rep + turn) % sides.len();
            for _ in 0..warmup {
                on_fresh_runtime(sides[which]())?;
            }
            samples[which].push(on_fresh_runtime(sides[which]())?);
        }
    }
    Ok(samples
        .iter()
        .map(|samples| median_timing(samples))
        .collect())
}

/// The framework's, the baseline's and (when `peer` is set) tokio-graceful-shutdown's
/// medians of one shape.
#[derive(Debug)]
pub(crate) struct Compared {
    pub(crate) framework: Timing,
    pub(crate) baseline: Timing,
    pub(crate) peer: Option<Timing>,
}

fn compared(reps: usize, warmup: usize, sides: &[Side]) -> Result<Compared, String> {
    let medians = interleave(reps, warmup, sides)?;
    Ok(Compared {
        framework: medians[0],
        baseline: medians[1],
        peer: medians.get(2).copied(),
    })
}

pub(crate) fn median_timing(timings: &[Timing]) -> Timing {
    let left: Option<Vec<Duration>> = timings.iter().map(|t| t.left).collect();
    Timing {
        start: median_duration(timings.iter().map(|t| t.start)),
        stop: median_duration(timings.iter().map(|t| t.stop)),
        left: left.map(|left| median_duration(left.into_iter())),
    }
}

pub(crate) fn median_duration(samples: impl Iterator<Item = Duration>) -> Duration {
    let nanos = samples.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Duration::from_nanos(median(nanos.collect()))
}

/// The median; for an even count, the mean of the middle two.
pub(crate) fn median(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        u64::midpoint(samples[mid - 1], samples[mid])
    } else {
        samples[mid]
    }
}

fn framework_side(shape: Shape, notify_ready: bool) -> Side {
    side(move || {
        let shape = shape.clone();
        async move {
            let probe = Probe::new(shape.len());
            let defs = framework::defs(&shape, &probe, notify_ready);
            framework::start_stop(defs, probe).await
        }
    })
}

fn peer_side(chain: bool, n: usize) -> Side {
    side(move || async move { peer::start_stop(chain, n, Probe::new(n)).await })
}

/// `n` services without dependencies; with `with_peer`, tokio-graceful-shutdown too.
pub(crate) fn flat(
    n: usize,
    reps: usize,
    warmup: usize,
    with_peer: bool,
) -> Result<Compared, String> {
    let mut sides = vec![
        framework_side(Shape::flat(n), false),
        side(move || async move { Ok(baseline::flat(n, Probe::new(n)).await) }),
    ];
    if with_peer {
        sides.push(peer_side(false, n));
    }
    compared(reps, warmup, &sides)
}

/// Flat `small` and flat `large`, framework and raw tokio, all four interleaved.
pub(crate) fn scale(
    small: usize,
    large: usize,
    reps: usize,
    warmup: usize,
) -> Result<(Compared, Compared), String> {
    let sides = [
        framework_side(Shape::flat(small), false),
        side(move || async move { Ok(baseline::flat(small, Probe::new(small)).await) }),
        framework_side(Shape::flat(large), false),
        side(move || async move { Ok(baseline::flat(large, Probe::new(large)).await) }),
    ];
    let medians = interleave(reps, warmup, &sides)?;
    let pair = |at: usize| Compared {
        framework: medians[at],
        baseline: medians[at + 1],
        peer: None,
    };
    Ok((pair(0), pair(2)))
}

/// `n` `notify_ready` services, each depending on the one before; the peer's is a chain
/// of nested subsystems.
pub(crate) fn chain(n: usize, reps: usize, warmup: usize) -> Result<Compared, String> {
    let sides = [
        framework_side(Shape::chain(n), true),
        side(move || async move { Ok(baseline::graph(&Shape::chain(n), Probe::new(n)).await) }),
        peer_side(true, n),
    ];
    compared(reps, warmup, &sides)
}

/// `n` services in `layers` layers, five random dependencies each on the layer above.
pub(crate) fn dag(n: usize, layers: usize, reps: usize, warmup: usize) -> Result<Compared, String> {
    let shape = Shape::layered(n, layers, 5, DAG_SEED);
    let for_baseline = shape.clone();
    let sides = [
        framework_side(shape, false),
        side(move || {
            let shape = for_baseline.clone();
            async move { Ok(baseline::graph(&shape, Probe::new(n)).await) }
        }),
    ];
    compared(reps, warmup, &sides)
}

/// The hidden `--profile framework|baseline|peer flat|chain|dag N REPS` mode: one side of one
/// shape, `REPS` times, and nothing else, for running under `perf record` or callgrind.
/// `SERVICEPACK_BENCH_PAUSE_MS=200` idles between start and stop and after the stop, so
/// that `perf report --time` (or a script over `perf script`) can look at either phase
/// alone.
pub(crate) fn profile_child(args: &[String]) -> ExitCode {
    let parsed = match args {
        [side, shape, n, reps] => n
            .parse::<usize>()
            .ok()
            .zip(reps.parse::<usize>().ok())
            .map(|(n, reps)| (side.as_str(), shape.as_str(), n, reps)),
        _ => None,
    };
    let Some((which, shape, n, reps)) = parsed
        .filter(|&(which, _, n, _)| n >= 100 && ["framework", "baseline", "peer"].contains(&which))
    else {
        eprintln!(
            "servicepack-bench: usage: --profile framework|baseline|peer flat|chain|dag N REPS"
        );
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
        let which = which.to_owned();
        let timing = on_fresh_runtime(async move {
            let probe = Probe::with_pause(shape.len(), pause);
            let flat = shape.dependencies(shape.len() - 1).is_empty();
            if which == "framework" {
                framework::start_stop(framework::defs(&shape, &probe, notify_ready), probe).await
            } else if which == "peer" {
                peer::start_stop(!flat, shape.len(), probe).await
            } else if flat {
                Ok(baseline::flat(shape.len(), probe).await)
            } else {
                Ok(baseline::graph(&shape, probe).await)
            }
        });
        // And after the stop, so each phase lies between two pauses.
        std::thread::sleep(pause);
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
