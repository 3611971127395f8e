//! `servicepack-bench`: the servicepack runtime side by side with raw tokio and with
//! tokio-graceful-shutdown, at the scale users reach, with logs on.
//!
//! ```text
//! cargo run --release -p servicepack-bench             # the full run (a few minutes)
//! cargo run --release -p servicepack-bench -- --build  # ... and the compile times (slow)
//! cargo run --release -p servicepack-bench -- --quick  # smallest sizes (CI smoke run)
//! cargo run --release -p servicepack-bench -- --json   # the same figures for machines
//! ```
//!
//! Every shape is run by each side in the same process, interleaved repetition by
//! repetition, each on a fresh multi-thread runtime; the tables show the medians, their
//! ratios, and the targets. Whatever needs a process of its own (memory, logs, the crash
//! loop) runs in child processes of this binary, started through hidden modes.
//!
//! Benchmarks are not tests: a missed target is printed as `MISSED`, not turned into a
//! failure. The exit code is non-zero only when a run itself went wrong.

mod compile;
mod crash;
mod distinct;
mod logs;
mod measure;
mod memory;
mod process;
mod report;
mod sections;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use report::Machine;

const USAGE: &str = "\
usage: servicepack-bench [--quick] [--json] [--reps N] [--build] [--crash-secs S]
                         [--only SECTIONS] [--showcase PATH] [--no-build]

  --quick           smallest sizes, 2 repetitions, 1 s crash loops: the CI smoke run
  --json            print the figures as JSON instead of tables
  --reps N          repetitions per figure (default 31; the median is reported)
  --build           also time the builds (clean debug/release showcase, an incremental
                    rebuild, the 1,000-distinct-types apps); takes many minutes
  --crash-secs S    how long each crash loop runs (default 30, 1 with --quick)
  --only SECTIONS   a comma-separated subset of: shapes, scale, logs, crash, distinct,
                    process, build
  --showcase PATH   the showcase binary to time (default: next to this binary)
  --no-build        do not run `cargo build --release -p showcase` first";

/// Every section, in the order they run.
const SECTIONS: [&str; 7] = [
    "shapes", "scale", "logs", "crash", "distinct", "process", "build",
];

/// What one invocation measures.
#[derive(Debug)]
#[expect(clippy::struct_excessive_bools, reason = "one per command-line flag")]
struct Options {
    quick: bool,
    json: bool,
    reps: Option<usize>,
    showcase: Option<PathBuf>,
    build_showcase: bool,
    builds: bool,
    crash: Option<Duration>,
    only: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Option<Self>, String> {
        let mut options = Self {
            quick: false,
            json: false,
            reps: None,
            showcase: None,
            build_showcase: true,
            builds: false,
            crash: None,
            only: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |example: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("`{arg}` needs a value, e.g. `{arg} {example}`"))
            };
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--json" => options.json = true,
                "--no-build" => options.build_showcase = false,
                "--build" => options.builds = true,
                "--reps" => {
                    let text = value("11")?;
                    let reps = text.parse().ok().filter(|&reps| reps > 0);
                    options.reps =
                        Some(reps.ok_or_else(|| {
                            format!("`--reps {text}`: expected a positive number")
                        })?);
                }
                "--crash-secs" => {
                    let text = value("30")?;
                    let secs = text
                        .parse::<f64>()
                        .ok()
                        .filter(|secs| (0.1..=3600.0).contains(secs));
                    let secs = secs.ok_or_else(|| {
                        format!("`--crash-secs {text}`: expected seconds from 0.1 to 3600")
                    })?;
                    options.crash = Some(Duration::from_secs_f64(secs));
                }
                "--only" => {
                    let text = value("shapes,logs")?;
                    let only: Vec<String> = text.split(',').map(|s| s.trim().to_owned()).collect();
                    if let Some(unknown) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                        return Err(format!(
                            "`--only {text}`: no section `{unknown}`; the sections are {}",
                            SECTIONS.join(", ")
                        ));
                    }
                    options.only = Some(only);
                }
                "--showcase" => options.showcase = Some(PathBuf::from(value("PATH")?)),
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        Ok(Some(options))
    }

    /// Whether `section` runs: every one but `build` by default, `build` with `--build`.
    fn runs(&self, section: &str) -> bool {
        match &self.only {
            Some(only) => only.iter().any(|s| s == section),
            None => section != "build" || self.builds,
        }
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
    scale: (usize, usize),
    logs: usize,
    crash: Duration,
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
                scale: (1_000, 10_000),
                logs: 1_000,
                crash: Duration::from_secs(1),
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
                scale: (10_000, 100_000),
                logs: 10_000,
                crash: Duration::from_secs(30),
                reps: 31,
                warmup: 1,
                memory_reps: 5,
                process_reps: 21,
            }
        };
        if let Some(reps) = options.reps {
            sizes.reps = reps;
        }
        if let Some(crash) = options.crash {
            sizes.crash = crash;
        }
        sizes
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The hidden modes in which this binary is its own subject.
    match args.first().map(String::as_str) {
        Some("--noop") => return ExitCode::SUCCESS,
        Some("--measure-rss") => return memory::rss_child(&args[1..]),
        Some("--profile") => return measure::profile_child(&args[1..]),
        Some("--logs") => return logs::child_main(&args[1..]),
        Some("--crash-loop") => return crash::child_main(&args[1..]),
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
    let machine = Machine::detect();
    let progress = |what: &str| {
        if !options.json {
            eprintln!("measuring {what} ...");
        }
    };
    let targets = !options.quick;
    let mut sections = Vec::new();
    if options.runs("shapes") {
        sections.extend(sections::shapes(&sizes, targets, &progress)?);
    }
    if options.runs("scale") {
        sections.push(sections::scale(&sizes, targets, &progress)?);
    }
    if options.runs("logs") {
        sections.push(sections::logs(&sizes, targets, &progress)?);
    }
    if options.runs("crash") {
        sections.push(sections::crash(&sizes, targets, &progress)?);
    }
    // The builds first: they produce the distinct-types binaries.
    if options.runs("build") {
        sections.push(sections::builds(targets, &progress)?);
    }
    if options.runs("distinct") {
        sections.extend(sections::distinct(&sizes, targets, &progress)?);
    }
    if options.runs("process") {
        progress("the showcase binary");
        sections.extend(sections::process(
            options.showcase.clone(),
            options.build_showcase && !options.quick,
            &sizes,
            targets,
        )?);
    }
    if options.json {
        println!(
            "{}",
            report::json(&machine, options.quick, sizes.reps, &sections)
        );
    } else {
        print!("{}", report::table(&machine, sizes.reps, &sections));
    }
    Ok(())
}
