//! The whole flow a user follows, on one generated project: `new`, `add` twice, then
//! the project builds, its tests pass, its binary lists the three services, and `remove`
//! refuses to break it.
//!
//! The generated project depends on this workspace's servicepack by path and builds
//! offline into `target/scaffold-e2e`, shared by every run so that only the first one
//! compiles servicepack and tokio.

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

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn new_add_build_test_list_remove() {
    let tmp = TempDir::new().unwrap();
    let path_arg = workspace();
    let new = servicepack(
        tmp.path(),
        &[
            "new",
            "e2e-app",
            "--servicepack-path",
            path_arg.to_str().unwrap(),
        ],
    );
    assert!(new.status.success());
    let root = tmp.path().join("e2e-app");

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
    let tests = cargo(&root, &["test"]);
    let report = text(&tests);
    for test in [
        "beats_every_five_seconds_until_shutdown",
        "services::worker::tests::runs_until_shutdown",
        "services::api::tests::runs_until_shutdown",
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
    assert_eq!(services.as_array().unwrap().len(), 3);

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
