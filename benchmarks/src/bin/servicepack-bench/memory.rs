//! Resident memory per idle service, each side in a fresh child process of this binary
//! (`--measure-rss`), so that allocations do not mix.

use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use servicepack_bench::probe::Probe;
use servicepack_bench::shape::Shape;
use servicepack_bench::{baseline, framework, peer};

use crate::measure::median;

/// Resident bytes per idle service: framework, raw tokio and tokio-graceful-shutdown,
/// each the median of `reps` child processes, taken in turns.
pub(crate) fn memory(n: usize, reps: usize) -> Result<(f64, f64, f64), String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find this binary to re-run it: {error}"))?;
    let mut ours = Vec::with_capacity(reps);
    let mut theirs = Vec::with_capacity(reps);
    let mut peers = Vec::with_capacity(reps);
    for _ in 0..reps {
        ours.push(rss_of_child(&exe, "framework", n)?);
        theirs.push(rss_of_child(&exe, "baseline", n)?);
        peers.push(rss_of_child(&exe, "peer", n)?);
    }
    let per_service = |samples: Vec<u64>| {
        #[allow(clippy::cast_precision_loss)] // bytes and counts far below 2^52
        let per = median(samples) as f64 / n as f64;
        per
    };
    Ok((per_service(ours), per_service(theirs), per_service(peers)))
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

/// The child side of [`memory`]: `--measure-rss framework|baseline|peer N` starts `N` idle
/// services one way or the other and prints how many resident bytes they added.
pub(crate) fn rss_child(args: &[String]) -> ExitCode {
    let (kind, n) = match args {
        [kind, n] if ["framework", "baseline", "peer"].contains(&kind.as_str()) => {
            match n.parse::<usize>() {
                Ok(n) if n > 0 => (kind.clone(), n),
                _ => {
                    eprintln!("servicepack-bench: `--measure-rss`: `{n}` is not a positive number");
                    return ExitCode::from(2);
                }
            }
        }
        _ => {
            eprintln!("servicepack-bench: usage: --measure-rss framework|baseline|peer N");
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
    } else if kind == "peer" {
        peer::hold_flat(n, probe, settle_and_read).await??
    } else {
        baseline::hold_flat(n, probe, settle_and_read).await?
    };
    Ok(after.saturating_sub(before))
}

/// This process's resident set, in bytes, from `/proc/self/status`.
pub(crate) fn vm_rss() -> Result<u64, String> {
    vm_rss_of("/proc/self/status")
}

/// The resident set, in bytes, that the `status` file at `path` says (`/proc/PID/status`).
pub(crate) fn vm_rss_of(path: &str) -> Result<u64, String> {
    let status = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {path} (Linux only): {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no `VmRSS: N kB` line in {path}"))
}
