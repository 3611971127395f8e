//! The crash loop: one service restarted as fast as its policy allows, for a fixed time,
//! next to a raw tokio loop doing the same.
//!
//! - `always`: `run` returns `Ok(())` at once; `restart = "always"`, no delay.
//! - `fail`: `run` returns an error at once; `retries = "unlimited"`, no delay.
//!
//! The raw loop calls the same boxed `run` in a loop on one task, yielding between two
//! attempts (as the runtime does for a zero delay) and checking a token. Each side runs in
//! a fresh child process of this binary (`--crash-loop KIND MILLIS`), which reports the
//! attempts, its CPU time over the loop (`getrusage`), and its resident memory a tenth
//! into the loop ("start") and at its end.

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use servicepack::{Context, Policy, Restart, Result, Retries, Runner, Service, ServiceDef};
use servicepack_bench::sys;
use tokio_util::sync::CancellationToken;

use crate::memory::vm_rss;

/// What one crash-loop child measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loop {
    pub(crate) attempts: u64,
    pub(crate) cpu: Duration,
    pub(crate) wall: Duration,
    pub(crate) rss_start: u64,
    pub(crate) rss_end: u64,
}

impl Loop {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub(crate) fn per_second(&self) -> f64 {
        self.attempts as f64 / self.wall.as_secs_f64()
    }

    /// CPU time per restart, in microseconds.
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub(crate) fn cpu_per_attempt_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.attempts.max(1) as f64
    }
}

/// The framework's and the raw loop's figures for `kind` (`always` or `fail`).
pub(crate) fn measure(kind: &str, duration: Duration) -> Result<(Loop, Loop), String> {
    let ours = child(&format!("framework-{kind}"), duration)?;
    let theirs = child(&format!("raw-{kind}"), duration)?;
    Ok((ours, theirs))
}

fn child(kind: &str, duration: Duration) -> Result<Loop, String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find this binary to re-run it: {error}"))?;
    let millis = duration.as_millis().to_string();
    let output = Command::new(&exe)
        .args(["--crash-loop", kind, &millis])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`--crash-loop {kind} {millis}` failed ({})",
            output.status
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    match numbers[..] {
        [attempts, cpu, wall, rss_start, rss_end] => Ok(Loop {
            attempts,
            cpu: Duration::from_nanos(cpu),
            wall: Duration::from_nanos(wall),
            rss_start,
            rss_end,
        }),
        _ => Err(format!(
            "`--crash-loop {kind}` printed {text:?}, not five numbers"
        )),
    }
}

/// The child side: `--crash-loop framework-always|framework-fail|raw-always|raw-fail MILLIS`
/// prints `attempts cpu_ns wall_ns rss_start rss_end`.
pub(crate) fn child_main(args: &[String]) -> ExitCode {
    const KINDS: [&str; 4] = [
        "framework-always",
        "framework-fail",
        "raw-always",
        "raw-fail",
    ];
    let parsed = match args {
        [kind, millis] if KINDS.contains(&kind.as_str()) => millis
            .parse::<u64>()
            .ok()
            .filter(|&millis| millis > 0)
            .map(|millis| (kind.clone(), Duration::from_millis(millis))),
        _ => None,
    };
    let Some((kind, duration)) = parsed else {
        eprintln!(
            "servicepack-bench: usage: --crash-loop {} MILLIS",
            KINDS.join("|")
        );
        return ExitCode::from(2);
    };
    match crate::measure::on_fresh_runtime(run_loop(kind, duration)) {
        Ok(done) => {
            println!(
                "{} {} {} {} {}",
                done.attempts,
                done.cpu.as_nanos(),
                done.wall.as_nanos(),
                done.rss_start,
                done.rss_end
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("servicepack-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Counts its runs; returns at once, with an error when `fail` is set.
#[derive(Debug)]
struct Crasher {
    attempts: Arc<AtomicU64>,
    fail: bool,
}

impl Service for Crasher {
    async fn run(&self, _ctx: Context) -> Result<()> {
        attempt(&self.attempts, self.fail)
    }
}

fn attempt(attempts: &AtomicU64, fail: bool) -> Result<()> {
    attempts.fetch_add(1, Ordering::Relaxed);
    if fail {
        Err("crashed at once".into())
    } else {
        Ok(())
    }
}

async fn run_loop(kind: String, duration: Duration) -> Result<Loop, String> {
    let attempts = Arc::new(AtomicU64::new(0));
    let fail = kind.ends_with("-fail");
    let stop = CancellationToken::new();
    let cpu_before = sys::cpu_time().map_err(|error| format!("getrusage: {error}"))?;
    let began = Instant::now();
    let task: Pin<Box<dyn Future<Output = Result<(), String>> + Send>> =
        if kind.starts_with("framework") {
            let policy = if fail {
                Policy::new().retries(Retries::Unlimited)
            } else {
                Policy::new().restart(Restart::Always)
            };
            let crasher = Crasher {
                attempts: attempts.clone(),
                fail,
            };
            let runner = Runner::new().service(ServiceDef::new("crasher", crasher).policy(policy));
            let shutdown = runner.shutdown_handle();
            let stop = stop.clone();
            Box::pin(async move {
                let run = tokio::spawn(runner.run());
                stop.cancelled().await;
                shutdown.request();
                let report = run.await.map_err(|error| error.to_string())?;
                match report.reason() {
                    Some(reason) => Err(reason),
                    None => Ok(()),
                }
            })
        } else {
            Box::pin(raw_loop(attempts.clone(), fail, stop.clone()))
        };
    let task = tokio::spawn(task);
    tokio::time::sleep(duration / 10).await;
    let rss_start = vm_rss()?;
    tokio::time::sleep(duration.saturating_sub(duration / 10)).await;
    let rss_end = vm_rss()?;
    let done = attempts.load(Ordering::Relaxed);
    let wall = began.elapsed();
    let cpu = sys::cpu_time()
        .map_err(|error| format!("getrusage: {error}"))?
        .saturating_sub(cpu_before);
    stop.cancel();
    task.await.map_err(|error| error.to_string())??;
    Ok(Loop {
        attempts: done,
        cpu,
        wall,
        rss_start,
        rss_end,
    })
}

/// The least raw tokio does to restart a service: call its boxed `run` again and again
/// on one task, yield between two attempts, stop when the token says so.
async fn raw_loop(
    attempts: Arc<AtomicU64>,
    fail: bool,
    stop: CancellationToken,
) -> Result<(), String> {
    while !stop.is_cancelled() {
        // Boxed, as a runtime that runs services of any type must; the error is dropped,
        // as the runtime's is after logging it.
        let run: Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> =
            Box::pin(async { attempt(&attempts, fail) });
        drop(run.await);
        tokio::task::yield_now().await;
    }
    Ok(())
}
