//! runit, daemontools and s6: the generated service directories under the real
//! `runsvdir`, `svscan` and `s6-svscan`, unprivileged, in a scratch directory.
//!
//! Each test deploys four of the showcase's long-running services and checks that every
//! one comes up and reports ready (runit's `check`, s6's `notification-fd`, `health` for
//! daemontools), that `kill -9` of a service is followed by a restart, that its logs land
//! in `log/main/` as `log/run` says, and that stopping the tree stops every service
//! cleanly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{PATIENCE, Scratch, Timer, app, deploy_ok, have, run, showcase, wait_for};

/// The showcase's services that run until stopped (the others exit or crash by design).
const SERVICES: [&str; 4] = [
    "example-api",
    "example-database",
    "example-flaky",
    "hello-world",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Runit,
    Daemontools,
    S6,
}

impl Flavor {
    fn target(self) -> &'static str {
        match self {
            Self::Runit => "runit",
            Self::Daemontools => "daemontools",
            Self::S6 => "s6",
        }
    }

    /// Ports apart from each other and from the default, so the three run side by side.
    fn port_base(self) -> u16 {
        match self {
            Self::Runit => 41100,
            Self::Daemontools => 41200,
            Self::S6 => 41300,
        }
    }

    fn programs(self) -> (&'static [&'static str], &'static str) {
        match self {
            Self::Runit => (
                &["runsvdir", "sv", "chpst", "svlogd"],
                "the Debian package `runit`",
            ),
            Self::Daemontools => (
                &["svscan", "svc", "svstat", "svok", "envdir", "multilog"],
                "the Debian package `daemontools`",
            ),
            Self::S6 => (
                &[
                    "s6-svscan",
                    "s6-svscanctl",
                    "s6-svstat",
                    "s6-svwait",
                    "s6-envdir",
                    "s6-log",
                ],
                "the Debian package `s6`",
            ),
        }
    }
}

/// A running scanner over the deployed directories; stops the tree on drop, so a
/// failing test leaves no process behind.
struct Tree {
    flavor: Flavor,
    root: PathBuf,
    scanner: Child,
    /// Every app pid seen, killed on drop if still alive.
    seen: Vec<u32>,
    _scratch: Scratch,
}

impl Tree {
    fn start(flavor: Flavor) -> Self {
        let scratch = Scratch::new(flavor.target());
        let root = scratch.path("service");
        let binary = showcase()
            .to_str()
            .expect("the target dir is UTF-8")
            .to_owned();
        let base = flavor.port_base().to_string();
        deploy_ok(
            flavor.target(),
            &root,
            &[
                "--binary",
                &binary,
                "--services",
                &SERVICES.join(","),
                "--ops-port-base",
                &base,
            ],
        );
        let mut scanner = match flavor {
            Flavor::Runit => Command::new("runsvdir"),
            Flavor::Daemontools => Command::new("svscan"),
            Flavor::S6 => Command::new("s6-svscan"),
        };
        if flavor == Flavor::Runit {
            // Each runsv in its own process group: a signal to the test's group spares them.
            scanner.arg("-P");
        }
        let scanner = scanner
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the scanner starts");
        Self {
            flavor,
            root,
            scanner,
            seen: Vec::new(),
            _scratch: scratch,
        }
    }

    fn dir(&self, service: &str) -> PathBuf {
        self.root.join(format!("showcase-{service}"))
    }

    fn port(service: &str, flavor: Flavor) -> u16 {
        // The index among the showcase's nine services by name.
        let all = [
            "example-api",
            "example-crasher",
            "example-database",
            "example-flaky",
            "example-migrator",
            "example-nested-grpc",
            "example-nested-http",
            "example-optional",
            "hello-world",
        ];
        let index = all
            .iter()
            .position(|name| *name == service)
            .expect("a showcase service");
        flavor.port_base() + u16::try_from(index).unwrap()
    }

    /// The pid the supervisor reports for the service, once it reports one.
    fn pid(&mut self, service: &str) -> u32 {
        let dir = self.dir(service);
        let flavor = self.flavor;
        let pid = wait_for(&format!("{service} has a pid"), PATIENCE, || {
            supervised_pid(flavor, &dir)
        });
        if !self.seen.contains(&pid) {
            self.seen.push(pid);
        }
        pid
    }

    /// Waits until the supervisor (and `health`) say the service is ready.
    fn wait_ready(&mut self, service: &str) {
        // The supervisor is running it: its control files exist.
        self.pid(service);
        let dir = self.dir(service);
        let dir_text = dir.to_str().unwrap().to_owned();
        let limit = PATIENCE.as_secs().to_string();
        match self.flavor {
            Flavor::Runit => {
                // `sv check` runs the `check` script (which asks `health`) until it passes.
                let output = run("sv", &["-w", &limit, "check", &dir_text]);
                assert!(
                    output.status.success(),
                    "sv check {service}: {}",
                    crate::support::shown(&output)
                );
            }
            Flavor::S6 => {
                // Up and ready: the app wrote its newline to notification-fd.
                let millis = (PATIENCE.as_millis()).to_string();
                let output = run("s6-svwait", &["-U", "-t", &millis, &dir_text]);
                assert!(
                    output.status.success(),
                    "s6-svwait -U {service}: {}",
                    crate::support::shown(&output)
                );
            }
            Flavor::Daemontools => {}
        }
        let addr = format!("127.0.0.1:{}", Self::port(service, self.flavor));
        wait_for(
            &format!("`health --addr {addr}` for {service}"),
            PATIENCE,
            || {
                let output = app(showcase(), &["health", "--addr", &addr])
                    .output()
                    .unwrap();
                if output.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&output.stderr).into_owned())
                }
            },
        );
        self.pid(service);
    }

    fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.dir(service).join("log/main/current")).unwrap_or_default()
    }

    /// Polls the service's log until `done` says yes; returns it.
    fn wait_log(&self, service: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        wait_for(&format!("{service}: {what}"), PATIENCE, || {
            let log = self.log(service);
            if done(&log) {
                Ok(log)
            } else {
                Err(format!("log so far:\n{log}"))
            }
        })
    }

    /// Stops the whole tree the way each supervisor is stopped, and waits for it.
    fn stop(&mut self) {
        let root = self.root.to_str().unwrap().to_owned();
        match self.flavor {
            Flavor::Runit => {
                // runsvdir passes the HUP on to every runsv as TERM: services, then logs.
                run("kill", &["-HUP", &self.scanner.id().to_string()]);
            }
            Flavor::S6 => {
                run("s6-svscanctl", &["-t", &root]);
            }
            Flavor::Daemontools => {
                // svscan does not stop its supervise children: stop it first, so it does not
                // restart them, then the services, then their loggers.
                run("kill", &[&self.scanner.id().to_string()]);
                let services: Vec<String> = SERVICES
                    .iter()
                    .map(|s| self.dir(s).to_str().unwrap().to_owned())
                    .collect();
                let mut args = vec!["-dx"];
                args.extend(services.iter().map(String::as_str));
                run("svc", &args);
                for dir in &services {
                    wait_for(&format!("supervise of {dir} exits"), PATIENCE, || {
                        if run("svok", &[dir]).status.success() {
                            Err("still supervised".to_owned())
                        } else {
                            Ok(())
                        }
                    });
                }
                let logs: Vec<String> = services.iter().map(|dir| format!("{dir}/log")).collect();
                let mut args = vec!["-dx"];
                args.extend(logs.iter().map(String::as_str));
                run("svc", &args);
            }
        }
        let scanner = &mut self.scanner;
        wait_for("the scanner exits", PATIENCE, || match scanner.try_wait() {
            Ok(Some(_)) => Ok(()),
            _ => Err("still running".to_owned()),
        });
        let seen = self.seen.clone();
        wait_for("every app process exits", PATIENCE, || {
            let alive: Vec<u32> = seen.iter().copied().filter(|pid| alive(*pid)).collect();
            if alive.is_empty() {
                Ok(())
            } else {
                Err(format!("alive: {alive:?}"))
            }
        });
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if matches!(self.scanner.try_wait(), Ok(None)) {
            let root = self.root.to_str().unwrap_or_default().to_owned();
            match self.flavor {
                Flavor::Runit => drop(run("kill", &["-HUP", &self.scanner.id().to_string()])),
                Flavor::S6 => drop(run("s6-svscanctl", &["-t", &root])),
                Flavor::Daemontools => {
                    let _ = self.scanner.kill();
                    for service in SERVICES {
                        let dir = self.dir(service);
                        let log = dir.join("log");
                        let _ = Command::new("svc").arg("-dx").arg(&dir).arg(&log).status();
                    }
                }
            }
            std::thread::sleep(Duration::from_secs(2));
            let _ = self.scanner.kill();
            let _ = self.scanner.wait();
        }
        for pid in &self.seen {
            if alive(*pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

fn alive(pid: u32) -> bool {
    // A zombie has no cmdline: it has exited, it only waits for its parent.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

/// The pid of the service's process, as its supervisor reports it.
fn supervised_pid(flavor: Flavor, dir: &Path) -> Result<u32, String> {
    let text = match flavor {
        Flavor::Runit => {
            std::fs::read_to_string(dir.join("supervise/pid")).map_err(|e| e.to_string())?
        }
        Flavor::S6 => {
            let output = run("s6-svstat", &["-p", dir.to_str().unwrap()]);
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        Flavor::Daemontools => {
            // `dir: up (pid 123) 4 seconds`
            let output = run("svstat", &[dir.to_str().unwrap()]);
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.split("(pid ")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .unwrap_or_default()
                .to_owned()
        }
    };
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("no pid yet: {text:?}")),
    }
}

fn supervised_tree(flavor: Flavor) {
    let (programs, package) = flavor.programs();
    if !have(flavor.target(), programs, package) || !crate::support::have_health(flavor.target()) {
        return;
    }
    let _timer = Timer::start(match flavor {
        Flavor::Runit => "runit",
        Flavor::Daemontools => "daemontools",
        Flavor::S6 => "s6",
    });
    let mut tree = Tree::start(flavor);
    for service in SERVICES {
        tree.wait_ready(service);
        // The logger may lag behind the app: poll the file `log/run` writes.
        tree.wait_log(service, "its start in log/main/current", |log| {
            log.contains(&format!("INFO starting service={service} attempt=1"))
        });
    }

    // The order across processes: the api's own log shows it waited for the database.
    let api = tree.log("example-api");
    let waited = api
        .find("INFO peer ready service=example-api peer=example-database")
        .unwrap_or_else(|| panic!("example-api did not wait for its peer:\n{api}"));
    let started = api
        .find("INFO starting service=example-api attempt=1")
        .expect("example-api started");
    assert!(
        waited < started,
        "example-api started before its peer was ready:\n{api}"
    );
    assert!(
        api.contains("INFO waiting for peer service=example-api peer=example-database"),
        "{api}"
    );

    let before = tree.pid("example-database");
    run("kill", &["-9", &before.to_string()]);
    let dir = tree.dir("example-database");
    let after =
        wait_for(
            "example-database restarted after kill -9",
            PATIENCE,
            || match supervised_pid(flavor, &dir) {
                Ok(pid) if pid != before => Ok(pid),
                Ok(_) => Err("the same pid".to_owned()),
                Err(error) => Err(error),
            },
        );
    tree.seen.push(after);
    tree.wait_ready("example-database");
    let killed = match flavor {
        Flavor::Runit => "finish: run exited with status -1, signal 9",
        Flavor::S6 => "finish: run exited with status 256, signal 9",
        Flavor::Daemontools => "",
    };
    tree.wait_log("example-database", "two runs, both ready", |log| {
        log.matches("INFO ready service=example-database").count() == 2 && log.contains(killed)
    });

    tree.stop();
    for service in SERVICES {
        let log = tree.wait_log(service, "a clean stop at the end of its log", |log| {
            let end = log.trim_end();
            match flavor {
                Flavor::Daemontools => end.ends_with("all services stopped"),
                _ => {
                    log.contains("all services stopped\n")
                        && end.ends_with("finish: run exited with status 0, signal 0")
                }
            }
        });
        assert!(!log.contains("timed out"), "{service}:\n{log}");
    }
}

#[test]
fn runit_supervises_every_service() {
    supervised_tree(Flavor::Runit);
}

#[test]
fn daemontools_supervises_every_service() {
    supervised_tree(Flavor::Daemontools);
}

#[test]
fn s6_supervises_every_service() {
    supervised_tree(Flavor::S6);
}
