//! The process-level figures of the showcase binary: `--help` start time and size.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::measure::median_duration;

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
