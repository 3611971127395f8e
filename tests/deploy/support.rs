//! What the deploy tests share: the showcase binaries, scratch directories, bounded
//! waits, and the rule that a missing engine skips a test with a printed reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Generous bound on any single wait: long enough for a loaded CI machine, never a
/// claim about speed.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// Variables the showcase reads; cleared so that the caller's environment cannot leak in.
const APP_VARS: [&str; 10] = [
    "READY_FD",
    "NOTIFY_SOCKET",
    "DATABASE_URL",
    "SERVICES_ENABLED",
    "RUNNER_SHUTDOWNTIMEOUT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_ADD_SOURCE",
    "ENV",
    "OPS_ADDR",
];

/// The workspace root.
pub(crate) fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
}

/// `<target>/<profile>` of this test binary, and the cargo profile's name.
fn profile_dir() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf();
    let profile = match dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    (dir, profile)
}

fn cargo_build(args: &[&str], static_crt: bool) {
    let (dir, profile) = profile_dir();
    let target_dir = dir.parent().expect("<target>/<profile> has a parent");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace())
        .arg("build")
        .args(args)
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(target_dir);
    if static_crt {
        // The README's recipe: glibc linked statically, on the stable toolchain.
        build
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("RUSTFLAGS", "-C target-feature=+crt-static");
    }
    let output = build.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The showcase, built on first use (`cargo test` does not build other packages' bins).
pub(crate) fn showcase() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo_build(&["-p", "showcase", "--bin", "showcase"], false);
        let path = profile_dir().0.join("showcase");
        assert!(
            path.is_file(),
            "cargo build did not produce {}",
            path.display()
        );
        path
    })
}

/// The showcase linked statically, for a `FROM scratch` image: built on first use with
/// the README's recipe.
pub(crate) fn static_showcase() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = "x86_64-unknown-linux-gnu";
        cargo_build(
            &["-p", "showcase", "--bin", "showcase", "--target", target],
            true,
        );
        let (dir, _) = profile_dir();
        let profile = dir.file_name().expect("a profile directory has a name");
        let path = dir
            .parent()
            .expect("<target>/<profile> has a parent")
            .join(target)
            .join(profile)
            .join("showcase");
        assert!(
            path.is_file(),
            "cargo build did not produce {}",
            path.display()
        );
        path
    })
}

/// A command with none of the app's variables set.
pub(crate) fn app(bin: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command.args(args);
    for var in APP_VARS {
        command.env_remove(var);
    }
    command
}

/// `showcase deploy <args>`, run to its end.
pub(crate) fn deploy(args: &[&str]) -> Output {
    let mut all = vec!["deploy"];
    all.extend_from_slice(args);
    app(showcase(), &all).output().expect("the showcase runs")
}

/// Stdout and stderr of a finished command, for failure messages.
pub(crate) fn shown(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `deploy <target> --out <out> <extra>`, which must succeed.
pub(crate) fn deploy_ok(target: &str, out: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let out_text = out.to_str().expect("scratch paths are UTF-8");
    let mut args = vec![target, "--out", out_text];
    args.extend_from_slice(extra);
    let output = deploy(&args);
    assert!(
        output.status.success(),
        "deploy {args:?}: {}",
        shown(&output)
    );
    String::from_utf8(output.stdout)
        .expect("paths are UTF-8")
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// A fresh directory under the system's temporary directory, removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "servicepack-deploy-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temporary directory is writable");
        Self(path)
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether every program is on `PATH`; prints why the test is skipped when one is not.
pub(crate) fn have(test: &str, programs: &[&str], package: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|program| !std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip_or_fail(
        test,
        &format!(
            "{} not found on PATH (install {package}; CI installs it)",
            missing.join(", ")
        ),
    );
    false
}

/// Fails `test` because `reason` (an engine missing, a daemon not answering) keeps it
/// from running: a test that passed without its engine would prove nothing.
pub(crate) fn skip_or_fail(test: &str, reason: &str) {
    panic!("{test}: {reason}; `bash .ci/setup` installs and starts every engine the tests use");
}

/// Whether the showcase has the `health` probe client that the units call (SPEC §7);
/// fails the test when it has not.
pub(crate) fn have_health(test: &str) -> bool {
    let output = app(showcase(), &["health", "--help"])
        .output()
        .expect("the showcase runs");
    assert!(
        output.status.success(),
        "{test}: the showcase has no `health` command, which the generated units call (SPEC §7)"
    );
    true
}

/// Polls `probe` until it gives a value, for at most `limit`; panics with `what` and
/// the last thing `probe` said.
pub(crate) fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not after {limit:?}; last: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Runs `program args`, returning its output whatever the status.
pub(crate) fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"))
}

/// Prints how long a test took: the closing note reports these figures.
pub(crate) struct Timer(&'static str, Instant);

impl Timer {
    pub(crate) fn start(name: &'static str) -> Self {
        Self(name, Instant::now())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        eprintln!("TIMING {}: {:.1?}", self.0, self.1.elapsed());
    }
}
