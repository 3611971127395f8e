//! The command line of built apps (`tests/apps/cli_app.rs`, `cycle_app.rs`,
//! `empty_app.rs`), driven as a user drives them: arguments, environment, signals, exit
//! status, stdout and stderr.

use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const CLI_APP: &str = env!("CARGO_BIN_EXE_cli-app");
const CYCLE_APP: &str = env!("CARGO_BIN_EXE_cycle-app");
const EMPTY_APP: &str = env!("CARGO_BIN_EXE_empty-app");
const DUPLICATE_APP: &str = env!("CARGO_BIN_EXE_duplicate-app");

/// The variables servicepack reads; each test starts without them.
const VARIABLES: [&str; 10] = [
    "SERVICES_ENABLED",
    "RUNNER_SHUTDOWNTIMEOUT",
    "RUNNER_DRAINDELAY",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_ADD_SOURCE",
    "ENV",
    "RUST_LOG",
    "NO_COLOR",
    "CLICOLOR_FORCE",
];

/// A command for `bin` with a clean servicepack environment and a fresh marker file.
struct App {
    command: Command,
    markers: PathBuf,
}

impl App {
    fn new(bin: &str, args: &[&str]) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let markers = std::env::temp_dir().join(format!(
            "servicepack-cli-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&markers);
        let mut command = Command::new(bin);
        command.args(args).env("CLI_APP_MARKERS", &markers);
        for variable in VARIABLES {
            command.env_remove(variable);
        }
        command
            .env_remove("CLI_APP_PRE_RUN")
            .env_remove("EMPTY_APP_CLASH");
        Self { command, markers }
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    fn output(mut self) -> Finished {
        let output = self.command.output().expect("the app starts");
        Finished::new(&output, &self.markers)
    }

    fn spawn(mut self) -> Running {
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the app starts");
        let stderr = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        watchdog(child.id());
        Running {
            child,
            stderr,
            seen: Vec::new(),
            markers: self.markers,
        }
    }
}

/// Kills the process if a test forgets it or the app hangs, so a broken app fails the
/// test instead of hanging it. This is a safety net, not a speed check.
fn watchdog(pid: u32) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(120));
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    constructed: Vec<String>,
}

impl Finished {
    fn new(output: &Output, markers: &PathBuf) -> Self {
        Self {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            constructed: constructed(markers),
        }
    }

    #[track_caller]
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "{needle:?} not in stdout:\n{}",
            self.stdout
        );
        self
    }

    #[track_caller]
    fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "{needle:?} not in stderr:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    fn constructed(&self, expected: &[&str]) -> &Self {
        assert_eq!(self.constructed, expected, "stderr:\n{}", self.stderr);
        self
    }

    #[track_caller]
    fn no_panic_trace(&self) -> &Self {
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "{}", self.stderr);
        assert!(!self.stderr.contains("thread '"), "{}", self.stderr);
        self
    }
}

fn constructed(markers: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(markers)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

struct Running {
    child: Child,
    stderr: Lines<BufReader<ChildStderr>>,
    seen: Vec<String>,
    markers: PathBuf,
}

impl Running {
    /// Reads stderr until a line contains `needle`, and returns that line.
    #[track_caller]
    fn wait_for(&mut self, needle: &str) -> String {
        for line in self.stderr.by_ref() {
            let line = line.expect("stderr is text");
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
        panic!(
            "the app ended before {needle:?}; stderr:\n{}",
            self.seen.join("\n")
        );
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn finish(mut self) -> Finished {
        for line in self.stderr.by_ref() {
            self.seen.push(line.expect("stderr is text"));
        }
        let output = self.child.wait_with_output().expect("the app ends");
        let mut finished = Finished::new(&output, &self.markers);
        finished.stderr = self.seen.join("\n");
        finished
    }
}

#[test]
fn help_lists_the_commands_and_constructs_nothing() {
    let out = App::new(CLI_APP, &["--help"]).output();
    out.code(0).constructed(&[]);
    for command in [
        "run",
        "services",
        "graph",
        "check",
        "completions",
        "migrator",
        "hello",
        "help",
    ] {
        out.stdout_has(&format!("\n  {command} "));
    }
    // Services without commands get no command.
    assert!(!out.stdout.contains("\n  api "), "{}", out.stdout);
    assert!(!out.stdout.contains("\n  database "), "{}", out.stdout);
}

#[test]
fn version_and_usage_errors() {
    App::new(CLI_APP, &["--version"])
        .output()
        .code(0)
        .stdout_has("cli-app 0.1.0");
    App::new(CLI_APP, &["frobnicate"])
        .output()
        .code(2)
        .stderr_has("frobnicate");
    App::new(CLI_APP, &["services", "--yaml"])
        .output()
        .code(2)
        .stderr_has("--yaml");
    App::new(CLI_APP, &[]).output().code(2).stderr_has("Usage:");
}

#[test]
fn services_json_has_the_fields_and_constructs_nothing() {
    let out = App::new(CLI_APP, &["services", "--json"]).output();
    out.code(0).constructed(&[]);
    let services: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("valid JSON");
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "database", "migrator", "stubborn"]);
    for service in &services {
        for field in [
            "name",
            "depends_on",
            "retries",
            "allowed_failure",
            "notify_ready",
            "commands",
        ] {
            assert!(service.get(field).is_some(), "{field} missing in {service}");
        }
    }
    assert_eq!(
        services[0]["depends_on"],
        serde_json::json!(["database", "external-cache"])
    );
    assert_eq!(services[1]["notify_ready"], true);
    assert_eq!(services[2]["allowed_failure"], true);
    assert_eq!(services[2]["commands"], true);
    assert_eq!(services[0]["commands"], false);
    assert_eq!(
        services[2]["subcommands"],
        serde_json::json!(["up", "fail", "explode", "wait"])
    );
}

#[test]
fn services_graph_and_check_read_only_the_registration() {
    App::new(CLI_APP, &["services"])
        .output()
        .code(0)
        .constructed(&[])
        .stdout_has("NAME")
        .stdout_has("migrator");
    App::new(CLI_APP, &["graph"])
        .output()
        .code(0)
        .constructed(&[])
        .stdout_has("api -> database, external-cache (external)");
    let dot = App::new(CLI_APP, &["graph", "--dot"]).output();
    dot.code(0)
        .constructed(&[])
        .stdout_has("\"migrator\" -> \"database\";");
    assert!(
        dot.stdout.starts_with("digraph \"cli-app\" {"),
        "{}",
        dot.stdout
    );
    App::new(CLI_APP, &["check"])
        .output()
        .code(0)
        .constructed(&[])
        .stdout_has("api -> external-cache")
        .stdout_has("ok: 4 services");
    App::new(CLI_APP, &["completions", "bash"])
        .output()
        .code(0)
        .stdout_has("cli-app");
}

#[test]
fn check_and_run_fail_on_a_cycle_naming_its_path() {
    App::new(CYCLE_APP, &["check"])
        .output()
        .code(1)
        .stdout_has("error: dependency cycle: first -> second -> first")
        .stderr_has("dependency cycle: first -> second -> first");
    App::new(CYCLE_APP, &["run"])
        .output()
        .code(1)
        .stderr_has("dependency cycle: first -> second -> first");
}

#[test]
fn no_service_at_all_is_said_loudly() {
    App::new(EMPTY_APP, &["run"])
        .output()
        .code(1)
        .stderr_has("no service is registered");
    App::new(EMPTY_APP, &["check"])
        .output()
        .code(1)
        .stderr_has("no service is registered");
}

#[test]
fn a_command_name_clash_fails_every_invocation() {
    App::new(EMPTY_APP, &["--help"])
        .env("EMPTY_APP_CLASH", "1")
        .output()
        .code(1)
        .stderr_has(
            "the custom command `check` and the built-in command `check` are both named `check`",
        )
        .stderr_has("rename the custom command `check`");
    let out = App::new(EMPTY_APP, &["--help"])
        .env("EMPTY_APP_CLASH", "1")
        .output();
    assert!(
        !out.stderr.contains("#[service"),
        "no service to rename: {}",
        out.stderr
    );
}

#[test]
fn services_refuses_two_services_of_one_name_like_run_and_check() {
    for args in [
        &["services"][..],
        &["services", "--json"],
        &["check"],
        &["run"],
    ] {
        App::new(DUPLICATE_APP, args)
            .output()
            .code(1)
            .stderr_has("duplicate service name `worker`");
    }
    // Both are still listed, so the user sees them.
    let out = App::new(DUPLICATE_APP, &["services"]).output();
    assert_eq!(out.stdout.matches("worker").count(), 2, "{}", out.stdout);
}

#[test]
fn completions_into_a_full_device_say_cannot_write_to_stdout() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let output = Command::new(CLI_APP)
        .args(["completions", "bash"])
        .stdout(full)
        .output()
        .expect("the app starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Os {"),
        "{stderr}"
    );
}

#[test]
fn a_service_command_constructs_only_its_service() {
    App::new(CLI_APP, &["migrator", "up"])
        .output()
        .code(0)
        .stdout_has("migrated up")
        .constructed(&["migrator"]);
    // SERVICES_ENABLED is about `run`, not about commands.
    App::new(CLI_APP, &["migrator", "up"])
        .env("SERVICES_ENABLED", "api")
        .output()
        .code(0)
        .constructed(&["migrator"]);
}

#[test]
fn a_service_help_constructs_nothing() {
    let out = App::new(CLI_APP, &["migrator", "--help"]).output();
    out.code(0).constructed(&[]);
    for sub in ["up", "fail", "explode", "wait"] {
        out.stdout_has(&format!("\n  {sub} "));
    }
    out.stdout_has("Apply every pending migration");
}

#[test]
fn a_failing_or_panicking_command_exits_1_with_the_message() {
    App::new(CLI_APP, &["migrator", "fail"])
        .output()
        .code(1)
        .stderr_has("migrator fail failed: migration 7 failed: column exists");
    App::new(CLI_APP, &["migrator", "explode"])
        .output()
        .code(1)
        .no_panic_trace()
        .stderr_has("migrator explode panicked: migration exploded");
}

#[test]
fn a_signal_cancels_the_command_context() {
    let mut app = App::new(CLI_APP, &["migrator", "wait"]).spawn();
    app.wait_for("waiting for a signal");
    app.signal("TERM");
    app.finish()
        .code(0)
        .stdout_has("cancelled by a signal")
        .stderr_has("received signal signal=terminated");
}

#[test]
fn a_custom_command_constructs_nothing() {
    App::new(CLI_APP, &["hello"])
        .output()
        .code(0)
        .stdout_has("hello from a custom command")
        .constructed(&[]);
}

#[test]
fn every_bad_variable_exits_2_naming_it() {
    let cases = [
        ("RUNNER_SHUTDOWNTIMEOUT", "ten"),
        ("LOG_LEVEL", "loud"),
        ("LOG_LEVEL", "info,my_app=loud"),
        ("LOG_FORMAT", "xml"),
        ("LOG_ADD_SOURCE", "maybe"),
        ("SERVICES_ENABLED", "nope"),
    ];
    for (variable, value) in cases {
        let out = App::new(CLI_APP, &["run"]).env(variable, value).output();
        out.code(2)
            .constructed(&[])
            .stderr_has(&format!("invalid {variable}={value:?}: "));
    }
    App::new(CLI_APP, &["run"])
        .env("SERVICES_ENABLED", "api,nope")
        .output()
        .code(2)
        .stderr_has("registered services: api, database, migrator, stubborn");
}

#[test]
fn a_bad_variable_is_a_json_line_when_logs_are_json() {
    let out = App::new(CLI_APP, &["run"])
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "loud")
        .output();
    out.code(2);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid LOG_LEVEL=\"loud\"")
    );
}

#[test]
fn a_failing_pre_run_hook_exits_1_before_any_service() {
    App::new(CLI_APP, &["run"])
        .env("CLI_APP_PRE_RUN", "fail")
        .output()
        .code(1)
        .constructed(&[])
        .stderr_has("pre-run hook 1 of 1 failed: the pre-run hook refused");
    App::new(CLI_APP, &["run"])
        .env("CLI_APP_PRE_RUN", "panic")
        .output()
        .code(1)
        .constructed(&[])
        .no_panic_trace()
        .stderr_has("pre-run hook 1 of 1 panicked: the pre-run hook exploded");
}

#[test]
fn the_exit_reason_survives_any_log_level() {
    for (format, level) in [
        ("text", "error"),
        ("text", "off"),
        ("json", "off,nothing=error"),
    ] {
        let out = App::new(CLI_APP, &["run"])
            .env("CLI_APP_PRE_RUN", "fail")
            .env("LOG_FORMAT", format)
            .env("LOG_LEVEL", level)
            .output();
        out.code(1).stderr_has("the pre-run hook refused");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn run_until_sigterm_with_text_logs() {
    let mut app = App::new(CLI_APP, &["run"])
        .env("SERVICES_ENABLED", "database,api")
        .env("ENV", "dev")
        .spawn();
    app.wait_for("api listening");
    app.signal("TERM");
    let out = app.finish();
    out.code(0)
        .constructed(&["database", "api"])
        .stderr_has("running app env=dev")
        .stderr_has("pre-run hook ran")
        .stderr_has("api listening service=api")
        .stderr_has("dependency not in process, skipping service=api dependency=external-cache")
        .stderr_has("received signal signal=terminated")
        .stderr_has("post-stop hook ran");
}

#[test]
fn json_logs_make_every_stderr_line_json() {
    let mut app = App::new(CLI_APP, &["run"])
        .env("SERVICES_ENABLED", "database,api")
        .env("LOG_FORMAT", "json")
        .env("LOG_ADD_SOURCE", "true")
        .spawn();
    app.wait_for("api listening");
    app.signal("INT");
    let out = app.finish();
    out.code(0);
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let listening = lines
        .iter()
        .find(|line| line["message"] == "api listening")
        .expect("the api logged");
    assert_eq!(listening["service"], "api");
    assert!(
        listening["source"]
            .as_str()
            .unwrap()
            .contains("cli_app.rs:")
    );
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "received signal" && line["signal"] == "interrupt")
    );
}

#[test]
fn a_panicking_post_stop_hook_makes_the_exit_status_1() {
    let mut app = App::new(CLI_APP, &["run"])
        .env("SERVICES_ENABLED", "database")
        .env("CLI_APP_POST_STOP", "1")
        .spawn();
    app.wait_for("ready service=database");
    app.signal("TERM");
    app.finish()
        .code(1)
        .no_panic_trace()
        .stderr_has("post-stop hook 1 of 1 panicked: the post-stop hook exploded");
}

#[test]
fn a_second_signal_forces_exit_130_naming_the_services_still_stopping() {
    let mut app = App::new(CLI_APP, &["run"])
        .env("SERVICES_ENABLED", "stubborn")
        .spawn();
    app.wait_for("stubborn running");
    app.signal("TERM");
    app.wait_for("stopping service=stubborn");
    app.signal("INT");
    let out = app.finish();
    out.code(130).stderr_has("still stopping: stubborn");
    assert!(!out.stderr.contains("post-stop hook ran"), "{}", out.stderr);
}
