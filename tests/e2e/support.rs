//! Drives built binaries as a user would: spawn, read stderr line by line, send signals,
//! check the exit code and the order of the lifecycle events.
//!
//! The showcase, hello and patterns binaries belong to other packages, so `cargo test`
//! does not build them for us: [`showcase`], [`hello`] and [`patterns`] run `$CARGO build`
//! once per test binary.
//! `cargo test` holds the build-directory lock only while it compiles, not while the
//! tests run, so this nested build does not wait on its parent.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Generous bound on any single wait: long enough for a loaded CI machine, never a
/// claim about speed.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Variables the binaries read; cleared so that the caller's environment cannot leak in.
const APP_VARS: [&str; 16] = [
    "DATABASE_URL",
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
    "TOKIO_WORKER_THREADS",
    "OPS_ADDR",
    "OPS_TOKEN",
    "SERVICES_PEERS",
    "RUNNER_PEERTIMEOUT",
];

/// The showcase binary, built on first use.
pub(crate) fn showcase() -> &'static Path {
    &built().0
}

/// The hello binary, built on first use.
pub(crate) fn hello() -> &'static Path {
    &built().1
}

/// The patterns example binary, built on first use.
pub(crate) fn patterns() -> &'static Path {
    &built().2
}

/// The tests crate's app of misbehaving services.
pub(crate) fn blocking_app() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_blocking-app"))
}

/// The tests crate's own short-timing app.
pub(crate) fn short_showcase() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_short-showcase"))
}

fn built() -> &'static (PathBuf, PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        // current_exe is <target>/<profile>/deps/e2e-<hash>. Building with that target
        // dir and profile reuses the parent's artifacts and puts the binaries in
        // <target>/<profile>, whatever CARGO_TARGET_DIR or `--profile` the parent had.
        let exe = std::env::current_exe().expect("the test binary knows its path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir
            .parent()
            .expect("<target>/<profile> has a parent");
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate sits in the workspace root");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace)
            .args([
                "build", "-p", "showcase", "-p", "hello", "-p", "patterns", "--bins",
            ])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir);
        let output = build.output().expect("cargo runs");
        assert!(
            output.status.success(),
            "building the example binaries failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let bin = |name: &str| {
            let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            assert!(
                path.is_file(),
                "cargo build did not produce {}",
                path.display()
            );
            path
        };
        (bin("showcase"), bin("hello"), bin("patterns"))
    })
}

/// Which of the child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// How to start one binary.
pub(crate) struct Launch {
    command: Command,
    label: String,
}

impl Launch {
    /// `bin` with `args`, in a clean app environment (none of the app's variables set).
    pub(crate) fn new(bin: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(bin);
        command.args(args);
        for var in APP_VARS {
            command.env_remove(var);
        }
        let name = bin.file_name().unwrap_or_default().to_string_lossy();
        Self {
            command,
            label: format!("{name} {}", args.join(" ")),
        }
    }

    /// Sets one environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self.label = format!("{key}={value} {}", self.label);
        self
    }

    /// Starts the process, with readers on stdout and stderr.
    pub(crate) fn spawn(mut self) -> Running {
        let mut child = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start `{}`: {err}", self.label));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        for (stream, pipe) in [
            (Stream::Out, Box::new(out) as Box<dyn Read + Send>),
            (Stream::Err, Box::new(err)),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((stream, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            label: self.label,
            lines: rx,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Runs the process to its end (bounded by [`PATIENCE`]).
    pub(crate) fn run(self) -> Finished {
        self.spawn().finish()
    }
}

/// A process under test.
pub(crate) struct Running {
    child: Child,
    label: String,
    lines: Receiver<(Stream, String)>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Running {
    /// Blocks until a stderr line matches `what` and returns it; panics after [`PATIENCE`]
    /// or if the process ends first, showing everything it printed.
    pub(crate) fn wait_for(&mut self, what: &Match) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => {
                    let hit = stream == Stream::Err && what.matches(&line);
                    self.keep(stream, line.clone());
                    if hit {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "`{}`: no line {what:?} after {PATIENCE:?}\n{}",
                        self.label,
                        self.dump()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "`{}` ended ({status:?}) before printing a line {what:?}\n{}",
                        self.label,
                        self.dump()
                    );
                }
            }
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal with `kill -<name> <pid>`, as a user or a supervisor would.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits for the process to exit and both streams to close.
    pub(crate) fn finish(mut self) -> Finished {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => self.keep(stream, line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "`{}` still running after {PATIENCE:?}\n{}",
                        self.label,
                        self.dump()
                    );
                }
            }
        }
        let status = self.child.wait().expect("the child can be waited for");
        Finished {
            label: std::mem::take(&mut self.label),
            status,
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
        }
    }

    fn keep(&mut self, stream: Stream, line: String) {
        match stream {
            Stream::Out => self.stdout.push(line),
            Stream::Err => self.stderr.push(line),
        }
    }

    fn dump(&self) -> String {
        dump(&self.stdout, &self.stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed test must not leave the app running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn dump(stdout: &[String], stderr: &[String]) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout.join("\n"),
        stderr.join("\n")
    )
}

/// A process that has exited, with everything it printed.
pub(crate) struct Finished {
    label: String,
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// Its stdout, line by line.
    pub(crate) stdout: Vec<String>,
    /// Its stderr, line by line.
    pub(crate) stderr: Vec<String>,
}

impl Finished {
    /// Asserts the exit code.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "`{}` exited with {}, expected {code}\n{}",
            self.label,
            self.status,
            self.dump()
        );
        self
    }

    /// Every stderr line as a JSON log event; panics on a line that is not a JSON object.
    #[track_caller]
    pub(crate) fn events(&self) -> Vec<Event> {
        self.stderr
            .iter()
            .map(|line| {
                Event::parse(line).unwrap_or_else(|| {
                    panic!(
                        "`{}`: stderr line is not a JSON object: {line}\n{}",
                        self.label,
                        self.dump()
                    )
                })
            })
            .collect()
    }

    /// Index of the first event matching `what`; panics (showing stderr) if none does.
    #[track_caller]
    pub(crate) fn position(&self, events: &[Event], what: &Match) -> usize {
        events
            .iter()
            .position(|event| what.matches_event(event))
            .unwrap_or_else(|| panic!("`{}`: no event {what:?}\n{}", self.label, self.dump()))
    }

    /// Asserts that the first `earlier` event comes before the first `later` one.
    #[track_caller]
    pub(crate) fn assert_before(&self, events: &[Event], earlier: &Match, later: &Match) {
        let (a, b) = (self.position(events, earlier), self.position(events, later));
        assert!(
            a < b,
            "`{}`: expected {earlier:?} (line {a}) before {later:?} (line {b})\n{}",
            self.label,
            self.dump()
        );
    }

    /// How many events match `what`.
    pub(crate) fn count(events: &[Event], what: &Match) -> usize {
        events
            .iter()
            .filter(|event| what.matches_event(event))
            .count()
    }

    /// stdout and stderr, for assertion messages.
    pub(crate) fn dump(&self) -> String {
        dump(&self.stdout, &self.stderr)
    }

    /// The whole of stderr as one string.
    pub(crate) fn stderr_text(&self) -> String {
        self.stderr.join("\n")
    }

    /// The whole of stdout as one string.
    pub(crate) fn stdout_text(&self) -> String {
        self.stdout.join("\n")
    }
}

/// One JSON log line.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The whole object.
    pub(crate) json: Value,
}

impl Event {
    /// Parses a line; `None` unless it is a JSON object.
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let json: Value = serde_json::from_str(line).ok()?;
        json.is_object().then_some(Self { json })
    }

    /// The event's message.
    pub(crate) fn message(&self) -> Option<&str> {
        self.field("message")
    }

    /// The `service` key: set on every event inside a service's span.
    pub(crate) fn service(&self) -> Option<&str> {
        self.json.get("service").and_then(Value::as_str)
    }

    /// `INFO`, `WARN`, ...
    pub(crate) fn level(&self) -> Option<&str> {
        self.json.get("level").and_then(Value::as_str)
    }

    /// A field of the event, at the top level or under `fields`.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }

    /// A field's raw JSON value, at the top level or under `fields`.
    pub(crate) fn value(&self, name: &str) -> Option<&Value> {
        self.json
            .get(name)
            .or_else(|| self.json.get("fields").and_then(|fields| fields.get(name)))
    }
}

/// What a line or an event must say: a message, optionally from one service.
#[derive(Clone)]
pub(crate) struct Match {
    service: Option<String>,
    message: String,
    exact: bool,
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.exact { "==" } else { "contains" };
        match &self.service {
            Some(service) => write!(f, "[{service}] message {how} {:?}", self.message),
            None => write!(f, "message {how} {:?}", self.message),
        }
    }
}

impl Match {
    /// The lifecycle event `message` (exact text) of `service`.
    pub(crate) fn event(service: &str, message: &str) -> Self {
        Self {
            service: Some(service.to_owned()),
            message: message.to_owned(),
            exact: true,
        }
    }

    /// A line from `service` whose message contains `text`.
    pub(crate) fn says(service: &str, text: &str) -> Self {
        Self {
            service: Some(service.to_owned()),
            message: text.to_owned(),
            exact: false,
        }
    }

    /// A line from any service, or none, whose message contains `text`.
    pub(crate) fn contains(text: &str) -> Self {
        Self {
            service: None,
            message: text.to_owned(),
            exact: false,
        }
    }

    /// Outside any service: the event `message` (exact text) with no `service` key.
    pub(crate) fn global(message: &str) -> Self {
        Self {
            service: None,
            message: message.to_owned(),
            exact: true,
        }
    }

    /// Whether a raw line matches: a JSON event by its fields, a text line by substrings
    /// (`service=<name>` and the message).
    pub(crate) fn matches(&self, line: &str) -> bool {
        if let Some(event) = Event::parse(line) {
            return self.matches_event(&event);
        }
        self.service
            .as_ref()
            .is_none_or(|service| line.contains(&format!("service={service}")))
            && line.contains(&self.message)
    }

    /// Whether a JSON event matches.
    pub(crate) fn matches_event(&self, event: &Event) -> bool {
        if self.exact && self.service.is_none() && event.service().is_some() {
            return false;
        }
        if let Some(service) = &self.service
            && event.service() != Some(service.as_str())
        {
            return false;
        }
        let message = event.message().unwrap_or_default();
        if self.exact {
            message == self.message
        } else {
            message.contains(&self.message)
        }
    }
}
