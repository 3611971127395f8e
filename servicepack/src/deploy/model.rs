//! What every renderer reads: the app, the flags, and one [`Unit`] per deployed service,
//! checked once so that the renderers only format.

use std::fmt::Write as _;
use std::time::Duration;

use crate::registry::Entry;
use crate::runtime::plan::Plan;
use crate::{Backoff, Policy};

use super::Target;

/// Added to drain + budget for the supervisor's stop timeout: time for the process to
/// exit after its last service stopped.
pub(crate) const STOP_MARGIN: Duration = Duration::from_secs(5);

/// Where the binary sits in an image, and on a host unless `--binary` says otherwise.
const BINARY_DIR: &str = "/usr/local/bin";

/// The flags of `deploy`, as parsed.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// What to write units for.
    pub(crate) target: Target,
    /// `--services`: names to deploy; empty = every registered service.
    pub(crate) services: Vec<String>,
    /// `--binary`: where the binary is where the units run.
    pub(crate) binary: Option<String>,
    /// `--image`: the image of the container targets.
    pub(crate) image: Option<String>,
    /// `--ops-port-base`.
    pub(crate) ops_port_base: u16,
    /// `RUNNER_SHUTDOWNTIMEOUT` of the deploying environment: written into every unit.
    pub(crate) budget: Duration,
    /// `RUNNER_DRAINDELAY` of the deploying environment: written into every unit.
    pub(crate) drain: Duration,
}

/// A bad flag or a registry that cannot be deployed; the message names the thing and
/// the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ModelError {
    /// A flag has a value that cannot work (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The registry itself cannot be deployed: duplicates, cycles, names (exit 1).
    #[error("{0}")]
    Registry(String),
}

/// Everything the renderers need, validated.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// The binary's name: the prefix of every unit.
    pub(crate) app: String,
    /// The binary's version, in headers and the default image tag.
    pub(crate) version: String,
    /// The target the files are for (named in every header).
    pub(crate) target: Target,
    /// Absolute path of the binary where the units run.
    pub(crate) binary: String,
    /// The image of the container targets.
    pub(crate) image: String,
    /// The base of the ops ports (the image's default `OPS_ADDR`).
    pub(crate) port_base: u16,
    /// The shutdown budget every unit runs with.
    pub(crate) budget: Duration,
    /// The drain delay every unit runs with.
    pub(crate) drain: Duration,
    /// The deployed services, by name.
    pub(crate) units: Vec<Unit>,
}

/// One deployed service.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    /// The service name.
    pub(crate) name: String,
    /// Its ops port: the base + its index among every registered service by name, so a
    /// service keeps its port whatever `--services` selects.
    pub(crate) port: u16,
    /// Its dependencies that are deployed with it (the others run elsewhere).
    pub(crate) depends_on: Vec<Dependency>,
    /// How the app runs it.
    pub(crate) policy: Policy,
}

/// A dependency that is deployed with its dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    /// Its name.
    pub(crate) name: String,
    /// Whether it is an allowed failure: its dependents want it, not require it.
    pub(crate) allowed_failure: bool,
    /// Its ops port, where its dependents ask whether it is ready (`SERVICES_PEERS`).
    pub(crate) port: u16,
}

impl Model {
    /// Checks the registry and the flags and builds the model; `entries` sorted by name.
    ///
    /// # Errors
    ///
    /// [`ModelError::Usage`] for a flag that cannot work, [`ModelError::Registry`] for
    /// duplicate names, a cycle, or a name the target cannot carry.
    pub(crate) fn new(
        app: &str,
        version: &str,
        entries: &[&Entry],
        options: &Options,
    ) -> Result<Self, ModelError> {
        check_registry(entries)?;
        let selected = select(entries, &options.services)?;
        let binary = match &options.binary {
            Some(binary) => check_binary(binary)?,
            None => format!("{BINARY_DIR}/{app}"),
        };
        let image = match &options.image {
            Some(image) => check_image(image)?,
            None => format!("{app}:{version}"),
        };
        let last = u16::try_from(entries.len().saturating_sub(1)).unwrap_or(u16::MAX);
        if options.ops_port_base == 0 || options.ops_port_base.checked_add(last).is_none() {
            return Err(ModelError::Usage(format!(
                "--ops-port-base {}: the ports must lie in 1-65535, and there are {} services; pass a base from 1 to {}",
                options.ops_port_base,
                entries.len(),
                u16::MAX - last
            )));
        }
        let mut units = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            if !selected.contains(&entry.name) {
                continue;
            }
            check_name(options.target, app, entry.name)?;
            let depends_on = entry
                .depends_on
                .iter()
                .filter(|dep| selected.contains(dep))
                .filter_map(|dep| entries.iter().position(|e| e.name == *dep))
                .map(|at| Dependency {
                    name: entries[at].name.to_owned(),
                    allowed_failure: entries[at].policy.allowed_failure,
                    // In range: checked above.
                    port: options.ops_port_base + u16::try_from(at).unwrap_or(u16::MAX),
                })
                .collect();
            units.push(Unit {
                name: entry.name.to_owned(),
                // In range: checked above.
                port: options.ops_port_base + u16::try_from(index).unwrap_or(u16::MAX),
                depends_on,
                policy: entry.policy,
            });
        }
        Ok(Self {
            app: app.to_owned(),
            version: version.to_owned(),
            target: options.target,
            binary,
            image,
            port_base: options.ops_port_base,
            budget: options.budget,
            drain: options.drain,
            units,
        })
    }

    /// `<app>-<svc>`: the unit, directory, container or object name of a service.
    pub(crate) fn unit_name(&self, service: &str) -> String {
        format!("{}-{service}", self.app)
    }

    /// The first comment line of every generated file.
    pub(crate) fn header(&self) -> String {
        format!(
            "Generated by `{} deploy {}` ({} {}); regenerate rather than edit.",
            self.app,
            self.target.as_str(),
            self.app,
            self.version
        )
    }

    /// How long a stopping unit may take: drain + budget + [`STOP_MARGIN`].
    pub(crate) fn stop_timeout(&self) -> Duration {
        self.drain + self.budget + STOP_MARGIN
    }

    /// `SERVICES_PEERS` of `unit` (SPEC §9.3): where each of its deployed dependencies
    /// answers `/readyz/<name>`. Host targets run every unit on one machine, so a
    /// dependency is on loopback at its own port; containers reach each other by name:
    /// the compose service, swarm's `tasks.<svc>` (the addresses of the service's tasks),
    /// or the Kubernetes `Service` `<app>-<svc>`.
    pub(crate) fn peers(&self, unit: &Unit) -> String {
        let mut peers = String::new();
        for dep in &unit.depends_on {
            let host = match self.target {
                Target::Systemd | Target::Runit | Target::Daemontools | Target::S6 => {
                    "127.0.0.1".to_owned()
                }
                Target::Compose => dep.name.clone(),
                // The tasks themselves: the service's virtual IP did not forward the
                // unpublished ops port on the engine the tests run on (20.10).
                Target::Swarm => format!("tasks.{}", dep.name),
                Target::Kubernetes => self.unit_name(&dep.name),
            };
            if !peers.is_empty() {
                peers.push(',');
            }
            // Writing to a String cannot fail.
            let _ = write!(peers, "{}=http://{host}:{}", dep.name, dep.port);
        }
        peers
    }

    /// The variables every unit of `unit` sets, in a fixed order; `host` is the address
    /// the ops endpoint binds (loopback on a host, every interface in a container).
    pub(crate) fn env(&self, unit: &Unit, host: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("SERVICES_ENABLED", unit.name.clone()),
            ("OPS_ADDR", format!("{host}:{}", unit.port)),
        ];
        if !unit.depends_on.is_empty() {
            env.push(("SERVICES_PEERS", self.peers(unit)));
        }
        env.push((
            "RUNNER_SHUTDOWNTIMEOUT",
            crate::format_duration(self.budget),
        ));
        if !self.drain.is_zero() {
            env.push(("RUNNER_DRAINDELAY", crate::format_duration(self.drain)));
        }
        env
    }
}

impl Unit {
    /// How long the service may take to become ready before it gives up for good:
    /// every run's `ready_timeout` (a plain service is ready at once) and every retry
    /// delay; `None` with unlimited retries.
    pub(crate) fn start_budget(&self) -> Option<Duration> {
        let policy = &self.policy;
        let runs = u32::try_from(policy.max_runs()?).unwrap_or(u32::MAX);
        let per_run = if policy.notify_ready {
            policy.ready_timeout
        } else {
            Duration::ZERO
        };
        let mut total = per_run.saturating_mul(runs);
        let mut delay = policy.delay;
        for _ in 1..runs {
            let jittered = if policy.jitter {
                delay.saturating_add(delay / 4)
            } else {
                delay
            };
            total = total.saturating_add(jittered);
            if let Backoff::Exponential { max_delay } = policy.backoff {
                delay = delay.saturating_mul(2).min(max_delay);
            }
        }
        Some(total)
    }

    /// The retry delay, the only delay a restarting supervisor adds.
    pub(crate) fn delay(&self) -> Duration {
        self.policy.delay
    }
}

/// Seconds, rounded up: what targets that count in whole seconds write.
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// `10s`, or `1500ms` when not whole seconds: a form systemd, Go and compose all read.
pub(crate) fn seconds_or_millis(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis().max(1))
    }
}

/// Duplicate names and cycles make a registry that no process can run.
fn check_registry(entries: &[&Entry]) -> Result<(), ModelError> {
    if entries.is_empty() {
        return Err(ModelError::Registry(
            "no service is registered in this binary, so there is nothing to deploy: add `#[service]` to a struct that implements `Service`".to_owned(),
        ));
    }
    for pair in entries.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(ModelError::Registry(format!(
                "duplicate service name `{}`: {} and {} both use it; rename one with `#[service(name = \"...\")]`",
                pair[0].name, pair[0].type_name, pair[1].type_name
            )));
        }
    }
    Plan::new(entries.iter().map(|entry| (entry.name, entry.depends_on)))
        .map(drop)
        .map_err(|error| ModelError::Registry(error.to_string()))
}

/// The names `--services` selects: trimmed, empty items ignored, none = all.
fn select<'a>(entries: &[&'a Entry], wanted: &[String]) -> Result<Vec<&'a str>, ModelError> {
    let names: Vec<&'a str> = entries.iter().map(|entry| entry.name).collect();
    let wanted: Vec<&str> = wanted
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(names);
    }
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|name| !names.contains(name))
        .map(|name| format!("`{name}`"))
        .collect();
    if !unknown.is_empty() {
        return Err(ModelError::Usage(format!(
            "--services names {} but no such service is registered; registered services: {}",
            unknown.join(", "),
            names.join(", ")
        )));
    }
    Ok(names
        .into_iter()
        .filter(|name| wanted.contains(name))
        .collect())
}

/// Characters a binary path may hold: written unquoted into shell scripts and units.
fn safe_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._+-".contains(c)
}

fn check_binary(binary: &str) -> Result<String, ModelError> {
    if !binary.starts_with('/') || !binary.chars().all(safe_path_char) || binary.ends_with('/') {
        return Err(ModelError::Usage(format!(
            "--binary {binary:?}: expected the absolute path of the binary where the units run, of letters, digits and `/._+-` (for example /usr/local/bin/app)"
        )));
    }
    Ok(binary.to_owned())
}

fn check_image(image: &str) -> Result<String, ModelError> {
    let valid = !image.is_empty()
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
    if !valid {
        return Err(ModelError::Usage(format!(
            "--image {image:?}: expected an image reference such as `registry.example/app:1.0` (letters, digits and `._-/:@`)"
        )));
    }
    Ok(image.to_owned())
}

/// `<app>-<svc>` becomes a file name, a unit name, a compose service or a Kubernetes
/// object: letters, digits and `._-` everywhere, a lowercase DNS label for Kubernetes.
fn check_name(target: Target, app: &str, service: &str) -> Result<(), ModelError> {
    let full = format!("{app}-{service}");
    let portable = full
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !service.starts_with(['.', '-']);
    let dns_label = full.len() <= 63
        && full
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && full.starts_with(|c: char| c.is_ascii_lowercase())
        && !full.ends_with('-');
    if !portable {
        return Err(ModelError::Registry(format!(
            "service `{service}` cannot be deployed: `{full}` must be letters, digits and `._-`; rename it with `#[service(name = \"...\")]`"
        )));
    }
    if target == Target::Kubernetes && !dns_label {
        return Err(ModelError::Registry(format!(
            "service `{service}` cannot be deployed to kubernetes: `{full}` must be a DNS label (at most 63 lowercase letters, digits and `-`, starting with a letter); rename it with `#[service(name = \"...\")]`"
        )));
    }
    Ok(())
}
