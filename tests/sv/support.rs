//! Real supervisors on temporary service directories, and what their own status tools
//! say about them.
//!
//! The tools are the Debian packages `runit`, `daemontools` and `s6`, found on `PATH`;
//! a missing one fails the test with the package to install. Every process a test
//! starts is killed when its [`Supervised`] guard drops, the test failing or not: the
//! supervisor or scanner (its child handle), every process working in the temporary
//! directory (supervisors a scanner started, services), and every service and finish
//! script (each writes its pid to the directory's `pids` before it does anything else).
//! The scripts end on their own after five minutes in any case.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use servicepack::sv::{self, State, Status, Supervisor};

/// Generous bound on any single wait: long enough for a loaded CI machine, never a
/// claim about speed.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// The run script of every service: record the pid, then wait.
const RUN: &str = "#!/bin/sh\necho $$ >>pids\nexec sleep 300\n";
/// A run script that notifies readiness on fd 3 after a second (s6 `notification-fd`).
pub(crate) const RUN_NOTIFYING: &str =
    "#!/bin/sh\necho $$ >>pids\nsleep 1\necho >&3\nexec 3>&-\nexec sleep 300\n";

/// The Debian package that ships `tool`.
fn package(tool: &str) -> &'static str {
    match tool {
        "runsv" | "sv" => "runit",
        "supervise" | "svstat" | "svc" => "daemontools",
        _ => "s6",
    }
}

/// `tool` from `PATH`, or a failure naming the package to install.
pub(crate) fn tool(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` is not on PATH: install the Debian package `{}` (apt-get install runit daemontools s6)",
                package(tool)
            )
        })
}

/// A temporary directory holding one service directory, and its supervisor.
pub(crate) struct Supervised {
    root: PathBuf,
    dir: PathBuf,
    supervisor: Supervisor,
    child: Option<Child>,
}

impl Supervised {
    /// A service directory named `name` (`exec sleep 300`, and a `./finish` that sleeps
    /// `finish_secs` when given), supervised by `supervisor`.
    pub(crate) fn start(supervisor: Supervisor, name: &str, finish_secs: Option<u32>) -> Self {
        Self::start_with(supervisor, name, RUN, finish_secs, &[])
    }

    /// As [`start`](Self::start), with this run script and extra files.
    pub(crate) fn start_with(
        supervisor: Supervisor,
        name: &str,
        run: &str,
        finish_secs: Option<u32>,
        files: &[(&str, &str)],
    ) -> Self {
        Self::launch(supervisor, name, run, finish_secs, files, false)
    }

    /// A service directory `name` in a scan directory, under the supervisor's scanner
    /// (`runsvdir`, `svscan`, `s6-svscan`), which starts the supervisor itself.
    pub(crate) fn start_scanned(supervisor: Supervisor, name: &str) -> Self {
        Self::launch(supervisor, name, RUN, None, &[], true)
    }

    fn launch(
        supervisor: Supervisor,
        name: &str,
        run: &str,
        finish_secs: Option<u32>,
        files: &[(&str, &str)],
        scanned: bool,
    ) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "servicepack-sv-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let scan = root.join("scan");
        let dir = if scanned {
            scan.join(name)
        } else {
            root.join(name)
        };
        fs::create_dir_all(&dir).expect("the temporary directory can be created");
        script(&dir.join("run"), run);
        if let Some(secs) = finish_secs {
            let finish = format!(
                "#!/bin/sh\necho $$ >>pids\ntouch finish-started\nsleep {secs}\ntouch finish-ended\n"
            );
            script(&dir.join("finish"), &finish);
        }
        for (file, text) in files {
            fs::write(dir.join(file), text).expect("the service directory is writable");
        }
        let program = match (supervisor, scanned) {
            (Supervisor::Runit, false) => "runsv",
            (Supervisor::Daemontools, false) => "supervise",
            (Supervisor::S6, false) => "s6-supervise",
            (Supervisor::Runit, true) => "runsvdir",
            (Supervisor::Daemontools, true) => "svscan",
            (Supervisor::S6, true) => "s6-svscan",
        };
        let child = Command::new(tool(program))
            .arg(if scanned { &scan } else { &dir })
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{program} starts: {error}"));
        let mut supervised = Self {
            root,
            dir,
            supervisor,
            child: Some(child),
        };
        supervised.wait_for("the service to be up", |status| {
            status.record.state == State::Up
        });
        // The supervisor writes "up" as soon as it forked; until the child execs the
        // run script it still holds the supervisor's FIFOs open (close-on-exec), so a
        // test that kills the supervisor waits for the script to have run.
        eventually("the run script to record its pid", || {
            fs::read_to_string(supervised.dir.join("pids"))
                .is_ok_and(|pids| !pids.trim().is_empty())
        });
        supervised
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Our status, or a failure saying why.
    pub(crate) fn status(&self) -> Status {
        sv::status(&self.dir)
            .unwrap_or_else(|error| panic!("status of {}: {error}", self.dir.display()))
    }

    /// Polls our status until `done` holds, for at most [`PATIENCE`].
    pub(crate) fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Status) -> bool) -> Status {
        let deadline = Instant::now() + PATIENCE;
        let mut last = None;
        loop {
            if let Ok(status) = sv::status(&self.dir) {
                if done(&status) {
                    return status;
                }
                last = Some(status);
            }
            if let Some(Ok(Some(exit))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "{:?} supervisor of {} exited: {exit}",
                    self.supervisor,
                    self.dir.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "waited {PATIENCE:?} for {what} in {}; last status: {last:?}",
                self.dir.display()
            );
            thread::sleep(POLL);
        }
    }

    /// A file the scripts create exists.
    pub(crate) fn has(&self, file: &str) -> bool {
        self.dir.join(file).exists()
    }

    /// Kills the supervisor (not the service): its FIFOs lose their reader, its status
    /// file stays.
    pub(crate) fn kill_supervisor(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the supervisor's own tool says, read between two reads of ours that agree
    /// (so all three describe the same moment); panics if they never agree.
    pub(crate) fn same_moment(&self) -> (Status, Tool, Status) {
        for _ in 0..50 {
            let before = self.status();
            let tool = Tool::read(self.supervisor, &self.dir);
            let after = self.status();
            if before.record == after.record {
                return (before, tool, after);
            }
            thread::sleep(POLL);
        }
        panic!("the status of {} kept changing", self.dir.display());
    }

    /// Asserts that our status and the real tool's agree on state, pid, want flags,
    /// readiness and (within the second that may pass between reads) the seconds.
    pub(crate) fn assert_agrees(&self, context: &str) -> Status {
        let (before, tool, after) = self.same_moment();
        let record = &before.record;
        let ours = Tool {
            up_like: tool_state(self.supervisor, record.state),
            pid: record.pid,
            want_up: record.want_up,
            want_down: record.want_down,
            ready: record.ready,
            seconds: before.seconds,
        };
        assert_eq!(
            (
                ours.up_like,
                ours.pid,
                ours.want_up,
                ours.want_down,
                ours.ready
            ),
            (
                tool.up_like,
                tool.pid,
                tool.want_up,
                tool.want_down,
                tool.ready
            ),
            "{context}: ours (left) and {:?}'s tool (right) disagree about {}",
            self.supervisor,
            self.dir.display()
        );
        assert!(
            (before.seconds.saturating_sub(1)..=after.seconds + 1).contains(&tool.seconds),
            "{context}: seconds: ours {}..{}, the tool's {}",
            before.seconds,
            after.seconds,
            tool.seconds
        );
        before
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill_supervisor();
        // A run script the supervisor forked just before it died records its pid
        // within moments.
        thread::sleep(Duration::from_millis(200));
        // What a scanner started (the supervisors) and what they started: every one
        // works in its service directory, under our temporary root.
        let inside: Vec<String> = fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| {
                fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&self.root))
            })
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|pid| pid.bytes().all(|byte| byte.is_ascii_digit()))
            .collect();
        if !inside.is_empty() {
            kill(&inside);
        }
        if let Ok(pids) = fs::read_to_string(self.dir.join("pids")) {
            let pids: Vec<&str> = pids.split_whitespace().collect();
            if !pids.is_empty() {
                kill(&pids);
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `SIGKILL` to these pids, through the shell's `kill` (a builtin everywhere, where
/// `/bin/kill` needs procps).
fn kill<S: AsRef<std::ffi::OsStr>>(pids: &[S]) {
    let _ = Command::new("sh")
        .args(["-c", "kill -KILL \"$@\"", "sh"])
        .args(pids)
        .stderr(Stdio::null())
        .status();
}

fn script(path: &Path, text: &str) {
    fs::write(path, text).expect("the service directory is writable");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .expect("the script can be made executable");
}

/// What a status tool can tell: `sv` and `svstat` show the state word, `s6-svstat -o`
/// only up or not (finishing looks like down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpLike {
    Up,
    Paused,
    Down,
    Finishing,
    NotUp,
}

fn tool_state(supervisor: Supervisor, state: State) -> UpLike {
    match (supervisor, state) {
        (_, State::Up) => UpLike::Up,
        (_, State::Paused) => UpLike::Paused,
        (Supervisor::S6, State::Down | State::Finishing) => UpLike::NotUp,
        (_, State::Down) => UpLike::Down,
        (_, State::Finishing) => UpLike::Finishing,
    }
}

/// The fields a real status tool printed.
#[derive(Clone, Debug)]
pub(crate) struct Tool {
    pub(crate) up_like: UpLike,
    pub(crate) pid: Option<u32>,
    pub(crate) want_up: bool,
    pub(crate) want_down: bool,
    pub(crate) ready: Option<bool>,
    pub(crate) seconds: u64,
}

impl Tool {
    pub(crate) fn read(supervisor: Supervisor, dir: &Path) -> Self {
        match supervisor {
            Supervisor::Runit => Self::runit(&run(&tool("sv"), &[], dir)),
            Supervisor::Daemontools => Self::daemontools(&run(&tool("svstat"), &[], dir)),
            Supervisor::S6 => Self::s6(&run(
                &tool("s6-svstat"),
                &["-o", "up,wantedup,ready,paused,pid,updownfor"],
                dir,
            )),
        }
    }

    /// `run: DIR: (pid 42) 5s, paused, want down` (`sv status`).
    fn runit(line: &str) -> Self {
        let (state, rest) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("sv status said {line:?}"));
        let rest = rest.split_once(": ").map_or(rest, |(_, rest)| rest);
        let (pid, rest) = pid_prefix(rest);
        let paused = line.contains(", paused");
        let up_like = match state {
            "run" if paused => UpLike::Paused,
            "run" => UpLike::Up,
            "finish" => UpLike::Finishing,
            "down" => UpLike::Down,
            other => panic!("sv status said {other:?} in {line:?}"),
        };
        Self {
            up_like,
            pid,
            want_up: line.contains(", want up"),
            want_down: line.contains(", want down"),
            ready: None,
            seconds: leading_number(rest, line),
        }
    }

    /// `DIR: up (pid 42) 5 seconds, paused` (`svstat`).
    fn daemontools(line: &str) -> Self {
        let rest = line.rsplit_once(": ").map_or(line, |(_, rest)| rest);
        let (word, rest) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("svstat said {line:?}"));
        let (pid, rest) = pid_prefix(rest);
        let paused = line.contains(", paused");
        let up_like = match word {
            "up" if paused => UpLike::Paused,
            "up" => UpLike::Up,
            "down" => UpLike::Down,
            other => panic!("svstat said {other:?} in {line:?}"),
        };
        Self {
            up_like,
            pid,
            want_up: line.contains(", want up"),
            want_down: line.contains(", want down"),
            ready: None,
            seconds: leading_number(rest, line),
        }
    }

    /// `true true false false 42 5` (`s6-svstat -o up,wantedup,ready,paused,pid,updownfor`).
    fn s6(line: &str) -> Self {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [up, wanted_up, ready, paused, pid, seconds] = fields[..] else {
            panic!("s6-svstat said {line:?}");
        };
        let flag = |text: &str| match text {
            "true" => true,
            "false" => false,
            other => panic!("s6-svstat said {other:?} in {line:?}"),
        };
        let (up, wanted_up) = (flag(up), flag(wanted_up));
        Self {
            up_like: match (up, flag(paused)) {
                (true, true) => UpLike::Paused,
                (true, false) => UpLike::Up,
                (false, _) => UpLike::NotUp,
            },
            pid: pid.parse::<u32>().ok(),
            want_up: !up && wanted_up,
            want_down: up && !wanted_up,
            ready: Some(flag(ready)),
            seconds: seconds
                .parse()
                .unwrap_or_else(|_| panic!("s6-svstat said {line:?}")),
        }
    }
}

/// Runs a status tool on `dir`; its one line of output.
fn run(program: &Path, args: &[&str], dir: &Path) -> String {
    let mut command = Command::new(program);
    if program.ends_with("sv") {
        command.arg("status");
    }
    let output = command
        .args(args)
        .arg(dir)
        .output()
        .unwrap_or_else(|error| panic!("{} runs: {error}", program.display()));
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        !text.is_empty(),
        "{} said nothing on stdout (stderr: {})",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// Splits `(pid 42) rest` into the pid and the rest.
fn pid_prefix(text: &str) -> (Option<u32>, &str) {
    text.strip_prefix("(pid ")
        .and_then(|rest| rest.split_once(") "))
        // `sv` shows `(pid 0)` for a moment between the run and the finish process;
        // no pid, as we say.
        .map_or((None, text), |(pid, rest)| {
            (pid.parse().ok().filter(|&pid| pid != 0), rest)
        })
}

fn leading_number(text: &str, line: &str) -> u64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no seconds in {line:?}"))
}

/// Polls `done` for at most [`PATIENCE`].
pub(crate) fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        thread::sleep(POLL);
    }
}
