//! Kubernetes: one `Deployment` and one `Service` per service, all in `<app>.yaml`.
//!
//! The probes ask the ops endpoint on the port `OPS_ADDR` binds: `startupProbe` and
//! `livenessProbe` on `/livez` (it answers from before the first service starts, so a
//! service still waiting for its dependencies is not killed), `readinessProbe` on
//! `/readyz`. On deletion the pod gets a `preStop` pause, so the endpoints controller
//! takes it out of its Service before SIGTERM, then the app's own drain and shutdown
//! budget: `terminationGracePeriodSeconds` covers all of it, plus a margin.

use std::fmt::Write as _;

use super::Artifact;
use super::model::{Model, Unit, whole_seconds};
use super::yaml::{list, quote};

/// The `preStop` pause, in seconds.
const PRE_STOP_SECS: u64 = 5;

/// The uid of the image's user (`nobody`).
const USER_ID: u32 = 65534;

pub(super) fn render(model: &Model) -> Artifact {
    let mut text = format!("# {}\n", model.header());
    for (i, unit) in model.units.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        deployment(&mut text, model, unit);
        text.push_str("---\n");
        service(&mut text, model, unit);
    }
    Artifact::file(format!("{}.yaml", model.app), text)
}

/// The labels of every object of `unit`; the first two also select its pods.
fn labels(text: &mut String, model: &Model, unit: &Unit, indent: usize, selector: bool) {
    let pad = " ".repeat(indent);
    let _ = writeln!(text, "{pad}app.kubernetes.io/name: {}", quote(&unit.name));
    let _ = writeln!(
        text,
        "{pad}app.kubernetes.io/part-of: {}",
        quote(&model.app)
    );
    if !selector {
        let _ = writeln!(
            text,
            "{pad}app.kubernetes.io/version: {}",
            quote(&model.version)
        );
    }
}

/// What the pod may take to stop: the `preStop` pause, drain, budget and margin.
pub(super) fn grace_seconds(model: &Model) -> u64 {
    PRE_STOP_SECS + whole_seconds(model.stop_timeout())
}

fn deployment(text: &mut String, model: &Model, unit: &Unit) {
    let name = model.unit_name(&unit.name);
    // Writing to a String cannot fail.
    let _ = writeln!(text, "apiVersion: apps/v1\nkind: Deployment\nmetadata:");
    let _ = writeln!(text, "  name: {}\n  labels:", quote(&name));
    labels(text, model, unit, 4, false);
    let _ = writeln!(text, "spec:\n  replicas: 1\n  selector:\n    matchLabels:");
    labels(text, model, unit, 6, true);
    let _ = writeln!(text, "  template:\n    metadata:\n      labels:");
    labels(text, model, unit, 8, false);
    let _ = writeln!(text, "    spec:");
    let _ = writeln!(text, "      restartPolicy: Always");
    let _ = writeln!(
        text,
        "      terminationGracePeriodSeconds: {}",
        grace_seconds(model)
    );
    let _ = writeln!(text, "      securityContext:");
    let _ = writeln!(text, "        runAsNonRoot: true");
    let _ = writeln!(text, "        runAsUser: {USER_ID}");
    let _ = writeln!(text, "        runAsGroup: {USER_ID}");
    let _ = writeln!(text, "      containers:");
    let _ = writeln!(text, "        - name: {}", quote(&unit.name));
    let _ = writeln!(text, "          image: {}", quote(&model.image));
    let _ = writeln!(text, "          imagePullPolicy: IfNotPresent");
    let _ = writeln!(text, "          command: {}", list([model.binary.as_str()]));
    let _ = writeln!(text, "          args: {}", list(["run"]));
    let _ = writeln!(text, "          env:");
    for (key, value) in model.env(unit, "0.0.0.0") {
        let _ = writeln!(
            text,
            "            - name: {key}\n              value: {}",
            quote(&value)
        );
    }
    let _ = writeln!(text, "          ports:");
    let _ = writeln!(text, "            - name: ops");
    let _ = writeln!(text, "              containerPort: {}", unit.port);
    let _ = writeln!(text, "              protocol: TCP");
    probe(text, "startupProbe", "/livez", 1, 30);
    probe(text, "livenessProbe", "/livez", 10, 3);
    probe(text, "readinessProbe", "/readyz", 5, 1);
    let _ = writeln!(
        text,
        "          lifecycle:\n            preStop:\n              sleep:"
    );
    let _ = writeln!(text, "                seconds: {PRE_STOP_SECS}");
    let _ = writeln!(text, "          securityContext:");
    let _ = writeln!(text, "            allowPrivilegeEscalation: false");
    let _ = writeln!(text, "            readOnlyRootFilesystem: true");
    let _ = writeln!(
        text,
        "            capabilities:\n              drop: [\"ALL\"]"
    );
}

fn probe(text: &mut String, kind: &str, path: &str, period: u32, failures: u32) {
    let _ = writeln!(text, "          {kind}:");
    let _ = writeln!(text, "            httpGet:");
    let _ = writeln!(text, "              path: {path}");
    let _ = writeln!(text, "              port: ops");
    let _ = writeln!(text, "            periodSeconds: {period}");
    let _ = writeln!(text, "            timeoutSeconds: 3");
    let _ = writeln!(text, "            failureThreshold: {failures}");
}

fn service(text: &mut String, model: &Model, unit: &Unit) {
    let _ = writeln!(text, "apiVersion: v1\nkind: Service\nmetadata:");
    let _ = writeln!(
        text,
        "  name: {}\n  labels:",
        quote(&model.unit_name(&unit.name))
    );
    labels(text, model, unit, 4, false);
    let _ = writeln!(text, "spec:\n  selector:");
    labels(text, model, unit, 4, true);
    let _ = writeln!(text, "  ports:");
    let _ = writeln!(text, "    - name: ops");
    let _ = writeln!(text, "      port: {}", unit.port);
    let _ = writeln!(text, "      targetPort: ops");
    let _ = writeln!(text, "      protocol: TCP");
}
