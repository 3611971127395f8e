//! Golden files: every file of every target for the shop, in one text per target.
//! `UPDATE_GOLDEN=1 cargo test -p servicepack --lib deploy::` rewrites them; read the
//! diff before committing.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{Options, Target, model, options, render};

fn check(target: Target, options: &Options) {
    let files = render(&model(options).unwrap());
    let mut text = String::new();
    for file in files {
        let mode = if file.executable { "0755" } else { "0644" };
        let _ = write!(text, "==> {} ({mode}) <==\n{}", file.path, file.contents);
        if !file.contents.ends_with('\n') {
            text.push_str("\n[no newline at end]\n");
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/deploy/tests/golden")
        .join(format!("{}.txt", target.as_str()));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        text == expected,
        "{} differs from what deploy renders now (UPDATE_GOLDEN=1 rewrites it):\n{text}",
        path.display()
    );
}

#[test]
fn systemd_units() {
    check(Target::Systemd, &options(Target::Systemd));
}

#[test]
fn runit_service_directories() {
    check(Target::Runit, &options(Target::Runit));
}

#[test]
fn daemontools_service_directories() {
    check(Target::Daemontools, &options(Target::Daemontools));
}

#[test]
fn s6_service_directories() {
    check(Target::S6, &options(Target::S6));
}

#[test]
fn compose_file_and_dockerfile() {
    check(Target::Compose, &options(Target::Compose));
}

#[test]
fn swarm_stack_and_dockerfile() {
    check(Target::Swarm, &options(Target::Swarm));
}

#[test]
fn kubernetes_manifests_and_dockerfile() {
    check(
        Target::Kubernetes,
        &Options {
            image: Some("registry.example/shop:1.2.3".to_owned()),
            binary: Some("/app/shop".to_owned()),
            ops_port_base: 8000,
            drain: std::time::Duration::from_secs(3),
            ..options(Target::Kubernetes)
        },
    );
}
