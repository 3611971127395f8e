//! Compile times (`--build`): clean debug and release builds of the showcase, an
//! incremental debug rebuild after a one-line change inside one service's `run`, and
//! clean release builds of the 1,000-distinct-types apps.
//!
//! The showcase builds run in a copy of the workspace (without `target/` and `.git/`),
//! each profile with a fresh target directory, so the one-line change never touches the
//! real source. The distinct-types apps build from the real tree into
//! `target/distinct` (removed first), where the process figures find them; then the app
//! crate alone is rebuilt (its `main.rs` touched), which is the cost of the 1,000 types
//! without the dependencies. Each build runs under `/usr/bin/time`, which reports the
//! wall time and the peak resident memory of the largest process (a `rustc`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::distinct;

/// The file and line of the one-line change: the first log line of `hello-world`'s `run`.
const CHANGED_FILE: &str = "examples/showcase/src/services/hello_world.rs";
const CHANGED_FROM: &str = "\"hello world, a heartbeat every 5s\"";
const CHANGED_TO: &str = "\"hello world, one heartbeat every 5s\"";

/// One build: wall time and the peak resident memory of its largest process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Build {
    pub(crate) wall: Duration,
    pub(crate) peak_kib: u64,
}

/// Every build figure.
#[derive(Debug)]
pub(crate) struct Builds {
    pub(crate) showcase_debug: Build,
    pub(crate) showcase_incremental: Build,
    pub(crate) showcase_release: Build,
    pub(crate) distinct_servicepack: Build,
    pub(crate) distinct_tokio: Build,
    pub(crate) distinct_servicepack_crate: Build,
    pub(crate) distinct_tokio_crate: Build,
}

/// Runs every build, reporting progress through `progress`.
pub(crate) fn measure(progress: &dyn Fn(&str)) -> Result<Builds, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let copy = std::env::temp_dir().join(format!("servicepack-bench-build-{}", std::process::id()));
    let result = showcase_builds(&workspace, &copy, progress);
    let _ = fs::remove_dir_all(&copy);
    let (showcase_debug, showcase_incremental, showcase_release) = result?;

    let target = distinct::target_dir();
    let _ = fs::remove_dir_all(&target);
    let manifest = distinct::workspace().join("Cargo.toml");
    let distinct = |package: &str| -> Result<(Build, Build), String> {
        progress(&format!("a clean release build of {package}"));
        let clean = cargo(
            &manifest,
            &target,
            &["build", "--release", "--locked", "-p", package],
            false,
        )?;
        let folder = if package == "distinct-servicepack" {
            "servicepack-app"
        } else {
            "tokio-app"
        };
        let main = distinct::workspace().join(folder).join("src/main.rs");
        touch(&main)?;
        progress(&format!("a release rebuild of {package}'s own crate"));
        let own = cargo(
            &manifest,
            &target,
            &["build", "--release", "--locked", "-p", package],
            false,
        )?;
        Ok((clean, own))
    };
    let (distinct_servicepack, distinct_servicepack_crate) = distinct("distinct-servicepack")?;
    let (distinct_tokio, distinct_tokio_crate) = distinct("distinct-tokio")?;
    // Only the two binaries are needed from here on: give the disk back.
    for kept_out in ["deps", "build", "incremental", ".fingerprint"] {
        let _ = fs::remove_dir_all(target.join("release").join(kept_out));
    }
    Ok(Builds {
        showcase_debug,
        showcase_incremental,
        showcase_release,
        distinct_servicepack,
        distinct_tokio,
        distinct_servicepack_crate,
        distinct_tokio_crate,
    })
}

fn showcase_builds(
    workspace: &Path,
    copy: &Path,
    progress: &dyn Fn(&str),
) -> Result<(Build, Build, Build), String> {
    copy_tree(workspace, copy)
        .map_err(|error| format!("cannot copy the workspace to {}: {error}", copy.display()))?;
    let manifest = copy.join("Cargo.toml");
    let debug_target = copy.join("target-debug");
    progress("a clean debug build of the showcase");
    let debug = cargo(
        &manifest,
        &debug_target,
        &["build", "--locked", "-p", "showcase"],
        true,
    )?;
    let changed = copy.join(CHANGED_FILE);
    let source = fs::read_to_string(&changed)
        .map_err(|error| format!("cannot read {}: {error}", changed.display()))?;
    if !source.contains(CHANGED_FROM) {
        return Err(format!(
            "{CHANGED_FILE} no longer contains {CHANGED_FROM}: update the one-line change in benchmarks/src/bin/servicepack-bench/compile.rs"
        ));
    }
    fs::write(&changed, source.replacen(CHANGED_FROM, CHANGED_TO, 1))
        .map_err(|error| format!("cannot write {}: {error}", changed.display()))?;
    progress("an incremental debug rebuild after a one-line change");
    let incremental = cargo(
        &manifest,
        &debug_target,
        &["build", "--locked", "-p", "showcase"],
        true,
    )?;
    progress("a clean release build of the showcase");
    let release = cargo(
        &manifest,
        &copy.join("target-release"),
        &["build", "--release", "--locked", "-p", "showcase"],
        false,
    )?;
    Ok((debug, incremental, release))
}

/// Runs `cargo ARGS` for `manifest` into `target` under `/usr/bin/time`.
fn cargo(
    manifest: &Path,
    target: &Path,
    args: &[&str],
    incremental: bool,
) -> Result<Build, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let report = target.with_extension("time");
    if let Some(parent) = report.parent() {
        fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&report)
        .arg(&cargo)
        .args(args)
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", if incremental { "1" } else { "0" })
        .env_remove("RUSTFLAGS")
        .env_remove("DISTINCT_SERVICES")
        .stdin(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run /usr/bin/time (apt-get install time): {error}"))?;
    let described = format!("`cargo {}` for {}", args.join(" "), manifest.display());
    if !status.success() {
        return Err(format!("{described} failed ({status})"));
    }
    let text = fs::read_to_string(&report)
        .map_err(|error| format!("cannot read {}: {error}", report.display()))?;
    let _ = fs::remove_file(&report);
    let mut words = text.split_whitespace().rev();
    let peak_kib = words.next().and_then(|kib| kib.parse().ok());
    let wall = words.next().and_then(|secs| secs.parse::<f64>().ok());
    match (wall, peak_kib) {
        (Some(wall), Some(peak_kib)) => Ok(Build {
            wall: Duration::from_secs_f64(wall),
            peak_kib,
        }),
        _ => Err(format!("/usr/bin/time said {text:?} for {described}")),
    }
}

/// Sets `path`'s modification time to now, so cargo rebuilds its crate.
fn touch(path: &Path) -> Result<(), String> {
    fs::File::options()
        .append(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()))
        .map_err(|error| format!("cannot touch {}: {error}", path.display()))
}

/// Copies the workspace at `from` to `to`, without build output and git metadata.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest): (PathBuf, PathBuf) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            // The shared sources and the licences are relative symlinks: keep them links,
            // so they point into the copy.
            std::os::unix::fs::symlink(fs::read_link(&source)?, &dest)?;
        } else if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else {
            fs::copy(&source, &dest)?;
        }
    }
    Ok(())
}
