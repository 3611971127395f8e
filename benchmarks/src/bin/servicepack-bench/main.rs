//! `servicepack-bench`: the servicepack runtime side by side with raw tokio.
//!
//! ```text
//! cargo run --release -p servicepack-bench             # the full run (~10 s after the build)
//! cargo run --release -p servicepack-bench -- --quick  # smallest sizes, 2 repetitions (CI)
//! cargo run --release -p servicepack-bench -- --json   # the same figures for machines
//! ```
//!
//! Every shape is run by the framework and by a raw-tokio baseline in the same process,
//! interleaved repetition by repetition, each on a fresh multi-thread runtime; the table
//! shows the medians, their ratio, and the target. Memory is measured in child processes
//! of this binary (`--measure-rss`), one per side, so allocations do not mix. The process
//! figures time the release build of `examples/showcase`, which the full run builds with
//! `cargo build --release -p showcase` unless `--no-build` or `--showcase PATH` is given.
//!
//! Benchmarks are not tests: a missed target is reported, not turned into a failure. The
//! exit code is non-zero only when a run itself went wrong.

mod measure;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use report::{Machine, Row, Target, Unit};

const USAGE: &str = "\
usage: servicepack-bench [--quick] [--json] [--reps N] [--showcase PATH] [--no-build]

  --quick          smallest sizes and 2 repetitions: the CI smoke check
  --json           print the figures as JSON instead of a table
  --reps N         repetitions per figure (default 11; the median is reported)
  --showcase PATH  the showcase binary to time (default: next to this binary)
  --no-build       do not run `cargo build --release -p showcase` first";

/// What one invocation measures.
#[derive(Debug)]
struct Options {
    quick: bool,
    json: bool,
    reps: Option<usize>,
    showcase: Option<PathBuf>,
    build: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Option<Self>, String> {
        let mut options = Self {
            quick: false,
            json: false,
            reps: None,
            showcase: None,
            build: true,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--json" => options.json = true,
                "--no-build" => options.build = false,
                "--reps" => {
                    let value = args
                        .next()
                        .ok_or("`--reps` needs a number, e.g. `--reps 11`")?;
                    let reps =
                        value.parse().ok().filter(|&reps| reps > 0).ok_or_else(|| {
                            format!("`--reps {value}`: expected a positive number")
                        })?;
                    options.reps = Some(reps);
                }
                "--showcase" => {
                    let value = args
                        .next()
                        .ok_or("`--showcase` needs the path of a binary")?;
                    options.showcase = Some(PathBuf::from(value));
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        Ok(Some(options))
    }
}

/// The sizes of one run.
#[derive(Debug)]
struct Sizes {
    flat: &'static [usize],
    chain: usize,
    dag: usize,
    dag_layers: usize,
    memory: usize,
    reps: usize,
    warmup: usize,
    memory_reps: usize,
    process_reps: usize,
}

impl Sizes {
    fn new(options: &Options) -> Self {
        let mut sizes = if options.quick {
            Self {
                flat: &[1_000],
                chain: 100,
                dag: 1_000,
                dag_layers: 10,
                memory: 1_000,
                reps: 2,
                warmup: 1,
                memory_reps: 1,
                process_reps: 3,
            }
        } else {
            Self {
                flat: &[1_000, 10_000],
                chain: 1_000,
                dag: 10_000,
                dag_layers: 100,
                memory: 10_000,
                reps: 11,
                warmup: 1,
                memory_reps: 5,
                process_reps: 21,
            }
        };
        if let Some(reps) = options.reps {
            sizes.reps = reps;
        }
        sizes
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The hidden modes in which this binary is its own subject.
    match args.first().map(String::as_str) {
        Some("--noop") => return ExitCode::SUCCESS,
        Some("--measure-rss") => return measure::rss_child(&args[1..]),
        Some("--profile") => return measure::profile_child(&args[1..]),
        _ => {}
    }
    let options = match Options::parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("servicepack-bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("servicepack-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let sizes = Sizes::new(options);
    let progress = |what: &str| {
        if !options.json {
            eprintln!("measuring {what} ...");
        }
    };
    let mut rows = runtime_rows(&sizes, &progress)?;
    progress("the showcase binary");
    rows.extend(process_rows(options, &sizes)?);
    let machine = Machine::detect();
    if options.json {
        println!(
            "{}",
            report::json(&machine, options.quick, sizes.reps, &rows)
        );
    } else {
        print!("{}", report::table(&machine, sizes.reps, &rows));
    }
    Ok(())
}

/// Start, stop and memory of the shapes, framework against baseline.
fn runtime_rows(sizes: &Sizes, progress: &dyn Fn(&str)) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for &n in sizes.flat {
        progress(&format!("flat {n}"));
        let (framework, baseline) = measure::flat(n, sizes.reps, sizes.warmup)?;
        let (target, go) = if n == 10_000 {
            (Target::RatioAtMost(2.0), ("223 ms", "244 ms"))
        } else {
            (Target::None, ("", ""))
        };
        rows.push(Row::time(
            format!("flat {n}: start"),
            framework.start,
            baseline.start,
            target,
            go.0,
        ));
        rows.push(Row::time(
            format!("flat {n}: stop"),
            framework.stop,
            baseline.stop,
            target,
            go.1,
        ));
    }

    let n = sizes.chain;
    progress(&format!("chain {n}"));
    let (framework, baseline) = measure::chain(n, sizes.reps, sizes.warmup)?;
    let (target, go) = if n == 1_000 {
        (Target::RatioAtMost(3.0), "32-37 ms")
    } else {
        (Target::None, "")
    };
    rows.push(Row::time(
        format!("chain {n}, ready: start"),
        framework.start,
        baseline.start,
        target,
        go,
    ));
    rows.push(Row::time(
        format!("chain {n}, ready: stop"),
        framework.stop,
        baseline.stop,
        Target::None,
        "",
    ));

    let (n, layers) = (sizes.dag, sizes.dag_layers);
    progress(&format!("wide DAG {n}"));
    let (framework, baseline) = measure::dag(n, layers, sizes.reps, sizes.warmup)?;
    let shape = format!("dag {n}, {layers} layers, 5 deps: ");
    rows.push(Row::time(
        shape.clone() + "start",
        framework.start,
        baseline.start,
        Target::None,
        "",
    ));
    rows.push(Row::time(
        shape + "stop",
        framework.stop,
        baseline.stop,
        Target::None,
        "",
    ));

    let n = sizes.memory;
    progress(&format!("memory of {n} idle services"));
    let (framework, baseline) = measure::memory(n, sizes.memory_reps)?;
    let (target, go) = if n == 10_000 {
        (Target::AboveBaselineAtMost(1024.0), "~6.6 KB")
    } else {
        (Target::None, "")
    };
    rows.push(Row {
        shape: format!("memory per idle service, {n}"),
        unit: Unit::Bytes,
        servicepack: framework,
        baseline: Some(baseline),
        target,
        go,
    });
    Ok(rows)
}

/// `showcase --help` and the showcase's binary size; none when there is no showcase.
fn process_rows(options: &Options, sizes: &Sizes) -> Result<Vec<Row>, String> {
    let Some(showcase) =
        measure::showcase(options.showcase.clone(), options.build && !options.quick)?
    else {
        eprintln!(
            "servicepack-bench: no showcase binary next to this one; skipping the process \
             figures (build it with `cargo build --release -p showcase`)"
        );
        return Ok(Vec::new());
    };
    let start = measure::process_start(&showcase, sizes.process_reps)?;
    let (size, stripped) = measure::binary_size(&showcase)?;
    let (help_target, size_target) = if options.quick {
        (Target::None, Target::None)
    } else {
        (Target::UnderMs(2.0), Target::UnderMiB(4.0))
    };
    let mut rows = vec![Row::time(
        "`showcase --help` (base: empty exe)".to_owned(),
        start.help,
        start.noop,
        help_target,
        "3.85 ms",
    )];
    if let Some(floor) = start.floor {
        let shape = "`showcase --help` (base: `true`)".to_owned();
        rows.push(Row::time(shape, start.help, floor, Target::None, ""));
    }
    rows.push(Row::size("showcase binary", size, Target::None));
    rows.push(Row::size(
        "showcase binary, stripped",
        stripped,
        size_target,
    ));
    Ok(rows)
}
