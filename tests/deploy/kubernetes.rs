//! Kubernetes: the manifests pass `kubernetes-validate --strict`, the probes ask the
//! port that `OPS_ADDR` binds, and the grace period covers drain and budget.

use std::fs;

use crate::support::{Scratch, Timer, app, have, showcase, shown};

/// The versions whose schemas `kubernetes-validate` bundles, oldest and newest we use.
const VERSIONS: [&str; 2] = ["1.34.0", "1.37.0"];

/// The value after `key: ` on the first line of `doc` that has it.
fn field<'a>(doc: &'a str, key: &str) -> Option<&'a str> {
    doc.lines()
        .find_map(|line| line.trim().strip_prefix(key)?.strip_prefix(": "))
}

#[test]
fn manifests_validate_strictly_and_probe_the_ops_port() {
    if !have(
        "kubernetes validate",
        &["kubernetes-validate"],
        "the PyPI package `kubernetes-validate` (pip install kubernetes-validate)",
    ) {
        return;
    }
    let _timer = Timer::start("kubernetes validate");
    let scratch = Scratch::new("kubernetes");
    let out = scratch.path("k8s");
    let output = app(showcase(), &["deploy", "kubernetes", "--out"])
        .arg(&out)
        .env("RUNNER_SHUTDOWNTIMEOUT", "20s")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", shown(&output));
    let manifest = out.join("showcase.yaml");
    for version in VERSIONS {
        let output = std::process::Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", version])
            .arg(&manifest)
            .output()
            .expect("kubernetes-validate runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && !text.contains("ERROR") && !text.contains("WARN"),
            "kubernetes-validate --strict -k {version}: {}",
            shown(&output)
        );
        assert_eq!(text.matches(" passed for resource ").count(), 18, "{text}");
    }

    let text = fs::read_to_string(&manifest).unwrap();
    let deployments: Vec<&str> = text
        .split("\n---\n")
        .filter(|doc| doc.contains("kind: Deployment"))
        .collect();
    assert_eq!(deployments.len(), 9);
    for doc in deployments {
        let name = field(doc, "name").unwrap();
        // `- name: OPS_ADDR` is followed by its value.
        let addr = doc
            .split("- name: OPS_ADDR\n")
            .nth(1)
            .and_then(|rest| field(rest, "value"))
            .unwrap_or_else(|| panic!("{name}: no OPS_ADDR"));
        let port = addr.trim_matches('"').rsplit(':').next().unwrap();
        assert_eq!(
            field(doc, "containerPort"),
            Some(port),
            "{name}: the ops port"
        );
        assert!(
            doc.contains("- name: ops\n"),
            "{name}: the port is named ops"
        );
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let body = doc.split(&format!("{probe}:\n")).nth(1).unwrap();
            assert_eq!(field(body, "port"), Some("ops"), "{name} {probe}");
        }
        let readiness = doc.split("readinessProbe:\n").nth(1).unwrap();
        assert_eq!(field(readiness, "path"), Some("/readyz"), "{name}");
        let liveness = doc.split("livenessProbe:\n").nth(1).unwrap();
        assert_eq!(field(liveness, "path"), Some("/livez"), "{name}");
        let grace: u64 = field(doc, "terminationGracePeriodSeconds")
            .unwrap()
            .parse()
            .unwrap();
        let pre_stop: u64 = doc
            .split("preStop:\n")
            .nth(1)
            .and_then(|rest| field(rest, "seconds"))
            .unwrap()
            .parse()
            .unwrap();
        // Budget 20 s, no drain: the pod must get the pause and the budget, and more.
        assert!(
            grace > pre_stop + 20,
            "{name}: grace {grace}s, preStop {pre_stop}s"
        );
    }
}
