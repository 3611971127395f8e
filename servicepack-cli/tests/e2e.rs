//! The whole flow a user follows, on one generated project: `new` with no source flag,
//! `add` twice, then the project builds, its tests pass, its binary lists the three
//! services, and `remove` refuses to break it.
//!
//! The binary under test runs from this checkout, so `new` makes the project depend on
//! it by a relative path, and the first commit holds no path of this machine. The project
//! builds offline into `target/scaffold-e2e`, shared by every run so that only the first
//! one compiles servicepack and tokio.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::cargo_bin_cmd;
use tempfile::TempDir;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("servicepack-cli sits in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    workspace().join("target").join("scaffold-e2e")
}

fn servicepack(dir: &Path, args: &[&str]) -> Output {
    let output = cargo_bin_cmd!("servicepack")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    println!("$ servicepack {}\n{}", args.join(" "), text(&output));
    output
}

/// `cargo <args> --offline` in the generated project; panics with the output on failure.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo {} failed:\n{}",
        args.join(" "),
        text(&output)
    );
    output
}

/// Every file of the first commit is free of this machine's absolute paths: the
/// checkout, the project's own directory, the home directory.
fn assert_no_machine_paths(root: &Path, tmp: &Path) {
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(git(&["rev-list", "--count", "HEAD"]), "1\n");
    let mut machine: Vec<String> = vec![
        workspace().to_string_lossy().into_owned(),
        workspace()
            .canonicalize()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        tmp.to_string_lossy().into_owned(),
        tmp.canonicalize().unwrap().to_string_lossy().into_owned(),
    ];
    if let Some(home) = std::env::var_os("HOME").filter(|home| home.len() > 1) {
        machine.push(home.to_string_lossy().into_owned());
    }
    let files = git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(files.lines().count() >= 6, "{files}");
    for file in files.lines() {
        let content = git(&["show", &format!("HEAD:{file}")]);
        // A relative path may pass through the same directories (`../../work/app`):
        // only an occurrence that does not follow `..` is the absolute path.
        for path in &machine {
            assert!(
                content
                    .match_indices(path.as_str())
                    .all(|(at, _)| content[..at].ends_with("..")),
                "{file} holds the absolute path {path}:\n{content}"
            );
        }
        assert!(
            !content.contains("path = \"/"),
            "{file} has an absolute path dependency:\n{content}"
        );
    }
    let manifest = git(&["show", "HEAD:Cargo.toml"]);
    assert!(
        manifest.contains("servicepack = { path = \"../"),
        "{manifest}"
    );
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one user session, step by step, reads best as one transcript"
)]
fn new_add_build_test_list_remove() {
    let tmp = TempDir::new().unwrap();
    let new = servicepack(tmp.path(), &["new", "e2e-app"]);
    assert!(new.status.success());
    let root = tmp.path().join("e2e-app");
    assert_no_machine_paths(&root, tmp.path());

    let worker = servicepack(
        &root,
        &[
            "add",
            "worker",
            "--retries",
            "2",
            "--delay",
            "1s",
            "--notify-ready",
        ],
    );
    assert!(worker.status.success());
    let api = servicepack(&root, &["add", "api", "--depends-on", "worker"]);
    assert!(api.status.success());
    // Every argument of the attribute at once: the written code compiles and its test
    // passes.
    let everything = servicepack(
        &root,
        &[
            "add",
            "everything",
            "--retries",
            "3",
            "--delay",
            "500ms",
            "--backoff",
            "exponential",
            "--max-delay",
            "1m",
            "--jitter",
            "--retry-reset",
            "5m",
            "--restart",
            "always",
            "--depends-on",
            "hello-world",
            "--depends-on-name",
            "external-cache",
            "--allowed-failure",
            "--notify-ready",
            "--readiness",
            "false",
            "--ready-timeout",
            "30s",
            "--stop-timeout",
            "10s",
            "--commands",
            "--new",
            "--crate",
            "::servicepack",
        ],
    );
    assert!(everything.status.success());

    // The generated project resolves offline from the local registry cache; its crates
    // are a subset of the workspace's, so fetching the workspace's lock file (a no-op when
    // they are cached already, as after any workspace build) makes sure they are there.
    let fetch = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["fetch", "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        fetch.status.success(),
        "cargo fetch failed:\n{}",
        text(&fetch)
    );

    cargo(&root, &["build"]);
    // One syn in the whole build: servicepack's macros, clap's and serde's are on syn 3,
    // and tracing comes without its syn-2 `attributes` feature.
    let syn2 = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["tree", "--offline", "-e", "normal,build", "-i", "syn@2"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        !syn2.status.success() && String::from_utf8_lossy(&syn2.stderr).contains("did not match"),
        "the generated project compiles syn 2:\n{}",
        text(&syn2)
    );
    let tests = cargo(&root, &["test"]);
    let report = text(&tests);
    for test in [
        "services::hello_world::tests::runs_until_shutdown",
        "services::hello_world::tests::beats_every_five_seconds",
        "services::worker::tests::runs_until_shutdown",
        "services::api::tests::runs_until_shutdown",
        "services::everything::tests::runs_until_shutdown",
        "services::everything::tests::status_succeeds",
    ] {
        assert!(report.contains(test), "`{test}` did not run:\n{report}");
    }

    let binary = target_dir().join("debug").join("e2e-app");
    let listed = Command::new(&binary)
        .args(["services", "--json"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", text(&listed));
    let services: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let by_name = |name: &str| {
        services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("`{name}` not in {services}"))
            .clone()
    };
    assert_eq!(by_name("hello-world")["depends_on"], serde_json::json!([]));
    assert_eq!(by_name("worker")["notify_ready"], true);
    assert_eq!(by_name("worker")["retries"], 2);
    assert_eq!(by_name("api")["depends_on"], serde_json::json!(["worker"]));
    assert_eq!(by_name("everything")["restart"], "always");
    assert_eq!(by_name("everything")["counts_for_readiness"], false);
    assert_eq!(services.as_array().unwrap().len(), 4);

    let refused = servicepack(&root, &["remove", "worker"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .starts_with("error: cannot remove `worker`: `api` depends on its type `Worker`"),
        "{}",
        text(&refused)
    );
    assert!(root.join("src/services/worker.rs").is_file());
}
