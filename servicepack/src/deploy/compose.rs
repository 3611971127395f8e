//! docker compose (`compose.yaml`) and docker swarm (`stack.yaml`): one service per
//! service of the app, all running the image that the generated `Dockerfile` builds.
//!
//! Compose starts a dependent only once its dependencies' healthchecks pass
//! (`depends_on` with `condition: service_healthy`; `service_started` for an allowed
//! failure, which its dependents want but do not require). Swarm has no start order:
//! `docker stack deploy` ignores `depends_on`, so `stack.yaml` leaves it out, and its
//! restarts go in `deploy.restart_policy`.

use std::fmt::Write as _;

use crate::Restart;

use super::model::{Model, Unit, seconds_or_millis};
use super::yaml::{list, quote};
use super::{Artifact, Target};

/// How often the engine asks `health`, how long one answer may take, and how many
/// failures in a row make a container unhealthy.
pub(super) const HEALTH_INTERVAL: &str = "5s";
pub(super) const HEALTH_TIMEOUT: &str = "3s";
pub(super) const HEALTH_RETRIES: u32 = 3;
/// What a swarm dependent's `start_period` adds for the wait for its peers.
pub(super) const PEER_START_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

pub(super) fn render(model: &Model) -> Vec<Artifact> {
    let swarm = model.target == Target::Swarm;
    let mut text = format!("# {}\n", model.header());
    let _ = writeln!(
        text,
        "# Build the image from the Dockerfile next to this file first (README, \"Deploying\")."
    );
    if swarm {
        // `docker stack deploy` still wants a version 3 file.
        let _ = writeln!(text, "version: \"3.8\"");
    }
    let _ = writeln!(text, "services:");
    for unit in &model.units {
        service(&mut text, model, unit, swarm);
    }
    let name = if swarm { "stack.yaml" } else { "compose.yaml" };
    vec![Artifact::file(name, text)]
}

fn service(text: &mut String, model: &Model, unit: &Unit, swarm: bool) {
    // Writing to a String cannot fail.
    let _ = writeln!(text, "  {}:", unit.name);
    let _ = writeln!(text, "    image: {}", quote(&model.image));
    let _ = writeln!(text, "    entrypoint: {}", list([model.binary.as_str()]));
    let _ = writeln!(text, "    command: {}", list(["run"]));
    let _ = writeln!(text, "    environment:");
    for (key, value) in model.env(unit, "0.0.0.0") {
        let _ = writeln!(text, "      {key}: {}", quote(&value));
    }
    let addr = format!("127.0.0.1:{}", unit.port);
    let _ = writeln!(text, "    healthcheck:");
    let _ = writeln!(
        text,
        "      test: {}",
        list([
            "CMD",
            model.binary.as_str(),
            "health",
            "--addr",
            addr.as_str()
        ])
    );
    let _ = writeln!(text, "      interval: {HEALTH_INTERVAL}");
    let _ = writeln!(text, "      timeout: {HEALTH_TIMEOUT}");
    let _ = writeln!(text, "      retries: {HEALTH_RETRIES}");
    let mut start = unit.start_budget();
    if swarm && !unit.depends_on.is_empty() {
        // Swarm replaces an unhealthy task, and the replaced one exits 0, which
        // `on-failure` does not restart: a dependent waiting `pending` for its peers
        // must not count as unhealthy while it waits.
        start = start.map(|budget| budget + PEER_START_PERIOD);
    }
    if let Some(budget) = start.filter(|budget| !budget.is_zero()) {
        let _ = writeln!(text, "      start_period: {}", seconds_or_millis(budget));
    }
    if !swarm && !unit.depends_on.is_empty() {
        let _ = writeln!(text, "    depends_on:");
        for dep in &unit.depends_on {
            let condition = if dep.allowed_failure {
                "service_started"
            } else {
                "service_healthy"
            };
            let _ = writeln!(text, "      {}:\n        condition: {condition}", dep.name);
        }
    }
    let _ = writeln!(text, "    stop_signal: SIGTERM");
    let _ = writeln!(
        text,
        "    stop_grace_period: {}",
        seconds_or_millis(model.stop_timeout())
    );
    if swarm {
        let condition = match unit.policy.restart {
            Restart::OnFailure => "on-failure",
            Restart::Always => "any",
            Restart::Never => "none",
        };
        let _ = writeln!(text, "    deploy:");
        let _ = writeln!(text, "      replicas: 1");
        let _ = writeln!(text, "      restart_policy:");
        let _ = writeln!(text, "        condition: {condition}");
        let _ = writeln!(text, "        delay: {}", seconds_or_millis(unit.delay()));
    } else {
        let restart = match unit.policy.restart {
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
            Restart::Never => "no",
        };
        let _ = writeln!(text, "    restart: {}", quote(restart));
    }
}
