//! docker compose and docker swarm on a real engine, with an image built from the
//! generated `Dockerfile` around the static showcase (`FROM scratch`: no registry needed).
//!
//! One test runs both, one after the other, so they share one image build and never
//! fight over the engine; it times each phase. Every container, network, stack and image
//! it makes is removed by id at the end, even when it fails, and the swarm is left.

use std::fmt::Write as _;
use std::process::Output;

use crate::support::{
    PATIENCE, Scratch, Timer, deploy_ok, have, run, shown, static_showcase, wait_for,
};

/// The services under test: long-running ones, with a dependency chain.
const SERVICES: [&str; 4] = [
    "example-api",
    "example-database",
    "example-flaky",
    "hello-world",
];

fn docker(args: &[&str]) -> Output {
    run("docker", args)
}

fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        shown(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn inspect(id: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, id])
        .stdout
        .iter()
        .map(|&b| b as char)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `2026-12-01T17:20:01.123456Z` in a form that sorts as time does (nanoseconds).
fn instant(text: &str) -> String {
    let text = text.trim().trim_end_matches('Z');
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    format!("{seconds}.{fraction:0<9}")
}

/// Everything made here, removed on drop whatever happened.
#[derive(Default)]
struct Made {
    image: Option<String>,
    stack: Option<String>,
    swarm: bool,
    /// Whether `docker_gwbridge` was there before the swarm: if not, the swarm's first
    /// task made it, and it outlives the swarm, so it goes after leaving.
    gwbridge_before: bool,
    /// Dropped after everything above, so the swarm is left before another run takes it.
    swarm_lock: Option<SwarmLock>,
    /// Labels whose containers and networks go (`com.docker.compose.project=…`).
    labels: Vec<String>,
}

impl Drop for Made {
    fn drop(&mut self) {
        if let Some(stack) = &self.stack {
            let _ = docker(&["stack", "rm", stack]);
        }
        for label in &self.labels {
            let filter = format!("label={label}");
            let ids = docker(&["ps", "-aq", "--filter", &filter]).stdout;
            for id in String::from_utf8_lossy(&ids).split_whitespace() {
                let _ = docker(&["rm", "-f", "-v", id]);
            }
            let ids = docker(&["network", "ls", "-q", "--filter", &filter]).stdout;
            for id in String::from_utf8_lossy(&ids).split_whitespace() {
                let _ = docker(&["network", "rm", id]);
            }
        }
        if self.swarm {
            let _ = docker(&["swarm", "leave", "--force"]);
        }
        if self.stack.is_some() || self.swarm {
            remove_gwbridge(self.gwbridge_before);
        }
        if let Some(image) = &self.image {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

/// `docker compose` when the plugin is there, else Debian's `docker-compose`.
fn compose_command() -> Option<Vec<&'static str>> {
    if docker(&["compose", "version"]).status.success() {
        return Some(vec!["docker", "compose"]);
    }
    let v1 = std::process::Command::new("docker-compose")
        .arg("version")
        .output();
    v1.is_ok_and(|output| output.status.success())
        .then(|| vec!["docker-compose"])
}

fn compose(base: &[&str], args: &[&str]) -> Output {
    let mut all: Vec<&str> = base[1..].to_vec();
    all.extend_from_slice(args);
    run(base[0], &all)
}

/// Ids of the running containers with `label`, one per service name (`label` on the
/// service name key).
fn containers(label: &str, service_key: &str) -> Vec<(String, String)> {
    let filter = format!("label={label}");
    let format = format!("{{{{.ID}}}} {{{{.Label \"{service_key}\"}}}}");
    let listing = docker_ok(&["ps", "--filter", &filter, "--format", &format]);
    let mut found: Vec<(String, String)> = listing
        .lines()
        .filter_map(|line| {
            let (id, service) = line.split_once(' ')?;
            Some((service.to_owned(), id.to_owned()))
        })
        .collect();
    found.sort();
    found
}

/// Waits until each service has one running, healthy container; returns them by name.
fn all_healthy(label: &str, service_key: &str, names: &[String]) -> Vec<(String, String)> {
    wait_for("every container healthy", PATIENCE, || {
        let found = containers(label, service_key);
        let states: Vec<String> = found
            .iter()
            .map(|(name, id)| format!("{name}={}", inspect(id, "{{.State.Health.Status}}")))
            .collect();
        let healthy = found.len() == names.len()
            && states.iter().all(|state| state.ends_with("=healthy"))
            && found
                .iter()
                .zip(names)
                .all(|((name, _), want)| name == want);
        if healthy {
            return Ok(found);
        }
        // What the unhealthy ones said, so a failure explains itself.
        let mut why = format!("{states:?}");
        for (name, id) in &found {
            if inspect(id, "{{.State.Health.Status}}") == "healthy" {
                continue;
            }
            let logs = docker(&["logs", "--tail", "15", id]);
            let health = inspect(id, "{{json .State.Health.Log}}");
            let _ = write!(
                why,
                "\n--- {name}: health {health}\n{}",
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        Err(why)
    })
}

/// Kills a container's process from the host: the engine sees a crash, not a stop.
fn kill_process(id: &str) {
    let pid = inspect(id, "{{.State.Pid}}");
    let output = run("kill", &["-9", &pid]);
    assert!(output.status.success(), "kill -9 {pid}: {}", shown(&output));
}

fn build_image(made: &mut Made, scratch: &Scratch, tag: &str) {
    let _timer = Timer::start("docker image build (static showcase + FROM scratch)");
    let binary = static_showcase();
    let context = scratch.path("image");
    deploy_ok("compose", &context, &["--image", tag]);
    std::fs::copy(binary, context.join("showcase")).expect("the static binary copies");
    let context_text = context.to_str().unwrap();
    let id = docker_ok(&["build", "-q", "-t", tag, context_text]);
    made.image = Some(id);
    let dockerfile = std::fs::read_to_string(context.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("\nFROM scratch\n"), "{dockerfile}");
}

fn compose_phase(made: &mut Made, scratch: &Scratch, tag: &str, base: &[&str]) {
    let _timer = Timer::start("docker compose");
    let project = format!("spdeploy{}", std::process::id());
    let dir = scratch.path("compose");
    deploy_ok(
        "compose",
        &dir,
        &[
            "--image",
            tag,
            "--services",
            &SERVICES.join(","),
            "--ops-port-base",
            "9100",
        ],
    );
    let file = dir.join("compose.yaml");
    let file = file.to_str().unwrap();
    made.labels
        .push(format!("com.docker.compose.project={project}"));
    let up = compose(base, &["-p", &project, "-f", file, "up", "-d"]);
    assert!(up.status.success(), "compose up: {}", shown(&up));
    let label = format!("com.docker.compose.project={project}");
    let names: Vec<String> = SERVICES.iter().map(|s| (*s).to_owned()).collect();
    let found = all_healthy(&label, "com.docker.compose.service", &names);
    let id = |name: &str| found.iter().find(|(n, _)| n == name).unwrap().1.clone();

    // example-api started only after its dependencies were ready.
    let api_started = instant(&inspect(&id("example-api"), "{{.State.StartedAt}}"));
    for dependency in ["example-database", "example-flaky"] {
        let logs = docker(&["logs", &id(dependency)]);
        let text = String::from_utf8_lossy(&logs.stderr).into_owned();
        let ready = text
            .lines()
            .find(|line| line.contains(&format!("INFO ready service={dependency}")))
            .unwrap_or_else(|| panic!("{dependency} never logged ready:\n{text}"));
        let ready = instant(ready.split_whitespace().next().unwrap());
        assert!(
            ready < api_started,
            "{dependency} ready at {ready}, api started at {api_started}"
        );
    }

    // It also found them by their service names through SERVICES_PEERS (the static
    // binary resolves names in a FROM scratch container).
    assert_waited_for_peers(&id("example-api"));

    let database = id("example-database");
    kill_process(&database);
    wait_for(
        "example-database restarted by its restart policy",
        PATIENCE,
        || {
            let restarts = inspect(&database, "{{.RestartCount}}");
            let health = inspect(&database, "{{.State.Health.Status}}");
            if restarts == "1" && health == "healthy" {
                Ok(())
            } else {
                Err(format!("restarts {restarts}, health {health}"))
            }
        },
    );

    let down = compose(
        base,
        &[
            "-p",
            &project,
            "-f",
            file,
            "down",
            "--remove-orphans",
            "-t",
            "30",
        ],
    );
    assert!(down.status.success(), "compose down: {}", shown(&down));
    let filter = format!("label={label}");
    assert_eq!(
        docker_ok(&["ps", "-aq", "--filter", &filter]),
        "",
        "containers left"
    );
    assert_eq!(
        docker_ok(&["network", "ls", "-q", "--filter", &filter]),
        "",
        "networks left"
    );
}

/// Held while a test of this machine owns the engine's swarm mode: one engine has one
/// swarm, and other checkouts of this test may run at the same time.
struct SwarmLock(std::path::PathBuf);

impl SwarmLock {
    fn take() -> Self {
        let path = std::env::temp_dir().join("servicepack-deploy-swarm.lock");
        wait_for(
            "the swarm lock (another test run holds it)",
            PATIENCE * 3,
            || {
                match std::fs::create_dir(&path) {
                    Ok(()) => Ok(()),
                    // A run that died holding it: stale after ten minutes.
                    Err(_)
                        if std::fs::metadata(&path)
                            .and_then(|meta| meta.modified())
                            .is_ok_and(|at| at.elapsed().unwrap_or_default() > PATIENCE * 5) =>
                    {
                        let _ = std::fs::remove_dir(&path);
                        Err("stale lock removed".to_owned())
                    }
                    Err(error) => Err(error.to_string()),
                }
            },
        );
        Self(path)
    }
}

impl Drop for SwarmLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn swarm_phase(made: &mut Made, scratch: &Scratch, tag: &str) {
    made.swarm_lock = Some(SwarmLock::take());
    let _timer = Timer::start("docker swarm");
    assert!(
        docker_ok(&["info", "-f", "{{.Swarm.LocalNodeState}}"]) == "inactive",
        "docker swarm: this engine is already part of a swarm, which the test will not leave; run the tests on an engine outside any swarm"
    );
    made.gwbridge_before = gwbridge().is_some();
    docker_ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    made.swarm = true;
    let stack = format!("spdeploy{}", std::process::id());
    let dir = scratch.path("swarm");
    deploy_ok(
        "swarm",
        &dir,
        &["--image", tag, "--services", &SERVICES.join(",")],
    );
    let file = dir.join("stack.yaml");
    made.stack = Some(stack.clone());
    made.labels
        .push(format!("com.docker.stack.namespace={stack}"));
    docker_ok(&["stack", "deploy", "-c", file.to_str().unwrap(), &stack]);
    let label = format!("com.docker.stack.namespace={stack}");
    let names: Vec<String> = SERVICES.iter().map(|s| format!("{stack}_{s}")).collect();
    let found = all_healthy(&label, "com.docker.swarm.service.name", &names);
    let database = &found
        .iter()
        .find(|(n, _)| n.ends_with("_example-database"))
        .unwrap()
        .1;
    // No start order in swarm: the api waited for its peers through SERVICES_PEERS.
    let api = &found
        .iter()
        .find(|(n, _)| n.ends_with("_example-api"))
        .unwrap()
        .1;
    assert_waited_for_peers(api);
    kill_process(database);
    let key = "com.docker.swarm.service.name";
    let replaced = all_healthy(&label, key, &names);
    let new = &replaced
        .iter()
        .find(|(n, _)| n.ends_with("_example-database"))
        .unwrap()
        .1;
    assert_ne!(
        new, database,
        "swarm replaced the killed task with a new container"
    );

    // `stack rm` removes the services, then the networks at once, while their tasks may
    // still be shutting down: "network ... is in use by task" fails it. Run again, it
    // removes what is left (and says "Nothing found in stack" once nothing is).
    wait_for("docker stack rm succeeds", PATIENCE, || {
        let output = docker(&["stack", "rm", &stack]);
        if output.status.success() {
            Ok(())
        } else {
            Err(shown(&output))
        }
    });
    made.stack = None;
    let filter = format!("label={label}");
    wait_for(
        "the stack's containers and networks are gone",
        PATIENCE,
        || {
            let left = docker_ok(&["ps", "-aq", "--filter", &filter]);
            let networks = docker_ok(&["network", "ls", "-q", "--filter", &filter]);
            if left.is_empty() && networks.is_empty() {
                Ok(())
            } else {
                Err(format!("containers {left:?}, networks {networks:?}"))
            }
        },
    );
    docker_ok(&["swarm", "leave", "--force"]);
    made.swarm = false;
    remove_gwbridge(made.gwbridge_before);
    made.swarm_lock = None;
}

/// The api container's log says it waited for each of its peers and started after the
/// last one answered ready.
fn assert_waited_for_peers(api: &str) {
    let logs = docker(&["logs", api]);
    let text = String::from_utf8_lossy(&logs.stderr).into_owned();
    let started = text
        .find("INFO starting service=example-api attempt=1")
        .unwrap_or_else(|| panic!("example-api never started:\n{text}"));
    for peer in ["example-database", "example-flaky"] {
        let ready = text
            .find(&format!("INFO peer ready service=example-api peer={peer}"))
            .unwrap_or_else(|| panic!("example-api did not wait for {peer}:\n{text}"));
        assert!(
            ready < started,
            "example-api started before {peer} was ready:\n{text}"
        );
    }
}

/// The id of `docker_gwbridge`, the bridge a swarm's containers reach the host through.
fn gwbridge() -> Option<String> {
    let id = docker_ok(&[
        "network",
        "ls",
        "-q",
        "--no-trunc",
        "--filter",
        "name=^docker_gwbridge$",
    ]);
    (!id.is_empty()).then_some(id)
}

/// Removes `docker_gwbridge` by id, unless it was there before the test.
fn remove_gwbridge(was_there: bool) {
    if let Some(id) = gwbridge().filter(|_| !was_there) {
        let _ = docker(&["network", "rm", &id]);
    }
}

#[test]
fn compose_and_swarm_run_the_generated_files() {
    if !have(
        "docker",
        &["docker"],
        "the Debian packages `docker.io` and `docker-compose`",
    ) {
        return;
    }
    if !crate::support::have_health("docker") {
        return;
    }
    if !docker(&["info"]).status.success() {
        crate::support::skip_or_fail(
            "docker",
            "no Docker daemon answers (start `dockerd`; .ci/run does)",
        );
        return;
    }
    let Some(base) = compose_command() else {
        crate::support::skip_or_fail(
            "docker compose",
            "neither `docker compose` nor `docker-compose` runs",
        );
        return;
    };
    let scratch = Scratch::new("docker");
    let mut made = Made::default();
    let tag = format!("servicepack-deploy-test:{}", std::process::id());
    build_image(&mut made, &scratch, &tag);
    compose_phase(&mut made, &scratch, &tag, &base);
    swarm_phase(&mut made, &scratch, &tag);
}
